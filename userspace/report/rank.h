#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "report/report.h"

namespace edleak::report {

// What a report orders leakers by: the bigger leak first, then the more outstanding bytes, then
// the smaller stack id, so that the order is total and holds from one report to the next.
struct RankKey {
  std::uint64_t leak = 0;
  std::uint64_t outstanding_bytes = 0;
  std::uint64_t stack_id = 0;
};

inline bool ranks_before(const RankKey& a, const RankKey& b) {
  if (a.leak != b.leak) return a.leak > b.leak;
  if (a.outstanding_bytes != b.outstanding_bytes) return a.outstanding_bytes > b.outstanding_bytes;
  return a.stack_id < b.stack_id;
}

// Keeps the first `top` items in the report's order (none when top is 0); `key_of(item)` gives
// an item's RankKey. A partial sort: ranking 100,000 stacks for a top 10 stays cheap.
template <typename T, typename KeyOf>
void keep_top(std::vector<T>& items, std::size_t top, KeyOf key_of) {
  const std::size_t shown = std::min(items.size(), top);
  std::partial_sort(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(shown), items.end(),
                    [&](const T& a, const T& b) { return ranks_before(key_of(a), key_of(b)); });
  items.erase(items.begin() + static_cast<std::ptrdiff_t>(shown), items.end());
}

// keep_top for finished leakers.
void rank_leakers(std::vector<Leaker>& leakers, std::size_t top);

}  // namespace edleak::report
