#include "sample/site_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "site_sample.h"

namespace edleak::sample {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

Snapshot snapshot(double t, std::vector<SiteSample> sites) {
  Snapshot s;
  s.t_s = t;
  s.sites = std::move(sites);
  return s;
}

SiteSample site(std::uint32_t tgid, std::uint64_t stack, std::int64_t bytes) {
  SiteSample s;
  s.tgid = tgid;
  s.stack_id = stack;
  s.outstanding_bytes = bytes;
  s.outstanding_blocks = bytes / 8;
  s.total_allocs = static_cast<std::uint64_t>(bytes / 8);
  return s;
}

TEST(SiteTable, OneSeriesPerProcessAndStack) {
  SiteTable table;
  table.ingest(snapshot(1, {site(10, 0xa, 100), site(10, 0xb, 8), site(20, 0xa, 50)}));
  table.ingest(snapshot(2, {site(10, 0xa, 200), site(10, 0xb, 8), site(20, 0xa, 60)}));
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.samples(), 2u);
  EXPECT_THAT(table.processes(), ElementsAre(ProcessKey(10u), ProcessKey(20u)));
  auto sites = table.sites_of(10);
  ASSERT_EQ(sites.size(), 2u);
  const Site* a = sites[0]->stack_id == 0xa ? sites[0] : sites[1];
  EXPECT_EQ(a->process, ProcessKey(10u));
  EXPECT_EQ(a->latest.outstanding_bytes, 200);
  ASSERT_EQ(a->bytes.samples_seen(), 2u);
  EXPECT_EQ(a->bytes.first().bytes, 100);
  EXPECT_EQ(a->bytes.last().bytes, 200);
  EXPECT_EQ(a->bytes.last().t_s, 2);
  EXPECT_EQ(table.sites_of(20).front()->bytes.last().bytes, 60);
  EXPECT_TRUE(table.sites_of(30).empty());
}

// Snapshots usually list sites in the order of the previous one, which the table uses as a
// hint; a different order or new sites must still land each sample on its own site.
TEST(SiteTable, SamplesReachTheirSitesWhateverTheOrder) {
  SiteTable table;
  table.ingest(snapshot(1, {site(10, 0xa, 1), site(10, 0xb, 2)}));
  table.ingest(snapshot(2, {site(10, 0xa, 3), site(10, 0xb, 4)}));       // same order
  table.ingest(snapshot(3, {site(10, 0xb, 6), site(10, 0xa, 5)}));       // swapped
  for (int i = 0; i < 40; ++i)                                            // growing vectors
    table.ingest(snapshot(4 + i, {site(10, 0xb, 8), site(10, 0xa, 7), site(20, 0x100 + i, 9), site(10, 0x200 + i, 9)}));
  for (const Site* s : table.sites_of(10)) {
    if (s->stack_id == 0xa) {
      EXPECT_EQ(s->bytes.samples_seen(), 43u);
      EXPECT_EQ(s->latest.outstanding_bytes, 7);
      EXPECT_EQ(s->bytes.min_bytes(), 1);
    } else if (s->stack_id == 0xb) {
      EXPECT_EQ(s->bytes.samples_seen(), 43u);
      EXPECT_EQ(s->bytes.min_bytes(), 2);
      EXPECT_EQ(s->bytes.max_bytes(), 8);
    } else {
      EXPECT_EQ(s->bytes.samples_seen(), 1u) << std::hex << s->stack_id;  // one snapshot each
    }
  }
  EXPECT_EQ(table.size(), 2u + 40u + 40u);
}

TEST(SiteTable, SiteSeenLateStartsItsSeriesThen) {
  SiteTable table;
  table.ingest(snapshot(1, {site(10, 0xa, 100)}));
  table.ingest(snapshot(2, {site(10, 0xa, 100), site(10, 0xc, 16)}));
  for (const Site* s : table.sites_of(10))
    EXPECT_EQ(s->bytes.samples_seen(), s->stack_id == 0xa ? 2u : 1u);
}

