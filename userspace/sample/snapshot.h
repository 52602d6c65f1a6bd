#pragma once
// One reading of the capture maps: the record that flows from capture to analysis.
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace edleak::sample {

// Aggregates of one (process, stack) at the time of the snapshot.
struct SiteSample {
  std::uint32_t tgid = 0;
  std::uint64_t stack_id = 0;
  std::int64_t outstanding_bytes = 0;
  std::int64_t outstanding_blocks = 0;
  std::uint64_t total_allocs = 0;
  std::uint64_t total_frees = 0;
};

// Totals of the capture counters since it started (see bpf/edleak_abi.h).
struct Counters {
  std::uint64_t lost_allocs = 0;
  std::uint64_t lost_sites = 0;
  std::uint64_t stack_errors = 0;
  std::uint64_t unknown_frees = 0;
  std::uint64_t failed_allocs = 0;
  std::uint64_t state_errors = 0;
};

// The frames of one stack (allocation site first) and how their walk ended.
struct StackRecord {
  std::vector<std::uint64_t> frames;
  bool complete = false;   // reached the outermost frame (_start, a thread's start routine)
  bool truncated = false;  // cut at --max-frames
  bool mmap = false;       // a direct anonymous mmap's site, not an allocator's
};

struct Snapshot {
  double t_s = 0;  // seconds since tracing started
  std::vector<SiteSample> sites;
  // Frames (allocation site first) of stacks first seen in this snapshot.
  std::unordered_map<std::uint64_t, StackRecord> new_stacks;
  Counters counters;
};

}  // namespace edleak::sample
