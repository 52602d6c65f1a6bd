#pragma once
// The record file format (--record FILE, read by `edleak-bpf report FILE`). Version 2; the
// reader also reads version 1 (without the fields marked "v2").

//
// All integers are unsigned LEB128 varints ("v") unless said otherwise; signed ones ("s") are
// zigzag-encoded varints; "f64" is an IEEE-754 double, 8 bytes little-endian; "str" is a v
// length then that many bytes; "bool" is one byte, 0 or 1.
//
//   magic      8 bytes "EDLKREC\n"
//   version    4 bytes little-endian, 2 (or 1)
//   run        time_ns s (since the Unix epoch), elapsed_s f64, interval_s f64, samples v,
//              final bool, targets_named bool, counters: lost_allocs v, lost_sites v, stack_errors v,
//              unknown_frees v, failed_allocs v, state_errors v;
//              command: count v, then count str;
//              v2: overwritten_blocks v, lost_events v, attached bool, min_leak_bytes v,
//              min_leak_share f64, options: count v, then per option name str, value str
//   strings    count v, then count str: every symbol, module and file name, once; frames refer
//              to them by index (v)
//   processes  count v, then per process: pid v, incarnation v, comm str, exited bool;
//              v2: has_scan bool, [scan: time_ns s, at_exit bool, frozen_ms f64, blocks_scanned v,
//                bytes_scanned v, aborted bool, error str, total reachability,
//                per_stack: count v, then per stack stack_id 8 bytes little-endian, reachability]
//              where a reachability is definitely, indirectly, possibly lost, still reachable,
//              each bytes v, blocks v
//   sites      count v, then per site:
//              tgid v, incarnation v, stack_id 8 bytes little-endian, outstanding_bytes s, outstanding_blocks s,
//              total_allocs v, total_frees v, stack_complete bool, stack_truncated bool,
//              min_bytes f64, max_bytes f64, samples_seen v,
//              points: count v, then per point t_s f64, bytes f64
//              frames: count v, then per frame: addr v, symbol v (string index), offset v,
//                module v, has_module_offset bool, [module_offset v], nearest_symbol v,
//                nearest_offset v, file v, line v,
//                inlined: count v, then per inlined frame symbol v, file v, line v;
//              v2: the blocks then the frees series, each points (as above), min f64, max f64,
//                samples_seen v
//   build_ids  count v, then per module: path str, build ID str (lowercase hex)
//   end        4 bytes "END\n"; nothing may follow
//
// String index 0 is always the empty string. A reader of version N rejects a higher version.
// The reader never trusts its input: every count is checked against the bytes left, every
// index against the table, every double for finiteness; the first problem ends the read with
// one error naming its byte offset.
#include <cstdint>
#include <string>
#include <string_view>

#include "record/recording.h"
#include "util/result.h"

namespace edleak::record {

inline constexpr std::uint32_t kFormatVersion = 2;

std::string encode(const Recording& recording);
Result<Recording> decode(std::string_view bytes);

// Writes atomically (a temporary file renamed over `path`): a reader never sees half a record,
// and a record rewritten at every report survives a crash of the run.
Result<void> write_file(const std::string& path, const Recording& recording);
Result<Recording> read_file(const std::string& path);

}  // namespace edleak::record
