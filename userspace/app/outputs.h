#pragma once
// The outputs besides the report stream, fed by the tracer after every report: --record,
// --html, --folded/--folded-leaks, --pprof, and the --fail-on verdict. Each file is rewritten
// (atomically) while the run goes on, so it is current, and at the final report, so it is
// complete: the HTML page at every report, the files made from a recording within
// RewriteBudget's bound.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "app/debug_hints.h"
#include "app/fail_verdict.h"
#include "app/metrics_server.h"
#include "app/recording.h"
#include "cli/options.h"
#include "record/build_id.h"
#include "util/result.h"

namespace edleak::app {

// When the files made from a recording are rewritten: rebuilding the whole record costs about
// 23 ms per 1,000 stacks (BENCHMARKS.md, "Record rewrites": 2.6 s of CPU at 100,000 stacks), more
// than the interval at scale. So a rewrite is due only once kIdleFactor times what the last one
// took has passed since it (at most 1/(1 + kIdleFactor) of the run goes to them), and always at
// the final report.
class RewriteBudget {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kIdleFactor = 9;
  bool due(Clock::time_point now, bool final) const { return final || now >= next_; }
  void done(Clock::time_point started, Clock::time_point finished) {
    next_ = finished + kIdleFactor * (finished - started);
  }

 private:
  Clock::time_point next_{};
};

class Outputs {
 public:
  explicit Outputs(const cli::TraceOptions& options);
  ~Outputs();

  // Starts what must be up before tracing begins (the --metrics server): an error ends the run.
  Result<void> start();

  // `watch`: watch mode's heaps as the report showed them, at the watch's clock `watch_now_s`.
  void on_report(const report::Report& report, const sample::SiteTable& table,
                 const ProcessInfos& processes, const StackResolver& resolve,
                 const watch::HeapWatch* watch = nullptr, double watch_now_s = 0);

  // The run's exit status from the command's own (see FailVerdict).
  int exit_status(int command_status) const;

 private:
  void warn_once(const std::string& path, const Result<void>& result);

  const cli::TraceOptions& options_;
  FailVerdict verdict_;
  record::BuildIds build_ids_;
  std::unordered_map<std::string, bool> warned_;  // an output that failed is reported once
  std::unique_ptr<MetricsServer> metrics_;
  RewriteBudget recording_budget_;
  DebugHints debug_hints_{dpkg_package_of};
};

// Writes the files a recording gives (--record, --folded, --folded-leaks, --pprof) and the HTML
// page of `report`; shared by the tracer and `edleak-bpf report`. Calls `on_error` per failure.
struct OutputPaths {
  std::string record, html, folded, folded_leaks, pprof;
  bool needs_recording() const { return !record.empty() || !folded.empty() || !folded_leaks.empty() || !pprof.empty(); }
};
void write_outputs(const OutputPaths& paths, const report::Report& report, const record::Recording* recording,
                   const std::function<void(const std::string& path, const Result<void>&)>& on_result);

}  // namespace edleak::app
