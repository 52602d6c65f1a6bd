#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "report/json_renderer.h"
#include "report/text_renderer.h"
#include "sample_report.h"

namespace edleak::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Report scanned_report(bool aborted = false) {
  Report r = test_data::sample_report();
  ScanSummary scan;
  scan.time = test_data::sample_time();
  scan.at_exit = true;
  scan.frozen_ms = 12.5;
  scan.blocks_scanned = 31;
  scan.bytes_scanned = 1048576;
  scan.aborted = aborted;
  scan.total.definitely_lost = {48, 3};
  scan.total.still_reachable = {16, 1};
  r.processes[0].scan = scan;
  Reachability reach;
  reach.definitely_lost = {48, 3};
  reach.indirectly_lost = {16, 1};
  if (!aborted) r.processes[0].leakers[0].reachability = reach;
  return r;
}

std::string text_of(const Report& r) {
  std::ostringstream out;
  TextRenderer(TextRenderer::TimeZone::utc).render(r, out);
  return out.str();
}

TEST(ReachabilityText, PerLeakerAndPerProcess) {
  std::string text = text_of(scanned_report());
  EXPECT_THAT(text, HasSubstr("\n  scan at exit: frozen 12.5 ms, 31 blocks and 1.0 MiB scanned; definitely lost: 48 B in "
                              "3 blocks; still reachable: 16 B in 1 block\n"));
  EXPECT_THAT(text, HasSubstr("\n      definitely lost: 48 B in 3 blocks; indirectly lost: 16 B in 1 block\n"));
}

TEST(ReachabilityText, AbortedScanSaysSo) {
  std::string text = text_of(scanned_report(true));
  EXPECT_THAT(text, HasSubstr("  scan at exit aborted after 12 ms (--max-scan-pause): no verdict\n"));
  EXPECT_THAT(text, Not(HasSubstr("definitely lost")));
}

TEST(ReachabilityText, NothingWithoutAScan) {
  std::string text = text_of(test_data::sample_report());
  EXPECT_THAT(text, Not(HasSubstr("scan ")));
  EXPECT_THAT(text, Not(HasSubstr("definitely lost")));
}

TEST(ReachabilityJson, LeakerAndProcessObjects) {
  auto j = to_json(scanned_report());
  const auto& process = j["processes"][0];
  EXPECT_EQ(process["scan"]["time"], "2026-11-24T10:00:12Z");
  EXPECT_EQ(process["scan"]["at_exit"], true);
  EXPECT_EQ(process["scan"]["frozen_ms"], 12.5);
  EXPECT_EQ(process["scan"]["blocks_scanned"], 31);
  EXPECT_EQ(process["scan"]["bytes_scanned"], 1048576);
  EXPECT_EQ(process["scan"]["aborted"], false);
  EXPECT_TRUE(process["scan"]["error"].is_null());
  EXPECT_EQ(process["scan"]["reachability"]["definitely_lost"]["bytes"], 48);
  const auto& reach = process["leakers"][0]["reachability"];
  EXPECT_EQ(reach.dump(), R"({"definitely_lost":{"bytes":48,"blocks":3},"indirectly_lost":{"bytes":16,"blocks":1},)"
                          R"("possibly_lost":{"bytes":0,"blocks":0},"still_reachable":{"bytes":0,"blocks":0}})");
  // The quiet process was never scanned: null, the key still there.
  EXPECT_TRUE(j["processes"][1].contains("scan"));
  EXPECT_TRUE(j["processes"][1]["scan"].is_null());
}

TEST(ReachabilityJson, NullsBeforeAnyScan) {
  auto j = to_json(test_data::sample_report());
  EXPECT_TRUE(j["processes"][0]["scan"].is_null());
  EXPECT_TRUE(j["processes"][0]["leakers"][0]["reachability"].is_null());
}

}  // namespace
}  // namespace edleak::report
