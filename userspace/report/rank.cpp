#include "report/rank.h"

namespace edleak::report {

void rank_leakers(std::vector<Leaker>& leakers, std::size_t top) {
  keep_top(leakers, top, [](const Leaker& l) {
    return RankKey{l.leak_factor.leak, l.outstanding_bytes, l.stack_id};
  });
}

}  // namespace edleak::report
