#include "app/report_builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../sample/site_sample.h"

namespace edleak::app {
namespace {

using ::testing::ElementsAre;

using sample::counts;

// Feeds `samples` snapshots: stack 0xa leaks 1000 bytes a sample, 0xb churns at a constant level.
sample::SiteTable leaking_table(std::uint32_t tgid, int samples) {
  sample::SiteTable table;
  for (int t = 0; t < samples; ++t) {
    sample::Snapshot snap;
    snap.t_s = t;
    const sample::SiteSample leak = counts(tgid, 0xa, 1000 * (t + 1), t + 1, static_cast<std::uint64_t>(t + 1), 0);
    const sample::SiteSample churn =
        counts(tgid, 0xb, 4096, 1, static_cast<std::uint64_t>(10 * t + 1), static_cast<std::uint64_t>(10 * t));
    snap.sites = {leak, churn};
    snap.counters.stack_errors = 2;
    table.ingest(snap);
  }
  return table;
}

std::vector<symbolize::Frame> frames_for(const sample::ProcessKey&, std::uint64_t id) {
  symbolize::Frame f;
  f.addr = id;
  f.symbol = id == 0xa ? "leak_here" : "churn_here";
  return {f};
}

TEST(BuildReport, LeakersRankedWithStacksAndTotals) {
  auto table = leaking_table(42, 30);
  ProcessInfos processes{{42, {"server", false}}};
  ReportContext context;
  context.elapsed_s = 30;
  context.interval_s = 1;
  report::Report r = build_report(table, processes, frames_for, context);
  EXPECT_EQ(r.samples, 30u);
  EXPECT_EQ(r.stats.stack_errors, 2u);
  ASSERT_EQ(r.processes.size(), 1u);
  const auto& p = r.processes[0];
  EXPECT_EQ(p.pid, 42u);
  EXPECT_EQ(p.comm, "server");
  EXPECT_EQ(p.stacks, 2u);
  EXPECT_EQ(p.leaking_stacks, 1u);
  EXPECT_EQ(p.outstanding_bytes, 30000u + 4096u);
  EXPECT_EQ(p.total_allocs, 30u + 291u);
  EXPECT_EQ(p.total_frees, 290u);
  ASSERT_EQ(p.leakers.size(), 1u);
  const auto& leaker = p.leakers[0];
  EXPECT_EQ(leaker.stack.front().symbol, "leak_here");
  EXPECT_EQ(leaker.outstanding_bytes, 30000u);
  EXPECT_EQ(leaker.outstanding_allocs, 30u);
  EXPECT_EQ(leaker.leak_factor.cls, classify::LeakClass::linear);
  EXPECT_NEAR(static_cast<double>(leaker.leak_factor.leak), 29000, 1000);
  EXPECT_EQ(leaker.leak_factor.leak_blocks, 29u);
}

TEST(BuildReport, NamedProcessWithoutLeaksIsListedOnlyWhenAsked) {
  auto table = leaking_table(42, 3);  // too few samples for a verdict
  ProcessInfos processes{{42, {"server", false}}, {7, {"idle", true}}};
  ReportContext context;
  context.list_quiet_processes = true;
  auto listed = build_report(table, processes, frames_for, context);
  ASSERT_EQ(listed.processes.size(), 2u);
  EXPECT_TRUE(listed.processes[0].leakers.empty());
  context.list_quiet_processes = false;
  EXPECT_TRUE(build_report(table, processes, frames_for, context).processes.empty());
}

TEST(BuildReport, TopCutsLeakersButNotTheCount) {
  sample::SiteTable table;
  for (int t = 0; t < 20; ++t) {
    sample::Snapshot snap;
    snap.t_s = t;
    for (std::uint64_t id = 1; id <= 5; ++id)
      snap.sites.push_back(counts(9, id, static_cast<std::int64_t>(id * 1000 * (t + 1)), t + 1,
                                  static_cast<std::uint64_t>(t + 1), 0));
    table.ingest(snap);
  }
  ReportContext context;
  context.top = 2;
  auto r = build_report(table, {{9, {"p", false}}}, frames_for, context);
  ASSERT_EQ(r.processes.size(), 1u);
  EXPECT_EQ(r.processes[0].leaking_stacks, 5u);
  ASSERT_EQ(r.processes[0].leakers.size(), 2u);
  EXPECT_EQ(r.processes[0].leakers[0].stack.front().addr, 5u);  // biggest leak first
  EXPECT_EQ(r.processes[0].leakers[1].stack.front().addr, 4u);
}

}  // namespace
}  // namespace edleak::app

