#pragma once
#include <cstddef>
#include <vector>

#include "report/report.h"

namespace edleak::report {

// Orders leakers for a report: biggest leak first, then most outstanding bytes; ties keep
// their input order (stable). Keeps the first `top` (none when top is 0).
void rank_leakers(std::vector<Leaker>& leakers, std::size_t top);

}  // namespace edleak::report
