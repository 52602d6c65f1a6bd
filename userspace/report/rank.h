#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "report/report.h"

namespace edleak::report {

// The report's order of two leakers: the bigger leak first, then the more outstanding bytes.
inline bool ranks_before(std::uint64_t leak_a, std::uint64_t bytes_a, std::uint64_t leak_b, std::uint64_t bytes_b) {
  return leak_a != leak_b ? leak_a > leak_b : bytes_a > bytes_b;
}

// Orders leakers for a report: biggest leak first, then most outstanding bytes; ties keep
// their input order (stable). Keeps the first `top` (none when top is 0).
void rank_leakers(std::vector<Leaker>& leakers, std::size_t top);

}  // namespace edleak::report
