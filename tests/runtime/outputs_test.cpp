// Live: the outputs of a traced command (--record, --html, --folded, --pprof) and the --fail-on
// gate's exit status, on alloc_sites (ten linear leaks).
#include <filesystem>
#include <fstream>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "live.h"

namespace edleak::live {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::path(testing::TempDir()) / ("edleak_outputs_" + name)).string();
}

std::set<std::pair<std::string, std::uint64_t>> leaks_of(const nlohmann::json& process) {
  std::set<std::pair<std::string, std::uint64_t>> out;
  for (const auto& leaker : process["leakers"])
    out.insert({leaker["stack"][0]["symbol"].get<std::string>(), leaker["leak_factor"]["leak"].get<std::uint64_t>()});
  return out;
}

TEST(LiveOutputs, FailOnLinearAndEveryFileReplaysAsLive) {
  EDLEAK_REQUIRE_LIVE();
  const std::string record = temp_path("run.edlk"), html = temp_path("run.html"), folded = temp_path("run.folded"),
                    pprof = temp_path("run.pb.gz");
  RunResult r = run({tracer_path(), "-i", "100ms", "--format", "json", "--top", "50", "-a", "--fail-on", "linear",
                     "--record", record, "--html", html, "--folded", folded, "--pprof", pprof, "--",
                     testprog("alloc_sites"), "30", "50"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, ::testing::HasSubstr("--fail-on: pid "));
  EXPECT_THAT(r.err, ::testing::HasSubstr("a linear leak of"));
  const auto* live_process = only_process(final_report(r));
  ASSERT_NE(live_process, nullptr) << r.out;
  for (const auto& path : {record, html, folded, pprof}) EXPECT_GT(std::filesystem::file_size(path), 100u) << path;

  // The record replays to the live final report's verdicts: every stack's leak factor, field for
  // field.
  const nlohmann::json replay = replayed_report(record, {"--top", "50", "-a"});
  const auto* replayed = only_process(replay);
  ASSERT_NE(replayed, nullptr);
  EXPECT_EQ(leaks_of(*replayed), leaks_of(*live_process));
  EXPECT_GE(leaks_of(*replayed).size(), 10u);
  const auto live_factors = leak_factors(final_report(r));
  EXPECT_GE(live_factors.size(), 10u);
  EXPECT_EQ(leak_factors(replay), live_factors);
  for (const auto& [key, factor] : live_factors)
    EXPECT_EQ(leak_factors(replay)[key], factor) << "stack " << key.second;

  std::ifstream folded_in(folded);
  std::string line;
  std::size_t lines = 0;
  while (std::getline(folded_in, line)) {
    ++lines;
    EXPECT_THAT(line, ::testing::MatchesRegex("alloc_sites;.+ [0-9]+")) << line;
  }
  EXPECT_GE(lines, 10u);
}

TEST(LiveOutputs, GateKeepsTheCommandsFailureAndHonoursMinLeak) {
  EDLEAK_REQUIRE_LIVE();
  RunResult failing = run({tracer_path(), "-i", "100ms", "--fail-on", "linear", "--", "/bin/false"});
  EXPECT_EQ(failing.exit_code, 1) << failing.err;
  RunResult small = run({tracer_path(), "-i", "100ms", "--fail-on", "linear,exponential", "--min-leak", "100000000",
                         "--", testprog("alloc_sites"), "20", "50"});
  EXPECT_EQ(small.exit_code, 0) << small.err;
}

// The metrics server's thread must not take the tracer's signals: with SIGCHLD lost to it, a
// command's exit stop was never handled and the command stayed stopped for ever.
TEST(LiveOutputs, MetricsServerLeavesTheCommandsExitToTheTracer) {
  EDLEAK_REQUIRE_LIVE();
  RunResult r = run({tracer_path(), "-i", "100ms", "--metrics", "127.0.0.1:0", "--", testprog("alloc_sites"), "10", "20"},
                    std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("final report")) << r.out;
}

}  // namespace
}  // namespace edleak::live