namespace edleak::app {
namespace {

// The noise floor: a leak of 29 blocks and 290 bytes (754 with 16 bytes a block) is below the
// default 1 KiB; a leak of zero-byte blocks weighs kBlockOverhead a block.
TEST(BuildReport, LeaksBelowTheNoiseFloorAreNotLeaks) {
  sample::SiteTable table;
  for (int t = 0; t < 30; ++t) {
    sample::Snapshot snap;
    snap.t_s = t;
    snap.sites = {counts(42, 0xa, 10 * (t + 1), t + 1, static_cast<std::uint64_t>(t + 1), 0),
                  counts(42, 0xb, 0, 1000 * (t + 1), static_cast<std::uint64_t>(1000 * (t + 1)), 0)};  // malloc(0)
    table.ingest(snap);
  }
  ReportContext context;
  auto r = build_report(table, {{42, {"server", false}}}, frames_for, context);
  ASSERT_EQ(r.processes.size(), 1u);
  ASSERT_EQ(r.processes[0].leakers.size(), 1u);
  const auto& zero = r.processes[0].leakers[0];
  EXPECT_EQ(zero.stack_id, 0xbu);
  EXPECT_EQ(zero.leak_factor.cls, classify::LeakClass::linear);
  EXPECT_EQ(zero.leak_factor.evidence, classify::Evidence::blocks);
  EXPECT_EQ(zero.leak_factor.leak, 0u);
  EXPECT_NEAR(static_cast<double>(zero.leak_factor.leak_blocks), 29000, 1000);
  EXPECT_EQ(zero.outstanding_allocs, 30000u);

  context.min_leak_bytes = 0;
  context.min_leak_share = 0;
  r = build_report(table, {{42, {"server", false}}}, frames_for, context);
  EXPECT_EQ(r.processes[0].leaking_stacks, 2u);
  context.min_leak_bytes = 1u << 20;  // 1 MiB: more than 29,000 zero-byte blocks weigh
  r = build_report(table, {{42, {"server", false}}}, frames_for, context);
  EXPECT_EQ(r.processes[0].leaking_stacks, 0u);
  context.min_leak_bytes = 0;
  context.min_leak_share = 0.5;  // of the 3,000 bytes outstanding
  classify::LeakFactor f;
  f.cls = classify::LeakClass::linear;
  f.leak = 1400;
  apply_noise_floor(f, 3000, context);
  EXPECT_EQ(f.cls, classify::LeakClass::constant);
  EXPECT_EQ(f.evidence, classify::Evidence::noise_floor);
  f.cls = classify::LeakClass::linear;
  f.leak = 1600;
  apply_noise_floor(f, 3000, context);
  EXPECT_EQ(f.cls, classify::LeakClass::linear);
}

// Attached to a running process: a ring of 400 blocks whose pre-attach blocks are replaced
// over 2 samples (outstanding climbs from 0 to 400 blocks, frees follow once the traced
// blocks come round) is steady, not a cache; the same ring keeping 4 blocks a sample leaks.
TEST(BuildReport, AttachWarmupOfARecyclingStackIsNoLeak) {
  for (int leak : {0, 4}) {
    sample::SiteTable table;
    std::uint64_t allocs = 0;
    for (int t = 0; t < 60; ++t) {
      allocs += 200 + leak;
      const std::int64_t blocks = std::min(allocs, static_cast<std::uint64_t>(400 + leak * t));
      const std::uint64_t frees = allocs - static_cast<std::uint64_t>(blocks);
      sample::Snapshot snap;
      snap.t_s = t;
      snap.sites = {counts(42, 0xa, blocks * 256, blocks, allocs, frees)};
      table.ingest(snap);
    }
    ReportContext context;
    context.attached = true;
    auto r = build_report(table, {{42, {"server", false}}}, frames_for, context);
    ASSERT_EQ(r.processes.size(), 1u);
    if (leak == 0) {
      EXPECT_EQ(r.processes[0].leaking_stacks, 0u);
    } else {
      ASSERT_EQ(r.processes[0].leakers.size(), 1u);
      EXPECT_EQ(r.processes[0].leakers[0].leak_factor.cls, classify::LeakClass::linear);
    }
    context.attached = false;  // from exec the same climb is a pool filling: a cache
    r = build_report(table, {{42, {"server", false}}}, frames_for, context);
    if (leak == 0) {
      EXPECT_EQ(r.processes[0].leaking_stacks, 0u);
    }
  }
}

TEST(BuildReport, AllStacksListsNonLeakersAfterTheLeaks) {
  auto table = leaking_table(42, 30);
  ReportContext context;
  context.all_stacks = true;
  auto r = build_report(table, {{42, {"server", false}}}, frames_for, context);
  ASSERT_EQ(r.processes.size(), 1u);
  const auto& p = r.processes[0];
  EXPECT_EQ(p.leaking_stacks, 1u);  // still only the leak
  ASSERT_EQ(p.leakers.size(), 2u);
  EXPECT_EQ(p.leakers[0].stack.front().symbol, "leak_here");
  EXPECT_EQ(p.leakers[1].stack.front().symbol, "churn_here");
  EXPECT_EQ(p.leakers[1].leak_factor.cls, classify::LeakClass::constant);
  EXPECT_EQ(p.leakers[1].outstanding_bytes, 4096u);
}

// The report judges the stacks it will not list without describing them (their floor did not
// rise: no fit); a stack listed with -a is described all the same.
TEST(BuildReport, AStackListedWithAllStacksIsDescribed) {
  sample::SiteTable table;
  for (int t = 0; t < 30; ++t) {
    sample::Snapshot snap;
    snap.t_s = t;
    const std::int64_t bytes = 4096 + (t % 3) * 2048;  // a wave above a steady floor
    snap.sites = {counts(42, 0xb, bytes, bytes / 2048, static_cast<std::uint64_t>(10 * t + 2),
                         static_cast<std::uint64_t>(10 * t + 2 - bytes / 2048))};
    table.ingest(snap);
  }
  ReportContext context;
  context.all_stacks = true;
  const auto r = build_report(table, {{42, {"server", false}}}, frames_for, context);
  ASSERT_EQ(r.processes.size(), 1u);
  ASSERT_EQ(r.processes[0].leakers.size(), 1u);
  const classify::LeakFactor& f = r.processes[0].leakers[0].leak_factor;
  EXPECT_EQ(f.cls, classify::LeakClass::constant);
  EXPECT_EQ(f.min_size, 4096);
  EXPECT_EQ(f.max_size, 8192);
  EXPECT_GT(f.coef[2], 0.1);  // the parabola through the wave, normalised: about its middle
  EXPECT_LT(f.coef[2], 0.9);
}

}  // namespace
}  // namespace edleak::app

