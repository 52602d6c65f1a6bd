#include "app/scans.h"

#include "scan/freeze.h"
#include "util/duration.h"
#include "util/log.h"

namespace edleak::app {
namespace {

report::Reachability to_report(const scan::Reachability& r) {
  auto totals = [&](scan::Category c) { return report::BlockTotals{r[c].bytes, r[c].blocks}; };
  report::Reachability out;
  out.definitely_lost = totals(scan::Category::definitely_lost);
  out.indirectly_lost = totals(scan::Category::indirectly_lost);
  out.possibly_lost = totals(scan::Category::possibly_lost);
  out.still_reachable = totals(scan::Category::still_reachable);
  return out;
}

}  // namespace

Scans::Scans(const cli::TraceOptions& options) : options_(options) {
  if (options_.scan_every) next_periodic_ = Clock::now() + *options_.scan_every;
}

std::shared_ptr<const ScanOutcome> Scans::outcome(const Result<scan::ProcessScan>& scan, bool at_exit) {
  auto out = std::make_shared<ScanOutcome>();
  out->summary.at_exit = at_exit;
  if (!scan) {
    out->summary.time = std::chrono::system_clock::now();
    out->summary.error = scan.error().message;
    return out;
  }
  out->summary.time = scan->time;
  out->summary.frozen_ms = scan->frozen_ms;
  out->summary.aborted = scan->aborted;
  if (scan->aborted) return out;
  out->summary.blocks_scanned = scan->marks.blocks.size();
  out->summary.bytes_scanned = scan->marks.bytes_scanned;
  out->summary.total = to_report(scan->marks.total);
  for (const auto& [stack_id, reach] : scan->marks.per_stack) out->per_stack.emplace(stack_id, to_report(reach));
  return out;
}

std::shared_ptr<const ScanOutcome> Scans::scan_one(const sample::ProcessKey& process, std::vector<pid_t> held,
                                                   bool at_exit, std::optional<std::chrono::nanoseconds> max_pause,
                                                   capture::Capture& capture) {
  const pid_t pid = static_cast<pid_t>(process.pid);
  scan::ScanRequest request;
  request.pid = pid;
  request.held_threads = std::move(held);
  request.max_pause = max_pause;
  auto blocks = [&]() -> Result<std::vector<scan::Block>> {
    auto live = capture.live_blocks(process);
    if (!live) return live.error();
    std::vector<scan::Block> out;
    out.reserve(live->size());
    for (const auto& b : *live) out.push_back({b.addr, b.size, b.stack_id});
    return out;
  };
  auto result = scan::scan_process(request, blocks);
  auto out = outcome(result, at_exit);
  const auto& s = out->summary;
  if (!s.error.empty())
    log::warn("cannot scan pid {}: {}", pid, s.error);
  else if (s.aborted)
    log::warn("scan of pid {} aborted after {:.0f} ms (--max-scan-pause {}); it runs on", pid, s.frozen_ms,
              format_duration(*max_pause));
  else
    log::verbose("scanned pid {}: {} blocks, {} bytes, frozen {:.1f} ms (stopping {:.1f}, reading the blocks map "
                 "{:.1f}, marking {:.1f})",
                 pid, s.blocks_scanned, s.bytes_scanned, s.frozen_ms, result->stop_ms, result->blocks_ms,
                 result->mark_ms);
  return out;
}

void Scans::at_exit(const sample::ProcessKey& process, capture::Capture& capture, ProcessInfo& info) {
  if (!options_.exit_scan) return;
  info.scan = scan_one(process, {static_cast<pid_t>(process.pid)}, true, options_.max_scan_pause, capture);
}

bool Scans::due(Clock::time_point now) const { return requested_ || (next_periodic_ && now >= *next_periodic_); }

std::optional<Scans::Clock::time_point> Scans::next_due() const {
  if (requested_) return Clock::now();
  return next_periodic_;
}

void Scans::run(capture::Capture& capture, ProcessInfos& processes) {
  requested_ = false;
  scan::release_lingering_threads();
  if (options_.pids.empty()) log::warn("SIGUSR1: no -p process to scan (scans are for -p processes and commands)");
  for (auto& [key, info] : processes) {
    // The -p processes (named), in their current history.
    if (options_.pids.empty() || !info.named || info.exited) continue;
    info.scan = scan_one(key, {}, false, options_.max_scan_pause.value_or(cli::kDefaultMaxScanPause), capture);
  }
  if (options_.scan_every) next_periodic_ = Clock::now() + *options_.scan_every;
}

}  // namespace edleak::app
