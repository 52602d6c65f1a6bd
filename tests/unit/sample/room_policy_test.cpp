#include "sample/room_policy.h"

#include <algorithm>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace edleak::sample {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// `n` sites of process `pid`, each holding `bytes` in one block (or nothing), idle for `idle`.
void add(std::vector<SiteUse>& sites, std::uint32_t pid, std::size_t n, std::int64_t bytes, std::uint32_t idle,
         std::uint64_t first_stack = 0) {
  for (std::size_t i = 0; i < n; ++i)
    sites.push_back({ProcessKey(pid), first_stack + i, bytes, bytes > 0 ? 1 : 0, idle});
}

RoomLimits limits(std::size_t sites, std::uint64_t blocks = 1'000'000) {
  RoomLimits l;
  l.site_capacity = sites;
  l.block_capacity = blocks;
  l.min_site_share = 16;
  l.min_block_share = 16;
  return l;
}

std::map<ProcessKey, std::size_t> count_by_process(const std::vector<SiteUse>& sites) {
  std::map<ProcessKey, std::size_t> out;
  for (const auto& s : sites) ++out[s.process];
  return out;
}

TEST(FairShare, SmallUsersKeepWhatTheyHaveTheBigOnesShareTheRest) {
  EXPECT_EQ(fair_share({10, 20, 1000}, 600, 1), 570u);
  EXPECT_EQ(fair_share({1000, 1000, 10}, 610, 1), 300u);
  EXPECT_EQ(fair_share({1000, 1000, 10}, 610, 400), 400u);  // never below the floor
  EXPECT_GT(fair_share({10, 20}, 600, 1), 20u);             // everyone fits: binds no one
}

