#pragma once
// The tracer's reachability scans (userspace/scan): when to scan which process, the capture's live
// blocks fed in, the results turned into what the report shows (ScanOutcome); the
// --fail-on definitely-lost verdict is app/fail_verdict.h's.
#include <chrono>
#include <memory>
#include <optional>
#include <sys/types.h>
#include <vector>

#include "app/report_builder.h"
#include "capture/capture.h"
#include "cli/options.h"
#include "scan/scan_process.h"

namespace edleak::app {

class Scans {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Scans(const cli::TraceOptions& options);

  // Scans a traced process of the command's tree at its exit stop (its thread `process.pid` is
  // held stopped by the caller), unless --no-exit-scan; the result goes to info.scan.
  void at_exit(const sample::ProcessKey& process, capture::Capture& capture, ProcessInfo& info);

  // On-demand scans of -p processes: SIGUSR1 asks for one now, --scan-every periodically.
  void request() { requested_ = true; }
  bool due(Clock::time_point now) const;
  std::optional<Clock::time_point> next_due() const;
  // Scans each named process not exited (one at a time: one frozen at once), then schedules the
  // next.
  void run(capture::Capture& capture, ProcessInfos& processes);

  // Turns a scan (or its failure) into the report's form; pure, for tests.
  static std::shared_ptr<const ScanOutcome> outcome(const Result<scan::ProcessScan>& scan, bool at_exit);

 private:
  std::shared_ptr<const ScanOutcome> scan_one(const sample::ProcessKey& process, std::vector<pid_t> held, bool at_exit,
                                              std::optional<std::chrono::nanoseconds> max_pause,
                                              capture::Capture& capture);

  const cli::TraceOptions& options_;
  bool requested_ = false;
  std::optional<Clock::time_point> next_periodic_;
};

}  // namespace edleak::app
