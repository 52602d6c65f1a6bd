#pragma once
// The record file format (--record FILE, read by `edleak-bpf report FILE`). Version 3; the
// reader also reads versions 1 and 2 (without the fields marked "v2" or "v3").

//
// All integers are unsigned LEB128 varints ("v") unless said otherwise; signed ones ("s") are
// zigzag-encoded varints; "f64" is an IEEE-754 double, 8 bytes little-endian; "str" is a v
// length then that many bytes; "bool" is one byte, 0 or 1.
//
//   magic      8 bytes "EDLKREC\n"
//   version    4 bytes little-endian, 3 (or 2, 1)
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
//              each bytes v, blocks v;
//              v3: exec_ended bool, named bool, parent_pid v, command str, has_exit_status bool,
//                [exit_status s (a wait status)], ns_pid v, cgroup str, notes: count v, then str,
//                allocators: count v, then per allocator name str, path str, in_executable bool,
//                symbol_prefix str, traced bool, description str
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
//                samples_seen v;
//              v3: mmap bool; the tails of the bytes, blocks and frees series; the old blocks
//                (outstanding blocks 8 samples old or more) as a series; old_bytes s (the bytes
//                they hold at the last sample)
//   build_ids  count v, then per module: path str, build ID str (lowercase hex)
//   watch      v3: has_watch bool, [now_s f64 (the watch's clock at the report), min_growth_bytes v,
//                unwatched v, processes: count v, then per watched process pid v, incarnation v,
//                comm str, bytes v, zoomed bool, zoom_started_s f64, zoom_until_s f64,
//                bytes_at_zoom v, zooms v, cleared v, note str, heap: a series]
//   end        4 bytes "END\n"; nothing may follow
//
// A series (v3) is points, min f64, max f64, samples_seen v, then its tail; a series' tail is
// lows: count v (0: unknown, else one per point), then per point the lowest sample behind it f64
// (the lower envelope the classifier reads); samples_per_point v (0: unknown, at most
// samples_seen); has_ends bool, [first t_s f64, bytes f64, last t_s f64, bytes f64] (the first and
// latest samples, which may be newer than the last point). With these a replay classifies each
// series exactly as the live run did; a version 1 or 2 record replays without low points or
// ages, each point its own low.
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

inline constexpr std::uint32_t kFormatVersion = 3;

std::string encode(const Recording& recording);
Result<Recording> decode(std::string_view bytes);

// Writes atomically (a temporary file renamed over `path`): a reader never sees half a record,
// and a record rewritten at every report survives a crash of the run.
Result<void> write_file(const std::string& path, const Recording& recording);
Result<Recording> read_file(const std::string& path);

}  // namespace edleak::record
