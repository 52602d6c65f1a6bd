#include "report/rank.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace edleak::report {
namespace {

using ::testing::ElementsAre;

// A leaker identified by its total_allocs, so the order is easy to check.
Leaker leaker(std::uint64_t id, std::uint64_t leak, std::uint64_t outstanding) {
  Leaker l;
  l.total_allocs = id;
  l.leak_factor.leak = leak;
  l.outstanding_bytes = outstanding;
  return l;
}

std::vector<std::uint64_t> ids(const std::vector<Leaker>& leakers) {
  std::vector<std::uint64_t> out;
  for (const Leaker& l : leakers) out.push_back(l.total_allocs);
  return out;
}

TEST(RankLeakers, BiggestLeakFirst) {
  std::vector<Leaker> v{leaker(1, 10, 0), leaker(2, 300, 0), leaker(3, 20, 0)};
  rank_leakers(v, 10);
  EXPECT_THAT(ids(v), ElementsAre(2, 3, 1));
}

TEST(RankLeakers, EqualLeaksByOutstandingBytes) {
  std::vector<Leaker> v{leaker(1, 100, 5), leaker(2, 100, 50), leaker(3, 0, 900), leaker(4, 100, 10)};
  rank_leakers(v, 10);
  EXPECT_THAT(ids(v), ElementsAre(2, 4, 1, 3));
}

TEST(RankLeakers, CompleteTiesByStackId) {
  std::vector<Leaker> v{leaker(1, 7, 7), leaker(2, 7, 7), leaker(3, 7, 7)};
  v[0].stack_id = 30;
  v[1].stack_id = 10;
  v[2].stack_id = 20;
  rank_leakers(v, 10);
  EXPECT_THAT(ids(v), ElementsAre(2, 3, 1));  // the same order in every report
}

TEST(RankLeakers, KeepsTopN) {
  std::vector<Leaker> v{leaker(1, 1, 0), leaker(2, 2, 0), leaker(3, 3, 0), leaker(4, 4, 0)};
  rank_leakers(v, 2);
  EXPECT_THAT(ids(v), ElementsAre(4, 3));
}

TEST(RankLeakers, TopAboveSizeKeepsAllAndZeroKeepsNone) {
  std::vector<Leaker> v{leaker(1, 1, 0), leaker(2, 2, 0)};
  rank_leakers(v, 5);
  EXPECT_THAT(ids(v), ElementsAre(2, 1));
  rank_leakers(v, 0);
  EXPECT_TRUE(v.empty());
  rank_leakers(v, 3);  // empty input stays empty
  EXPECT_TRUE(v.empty());
}

}  // namespace
}  // namespace edleak::report