// Between two ticks a history may take a quarter of the room left and all of them half, so that
// compilers starting cannot fill the map before the next tick makes room; below half full, no
// limit.
TEST(SiteBurstLimits, AQuarterOfTheRoomLeftEachAndHalfForAllOnceTheMapIsHalfFull) {
  const RoomLimits l = limits(65'536);
  EXPECT_EQ(site_burst_limits(0, l).per_history, 0u);
  EXPECT_EQ(site_burst_limits(32'767, l).per_history, 0u);
  EXPECT_EQ(site_burst_limits(32'768, l).per_history, 8'192u);
  EXPECT_EQ(site_burst_limits(32'768, l).all, 16'384u);
  EXPECT_EQ(site_burst_limits(49'152, l).per_history, 4'096u);
  EXPECT_EQ(site_burst_limits(49'152, l).floor, l.min_site_share);
  // Nearly full (or over: the map was read while inserts went on), a process with a few stacks
  // still gets them; the others none.
  EXPECT_EQ(site_burst_limits(65'500, l).per_history, l.min_site_share);
  EXPECT_EQ(site_burst_limits(70'000, l).per_history, l.min_site_share);
  EXPECT_EQ(site_burst_limits(70'000, l).all, 0u);
}

TEST(RoomPolicy, NothingBelowTheHighMark) {
  std::vector<SiteUse> sites;
  add(sites, 1, 800, 0, 100);
  const RoomLimits l = limits(1000);
  EXPECT_FALSE(room_needed(sites.size(), 0, l, false));
  EXPECT_TRUE(room_needed(sites.size(), 0, l, true));  // caps in force: a plan lifts them
}

TEST(RoomPolicy, EmptyIdleSitesGoFirstTheLongestIdleFirstDownToTheLowMark) {
  std::vector<SiteUse> sites;
  add(sites, 1, 300, 4096, 50, 0);     // holding: never evicted as idle
  add(sites, 1, 300, 0, 1, 1000);      // empty but changed a sample ago: churn, kept
  add(sites, 2, 200, 0, 10, 2000);     // empty and idle
  add(sites, 3, 100, 0, 30, 3000);     // empty, idle longer
  const RoomLimits l = limits(1000);  // 900 sites: above 850
  ASSERT_TRUE(room_needed(sites.size(), 0, l, false));
  const RoomPlan plan = plan_room(sites, l);
  EXPECT_EQ(plan.evict_idle.size(), 200u);  // down to 700
  EXPECT_EQ(count_by_process(plan.evict_idle), (std::map<ProcessKey, std::size_t>{{3, 100}, {2, 100}}));
  EXPECT_THAT(plan.evict_over_share, IsEmpty());
  EXPECT_THAT(plan.site_capped, IsEmpty());  // at the low mark: no share needed
}

// One compiler with 20,000 stacks, holding blocks, and thirty small processes.
TEST(RoomPolicy, OneProcessWithThousandsOfStacksCannotStarveTheOthers) {
  std::vector<SiteUse> sites;
  add(sites, 100, 20'000, 64, 5);
  for (std::uint32_t pid = 1; pid <= 30; ++pid) add(sites, pid, 50, 1000, 0);
  const RoomLimits l = limits(21'000);  // 21,500 sites held: full
  const RoomPlan plan = plan_room(sites, l);
  // Its share: what the low mark leaves once the small ones keep theirs.
  EXPECT_EQ(plan.site_share, 14'700u - 30 * 50);
  EXPECT_THAT(plan.site_capped, ElementsAre(ProcessKey(100)));
  const auto evicted = count_by_process(plan.evict_over_share);
  EXPECT_EQ(evicted, (std::map<ProcessKey, std::size_t>{{100, 20'000 - plan.site_share}}));
  EXPECT_LE(sites.size() - plan.evict_over_share.size(), 14'700u);  // the low mark
}

TEST(RoomPolicy, OverShareTheSitesHoldingTheFewestBytesGoFirst) {
  std::vector<SiteUse> sites;
  add(sites, 100, 90, 64, 5, 0);
  sites.push_back({ProcessKey(100), 999, 1 << 20, 1000, 0});  // a leak: the most bytes
  add(sites, 100, 10, 0, 0, 500);                             // empty, still churning
  const RoomLimits l = limits(100);
  const RoomPlan plan = plan_room(sites, l);
  ASSERT_EQ(plan.site_share, 70u);
  ASSERT_EQ(plan.evict_over_share.size(), 31u);
  for (const auto& s : plan.evict_over_share) EXPECT_NE(s.stack_id, 999u);
  EXPECT_EQ(std::count_if(plan.evict_over_share.begin(), plan.evict_over_share.end(),
                          [](const SiteUse& s) { return s.outstanding_bytes == 0; }),
            10);
}

TEST(RoomPolicy, BetweenTheMarksAProcessOverItsShareIsCappedNotEvicted) {
  std::vector<SiteUse> sites;
  add(sites, 100, 700, 64, 5);
  add(sites, 1, 50, 64, 5, 10'000);
  const RoomLimits l = limits(1000);  // 750: above the low mark, below the high one
  const RoomPlan plan = plan_room(sites, l);
  EXPECT_THAT(plan.site_capped, ElementsAre(ProcessKey(100)));
  EXPECT_THAT(plan.evict_over_share, IsEmpty());
}

TEST(RoomPolicy, ProcessesOverTheirShareOfTheBlocksMapGetNoNewBlock) {
  std::vector<SiteUse> sites;
  sites.push_back({ProcessKey(100), 1, 64 << 20, 950'000, 0});
  sites.push_back({ProcessKey(1), 2, 1 << 20, 1'000, 0});
  const RoomLimits l = limits(1000, 1'000'000);
  ASSERT_TRUE(room_needed(sites.size(), 951'000, l, false));
  const RoomPlan plan = plan_room(sites, l);
  EXPECT_EQ(plan.block_share, 699'000u);
  EXPECT_THAT(plan.block_capped, ElementsAre(ProcessKey(100)));
  EXPECT_THAT(plan.site_capped, IsEmpty());
}

// A process holding nearly the whole blocks map (a replay of a big record, say): above the high
// mark it gives up its sites holding the fewest bytes, with their blocks, down to its share.
TEST(RoomPolicy, AboveTheHighMarkAProcessOverItsBlocksShareGivesUpSitesWithTheirBlocks) {
  std::vector<SiteUse> sites;
  for (std::uint64_t i = 0; i < 10; ++i)
    sites.push_back({ProcessKey(100), i, static_cast<std::int64_t>((i + 1) << 20), 95'000, 0});  // 950,000 blocks
  sites.push_back({ProcessKey(1), 99, 1 << 20, 1'000, 0});
  const RoomLimits l = limits(1000, 1'000'000);
  const RoomPlan plan = plan_room(sites, l);
  ASSERT_EQ(plan.block_share, 699'000u);
  // 950,000 - 3 x 95,000 = 665,000 <= the share: its three smallest sites go.
  ASSERT_EQ(plan.evict_for_blocks.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(plan.evict_for_blocks[i].process, ProcessKey(100));
    EXPECT_EQ(plan.evict_for_blocks[i].stack_id, i);
  }
  // Between the marks: capped only.
  sites[0].outstanding_blocks = sites[1].outstanding_blocks = 10'000;  // 780,000 + 1,000
  EXPECT_TRUE(plan_room(sites, l).evict_for_blocks.empty());
  EXPECT_THAT(plan_room(sites, l).block_capped, ElementsAre(ProcessKey(100)));
}

TEST(RoomPolicy, CapsAreLiftedOnceTheMapIsBackBelowTheLowMark) {
  std::vector<SiteUse> sites;
  add(sites, 100, 300, 64, 5);
  const RoomPlan plan = plan_room(sites, limits(1000));
  EXPECT_TRUE(plan.empty());
}

}  // namespace
}  // namespace edleak::sample
