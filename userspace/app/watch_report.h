#pragma once
// Watch mode's part of a report: each process's heap verdict and series (the traced ones, with
// their stacks, and the growing ones), and how many processes are watched.
#include <cstdint>
#include <functional>
#include <string>

#include "report/report.h"
#include "watch/heap_watch.h"

namespace edleak::app {

// The name of a process listed for its heap only (read when listed: most never are).
using CommReader = std::function<std::string(std::uint32_t pid)>;

// Gives each process of `report` (the traced ones) its heap (and, zoomed, a note when its
// growth is not explained by its traced stacks: unexplained_growth), then lists the processes whose
// heap grows (every watched one with `all`), fastest first, up to `top`; the others are counted.
void add_heap_watch(report::Report& report, const watch::HeapWatch& watch, double now_s, std::size_t top, bool all,
                    const CommReader& comm_of);

// What a zoomed process's heap did beside what its traced allocations hold: growth the traced
// calls do not explain (another allocator, direct mappings, memory written long after it was
// allocated) gets a note; "" when they explain it.
std::string unexplained_growth(std::uint64_t heap_growth, std::uint64_t traced_bytes, std::uint64_t min_growth);

// A zoomed process's share of the kernel's stack table: --max-stacks split between --max-zoom
// windows, so that one process with tens of thousands of stacks (a C++ compiler, seen on build
// machines) cannot fill it for every other window (and the tracer's memory with it).
std::uint64_t zoom_stack_share(std::uint64_t max_stacks, std::size_t max_zoom);
// The note of a window ended early because the process holds more stacks than its share; ""
// within it.
std::string over_stack_share(std::uint64_t stacks, std::uint64_t max_stacks, std::size_t max_zoom);

}  // namespace edleak::app
