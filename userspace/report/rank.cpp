#include "report/rank.h"

#include <algorithm>

namespace edleak::report {

void rank_leakers(std::vector<Leaker>& leakers, std::size_t top) {
  // Stable, so equal leakers do not swap places from one report to the next.
  std::stable_sort(leakers.begin(), leakers.end(), [](const Leaker& a, const Leaker& b) {
    return ranks_before(a.leak_factor.leak, a.outstanding_bytes, b.leak_factor.leak, b.outstanding_bytes);
  });
  if (leakers.size() > top) leakers.erase(leakers.begin() + static_cast<std::ptrdiff_t>(top), leakers.end());
}

}  // namespace edleak::report
