#pragma once
// The report as JSON lines: one object per report, one report per line, for other tools.
//
// {"time": "2026-11-24T10:00:00Z", "elapsed_s": 12.0, "interval_s": 1.0, "samples": 12, "final": false,
//  "stats": {"lost_allocs": 0, "stack_errors": 0, "lost_sites": 0, "unknown_frees": 0, "failed_allocs": 0,
//            "overwritten_blocks": 0, "lost_events": 0},
//  "processes": [{"pid": 123, "comm": "server", "exited": false, "exec_ended": false, "parent_pid": 100,
//    "command": "./server --port 80", "exit_status": null, "ns_pid": null, "cgroup": null,
//    "outstanding_bytes": 40000, "stacks": 57,
//    "leakers": [{"stack": [FRAME...], "outstanding_bytes": 30000, "outstanding_allocs": 30,
//                 "total_allocs": 31, "total_frees": 1, "leak_factor": {...classify::to_json...},
//                 "reachability": REACHABILITY}],
//    "other_stacks": [...], "unlisted_stacks": 0,
//    "churn": {"stacks": 1, "allocs_per_s": 512.0, "top": [{"stack_id": "0x...", "stack": [FRAME...],
//              "total_allocs": 6144, "total_frees": 6143, "outstanding_bytes": 2048,
//              "allocs_per_s": 512.0, "frees_per_s": 511.9}]},
//    "scan": {"time": "2026-11-24T10:00:00Z", "at_exit": true, "frozen_ms": 12.5, "blocks_scanned": 31,
//             "bytes_scanned": 1048576, "aborted": false, "error": null, "reachability": REACHABILITY}}]}
//
// REACHABILITY: {"definitely_lost": {"bytes": 48, "blocks": 3}, "indirectly_lost": {...},
//                "possibly_lost": {...}, "still_reachable": {...}}; null before any scan (and for
// a leaker, when the last scan did not complete). "scan" is null before the process's first scan.
// A process appears once per history: "exec_ended" marks the final section of the program it ran
// before an exec (the same pid's next section is the new program); "exit_status" is the wait
// status (exit code << 8, or the signal) when known; "parent_pid", "ns_pid" (the pid inside its
// own pid namespace, when it differs) and "cgroup" are null when unknown or not applicable.
// "leakers" holds the stacks that leak (by trend, or lost blocks at a scan); "other_stacks" the
// others -a lists (same fields); "unlisted_stacks" counts those --top cut from either.
//
// FRAME: {"addr": "0x55d0c2a1b191", "symbol": "leak_here", "offset": 24, "module": "/usr/bin/server",
//         "file": "server.c", "line": 42, "inlined": [{"symbol": "push", "file": "list.h", "line": 12}]}
// Every function comes with its own line: "file"/"line" is where addr is inside "symbol" (for a
// frame with inlined functions, the call site of the outermost one); each "inlined" entry,
// innermost first, is a function inlined at addr with the line inside it. Above: push() was
// inlined into leak_here() at server.c:42, and addr is at list.h:12 inside push(). (As
// symbolize::function_locations pairs them.)
// Every key is always present (a stable schema) except "inlined", present only when non-empty.
// Unknown values are null: "symbol" and "offset" without a symbol, "module" outside any mapping,
// "file" and "line" without debug info. `time` is UTC, ISO 8601, to the second.
#include <nlohmann/json.hpp>

#include "report/renderer.h"

namespace edleak::report {

nlohmann::ordered_json to_json(const symbolize::InlinedFrame& inlined);
nlohmann::ordered_json to_json(const symbolize::FunctionLocation& function);
nlohmann::ordered_json to_json(const symbolize::Frame& frame);
nlohmann::ordered_json to_json(const BlockTotals& totals);
nlohmann::ordered_json to_json(const Reachability& reachability);
nlohmann::ordered_json to_json(const ScanSummary& scan);
nlohmann::ordered_json to_json(const Leaker& leaker);
nlohmann::ordered_json to_json(const ProcessReport& process);
nlohmann::ordered_json to_json(const Stats& stats);
nlohmann::ordered_json to_json(const Report& report);

// "2026-11-24T10:00:00Z"
std::string format_utc_iso8601(std::chrono::system_clock::time_point time);

class JsonRenderer final : public Renderer {
 public:
  void render(const Report& report, std::ostream& out) override;
};

}  // namespace edleak::report
