#pragma once
// One reading of the capture maps: the record that flows from capture to analysis.
#include <compare>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "sample/age_ring.h"

namespace edleak::sample {

// One history of a process: a pid from its fork (or exec) to its next exec or its exit. The
// capture numbers histories (bpf/edleak_abi.h); 0 is a process that started before tracing. An
// exec'd program and a process that reuses a pid are other histories, never mixed with it.
struct ProcessKey {
  std::uint32_t pid = 0;
  std::uint32_t incarnation = 0;
  ProcessKey() = default;
  // A pid alone: its history from before tracing (tests, and processes named by pid).
  ProcessKey(std::uint32_t pid_, std::uint32_t incarnation_ = 0) : pid(pid_), incarnation(incarnation_) {}
  auto operator<=>(const ProcessKey&) const = default;
};

struct ProcessKeyHash {
  std::size_t operator()(const ProcessKey& k) const {
    return std::hash<std::uint64_t>()(static_cast<std::uint64_t>(k.incarnation) << 32 | k.pid);
  }
};

// Aggregates of one (process, stack) at the time of a snapshot: what a site holds and did, as
// the analysis keeps it between snapshots.
struct SiteCounts {
  std::uint32_t tgid = 0;
  std::uint64_t stack_id = 0;
  std::int64_t outstanding_bytes = 0;
  std::int64_t outstanding_blocks = 0;
  std::uint64_t total_allocs = 0;
  std::uint64_t total_frees = 0;
  std::uint32_t incarnation = 0;  // of the process history (ProcessKey)
};

// One reading of a site: its counts and the capture's age ring, which the analysis decodes at
// ingest (AgeDecoder) and does not keep.
struct SiteSample : SiteCounts {
  AgeRing age;  // only with Snapshot::age_epoch
};

// Totals of the capture counters since it started (see bpf/edleak_abi.h).
struct Counters {
  std::uint64_t lost_allocs = 0;
  std::uint64_t lost_sites = 0;
  std::uint64_t stack_errors = 0;
  std::uint64_t unknown_frees = 0;
  std::uint64_t failed_allocs = 0;
  std::uint64_t state_errors = 0;
  std::uint64_t overwritten_blocks = 0;  // recorded over a live block whose free was missed
  std::uint64_t lost_events = 0;         // process events the ring buffer could not hold
  // Allocations not recorded because their process was over its share of a map (see
  // room_policy.h): a new stack refused a site, a block refused a blocks entry.
  std::uint64_t refused_site_allocs = 0;
  std::uint64_t refused_block_allocs = 0;
  // Frees (and whole unmaps) of blocks whose site had been evicted while they were live: credited
  // to no site.
  std::uint64_t orphan_frees = 0;
};

// What one process history had refused since tracing started (its part of the refused_* counters).
struct Refusals {
  ProcessKey process;
  std::uint64_t site_allocs = 0;
  std::uint64_t block_allocs = 0;
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
  // The age epoch the capture began just before this reading (see AgeDecoder); 0: the sites
  // carry no age ring (a snapshot built by hand, a replay).
  std::uint32_t age_epoch = 0;
  std::vector<SiteSample> sites;
  // Frames (allocation site first) of stacks first seen in this snapshot.
  std::unordered_map<std::uint64_t, StackRecord> new_stacks;
  Counters counters;
  // Per process history over a share of a map now or before (cumulative; others refused nothing).
  std::vector<Refusals> refusals;
};

}  // namespace edleak::sample
