#include "app/watch_report.h"

#include <algorithm>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "report/format.h"

namespace edleak::app {
namespace {

report::HeapReport heap_of(const watch::WatchedProcess& p, double now_s) {
  report::HeapReport heap;
  heap.bytes = p.bytes;
  heap.verdict = p.verdict;
  heap.series = p.heap.points();
  heap.zoomed = p.zoomed;
  heap.zoom_left_s = p.zoomed ? p.zoom_until_s - now_s : 0;
  heap.zooms = p.zooms;
  return heap;
}

}  // namespace

void add_heap_watch(report::Report& report, const watch::HeapWatch& watch, double now_s, std::size_t top, bool all,
                    const CommReader& comm_of) {
  report::WatchSummary summary;
  summary.processes = watch.processes().size();
  summary.unwatched = watch.unwatched();
  std::unordered_set<std::uint32_t> listed;
  for (report::ProcessReport& process : report.processes) {
    listed.insert(process.pid);
    const watch::WatchedProcess* p = watch.find(process.pid);
    if (!p) continue;  // exited: its last section has its stacks only
    process.heap = heap_of(*p, now_s);
    // A traced process no longer zoomed: this is its last section until it grows again.
    process.heap->zoom_ended = !p->zoomed;
    if (!p->note.empty() && !p->zoomed) process.notes.push_back(p->note);
    // Zoomed and running: what its heap did beside what its traced stacks hold now.
    if (p->zoomed && !process.exited)
      if (std::string note = unexplained_growth(p->growth_since_zoom(), process.outstanding_bytes,
                                                watch.config().min_growth_bytes);
          !note.empty())
        process.notes.push_back(std::move(note));
  }
  std::vector<const watch::WatchedProcess*> more;
  for (const auto& [pid, p] : watch.processes()) {
    // Growing: a leak's shape, by as much as makes a suspect (a shell's few KiB are not news).
    const bool growing = p.verdict.is_leak() && p.verdict.leak >= watch.config().min_growth_bytes;
    summary.growing += growing;
    summary.zoomed += p.zoomed;
    if (!listed.count(pid) && (all || growing)) more.push_back(&p);
  }
  std::sort(more.begin(), more.end(), [](const auto* a, const auto* b) {
    if (a->verdict.growth_bytes_per_s != b->verdict.growth_bytes_per_s)
      return a->verdict.growth_bytes_per_s > b->verdict.growth_bytes_per_s;
    return a->key < b->key;
  });
  for (std::size_t i = 0; i < more.size(); ++i) {
    if (i >= top) {
      summary.unlisted = more.size() - top;
      break;
    }
    report::ProcessReport process;
    process.pid = more[i]->key.pid;
    process.comm = comm_of(process.pid);
    process.heap = heap_of(*more[i], now_s);
    if (!more[i]->note.empty()) process.notes.push_back(more[i]->note);
    report.processes.push_back(std::move(process));
  }
  report.watch = summary;
}

std::string unexplained_growth(std::uint64_t heap_growth, std::uint64_t traced_bytes, std::uint64_t min_growth) {
  if (heap_growth < min_growth || heap_growth <= 2 * traced_bytes) return "";
  return fmt::format("its heap grew {} while traced; the traced allocations hold {}: the rest is not from traced "
                     "allocator calls (another allocator, direct mappings, or memory written long after it was "
                     "allocated)",
                     report::format_bytes(heap_growth), report::format_bytes(traced_bytes));
}

std::uint64_t zoom_stack_share(std::uint64_t max_stacks, std::size_t max_zoom) {
  return max_stacks / std::max<std::size_t>(max_zoom, 1);
}

std::string over_stack_share(std::uint64_t stacks, std::uint64_t max_stacks, std::size_t max_zoom) {
  const std::uint64_t share = zoom_stack_share(max_stacks, max_zoom);
  if (stacks <= share) return "";
  return fmt::format("window ended early, not traced again: {} stacks traced, more than one window's share of "
                     "--max-stacks ({} = {} / --max-zoom {}); raise --max-stacks or lower --max-zoom to trace it",
                     stacks, share, max_stacks, max_zoom);
}

}  // namespace edleak::app
