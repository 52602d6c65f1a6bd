#include "report/metrics_text.h"

#include <cmath>

#include <fmt/format.h>

namespace edleak::report {
namespace {

struct Family {
  const char* name;
  const char* type;
  const char* help;
};

void header(std::string& out, const Family& f) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, f.help, f.name, f.type);
}

std::string number(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "NaN"; }

}  // namespace

std::string metric_label_value(const std::string& value) {
  std::string out;
  for (char c : value.substr(0, kMaxLabelBytes)) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string metrics_text(const Report& report) {
  const std::size_t processes = std::min(report.processes.size(), kMaxProcesses);  // ranked by leak already
  auto process_labels = [](const ProcessReport& p) {
    return fmt::format("pid=\"{}\",comm=\"{}\"", p.pid, metric_label_value(p.comm));
  };
  std::string out;
  const Family per_process[] = {
      {"edleak_process_outstanding_bytes", "gauge", "Bytes allocated and not freed, over every stack."},
      {"edleak_process_stacks", "gauge", "Stacks with outstanding blocks."},
      {"edleak_process_leaking_stacks", "gauge", "Stacks classified as leaking."},
      {"edleak_process_leak_bytes", "gauge", "Leak size (edLeak's leak factor) summed over the listed leakers."},
  };
  for (std::size_t f = 0; f < std::size(per_process); ++f) {
    header(out, per_process[f]);
    for (std::size_t i = 0; i < processes; ++i) {
      const ProcessReport& p = report.processes[i];
      std::uint64_t leak = 0;
      for (const Leaker& l : p.leakers) leak += l.leak_factor.leak;
      const std::uint64_t values[] = {p.outstanding_bytes, p.stacks, p.leaking_stacks, leak};
      out += fmt::format("{}{{{}}} {}\n", per_process[f].name, process_labels(p), values[f]);
    }
  }
  const Family per_stack[] = {
      {"edleak_stack_outstanding_bytes", "gauge", "Outstanding bytes of a top leaking stack."},
      {"edleak_stack_leak_bytes", "gauge", "Leak size of a top leaking stack."},
      {"edleak_stack_growth_bytes_per_second", "gauge", "Growth rate of a top leaking stack's trend."},
  };
  for (std::size_t f = 0; f < std::size(per_stack); ++f) {
    header(out, per_stack[f]);
    for (std::size_t i = 0; i < processes; ++i) {
      const ProcessReport& p = report.processes[i];
      std::size_t rank = 0;
      for (const Leaker& l : p.leakers) {
        if (!l.leak_factor.is_leak() || rank == kMaxStacksPerProcess) continue;
        ++rank;
        const std::string site = l.stack.empty() ? "" : (l.stack[0].symbol.empty() ? fmt::format("{:#x}", l.stack[0].addr)
                                                                                    : l.stack[0].symbol);
        const double values[] = {double(l.outstanding_bytes), double(l.leak_factor.leak), l.leak_factor.growth_bytes_per_s};
        out += fmt::format("{}{{{},rank=\"{}\",site=\"{}\",class=\"{}\"}} {}\n", per_stack[f].name, process_labels(p), rank,
                           metric_label_value(site), classify::to_string(l.leak_factor.cls), number(values[f]));
      }
    }
  }
  // Watch mode: the listed processes' heaps (bounded like the rest), and how many are watched.
  if (report.watch) {
    const Family heap[] = {
        {"edleak_process_heap_bytes", "gauge", "Watch mode: the process's resident anonymous memory."},
        {"edleak_process_heap_growth_bytes_per_second", "gauge", "Watch mode: growth rate of the heap's trend."},
    };
    for (std::size_t f = 0; f < std::size(heap); ++f) {
      header(out, heap[f]);
      for (std::size_t i = 0; i < processes; ++i) {
        const ProcessReport& p = report.processes[i];
        if (!p.heap) continue;
        const double values[] = {double(p.heap->bytes), p.heap->verdict.growth_bytes_per_s};
        out += fmt::format("{}{{{},class=\"{}\",traced=\"{}\"}} {}\n", heap[f].name, process_labels(p),
                           classify::to_string(p.heap->verdict.cls), p.heap->zoomed ? "true" : "false",
                           number(values[f]));
      }
    }
    header(out, {"edleak_watched_processes", "gauge", "Watch mode: processes whose heap is watched."});
    out += fmt::format("edleak_watched_processes {}\n", report.watch->processes);
    header(out, {"edleak_zoomed_processes", "gauge", "Watch mode: processes whose allocator is traced now."});
    out += fmt::format("edleak_zoomed_processes {}\n", report.watch->zoomed);
  }
  const std::pair<Family, std::uint64_t> counters[] = {
      {{"edleak_lost_allocs_total", "counter", "Allocations not tracked (live-block map full)."}, report.stats.lost_allocs},
      {{"edleak_lost_sites_total", "counter", "Allocations not counted (per-(process, stack) map full)."}, report.stats.lost_sites},
      {{"edleak_stack_errors_total", "counter", "Stacks not captured."}, report.stats.stack_errors},
      {{"edleak_unknown_frees_total", "counter", "Frees of blocks not seen allocated."}, report.stats.unknown_frees},
      {{"edleak_failed_allocs_total", "counter", "Allocations that returned NULL."}, report.stats.failed_allocs},
      {{"edleak_samples_total", "counter", "Samples of the capture maps."}, report.samples},
      {{"edleak_evicted_sites_total", "counter", "Sites evicted from the kernel map to make room, empty (counts kept)."},
       report.stats.evicted_idle_sites},
      {{"edleak_evicted_holding_sites_total", "counter", "Sites evicted with live blocks (process over its share)."},
       report.stats.evicted_holding_sites},
      {{"edleak_refused_site_allocs_total", "counter", "Allocations of new stacks refused (process over its share of the sites map)."},
       report.stats.refused_site_allocs},
      {{"edleak_refused_block_allocs_total", "counter", "Allocations refused (process over its share of the blocks map)."},
       report.stats.refused_block_allocs},
      {{"edleak_orphan_frees_total", "counter", "Frees of blocks whose site had been evicted."}, report.stats.orphan_frees},
  };
  for (const auto& [family, value] : counters) {
    header(out, family);
    out += fmt::format("{} {}\n", family.name, value);
  }
  return out;
}

}  // namespace edleak::report