namespace edleak::app {
namespace {

// Stacks that allocate and free between samples are counted with their rates, whatever -a.
TEST(BuildReport, ChurnIsCountedAndRated) {
  auto table = leaking_table(42, 30);  // 0xb: 291 allocs, 290 frees over the run
  ProcessInfos processes{{42, {"server", false}}};
  ReportContext context;
  context.elapsed_s = 30;
  report::Report r = build_report(table, processes, frames_for, context);
  const auto& p = r.processes[0];
  EXPECT_EQ(p.churn_stacks, 1u);
  EXPECT_NEAR(p.churn_allocs_per_s, 291.0 / 30, 1e-9);
  ASSERT_EQ(p.churners.size(), 1u);
  EXPECT_EQ(p.churners[0].stack.front().symbol, "churn_here");
  EXPECT_EQ(p.churners[0].total_frees, 290u);
  EXPECT_NEAR(p.churners[0].frees_per_s, 290.0 / 30, 1e-9);
  EXPECT_EQ(p.churners[0].outstanding_bytes, 4096u);
}

// "N more": what --top cut is counted.
TEST(BuildReport, UnlistedCountsWhatTopCut) {
  auto table = leaking_table(42, 30);
  ProcessInfos processes{{42, {"server", false}}};
  ReportContext context;
  context.top = 1;
  context.all_stacks = true;  // both stacks qualify: the leak and the churn's 4 KiB
  report::Report r = build_report(table, processes, frames_for, context);
  EXPECT_EQ(r.processes[0].leakers.size(), 1u);
  EXPECT_EQ(r.processes[0].unlisted, 1u);
  EXPECT_GE(r.processes[0].leakers[0].series.size(), 8u);  // the points behind the verdict
}

}  // namespace
}  // namespace edleak::app
