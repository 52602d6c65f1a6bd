#include "app/outputs.h"

#include <sstream>

#include "lifecycle/proc_identity.h"
#include "record/format.h"
#include "report/folded_writer.h"
#include "report/html_renderer.h"
#include "report/metrics_text.h"
#include "report/pprof_writer.h"
#include "util/atomic_file.h"
#include "util/log.h"

namespace edleak::app {
namespace {

OutputPaths paths_of(const cli::TraceOptions& o) {
  return {o.record_path, o.html_path, o.folded_path, o.folded_leaks_path, o.pprof_path};
}

Result<void> write_rendered(const std::string& path, const std::function<void(std::ostream&)>& render) {
  std::ostringstream text;
  render(text);
  return write_file_atomically(path, text.str());
}

}  // namespace

void write_outputs(const OutputPaths& paths, const report::Report& report, const record::Recording* recording,
                   const std::function<void(const std::string& path, const Result<void>&)>& on_result) {
  if (!paths.html.empty())
    on_result(paths.html, write_rendered(paths.html, [&](std::ostream& out) { report::HtmlRenderer().render(report, out); }));
  if (!recording) return;
  if (!paths.record.empty()) on_result(paths.record, record::write_file(paths.record, *recording));
  if (paths.folded.empty() && paths.folded_leaks.empty() && paths.pprof.empty()) return;
  const auto stacks = report::profile_stacks(*recording);
  for (auto [path, value] : {std::pair{&paths.folded, report::FoldedValue::outstanding_bytes},
                             {&paths.folded_leaks, report::FoldedValue::leak_bytes}})
    if (!path->empty())
      on_result(*path, write_rendered(*path, [&](std::ostream& out) { report::write_folded(stacks, value, out); }));
  if (!paths.pprof.empty()) on_result(paths.pprof, report::write_pprof_file(paths.pprof, stacks, *recording));
}

Outputs::Outputs(const cli::TraceOptions& options) : options_(options), verdict_(options.fail_on) {}
Outputs::~Outputs() = default;

Result<void> Outputs::start() {
  if (options_.metrics_address.empty()) return {};
  auto server = MetricsServer::start(options_.metrics_address);
  if (!server) return server.error();
  metrics_ = std::move(*server);
  log::info("serving metrics at http://{}/metrics", options_.metrics_address);
  return {};
}

void Outputs::on_report(const report::Report& report, const sample::SiteTable& table,
                        const ProcessInfos& processes, const StackResolver& resolve,
                        const watch::HeapWatch* watch, double watch_now_s) {
  verdict_.observe(report);
  if (metrics_) metrics_->set_text(report::metrics_text(report));
  for (const std::string& hint : debug_hints_.take(report)) log::info("{}", hint);
  OutputPaths paths = paths_of(options_);
  const auto started = RewriteBudget::Clock::now();
  const bool recording_due = paths.needs_recording() && recording_budget_.due(started, report.final);
  if (!recording_due) paths.record = paths.folded = paths.folded_leaks = paths.pprof = "";  // later
  std::optional<record::Recording> recording;
  if (recording_due) {
    RecordingContext context;
    context.time = report.time;
    context.elapsed_s = report.elapsed_s;
    context.interval_s = report.interval_s;
    context.final = report.final;
    context.command = options_.command;
    context.targets_named = !options_.probe_all || !options_.pids.empty() || !options_.command.empty();
    context.attached = options_.command.empty();  // as the tracer's ReportContext
    context.min_leak_bytes = options_.min_leak_bytes;
    context.min_leak_share = options_.min_leak_share;
    context.options = cli::options_in_effect(options_);
    context.build_id_of = [this](const std::string& path) { return build_ids_.of(path); };
    std::unordered_map<std::uint32_t, std::string> listed;  // the names the report showed
    if (watch) {
      for (const report::ProcessReport& p : report.processes) listed.emplace(p.pid, p.comm);
      context.watch = watch;
      context.watch_now_s = watch_now_s;
      context.comm_of = [&listed](std::uint32_t pid) {
        auto it = listed.find(pid);
        return it != listed.end() ? it->second : lifecycle::process_comm(static_cast<pid_t>(pid));
      };
    }
    recording = make_recording(table, processes, resolve, context);
  }
  write_outputs(paths, report, recording ? &*recording : nullptr,
                [this](const std::string& path, const Result<void>& r) { warn_once(path, r); });
  if (recording_due) recording_budget_.done(started, RewriteBudget::Clock::now());
  if (report.final && !verdict_.reason().empty()) log::info("--fail-on: {}", verdict_.reason());
}

void Outputs::warn_once(const std::string& path, const Result<void>& result) {
  if (result) {
    warned_[path] = false;
    return;
  }
  if (!warned_[path]) log::warn("{}", result.error().message);
  warned_[path] = true;
}

int Outputs::exit_status(int command_status) const { return verdict_.exit_status(command_status); }

}  // namespace edleak::app
