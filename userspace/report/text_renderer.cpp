#include "report/text_renderer.h"

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "classify/leak_factor.h"
#include "report/format.h"
#include "symbolize/frame.h"
#include "util/duration.h"

namespace edleak::report {
namespace {

// "1 block", "30 blocks".
std::string count_of(std::uint64_t n, std::string_view singular, std::string_view plural) {
  return fmt::format("{} {}", n, n == 1 ? singular : plural);
}

std::string clock_time(std::chrono::system_clock::time_point time, TextRenderer::TimeZone zone) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm parts{};
  bool ok = zone == TextRenderer::TimeZone::utc ? gmtime_r(&seconds, &parts) != nullptr
                                                : localtime_r(&seconds, &parts) != nullptr;
  if (!ok) return "--:--:--";
  return fmt::format("{:02}:{:02}:{:02}", parts.tm_hour, parts.tm_min, parts.tm_sec);
}

void write_frame(std::ostream& out, const symbolize::Frame& frame) {
  // symbolize's layout: one line per function at addr, inlined ones first, each at its own line.
  std::vector<std::string> lines = symbolize::format_frame_with_inlined(frame);
  if (frame.module.empty()) lines.back() += " [unknown]";  // outside any mapping: say so
  for (const std::string& line : lines) out << "      " << printable(line) << '\n';
}

// "definitely lost: 48 B in 3 blocks; still reachable: 16 B in 1 block": the categories with
// blocks, in valgrind's order of gravity.
std::string reachability_text(const Reachability& r) {
  const std::pair<const char*, const BlockTotals*> parts[] = {{"definitely lost", &r.definitely_lost},
                                                              {"indirectly lost", &r.indirectly_lost},
                                                              {"possibly lost", &r.possibly_lost},
                                                              {"still reachable", &r.still_reachable}};
  std::string text;
  for (const auto& [name, totals] : parts) {
    if (totals->blocks == 0) continue;
    if (!text.empty()) text += "; ";
    text += fmt::format("{}: {} in {}", name, format_bytes(totals->bytes), count_of(totals->blocks, "block", "blocks"));
  }
  return text.empty() ? "no live blocks at the last scan" : text;
}

void write_scan(std::ostream& out, const ScanSummary& scan) {
  const char* when = scan.at_exit ? "at exit" : "on demand";
  if (!scan.error.empty()) {
    out << fmt::format("  scan {} failed: {}\n", when, printable(scan.error));
    return;
  }
  if (scan.aborted) {
    out << fmt::format("  scan {} aborted after {:.0f} ms (--max-scan-pause): no verdict\n", when, scan.frozen_ms);
    return;
  }
  out << fmt::format("  scan {}: frozen {:.1f} ms, {} and {} scanned; {}\n", when, scan.frozen_ms,
                     count_of(scan.blocks_scanned, "block", "blocks"), format_bytes(scan.bytes_scanned),
                     reachability_text(scan.total));
}

void write_leaker(std::ostream& out, std::size_t rank, const Leaker& leaker) {
  const classify::LeakFactor& factor = leaker.leak_factor;
  const std::string held = fmt::format("outstanding {} in {} ({}, {})", format_bytes(leaker.outstanding_bytes),
                                       count_of(leaker.outstanding_allocs, "block", "blocks"),
                                       count_of(leaker.total_allocs, "alloc", "allocs"),
                                       count_of(leaker.total_frees, "free", "frees"));
  // A stack listed without a leak (-a, or lost blocks) has no leak size or rate worth printing.
  if (!factor.is_leak()) {
    const std::string_view verdict =
        factor.cls == classify::LeakClass::insufficient_data ? "no trend yet" : classify::to_string(factor.cls);
    out << fmt::format("  #{} {:<11} {}{}\n", rank, verdict, held, leaker.kind == "mmap" ? " [direct mmap]" : "");
  } else {
    std::string spark = sparkline(leaker.series);
    out << fmt::format("  #{} {:<11} leak {} ({} B), {}, {}{}{}\n", rank, classify::to_string(factor.cls),
                       format_bytes(factor.leak), factor.leak, format_rate(factor.growth_bytes_per_s), held,
                       leaker.kind == "mmap" ? " [direct mmap]" : "", spark.empty() ? "" : "  " + spark);
  }
  if (leaker.reachability) out << "      " << reachability_text(*leaker.reachability) << '\n';
  std::size_t shown = std::min(leaker.stack.size(), TextRenderer::kMaxFrames);
  for (std::size_t i = 0; i < shown; ++i) write_frame(out, leaker.stack[i]);
  if (leaker.stack.empty()) out << "      [no stack]\n";
  if (std::size_t hidden = leaker.stack.size() - shown; hidden > 0)
    out << "      ... " << count_of(hidden, "more frame", "more frames") << '\n';
  else if (leaker.stack_truncated)
    out << "      ... (cut at --max-frames)\n";
}

void write_process_summary(std::ostream& out, const ProcessReport& process, std::uint64_t samples);
void write_process_counts(std::ostream& out, const ProcessReport& process, std::uint64_t samples);

void write_process(std::ostream& out, const ProcessReport& process, std::uint64_t samples) {
  write_process_summary(out, process, samples);
  if (!process.command.empty() && process.command != process.comm)
    out << "  command: " << printable(process.command.size() > 160 ? process.command.substr(0, 157) + "..." : process.command)
        << '\n';
  for (const std::string& note : process.notes) out << "  note: " << printable(note) << '\n';
  if (process.room.any()) {
    // The capture's maps were nearly full: what of this process was given up to make room.
    const RoomReport& r = process.room;
    std::vector<std::string> parts;
    if (r.evicted_idle) parts.push_back(count_of(r.evicted_idle, "idle stack", "idle stacks") + " evicted (counts kept)");
    if (r.evicted_holding)
      parts.push_back(fmt::format("{} evicted holding {} (over its share of the sites map, not counted since)",
                                  count_of(r.evicted_holding, "stack", "stacks"), format_bytes(r.evicted_holding_bytes)));
    if (r.refused_site_allocs)
      parts.push_back(count_of(r.refused_site_allocs, "alloc", "allocs") + " of new stacks refused (over its share of the sites map)");
    if (r.refused_block_allocs)
      parts.push_back(count_of(r.refused_block_allocs, "alloc", "allocs") + " refused (over its share of the blocks map)");
    out << "  room: " << fmt::format("{}", fmt::join(parts, ", ")) << '\n';
  }
  if (process.scan) write_scan(out, *process.scan);
  for (std::size_t i = 0; i < process.leakers.size(); ++i) write_leaker(out, i + 1, process.leakers[i]);
  if (process.unlisted > 0) out << fmt::format("  ... {} not shown (--top)\n", count_of(process.unlisted, "more stack", "more stacks"));
}

// -a: the stacks that allocate and free between samples, busiest first.
void write_churn(std::ostream& out, const ProcessReport& process) {
  if (process.churn_stacks == 0) return;
  out << fmt::format("  churn: {} allocating and freeing, {:.1f} allocs/s together\n",
                     count_of(process.churn_stacks, "stack", "stacks"), process.churn_allocs_per_s);
  for (std::size_t i = 0; i < process.churners.size(); ++i) {
    const Churner& c = process.churners[i];
    out << fmt::format("  churn #{} {:.1f} allocs/s, {:.1f} frees/s, outstanding {} ({}, {})\n", i + 1, c.allocs_per_s,
                       c.frees_per_s, format_bytes(c.outstanding_bytes), count_of(c.total_allocs, "alloc", "allocs"),
                       count_of(c.total_frees, "free", "frees"));
    const std::size_t shown = std::min(c.stack.size(), TextRenderer::kMaxFrames);
    for (std::size_t f = 0; f < shown; ++f) write_frame(out, c.stack[f]);
  }
}

// ", exited", with how when it is known (a wait status).
std::string exit_text(const std::optional<int>& status) {
  if (!status) return ", exited";
  if (WIFSIGNALED(*status)) return fmt::format(", killed by signal {}", WTERMSIG(*status));
  return fmt::format(", exited with status {}", WEXITSTATUS(*status));
}

void write_process_summary(std::ostream& out, const ProcessReport& process, std::uint64_t samples) {
  std::string about = printable(process.comm);
  if (process.parent_pid) about += fmt::format(", child of {}", process.parent_pid);
  if (process.ns_pid) about += fmt::format(", pid {} in its namespace", process.ns_pid);
  if (!process.cgroup.empty()) about += fmt::format(", cgroup {}", printable(process.cgroup));
  if (process.exec_ended) about += ", exec'd another program";
  if (process.exited) about += exit_text(process.exit_status);
  out << fmt::format("pid {} ({}): ", process.pid, about);
  // Watch mode, a process not traced: its heap is all there is to say.
  if (process.heap && !process.heap->zoomed && !process.heap->zoom_ended) {
    out << heap_text(*process.heap) << '\n';
    return;
  }
  if (process.heap) out << heap_text(*process.heap) << "\n  stacks: ";
  // An allocator without probes: its process's (empty) sites say nothing, so say that instead.
  if (!process.allocators.empty() && !process.allocators.front().traced) {
    out << fmt::format("not traced: its malloc is {}, which edleak-bpf cannot trace\n",
                       printable(process.allocators.front().description));
    return;
  }
  write_process_counts(out, process, samples);
  for (const auto& allocator : process.allocators)
    out << fmt::format("  allocator: {}{}\n", printable(allocator.description), allocator.traced ? "" : " (not traced)");
}

void write_process_counts(std::ostream& out, const ProcessReport& process, std::uint64_t samples) {
  if (process.leakers.empty() && samples < classify::kMinPoints) {
    // A trend needs a few samples; saying "no leaks" before that would be a guess.
    out << fmt::format("{}, {} outstanding; no verdict before {} samples ({} so far)\n",
                       count_of(process.stacks, "stack", "stacks"), format_bytes(process.outstanding_bytes),
                       classify::kMinPoints, samples);
    return;
  }
  if (process.leakers.empty()) {
    out << fmt::format("no leaks detected among {}, {} outstanding\n",
                       count_of(process.stacks, "stack", "stacks"), format_bytes(process.outstanding_bytes));
    return;
  }
  out << fmt::format("{} leaking of {}, {} outstanding\n", process.leaking_stacks,
                     count_of(process.stacks, "stack", "stacks"), format_bytes(process.outstanding_bytes));
}

void write_stats(std::ostream& out, const Stats& stats) {
  out << fmt::format("lost: {}, {}; stack errors: {}; untracked frees: {}; failed allocs: {}",
                     count_of(stats.lost_allocs, "alloc", "allocs"), count_of(stats.lost_sites, "site", "sites"),
                     stats.stack_errors, stats.unknown_frees, stats.failed_allocs);
  if (stats.overwritten_blocks > 0) out << fmt::format("; blocks allocated over missed frees: {}", stats.overwritten_blocks);
  if (stats.lost_events > 0) out << fmt::format("; process events lost: {}", stats.lost_events);
  // Making room in the maps (only when it happened): what was evicted, what was refused.
  if (stats.evicted_idle_sites || stats.evicted_holding_sites || stats.refused_site_allocs ||
      stats.refused_block_allocs || stats.orphan_frees)
    out << fmt::format("; room: {} evicted, {} evicted holding blocks, allocs refused over a share: {} "
                       "(new stacks), {} (blocks), frees of evicted stacks' blocks: {}",
                       count_of(stats.evicted_idle_sites, "idle stack", "idle stacks"),
                       count_of(stats.evicted_holding_sites, "stack", "stacks"),
                       stats.refused_site_allocs, stats.refused_block_allocs, stats.orphan_frees);
  // Drops make the numbers above too low: say which limit to raise.
  if (stats.lost_allocs > 0) out << " (incomplete: raise --max-allocs)";
  if (stats.lost_sites > 0) out << " (incomplete: raise --max-stacks)";
  out << '\n';
}

}  // namespace

void TextRenderer::render(const Report& report, std::ostream& out) {
  out << fmt::format("[{}] edleak-bpf: {}{} over {:.1f}s (interval {})\n", clock_time(report.time, zone_),
                     report.final ? "final report, " : "", count_of(report.samples, "sample", "samples"),
                     report.elapsed_s, interval_text(report.interval_s));
  if (!report.recorded_options.empty()) {
    // The recorded run's options with a value ("no" flags and unset ones left out).
    std::string given;
    for (const auto& [name, value] : report.recorded_options)
      if (name == "command" && !value.empty()) given += " -- " + value;
      else if (!value.empty() && value != "no") given += fmt::format(" --{}{}", name, value == "yes" ? "" : " " + value);
    out << "recorded with:" << given << '\n';
  }
  write_stats(out, report.stats);
  if (report.watch) {
    out << watch_text(*report.watch) << '\n';
  } else if (report.processes.empty()) {
    out << "no process with outstanding allocations\n";
  }
  for (const ProcessReport& process : report.processes) {
    write_process(out, process, report.samples);
    if (report.all_stacks) write_churn(out, process);
  }
  out << '\n';
  out.flush();  // reports are read live, often through a pipe
}

}  // namespace edleak::report
