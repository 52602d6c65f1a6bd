// Live tests of room in the kernel maps (userspace/sample/room_policy.h): one process with
// thousands of stacks (stack_spray, as a C++ compiler) fills a small sites map, and a second
// process started after it still gets its leak reported, with its site and exact counts (the same
// when one process holds the blocks map); what the first lost to make room is counted in its
// section and in the stats.
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "live.h"

namespace edleak::live {
namespace {

using json = nlohmann::json;

// The last section of each process history of `comm` that ended, from every report.
std::vector<json> ended_sections_of(const RunResult& r, const std::string& comm) {
  std::vector<json> out;
  for (const auto& report : r.reports)
    for (const auto& p : report["processes"])
      if (p["comm"] == comm && p["exited"].get<bool>()) out.push_back(p);
  return out;
}

std::string brief(const RunResult& r) {
  std::string out;
  if (!r.reports.empty()) out += "final stats: " + final_report(r)["stats"].dump() + "\n";
  for (const auto& report : r.reports)
    for (const auto& p : report["processes"])
      if (p["exited"].get<bool>())
        out += fmt::format("  pid {} {} allocs {} room {}\n", p["pid"].dump(), p["comm"].dump(),
                           p["total_allocs"].dump(), p["room"].dump());
  return out + r.err.substr(r.err.size() > 4000 ? r.err.size() - 4000 : 0);
}

// A sites map of 2,048 entries; the spray brings 6,000 stacks over 3 s and keeps their blocks,
// the leaking child starts 1.5 s in, when the spray alone has filled the map.
RunResult run_beside_spray(const std::string& spray_mode) {
  auto argv = std::vector<std::string>{tracer_path(), "-v", "-i", "200ms", "--format", "json", "-a", "--top", "5",
                                       "--max-stacks", "2048", "--", "sh", "-c",
                                       fmt::format("{} 6000 3000 2000 {} & sleep 1.5; {} 60 20; wait",
                                                   testprog("stack_spray"), spray_mode, testprog("leaky_child"))};
  return run(argv, std::chrono::seconds(60));
}

void expect_the_leak_reported_exactly(const RunResult& r) {
  auto children = ended_sections_of(r, "leaky_child");
  ASSERT_EQ(children.size(), 1u) << brief(r);
  const json* leaker = find_leaker(children[0], "leak_in_child");
  ASSERT_NE(leaker, nullptr) << brief(r);
  EXPECT_EQ((*leaker)["total_allocs"], 60) << brief(r);
  EXPECT_EQ((*leaker)["outstanding_bytes"], 60000) << brief(r);
  EXPECT_EQ(children[0]["room"]["refused_site_allocs"], 0);
  EXPECT_EQ(children[0]["room"]["evicted_holding"], 0);
}

// The blocks map of 8,192 entries: the spray keeps 8,000 blocks (one a stack) over 1.5 s, the
// leaking child starts 2 s in.
TEST(Room, AProcessHoldingTheBlocksMapGivesUpBlocksAndTheNextOnesLeakIsStillReported) {
  EDLEAK_REQUIRE_LIVE();
  auto argv = std::vector<std::string>{tracer_path(), "-v", "-i", "200ms", "--format", "json", "-a", "--top", "5",
                                       "--max-allocs", "8192", "--", "sh", "-c",
                                       fmt::format("{} 8000 1500 3000 keep & sleep 2; {} 60 20; wait",
                                                   testprog("stack_spray"), testprog("leaky_child"))};
  RunResult r = run(argv, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << brief(r);
  expect_the_leak_reported_exactly(r);
  auto spray = ended_sections_of(r, "stack_spray");
  ASSERT_FALSE(spray.empty()) << brief(r);
  const json& room = spray.back()["room"];
  EXPECT_GT(room["evicted_holding"].get<std::uint64_t>(), 0u) << brief(r);
  const json& stats = final_report(r)["stats"];
  EXPECT_EQ(stats["lost_allocs"], 0) << brief(r);
  EXPECT_EQ(stats["refused_block_allocs"], room["refused_block_allocs"]) << brief(r);
  // Every allocation of the spray is in its counts or refused.
  EXPECT_GE(spray.back()["total_allocs"].get<std::uint64_t>() + room["refused_block_allocs"].get<std::uint64_t>(),
            8000u)
      << brief(r);
}

TEST(Room, AProcessHoldingEveryStackIsCappedAndTheNextOnesLeakIsStillReported) {
  EDLEAK_REQUIRE_LIVE();
  RunResult r = run_beside_spray("keep");
  ASSERT_EQ(r.exit_code, 0) << brief(r);
  expect_the_leak_reported_exactly(r);
  auto spray = ended_sections_of(r, "stack_spray");
  ASSERT_FALSE(spray.empty()) << brief(r);
  const json& room = spray.back()["room"];
  // Over its share: new stacks refused, or its sites beyond the share evicted with their blocks.
  EXPECT_GT(room["refused_site_allocs"].get<std::uint64_t>() + room["evicted_holding"].get<std::uint64_t>(), 0u)
      << brief(r);
  const json& stats = final_report(r)["stats"];
  EXPECT_EQ(stats["refused_site_allocs"], room["refused_site_allocs"]) << brief(r);
  EXPECT_EQ(stats["evicted_holding_sites"], room["evicted_holding"]) << brief(r);
  // Every allocation of the spray is in its counts or in a counter of what was not recorded.
  const std::uint64_t accounted = spray.back()["total_allocs"].get<std::uint64_t>() +
                                  stats["refused_site_allocs"].get<std::uint64_t>() +
                                  stats["lost_sites"].get<std::uint64_t>();
  EXPECT_GE(accounted, 6000u) << brief(r);
}

TEST(Room, EmptyIdleSitesAreEvictedWithTheirCountsKept) {
  EDLEAK_REQUIRE_LIVE();
  RunResult r = run_beside_spray("free");
  ASSERT_EQ(r.exit_code, 0) << brief(r);
  expect_the_leak_reported_exactly(r);
  auto spray = ended_sections_of(r, "stack_spray");
  ASSERT_FALSE(spray.empty()) << brief(r);
  const json& s = spray.back();
  EXPECT_GT(s["room"]["evicted_idle"].get<std::uint64_t>(), 1000u) << brief(r);
  // Its 6,000 blocks, allocated and freed, are all in its totals (the evicted sites' counts stay)
  // or refused: 2,000 new stacks a second against a map of 2,048 is more than eviction keeps up
  // with, so between ticks it is at its share (the map's other users keep theirs).
  const std::uint64_t allocs = s["total_allocs"].get<std::uint64_t>();
  EXPECT_GE(allocs + s["room"]["refused_site_allocs"].get<std::uint64_t>(), 6000u) << brief(r);
  EXPECT_GE(allocs, 4000u) << brief(r);
  EXPECT_LE(allocs - s["total_frees"].get<std::uint64_t>(), 10u) << brief(r);  // it frees what it sprays
  const json& stats = final_report(r)["stats"];
  EXPECT_EQ(stats["lost_sites"], 0) << brief(r);
  EXPECT_EQ(stats["orphan_frees"], 0) << brief(r);
}

}  // namespace
}  // namespace edleak::live
