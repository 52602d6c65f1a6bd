#pragma once
// Room in the capture's kernel maps for every process. The sites map holds one entry per
// (process history, stack) and the blocks map one per live block, each with a fixed capacity
// (--max-stacks, --max-allocs); on a build machine in all-process mode a few compilers, thousands
// of stacks each, fill them, and from then on no other process gets a site: its leak is never
// seen (a 10-minute soak: 282 of 1,339 leaking processes reported). When a map is nearly full,
// this decides, once a tick, what makes room:
//   1. sites that hold nothing and did not change for a while are evicted: their counts are
//      already in the site table, which keeps them, so a stack that allocates again continues
//      from them (SiteTable::retire);
//   2. if that is not enough, every process gets a share of the map (max-min fair: the processes
//      below it keep what they have, the others share the rest equally). A process at or over
//      its share gets no new site (its new stacks are refused, counted); a process over it, while
//      the map is still nearly full, loses its sites beyond the share, those holding the fewest
//      bytes first (evicted with their blocks: their frees are then counted as orphans);
//   3. the blocks map likewise: a process at or over its share of the live blocks gets no new
//      block (refused, counted) until it frees below it; while the map is above its high mark, a
//      process over its share loses sites (the fewest bytes first) with their blocks, deleted
//      from the map, down to its share.
// Pure: fed what the site table holds, returns what to do; the tracer applies it.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sample/snapshot.h"

namespace edleak::sample {

// One site as the policy sees it.
struct SiteUse {
  ProcessKey process;
  std::uint64_t stack_id = 0;
  std::int64_t outstanding_bytes = 0;
  std::int64_t outstanding_blocks = 0;
  std::uint32_t idle_samples = 0;  // consecutive samples its counts did not change
};

struct RoomLimits {
  std::size_t site_capacity = 0;     // entries of the sites map
  std::uint64_t block_capacity = 0;  // entries of the blocks map
  // Above high * capacity the policy acts, and makes room down to low * capacity: the room
  // between them is what new processes fill until the next tick.
  double high = 0.85;
  double low = 0.70;
  // Samples an empty site must have been unchanged to be evicted: a churning stack that is empty
  // at the moment of a reading would be created again at once.
  std::uint32_t idle_after = 2;
  // No process's share goes below these (a share of a handful of sites would cut a
  // process's ordinary stacks).
  std::size_t min_site_share = 256;
  std::uint64_t min_block_share = 4096;
  // From this fill of the sites map, a process history may create at most 1/burst_parts of the
  // room left (at least min_site_share) before the next tick: see site_burst_limit.
  double burst_from = 0.5;
  std::size_t burst_parts = 4;
};

struct RoomPlan {
  std::vector<SiteUse> evict_idle;        // empty and idle: counts kept
  std::vector<SiteUse> evict_over_share;  // of processes over their share, with their blocks
  // Of processes over their share of the blocks map: evicted, and their blocks deleted.
  std::vector<SiteUse> evict_for_blocks;
  std::vector<ProcessKey> site_capped;    // at or over their share of the sites map
  std::vector<ProcessKey> block_capped;   // at or over their share of the blocks map
  std::size_t site_share = 0;             // 0: no share in force
  std::uint64_t block_share = 0;
  bool empty() const {
    return evict_idle.empty() && evict_over_share.empty() && evict_for_blocks.empty() && site_capped.empty() &&
           block_capped.empty();
  }
};

// Whether plan_room has anything to do: a map above its high mark, or caps in force (they are
// lifted only by a plan).
bool room_needed(std::size_t sites, std::uint64_t live_blocks, const RoomLimits& limits, bool caps_in_force);

RoomPlan plan_room(const std::vector<SiteUse>& sites, const RoomLimits& limits);

// How many new sites the processes may create before the next tick. Room is made once a tick;
// between two, a process creating thousands of stacks (a compiler starting, a tick stalled by a
// busy machine) would fill the map, and every other process's new stacks would be lost.
struct SiteBurstLimits {
  std::size_t per_history = 0;  // 0: no limit at all
  std::size_t all = 0;          // every history together, beyond each one's `floor`
  std::size_t floor = 0;        // what a history may always create (a process with a few stacks)
};

// With `sites` in the map after this tick's room was made: from burst_from full, each history
// may take 1/burst_parts of the room left and all of them half of it, so that the map cannot
// fill before the next tick unless hundreds of processes each create their floor of stacks.
SiteBurstLimits site_burst_limits(std::size_t sites, const RoomLimits& limits);

// The largest share s (at least `floor`) with sum(min(use, s)) <= budget: the max-min fair share
// of `budget` among users of `uses`.
std::uint64_t fair_share(std::vector<std::uint64_t> uses, std::uint64_t budget, std::uint64_t floor);

}  // namespace edleak::sample
