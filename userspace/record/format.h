#pragma once
// The record file format (--record FILE, read by `edleak-bpf report FILE`). Version 1.
//
// All integers are unsigned LEB128 varints ("v") unless said otherwise; signed ones ("s") are
// zigzag-encoded varints; "f64" is an IEEE-754 double, 8 bytes little-endian; "str" is a v
// length then that many bytes; "bool" is one byte, 0 or 1.
//
//   magic      8 bytes "EDLKREC\n"
//   version    4 bytes little-endian, 1
//   run        time_ns s (since the Unix epoch), elapsed_s f64, interval_s f64, samples v,
//              final bool, targets_named bool, counters: lost_allocs v, lost_sites v, stack_errors v,
//              unknown_frees v, failed_allocs v, state_errors v;
//              command: count v, then count str
//   strings    count v, then count str: every symbol, module and file name, once; frames refer
//              to them by index (v)
//   processes  count v, then per process: pid v, incarnation v, comm str, exited bool
//   sites      count v, then per site:
//              tgid v, incarnation v, stack_id 8 bytes little-endian, outstanding_bytes s, outstanding_blocks s,
//              total_allocs v, total_frees v, stack_complete bool, stack_truncated bool,
//              min_bytes f64, max_bytes f64, samples_seen v,
//              points: count v, then per point t_s f64, bytes f64
//              frames: count v, then per frame: addr v, symbol v (string index), offset v,
//                module v, has_module_offset bool, [module_offset v], nearest_symbol v,
//                nearest_offset v, file v, line v,
//                inlined: count v, then per inlined frame symbol v, file v, line v
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

inline constexpr std::uint32_t kFormatVersion = 1;

std::string encode(const Recording& recording);
Result<Recording> decode(std::string_view bytes);

// Writes atomically (a temporary file renamed over `path`): a reader never sees half a record,
// and a record rewritten at every report survives a crash of the run.
Result<void> write_file(const std::string& path, const Recording& recording);
Result<Recording> read_file(const std::string& path);

}  // namespace edleak::record