TEST(SiteTable, NegativeBytesReadAsZero) {
  SiteTable table;
  table.ingest(snapshot(1, {site(10, 0xa, -64)}));
  EXPECT_EQ(table.sites_of(10).front()->bytes.last().bytes, 0);
}

TEST(SiteTable, KeepsFramesOfNewStacksAndCounters) {
  SiteTable table;
  Snapshot s = snapshot(1, {site(10, 0xa, 8)});
  s.new_stacks[0xa] = {{0x401000, 0x402000}, true, false};
  s.counters.lost_allocs = 3;
  table.ingest(s);
  ASSERT_NE(table.frames(0xa), nullptr);
  EXPECT_THAT(*table.frames(0xa), ElementsAre(0x401000u, 0x402000u));
  EXPECT_EQ(table.frames(0xb), nullptr);
  EXPECT_EQ(table.counters().lost_allocs, 3u);
}

TEST(SiteTable, ForgetProcessDropsOnlyItsSites) {
  SiteTable table;
  table.ingest(snapshot(1, {site(10, 0xa, 8), site(20, 0xa, 8), site(20, 0xb, 8)}));
  table.forget_process(20);
  EXPECT_THAT(table.processes(), ElementsAre(ProcessKey(10u)));
  EXPECT_EQ(table.size(), 1u);
}

// An exec'd program (or a reused pid) is another history of the same pid: its sites never join
// the old ones, even on the same stack id.
TEST(SiteTable, HistoriesOfOnePidStayApart) {
  SiteTable table;
  SiteSample before = site(10, 0xa, 80), after = site(10, 0xa, 8);
  after.incarnation = 7;
  table.ingest(snapshot(1, {before}));
  table.ingest(snapshot(2, {before, after}));
  EXPECT_THAT(table.processes(), ElementsAre(ProcessKey(10u, 0), ProcessKey(10u, 7)));
  ASSERT_EQ(table.sites_of(ProcessKey(10u, 7)).size(), 1u);
  EXPECT_EQ(table.sites_of(ProcessKey(10u, 7)).front()->bytes.samples_seen(), 1u);
  EXPECT_EQ(table.sites_of(ProcessKey(10u, 0)).front()->bytes.samples_seen(), 2u);
  table.forget_process(ProcessKey(10u, 0));
  EXPECT_THAT(table.processes(), ElementsAre(ProcessKey(10u, 7)));
}

TEST(SiteTable, ForgetStacksDropsTheirFrames) {
  SiteTable table;
  Snapshot s = snapshot(1, {site(10, 0xa, 8), site(10, 0xb, 8)});
  s.new_stacks[0xa] = {{0x401000}, true, false};
  s.new_stacks[0xb] = {{0x402000}, true, false};
  table.ingest(s);
  EXPECT_EQ(table.stack_count(), 2u);
  table.forget_stacks({0xa});
  EXPECT_EQ(table.frames(0xa), nullptr);
  ASSERT_NE(table.frames(0xb), nullptr);
  EXPECT_EQ(table.stack_count(), 1u);
}

TEST(SiteTable, SeriesStayBoundedOverLongRuns) {
  SiteTable table;
  for (int t = 0; t < 100000; ++t) table.ingest(snapshot(t, {site(10, 0xa, t)}));
  const Site* s = table.sites_of(10).front();
  EXPECT_LE(s->bytes.size(), SiteTable::kSeriesCapacity);
  EXPECT_EQ(s->bytes.samples_seen(), 100000u);
  EXPECT_EQ(s->bytes.max_bytes(), 99999);
}

}  // namespace
}  // namespace edleak::sample

