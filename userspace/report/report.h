#pragma once
// What one report says: per process, the allocation sites that leak, with their stacks.
// Built by the tracer (app/) and rendered as text or JSON (renderer.h); also built by tests.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "classify/leak_factor.h"
#include "symbolize/frame.h"

namespace edleak::report {

struct Leaker {
  std::uint64_t stack_id = 0;           // the capture's id of the stack: stable across reports
  std::vector<symbolize::Frame> stack;  // stack[0] is the allocation site (caller of the allocator)
  bool stack_complete = false;          // the walk reached the outermost frame
  bool stack_truncated = false;         // the walk stopped at --max-frames
  std::uint64_t outstanding_bytes = 0;
  std::uint64_t outstanding_allocs = 0;
  std::uint64_t total_allocs = 0;
  std::uint64_t total_frees = 0;
  classify::LeakFactor leak_factor;
};

struct ProcessReport {
  std::uint32_t pid = 0;
  std::string comm;
  bool exited = false;
  std::uint64_t outstanding_bytes = 0;  // over every stack of the process, leaking or not
  std::uint64_t stacks = 0;             // stacks with outstanding blocks
  std::uint64_t leaking_stacks = 0;     // stacks classified as leaking, before the --top cut
  std::uint64_t total_allocs = 0;       // allocations traced in the process since attach
  std::uint64_t total_frees = 0;        // frees of traced blocks
  std::vector<Leaker> leakers;          // sorted by leak, most first; at most --top
};

// Counters of what the capture could not record; every report shows them.
struct Stats {
  std::uint64_t lost_allocs = 0;    // live-block map full: allocation not tracked
  std::uint64_t stack_errors = 0;   // stack not captured or stack map full
  std::uint64_t lost_stacks = 0;    // per-stack aggregate map full
  std::uint64_t unknown_frees = 0;  // frees of blocks allocated before tracing (ignored)
  std::uint64_t failed_allocs = 0;  // allocator returned NULL (not an allocation)
};

struct Report {
  std::chrono::system_clock::time_point time;
  double elapsed_s = 0;
  double interval_s = 0;
  std::uint64_t samples = 0;
  bool final = false;  // the last report of the run
  Stats stats;
  std::vector<ProcessReport> processes;
};

}  // namespace edleak::report
