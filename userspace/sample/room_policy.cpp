#include "sample/room_policy.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace edleak::sample {

std::uint64_t fair_share(std::vector<std::uint64_t> uses, std::uint64_t budget, std::uint64_t floor) {
  std::sort(uses.begin(), uses.end());
  std::uint64_t remaining = budget;
  for (std::size_t i = 0; i < uses.size(); ++i) {
    const std::uint64_t share = remaining / (uses.size() - i);
    if (uses[i] > share) return std::max(share, floor);
    remaining -= uses[i];  // below the share: it keeps what it has
  }
  return std::max(budget + 1, floor);  // everyone fits: no share binds
}

bool room_needed(std::size_t sites, std::uint64_t live_blocks, const RoomLimits& limits, bool caps_in_force) {
  return caps_in_force || static_cast<double>(sites) > limits.high * static_cast<double>(limits.site_capacity) ||
         static_cast<double>(live_blocks) > limits.high * static_cast<double>(limits.block_capacity);
}

SiteBurstLimits site_burst_limits(std::size_t sites, const RoomLimits& limits) {
  if (static_cast<double>(sites) < limits.burst_from * static_cast<double>(limits.site_capacity)) return {};
  const std::size_t room = limits.site_capacity > sites ? limits.site_capacity - sites : 0;
  SiteBurstLimits out;
  out.floor = limits.min_site_share;
  out.per_history = std::max(limits.min_site_share, room / std::max<std::size_t>(1, limits.burst_parts));
  out.all = room / 2;
  return out;
}

namespace {

template <typename Count>
std::vector<ProcessKey> at_or_over(const std::map<ProcessKey, Count>& use, std::uint64_t share) {
  std::vector<ProcessKey> out;
  for (const auto& [process, n] : use)
    if (static_cast<std::uint64_t>(n) >= share) out.push_back(process);
  return out;
}

template <typename Count>
std::vector<std::uint64_t> values_of(const std::map<ProcessKey, Count>& use) {
  std::vector<std::uint64_t> out;
  for (const auto& [process, n] : use) out.push_back(static_cast<std::uint64_t>(n));
  return out;
}

}  // namespace

RoomPlan plan_room(const std::vector<SiteUse>& sites, const RoomLimits& limits) {
  RoomPlan plan;
  const auto low_sites = static_cast<std::size_t>(std::llround(limits.low * static_cast<double>(limits.site_capacity)));
  const auto high_sites = static_cast<std::size_t>(std::llround(limits.high * static_cast<double>(limits.site_capacity)));
  std::size_t kept = sites.size();

  // 1. Empty, idle sites, the longest idle first, down to the low mark.
  std::vector<bool> evicted(sites.size(), false);
  if (kept > low_sites) {
    std::vector<std::size_t> idle;
    for (std::size_t i = 0; i < sites.size(); ++i)
      if (sites[i].outstanding_blocks <= 0 && sites[i].outstanding_bytes <= 0 &&
          sites[i].idle_samples >= limits.idle_after)
        idle.push_back(i);
    std::stable_sort(idle.begin(), idle.end(),
                     [&](std::size_t a, std::size_t b) { return sites[a].idle_samples > sites[b].idle_samples; });
    for (std::size_t i : idle) {
      if (kept <= low_sites) break;
      evicted[i] = true;
      plan.evict_idle.push_back(sites[i]);
      --kept;
    }
  }

  // 2. Still above the low mark: shares of the sites map.
  if (kept > low_sites) {
    std::map<ProcessKey, std::vector<std::size_t>> of;  // the sites each process keeps
    for (std::size_t i = 0; i < sites.size(); ++i)
      if (!evicted[i]) of[sites[i].process].push_back(i);
    std::map<ProcessKey, std::size_t> use;
    for (const auto& [process, list] : of) use[process] = list.size();
    plan.site_share = fair_share(values_of(use), low_sites, limits.min_site_share);
    plan.site_capped = at_or_over(use, plan.site_share);
    // Above the high mark: the processes over their share lose what is beyond it, the sites
    // holding the fewest bytes first (a leak's site holds the most), the longest idle among equals.
    if (kept > high_sites)
      for (auto& [process, list] : of) {
        if (list.size() <= plan.site_share) continue;
        std::stable_sort(list.begin(), list.end(), [&](std::size_t a, std::size_t b) {
          if (sites[a].outstanding_bytes != sites[b].outstanding_bytes)
            return sites[a].outstanding_bytes < sites[b].outstanding_bytes;
          return sites[a].idle_samples > sites[b].idle_samples;
        });
        for (std::size_t j = 0; j < list.size() - plan.site_share; ++j) {
          evicted[list[j]] = true;
          plan.evict_over_share.push_back(sites[list[j]]);
        }
      }
  }

  // 3. Shares of the blocks map, from what the sites count.
  std::map<ProcessKey, std::uint64_t> blocks;
  std::uint64_t live = 0;
  for (const SiteUse& s : sites) {
    const auto n = static_cast<std::uint64_t>(std::max<std::int64_t>(s.outstanding_blocks, 0));
    blocks[s.process] += n;
    live += n;
  }
  const auto low_blocks = static_cast<std::uint64_t>(std::llround(limits.low * static_cast<double>(limits.block_capacity)));
  if (live > low_blocks) {
    plan.block_share = fair_share(values_of(blocks), low_blocks, limits.min_block_share);
    plan.block_capped = at_or_over(blocks, plan.block_share);
  }
  // Above the high mark, the processes over their share give up sites with their blocks, the
  // sites holding the fewest bytes first, until they are down to it.
  const auto high_blocks = static_cast<std::uint64_t>(std::llround(limits.high * static_cast<double>(limits.block_capacity)));
  if (live > high_blocks) {
    std::map<ProcessKey, std::vector<std::size_t>> of;
    for (std::size_t i = 0; i < sites.size(); ++i)
      if (!evicted[i] && sites[i].outstanding_blocks > 0 && blocks[sites[i].process] > plan.block_share)
        of[sites[i].process].push_back(i);
    for (auto& [process, list] : of) {
      std::stable_sort(list.begin(), list.end(), [&](std::size_t a, std::size_t b) {
        return sites[a].outstanding_bytes < sites[b].outstanding_bytes;
      });
      std::uint64_t held = blocks[process];
      for (std::size_t i : list) {
        if (held <= plan.block_share) break;
        plan.evict_for_blocks.push_back(sites[i]);
        held -= static_cast<std::uint64_t>(sites[i].outstanding_blocks);
      }
    }
  }
  return plan;
}

}  // namespace edleak::sample
