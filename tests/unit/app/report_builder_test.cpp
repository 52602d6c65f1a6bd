#include "app/report_builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace edleak::app {
namespace {

using ::testing::ElementsAre;

// Feeds `samples` snapshots: stack 0xa leaks 100 bytes a sample, 0xb churns at a constant level.
sample::SiteTable leaking_table(std::uint32_t tgid, int samples) {
  sample::SiteTable table;
  for (int t = 0; t < samples; ++t) {
    sample::Snapshot snap;
    snap.t_s = t;
    sample::SiteSample leak{tgid, 0xa, 100 * (t + 1), t + 1, static_cast<std::uint64_t>(t + 1), 0};
    sample::SiteSample churn{tgid, 0xb, 4096, 1, static_cast<std::uint64_t>(10 * t + 1),
                             static_cast<std::uint64_t>(10 * t)};
    snap.sites = {leak, churn};
    snap.counters.stack_errors = 2;
    table.ingest(snap);
  }
  return table;
}

std::vector<symbolize::Frame> frames_for(std::uint32_t, std::uint64_t id) {
  symbolize::Frame f;
  f.addr = id;
  f.symbol = id == 0xa ? "leak_here" : "churn_here";
  return {f};
}

TEST(BuildReport, LeakersRankedWithStacksAndTotals) {
  auto table = leaking_table(42, 30);
  std::unordered_map<std::uint32_t, ProcessInfo> processes{{42, {"server", false}}};
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
  EXPECT_EQ(p.outstanding_bytes, 3000u + 4096u);
  EXPECT_EQ(p.total_allocs, 30u + 291u);
  EXPECT_EQ(p.total_frees, 290u);
  ASSERT_EQ(p.leakers.size(), 1u);
  const auto& leaker = p.leakers[0];
  EXPECT_EQ(leaker.stack.front().symbol, "leak_here");
  EXPECT_EQ(leaker.outstanding_bytes, 3000u);
  EXPECT_EQ(leaker.outstanding_allocs, 30u);
  EXPECT_EQ(leaker.leak_factor.cls, classify::LeakClass::linear);
  EXPECT_NEAR(static_cast<double>(leaker.leak_factor.leak), 2900, 100);
}

TEST(BuildReport, NamedProcessWithoutLeaksIsListedOnlyWhenAsked) {
  auto table = leaking_table(42, 3);  // too few samples for a verdict
  std::unordered_map<std::uint32_t, ProcessInfo> processes{{42, {"server", false}}, {7, {"idle", true}}};
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
      snap.sites.push_back({9, id, static_cast<std::int64_t>(id * 100 * (t + 1)), t + 1,
                            static_cast<std::uint64_t>(t + 1), 0});
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

}  // namespace
}  // namespace edleak::app

namespace edleak::app {
namespace {

// Stacks that allocate and free between samples are counted with their rates, whatever -a.
TEST(BuildReport, ChurnIsCountedAndRated) {
  auto table = leaking_table(42, 30);  // 0xb: 291 allocs, 290 frees over the run
  std::unordered_map<std::uint32_t, ProcessInfo> processes{{42, {"server", false}}};
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
  std::unordered_map<std::uint32_t, ProcessInfo> processes{{42, {"server", false}}};
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
