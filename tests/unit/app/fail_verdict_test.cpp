#include "app/fail_verdict.h"

#include <cmath>

#include <gtest/gtest.h>

#include "app/report_builder.h"

namespace edleak::app {
namespace {

// Stack 0xa leaks `per_sample` bytes a sample for 30 samples; 0xb stays constant.
sample::SiteTable table_with_leak(std::int64_t per_sample) {
  sample::SiteTable table;
  for (int t = 0; t < 30; ++t) {
    sample::Snapshot snap;
    snap.t_s = t;
    snap.sites = {{7, 0xa, per_sample * (t + 1), t + 1, static_cast<std::uint64_t>(t + 1), 0, 0, {}},
                  {7, 0xb, 4096, 1, 1, 0, 0, {}}};
    table.ingest(snap);
  }
  return table;
}

report::Report report_of(const sample::SiteTable& table, bool final, std::size_t top = 10) {
  ProcessInfos processes{{7, {"prog", false}}};
  ReportContext context;
  context.final = final;
  context.top = top;
  return build_report(table, processes, [](auto, auto) { return std::vector<symbolize::Frame>{}; }, context);
}

TEST(FailVerdict, LinearLeakFailsTheFinalReport) {
  cli::FailOn fail_on;
  fail_on.linear = true;
  const auto table = table_with_leak(100);
  FailVerdict verdict(fail_on);
  verdict.observe(report_of(table, false));
  EXPECT_EQ(verdict.exit_status(0), 0);  // a running process may still free it
  verdict.observe(report_of(table, true));
  EXPECT_EQ(verdict.exit_status(0), 3);
  EXPECT_EQ(verdict.exit_status(1), 1);  // the command's own failure keeps its status
  EXPECT_NE(verdict.reason().find("linear leak"), std::string::npos) << verdict.reason();
}

TEST(FailVerdict, MinLeakAndClassesFilter) {
  const auto table = table_with_leak(100);  // ~2.9 KB
  cli::FailOn big;
  big.linear = true;
  big.min_leak = 1'000'000;
  FailVerdict lenient(big);
  lenient.observe(report_of(table, true));
  EXPECT_EQ(lenient.exit_status(0), 0);
  cli::FailOn other;
  other.exponential = true;
  FailVerdict exponential_only(other);
  exponential_only.observe(report_of(table, true));
  EXPECT_EQ(exponential_only.exit_status(0), 0);
}

// The gate classifies every stack, not only the --top listed.
TEST(FailVerdict, SeesStacksCutByTop) {
  sample::SiteTable table;
  for (int t = 0; t < 30; ++t) {
    sample::Snapshot snap;
    snap.t_s = t;
    // 0xa: a bigger logarithmic-looking cache listed first; 0xc: a small linear leak.
    snap.sites = {{7, 0xa, static_cast<std::int64_t>(100000 * std::log(t + 2.0)), 1, 1, 0, 0, {}},
                  {7, 0xc, 100 * (t + 1), t + 1, static_cast<std::uint64_t>(t + 1), 0, 0, {}}};  // above the noise floor
    table.ingest(snap);
  }
  const report::Report r = report_of(table, true, 1);
  ASSERT_EQ(r.processes[0].leakers.size(), 1u);
  ASSERT_EQ(r.processes[0].leakers[0].stack_id, 0xau);
  cli::FailOn fail_on;
  fail_on.linear = true;
  FailVerdict verdict(fail_on);
  verdict.observe(r);
  EXPECT_EQ(verdict.exit_status(0), 3) << r.processes[0].leakers[0].leak_factor.leak;
}

}  // namespace
}  // namespace edleak::app
