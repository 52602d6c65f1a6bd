#include "app/fail_verdict.h"
#include "app/scans.h"

#include <gtest/gtest.h>

#include "app/report_builder.h"

namespace edleak::app {
namespace {

// 30 samples of a constant stack 0xc (no trend) and a leaking one 0xa.
sample::SiteTable table_of(std::uint32_t tgid) {
  sample::SiteTable table;
  for (int t = 0; t < 30; ++t) {
    sample::Snapshot snap;
    snap.t_s = t;
    snap.sites = {{tgid, 0xa, 1000 * (t + 1), t + 1, static_cast<std::uint64_t>(t + 1), 0, 0, {}},
                  {tgid, 0xc, 480, 3, 3, 0, 0, {}},
                  {tgid, 0xd, 64, 1, 1, 0, 0, {}}};
    table.ingest(snap);
  }
  return table;
}

std::vector<symbolize::Frame> no_frames(const sample::ProcessKey&, std::uint64_t) { return {}; }

scan::ProcessScan sample_scan() {
  scan::ProcessScan s;
  s.frozen_ms = 12.5;
  s.marks.blocks.resize(4);
  s.marks.bytes_scanned = 4096;
  s.marks.per_stack[0xc][scan::Category::definitely_lost] = {480, 3};
  s.marks.per_stack[0xd][scan::Category::still_reachable] = {64, 1};
  s.marks.total[scan::Category::definitely_lost] = {480, 3};
  s.marks.total[scan::Category::still_reachable] = {64, 1};
  return s;
}

TEST(ScanOutcome, CarriesTotalsPerStackAndSummary) {
  auto outcome = Scans::outcome(sample_scan(), true);
  EXPECT_TRUE(outcome->summary.at_exit);
  EXPECT_EQ(outcome->summary.frozen_ms, 12.5);
  EXPECT_EQ(outcome->summary.blocks_scanned, 4u);
  EXPECT_EQ(outcome->summary.bytes_scanned, 4096u);
  EXPECT_EQ(outcome->summary.total.definitely_lost, (report::BlockTotals{480, 3}));
  EXPECT_EQ(outcome->per_stack.at(0xc).definitely_lost, (report::BlockTotals{480, 3}));
  EXPECT_EQ(outcome->per_stack.at(0xd).still_reachable, (report::BlockTotals{64, 1}));
}

TEST(ScanOutcome, FailureAndAbortCarryNoCategories) {
  auto failed = Scans::outcome(Result<scan::ProcessScan>(make_error("the process has exited")), false);
  EXPECT_EQ(failed->summary.error, "the process has exited");
  EXPECT_TRUE(failed->per_stack.empty());
  scan::ProcessScan aborted;
  aborted.aborted = true;
  aborted.frozen_ms = 301;
  auto a = Scans::outcome(aborted, false);
  EXPECT_TRUE(a->summary.aborted);
  EXPECT_TRUE(a->per_stack.empty());
}

TEST(BuildReportWithScan, StackWithLostBlocksIsListedWhateverItsTrend) {
  auto table = table_of(7);
  ProcessInfos processes{{7, {"prog", true}}};
  processes[7].scan = Scans::outcome(sample_scan(), true);
  ReportContext context;
  report::Report r = build_report(table, processes, no_frames, context);
  ASSERT_EQ(r.processes.size(), 1u);
  const auto& p = r.processes[0];
  ASSERT_TRUE(p.scan);
  EXPECT_EQ(p.scan->total.definitely_lost.blocks, 3u);
  ASSERT_EQ(p.leakers.size(), 2u);  // the leak, and the constant stack with lost blocks; not 0xd
  EXPECT_EQ(p.leakers[0].stack_id, 0xau);
  ASSERT_TRUE(p.leakers[0].reachability);
  EXPECT_EQ(*p.leakers[0].reachability, report::Reachability{});  // no blocks of it at the scan
  EXPECT_EQ(p.leakers[1].stack_id, 0xcu);
  EXPECT_EQ(p.leakers[1].reachability->definitely_lost, (report::BlockTotals{480, 3}));
}

TEST(BuildReportWithScan, WithoutAScanNothingChanges) {
  auto table = table_of(7);
  ProcessInfos processes{{7, {"prog", false}}};
  report::Report r = build_report(table, processes, no_frames, ReportContext{});
  ASSERT_EQ(r.processes[0].leakers.size(), 1u);
  EXPECT_FALSE(r.processes[0].scan);
  EXPECT_FALSE(r.processes[0].leakers[0].reachability);
}

// The --fail-on definitely-lost verdict from a scan, through FailVerdict (app/fail_verdict.h).
TEST(ScansExitCode, FailOnDefinitelyLost) {
  cli::FailOn fail_on;
  fail_on.definitely_lost = true;
  auto table = table_of(7);
  ProcessInfos processes{{7, {"prog", true}}};
  FailVerdict verdict(fail_on);
  verdict.observe(build_report(table, processes, no_frames, ReportContext{}));
  EXPECT_EQ(verdict.exit_status(0), 0);  // no scan, nothing found
  processes[7].scan = Scans::outcome(sample_scan(), true);
  const report::Report scanned = build_report(table, processes, no_frames, ReportContext{});
  verdict.observe(scanned);
  EXPECT_EQ(verdict.exit_status(0), 3);
  EXPECT_EQ(verdict.exit_status(5), 5);  // the command's own failure first
  FailVerdict lenient{cli::FailOn{}};
  lenient.observe(scanned);
  EXPECT_EQ(lenient.exit_status(0), 0);
}

TEST(ScansSchedule, EveryAndOnRequest) {
  cli::TraceOptions options;
  Scans idle(options);
  EXPECT_FALSE(idle.next_due());
  EXPECT_FALSE(idle.due(Scans::Clock::now()));
  idle.request();
  EXPECT_TRUE(idle.due(Scans::Clock::now()));
  options.scan_every = std::chrono::seconds(10);
  Scans periodic(options);
  ASSERT_TRUE(periodic.next_due());
  EXPECT_FALSE(periodic.due(Scans::Clock::now()));
  EXPECT_TRUE(periodic.due(Scans::Clock::now() + std::chrono::seconds(11)));
}

}  // namespace
}  // namespace edleak::app
