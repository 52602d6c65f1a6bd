#pragma once
// The analysis state of a run: one series per (process, stack), fed by capture snapshots.
// Pure: tests feed it snapshots they build by hand or replay from a record.
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "classify/remembered_verdict.h"
#include "sample/room_policy.h"
#include "sample/snapshot.h"
#include "series/series.h"
#include "util/prefetch.h"

namespace edleak::sample {

// Points kept per series of a site (SiteTable::kSeriesCapacity).
inline constexpr std::size_t kSiteSeriesCapacity = 64;

struct Site {
  ProcessKey process;
  std::uint64_t stack_id = 0;
  SiteCounts latest;     // aggregates at the last snapshot that had this site
  series::Series bytes;  // outstanding bytes over time
  // Sampled at the same times as bytes: outstanding blocks (a leak of tiny or zero-byte blocks
  // shows there) and the cumulative frees of traced blocks (a stack that recycles its blocks
  // frees about as many as it allocates: the attach warm-up is told from a cache by them).
  series::Series blocks;
  series::Series frees;
  // Outstanding blocks allocated kOldAfterSamples samples ago or more, from the capture's age
  // ring, at the same times when the capture has it (empty otherwise): a leak's blocks grow
  // old, a recycling stack's stay young, so beneath churn this series is the leak alone.
  series::Series old_blocks{kSiteSeriesCapacity};
  std::int64_t old_bytes = 0;  // bytes of those blocks at the last snapshot
  AgeDecoder age;
  // The counts of the kernel sites this (process, stack) had before, evicted (SiteTable::retire):
  // latest's totals include them, so cumulative counts continue across an eviction.
  std::uint64_t base_allocs = 0;
  std::uint64_t base_frees = 0;
  std::uint32_t idle_samples = 0;  // consecutive snapshots its counts did not change
  // The last report's verdict on it, reused while its series stay at the same revisions: a
  // cache of what its series say, so kept through a const Site (the report reads sites only).
  mutable classify::RememberedVerdict verdict{};
  mutable classify::RememberedSettling settling{};  // where its climb ended, searched once
};

// What making room in the capture's maps (room_policy.h) did to a process, or to the whole run.
struct RoomCounts {
  std::uint64_t evicted_idle = 0;     // empty sites evicted, their counts kept
  std::uint64_t evicted_holding = 0;  // sites evicted over the process's share, with live blocks
  std::uint64_t evicted_holding_blocks = 0;  // their live blocks (their frees: orphan frees)
  std::uint64_t evicted_holding_bytes = 0;
  std::uint64_t refused_site_allocs = 0;   // (per process: from the capture's caps)
  std::uint64_t refused_block_allocs = 0;
};

// The counts of a process's evicted sites that have not come back.
struct RetiredTotals {
  std::uint64_t stacks = 0;
  std::uint64_t allocs = 0;
  std::uint64_t frees = 0;
};

class SiteTable {
 public:
  // Points kept per series: enough for the leak factor's fit and floor slices at any run
  // length (it is reliable from 12 points), at 1.9 KB a series, four series a stack.
  static constexpr std::size_t kSeriesCapacity = kSiteSeriesCapacity;

  // Appends every site of the snapshot to its series (creating sites seen for the first time)
  // and keeps the frames of new stacks.
  void ingest(const Snapshot& snapshot);

  // Adds a site as a record holds it (record/ replay): its series and its stack, as they were.
  // A site already present is replaced.
  void restore(Site site, const StackRecord& stack);
  // The number of snapshots and the counters, as a record holds them.
  void restore_totals(std::uint64_t samples, const Counters& counters) {
    samples_ = samples;
    counters_ = counters;
  }

