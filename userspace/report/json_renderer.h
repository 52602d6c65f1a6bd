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
//
// FRAME: {"addr": "0x55d0c2a1b191", "symbol": "leak_here", "offset": 24, "module": "/usr/bin/server",
//         "file": "list.h", "line": 12, "inlined": [{"symbol": "push", "file": "server.c", "line": 42}]}
// The fields are those of symbolize::Frame: "file"/"line" is the source of addr itself (inside
// the innermost inlined function, if any); each "inlined" entry, innermost first, carries the
// call site where it was inlined. Above: push() was inlined into leak_here() at server.c:42, and
// addr is at list.h:12 inside push().
// Every key is always present (a stable schema) except "inlined", present only when non-empty.
// Unknown values are null: "symbol" and "offset" without a symbol, "module" outside any mapping,
// "file" and "line" without debug info. `time` is UTC, ISO 8601, to the second.
#include <nlohmann/json.hpp>

#include "report/renderer.h"

namespace edleak::report {

nlohmann::ordered_json to_json(const symbolize::InlinedFrame& inlined);
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
