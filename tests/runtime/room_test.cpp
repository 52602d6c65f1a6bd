// Live tests of room in the kernel maps (userspace/sample/room_policy.h): one process with
// thousands of stacks (stack_spray, as a C++ compiler) fills a small sites map, and a second
// process started after it still gets its leak reported, with its site and exact counts (the same
// when one process holds the blocks map); what the first lost to make room is counted in its
// section and in the stats.
#include <set>
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

struct SprayRun {
  RunResult r;
  json spray;  // its last section
  json stats;  // of the final report
};

// `stack_spray SPRAY_ARGS` under the tracer with a small map (`map_option` 2048 or 8192), and
// the leaking child started `delay` after it, when the spray alone has filled the map: the
// child's leak is reported exactly, whatever the spray lost.
void run_spray_beside_a_leak(const std::string& map_option, const std::string& spray_args, const std::string& delay,
                             SprayRun& out) {
  out.r = run({tracer_path(), "-v", "-i", "200ms", "--format", "json", "-a", "--top", "5", map_option,
               map_option == "--max-stacks" ? "2048" : "8192", "--", "sh", "-c",
               fmt::format("{} {} & sleep {}; {} 60 20; wait", testprog("stack_spray"), spray_args, delay,
                           testprog("leaky_child"))},
              std::chrono::seconds(60));
  ASSERT_EQ(out.r.exit_code, 0) << brief(out.r);
  expect_the_leak_reported_exactly(out.r);
  auto spray = ended_sections_of(out.r, "stack_spray");
  ASSERT_FALSE(spray.empty()) << brief(out.r);
  out.spray = spray.back();
  out.stats = final_report(out.r)["stats"];
}

// The spray keeps 8,000 blocks (one a stack) over 1.5 s against a blocks map of 8,192.
TEST(Room, AProcessHoldingTheBlocksMapGivesUpBlocksAndTheNextOnesLeakIsStillReported) {
  EDLEAK_REQUIRE_LIVE();
  SprayRun s;
  run_spray_beside_a_leak("--max-allocs", "8000 1500 3000 keep", "2", s);
  if (HasFatalFailure()) return;
  const json& room = s.spray["room"];
  EXPECT_GT(room["evicted_holding"].get<std::uint64_t>(), 0u) << brief(s.r);
  EXPECT_EQ(s.stats["lost_allocs"], 0) << brief(s.r);
  EXPECT_EQ(s.stats["refused_block_allocs"], room["refused_block_allocs"]) << brief(s.r);
  // Every allocation of the spray is in its counts or refused.
  EXPECT_GE(s.spray["total_allocs"].get<std::uint64_t>() + room["refused_block_allocs"].get<std::uint64_t>(), 8000u)
      << brief(s.r);
}

// The spray brings 6,000 stacks over 3 s and keeps their blocks, against a sites map of 2,048.
TEST(Room, AProcessHoldingEveryStackIsCappedAndTheNextOnesLeakIsStillReported) {
  EDLEAK_REQUIRE_LIVE();
  SprayRun s;
  run_spray_beside_a_leak("--max-stacks", "6000 3000 2000 keep", "1.5", s);
  if (HasFatalFailure()) return;
  const json& room = s.spray["room"];
  // Over its share: new stacks refused, or its sites beyond the share evicted with their blocks.
  EXPECT_GT(room["refused_site_allocs"].get<std::uint64_t>() + room["evicted_holding"].get<std::uint64_t>(), 0u)
      << brief(s.r);
  EXPECT_EQ(s.stats["refused_site_allocs"], room["refused_site_allocs"]) << brief(s.r);
  EXPECT_EQ(s.stats["evicted_holding_sites"], room["evicted_holding"]) << brief(s.r);
  // Every allocation of the spray is in its counts or in a counter of what was not recorded.
  EXPECT_GE(s.spray["total_allocs"].get<std::uint64_t>() + s.stats["refused_site_allocs"].get<std::uint64_t>() +
                s.stats["lost_sites"].get<std::uint64_t>(),
            6000u)
      << brief(s.r);
}

// The same 6,000 stacks, each block freed at once.
TEST(Room, EmptyIdleSitesAreEvictedWithTheirCountsKept) {
  EDLEAK_REQUIRE_LIVE();
  SprayRun s;
  run_spray_beside_a_leak("--max-stacks", "6000 3000 2000 free", "1.5", s);
  if (HasFatalFailure()) return;
  EXPECT_GT(s.spray["room"]["evicted_idle"].get<std::uint64_t>(), 1000u) << brief(s.r);
  // Its 6,000 blocks, allocated and freed, are all in its totals (the evicted sites' counts stay)
  // or refused: 2,000 new stacks a second against a map of 2,048 is more than eviction keeps up
  // with, so between ticks it is at its share (the map's other users keep theirs).
  // On a loaded machine a slow tick lets the map fill between two: those are counted lost.
  const std::uint64_t allocs = s.spray["total_allocs"].get<std::uint64_t>();
  EXPECT_GE(allocs + s.spray["room"]["refused_site_allocs"].get<std::uint64_t>() +
                s.stats["lost_sites"].get<std::uint64_t>(),
            6000u)
      << brief(s.r);
  EXPECT_GE(allocs, 4000u) << brief(s.r);
  EXPECT_LE(allocs - s.spray["total_frees"].get<std::uint64_t>(), 10u) << brief(s.r);  // it frees what it sprays
  EXPECT_EQ(s.stats["orphan_frees"], 0) << brief(s.r);
}

// Room is made once a tick; between two, a process starting with thousands of stacks (a
// compiler) would fill the map before the next one, and every other process's new stack would
// be lost. A spray that has filled 60 % of the map by the first tick, then a second one bursting
// 3,000 stacks in 100 ms between ticks: the burst is held to a quarter of the room left, and the
// leaking child after it gets its site.
TEST(Room, ABurstOfStacksBetweenTwoTicksCannotFillTheMapBeforeTheNextOne) {
  EDLEAK_REQUIRE_LIVE();
  RunResult r = run({tracer_path(), "-v", "-i", "1s", "--format", "json", "-a", "--top", "5", "--max-stacks", "4096",
                     "--", "sh", "-c",
                     fmt::format("{0} 2500 200 6000 keep & sleep 2.5; {0} 3000 100 2000 keep & sleep 0.3; {1} 60 20; wait",
                                 testprog("stack_spray"), testprog("leaky_child"))},
                    std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << brief(r);
  expect_the_leak_reported_exactly(r);
  const json stats = final_report(r)["stats"];
  EXPECT_EQ(stats["lost_sites"], 0) << brief(r);
  std::uint64_t allocs = 0, refused = 0;
  std::set<std::uint64_t> pids;
  for (const json& spray : ended_sections_of(r, "stack_spray")) {
    if (!pids.insert(spray["pid"].get<std::uint64_t>()).second) continue;  // its last section only
    allocs += spray["total_allocs"].get<std::uint64_t>();
    refused += spray["room"]["refused_site_allocs"].get<std::uint64_t>();
  }
  ASSERT_EQ(pids.size(), 2u) << brief(r);
  EXPECT_GT(refused, 0u) << brief(r);
  EXPECT_EQ(stats["refused_site_allocs"], refused) << brief(r);
  // Every allocation of the sprays is in their counts or refused.
  EXPECT_GE(allocs + refused, 5500u) << brief(r);
}

}  // namespace
}  // namespace edleak::live