  // Drops the sites of a process history (after its final report).
  void forget_process(const ProcessKey& process);
  // The capture evicted these sites of a process at time t_s (room_policy.h): their series go,
  // their counts stay (in the process's totals), and when the stack allocates again its new
  // kernel site continues from them: its cumulative counts from the old ones, its series from a
  // point at the eviction (it held nothing then: its bytes and blocks start again from 0).
  void retire(const ProcessKey& process, const std::vector<std::uint64_t>& stack_ids, double t_s);
  // Every site, as the room policy sees it.
  std::vector<SiteUse> site_uses() const;
  const RoomCounts* room_of(const ProcessKey& process) const;
  RetiredTotals retired_of(const ProcessKey& process) const;
  // Evictions of the whole run, forgotten processes included (refusals: the capture's counters).
  const RoomCounts& room_totals() const { return room_totals_; }
  // Drops the frames of stacks the capture no longer holds (no history has them).
  void forget_stacks(const std::vector<std::uint64_t>& stack_ids);

  // Sites of a process, in the order they were first seen. Pointers stay valid until the next
  // ingest() or forget_process().
  std::vector<const Site*> sites_of(const ProcessKey& process) const;
  // Calls f(const Site&) for each site of a process, without building a list.
  template <typename F>
  void for_each_site(const ProcessKey& process, F&& f) const {
    if (auto it = processes_.find(process); it != processes_.end())
      for (std::size_t i = 0, n = it->second.sites.size(); i < n; ++i) {
        // Every site's series are read once per report and none is in cache by then: asking
        // for those of the site four ahead while this one is judged, and for the site eight
        // ahead itself (where its series are), halves the classifier's time at 100,000 stacks
        // (BENCHMARKS.md).
        if (i + 8 < n) util::prefetch(&it->second.sites[i + 8], sizeof(Site));
        if (i + 4 < n) prefetch(it->second.sites[i + 4]);
        f(it->second.sites[i]);
      }
  }
  std::vector<ProcessKey> processes() const;  // ascending

  const std::vector<std::uint64_t>* frames(std::uint64_t stack_id) const;
  const StackRecord* stack(std::uint64_t stack_id) const;
  const Counters& counters() const { return counters_; }
  std::uint64_t samples() const { return samples_; }
  std::size_t size() const;
  std::size_t stack_count() const { return stacks_.size(); }

 private:
  // Sites live in a vector, so that classifying every site each interval walks memory in
  // order (100,000 sites in hash nodes cost more in cache misses than in arithmetic).
  struct Retired {
    std::uint64_t allocs = 0, frees = 0;
    double t_s = 0;  // when it was evicted
  };
  struct ProcessSites {
    std::vector<Site> sites;
    std::unordered_map<std::uint64_t, std::uint32_t> index;  // stack id -> position in sites
    std::unordered_map<std::uint64_t, Retired> retired;      // evicted, not back: by stack id
    RetiredTotals retired_totals;                            // their sums
    RoomCounts room;
  };
  Site& find_or_add(ProcessSites& process, const SiteSample& sample);
  // What the classifier reads of a site whose floor did not rise (most of them), unless it
  // reuses the site's last verdict: the lows of the bytes and blocks, the ends of the blocks and
  // frees. Asking for more than is read fills
  // the memory bus with lines nobody waits for: prefetching all four series whole cost a sixth
  // of a report at 100,000 stacks.
  static void prefetch(const Site& site) {
    // A site whose series took no point since its last verdict is not judged again.
    if (site.verdict.held_at(classify::revisions_of(site.bytes, site.blocks, site.frees, site.old_blocks))) return;
    site.bytes.prefetch_lows();
    site.blocks.prefetch_lows();
    site.blocks.prefetch_ends();
    site.frees.prefetch_ends();
  }

  std::unordered_map<ProcessKey, ProcessSites, ProcessKeyHash> processes_;
  // Where each entry of the previous snapshot went: the kernel returns a map's entries in the
  // same order from one read to the next, so this finds most sites without hashing.
  std::vector<Site*> previous_order_;
  std::unordered_map<std::uint64_t, StackRecord> stacks_;
  Counters counters_;
  std::uint64_t samples_ = 0;
  RoomCounts room_totals_;
};

}  // namespace edleak::sample