namespace edleak::sample {
namespace {

Snapshot at(double t, std::vector<SiteSample> sites) {
  Snapshot s;
  s.t_s = t;
  s.sites = std::move(sites);
  return s;
}

TEST(SiteTableRoom, IdleSamplesCountSnapshotsWithoutChange) {
  SiteTable table;
  table.ingest(at(1, {counts(10, 0xa, 0, 0, 5, 5)}));
  table.ingest(at(2, {counts(10, 0xa, 0, 0, 5, 5)}));
  table.ingest(at(3, {counts(10, 0xa, 0, 0, 5, 5)}));
  EXPECT_EQ(table.sites_of(10).front()->idle_samples, 2u);
  table.ingest(at(4, {counts(10, 0xa, 0, 0, 6, 6)}));
  EXPECT_EQ(table.sites_of(10).front()->idle_samples, 0u);
  EXPECT_EQ(table.site_uses().front().idle_samples, 0u);
}

// An evicted empty site's counts stay with the process, and when its stack allocates again the
// new kernel site (counting from 0) continues from them: no reset, no burst.
TEST(SiteTableRoom, ARetiredSiteComesBackWhereItWasLeft) {
  SiteTable table;
  table.ingest(at(1, {counts(10, 0xa, 0, 0, 40, 40), counts(10, 0xb, 800, 8, 8, 0)}));
  table.ingest(at(2, {counts(10, 0xa, 0, 0, 50, 50), counts(10, 0xb, 800, 8, 8, 0)}));
  table.retire(10, {0xa}, 2.5);
  ASSERT_EQ(table.sites_of(10).size(), 1u);
  EXPECT_EQ(table.retired_of(10).stacks, 1u);
  EXPECT_EQ(table.retired_of(10).allocs, 50u);
  EXPECT_EQ(table.retired_of(10).frees, 50u);
  EXPECT_EQ(table.room_of(10)->evicted_idle, 1u);
  EXPECT_EQ(table.room_totals().evicted_idle, 1u);
  // The kernel site is created again and counts 3 allocations, 2 frees.
  table.ingest(at(3, {counts(10, 0xb, 800, 8, 8, 0)}));
  table.ingest(at(4, {counts(10, 0xb, 800, 8, 8, 0), counts(10, 0xa, 100, 1, 3, 2)}));
  EXPECT_EQ(table.retired_of(10).stacks, 0u);
  const Site* a = nullptr;
  for (const Site* s : table.sites_of(10))
    if (s->stack_id == 0xa) a = s;
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->latest.total_allocs, 53u);
  EXPECT_EQ(a->latest.total_frees, 52u);
  EXPECT_EQ(a->latest.outstanding_bytes, 100);
  // Its series go on from the eviction: cumulative frees never fall back.
  EXPECT_EQ(a->frees.first().t_s, 2.5);
  EXPECT_EQ(a->frees.first().bytes, 50);
  EXPECT_EQ(a->frees.last().bytes, 52);
  EXPECT_EQ(a->bytes.first().bytes, 0);
  table.ingest(at(5, {counts(10, 0xb, 800, 8, 8, 0), counts(10, 0xa, 100, 1, 3, 2)}));
  EXPECT_EQ(a->idle_samples, 1u);
}

TEST(SiteTableRoom, EvictionsWithLiveBlocksAndRefusalsAreCountedPerProcess) {
  SiteTable table;
  Snapshot s = at(1, {counts(10, 0xa, 4096, 4, 4, 0), counts(20, 0xb, 0, 0, 1, 1)});
  s.refusals.push_back({ProcessKey(10), 7, 3});
  table.ingest(s);
  table.retire(10, {0xa}, 1.5);
  table.retire(20, {0xb, 0xdead}, 1.5);  // a stack it never had is ignored
  const RoomCounts* room = table.room_of(10);
  ASSERT_NE(room, nullptr);
  EXPECT_EQ(room->evicted_holding, 1u);
  EXPECT_EQ(room->evicted_holding_blocks, 4u);
  EXPECT_EQ(room->evicted_holding_bytes, 4096u);
  EXPECT_EQ(room->refused_site_allocs, 7u);
  EXPECT_EQ(room->refused_block_allocs, 3u);
  EXPECT_EQ(table.room_of(20)->evicted_idle, 1u);
  EXPECT_EQ(table.room_totals().evicted_holding, 1u);
  EXPECT_EQ(table.room_totals().evicted_idle, 1u);
  table.forget_process(10);
  EXPECT_EQ(table.room_of(10), nullptr);
  EXPECT_EQ(table.room_totals().evicted_holding, 1u);  // the run's totals stay
}

}  // namespace
}  // namespace edleak::sample
