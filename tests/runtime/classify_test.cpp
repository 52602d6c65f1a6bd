// The classifier live: a steady server whose request buffers are recycled through a ring of
// 400 blocks, with and without one request in 100 forgetting its buffer; a batch buffer whose
// emptied level rises; zero-byte blocks. Every report is read: a leak must be called linear
// within 20 samples at 100 ms, and the same programs without the leak never called leaks.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "live.h"

namespace edleak::live {
namespace {

// The verdicts on the stack allocating in `symbol`, report by report: its class (the tracer
// runs with --all-stacks, so a stack holding blocks is listed leaking or not), "" when it is not
// listed.
std::vector<std::string> verdicts(const RunResult& r, pid_t pid, const std::string& symbol) {
  std::vector<std::string> out;
  for (const nlohmann::json& report : r.reports) {
    const nlohmann::json* process = pid > 0 ? find_process(report, pid) : only_process(report);
    const nlohmann::json* leaker = process ? find_leaker(*process, symbol) : nullptr;
    out.push_back(leaker ? (*leaker)["leak_factor"]["class"].get<std::string>() : "");
  }
  return out;
}

// Never called a leak from report `from` on, and seen (a stack never listed would pass for
// the wrong reason).
void expect_never_a_leak(const std::vector<std::string>& v, std::size_t from = 0) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string& c = v[i];
    if (i >= from) {
      EXPECT_TRUE(c == "" || c == "constant" || c == "insufficient_data") << c << " at report " << i;
    }
    seen += !c.empty();
  }
  EXPECT_GT(seen, v.size() / 2);
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& c : v) s += (c.empty() ? "-" : c) + " ";
  return s;
}

// The first report from which the stack is called `cls` in every report, or -1.
int called_from(const std::vector<std::string>& v, const std::string& cls) {
  int from = -1;
  for (int i = 0; i < static_cast<int>(v.size()); ++i) {
    if (v[i] != cls)
      from = -1;
    else if (from < 0)
      from = i;
  }
  return from;
}

// Called linear from report `limit` at the latest, and in every report after.
void expect_linear_within(const std::vector<std::string>& v, int limit) {
  const int from = called_from(v, "linear");
  EXPECT_GE(from, 0) << joined(v);
  EXPECT_LE(from, limit) << joined(v);
}

RunResult trace_command(const std::vector<std::string>& command) {
  std::vector<std::string> argv = {tracer_path(), "--interval", "100ms", "--all-stacks", "--format", "json", "--"};
  argv.insert(argv.end(), command.begin(), command.end());
  return run(argv);
}

TEST(LiveClassify, LeakBeneathChurnIsLinearWithin20SamplesFromExec) {
  EDLEAK_REQUIRE_LIVE();
  const RunResult r = trace_command({testprog("churn_server"), "ring", "1", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto v = verdicts(r, -1, "handle_request");
  expect_linear_within(v, 20);
}

TEST(LiveClassify, ChurnWithoutLeakIsNeverALeakFromExec) {
  EDLEAK_REQUIRE_LIVE();
  const RunResult r = trace_command({testprog("churn_server"), "ring", "0", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto v = verdicts(r, -1, "handle_request");
  expect_never_a_leak(v);
  if (HasFailure()) ADD_FAILURE() << joined(v);
}

// Attached to a server that has been recycling for a while: its ring's blocks were allocated
// before tracing, the stack's bytes climb from 0 as they are replaced (the attach warm-up).
RunResult trace_running(const std::string& leak, pid_t& pid) {
  Background program({testprog("churn_server"), "ring", leak, "6"});
  EXPECT_TRUE(program.wait_for_line("ready"));
  pid = program.pid();
  RunResult r = run({tracer_path(), "-p", std::to_string(pid), "-i", "100ms", "--all-stacks", "--format", "json"});
  EXPECT_EQ(program.wait(), 0);
  return r;
}

TEST(LiveClassify, LeakBeneathTheAttachWarmupIsLinearWithin20Samples) {
  EDLEAK_REQUIRE_LIVE();
  pid_t pid = 0;
  const RunResult r = trace_running("1", pid);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto v = verdicts(r, pid, "handle_request");
  expect_linear_within(v, 20);
}

TEST(LiveClassify, AttachWarmupIsNeverALeak) {
  EDLEAK_REQUIRE_LIVE();
  pid_t pid = 0;
  const RunResult r = trace_running("0", pid);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto v = verdicts(r, pid, "handle_request");
  ASSERT_GT(v.size(), 10u) << r.out;
  expect_never_a_leak(v);
  if (HasFailure()) ADD_FAILURE() << joined(v);
}

TEST(LiveClassify, BatchBufferWhoseEmptiedLevelRisesIsLinear) {
  EDLEAK_REQUIRE_LIVE();
  const RunResult r = trace_command({testprog("churn_server"), "batch", "1", "8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto v = verdicts(r, -1, "fill_batch");
  EXPECT_GE(called_from(v, "linear"), 0) << joined(v);
}

TEST(LiveClassify, BatchBufferEmptiedIsNeverALeak) {
  EDLEAK_REQUIRE_LIVE();
  const RunResult r = trace_command({testprog("churn_server"), "batch", "0", "8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto v = verdicts(r, -1, "fill_batch");
  // Before its second emptying (1 s, report 10) a batch buffer is one tooth of a saw: a rise
  // with one fall, which no rule can tell from a leak with a freed spike (the corpus counts
  // the same prefixes as undecidable).
  expect_never_a_leak(v, 10);
  if (HasFailure()) ADD_FAILURE() << joined(v);
}

// The age of blocks, from an attach: a server whose ring ran (and replaced its blocks) before
// tracing began; once the tracer reports, the test starts its leak (one request in 100 keeps
// its buffer, `leak` of them), then the ring recycles on without leaking until every leaked
// block is old. Blocks allocated before the attach are in no series, so what the stack holds in
// old blocks is exactly the blocks leaked since.
struct AgingRun {
  RunResult trace;
  pid_t pid = 0;
  int program_exit = -1;
};

// `record`: also --record it there.
AgingRun trace_aging(int leak, const std::string& record = "") {
  AgingRun out;
  Background program({testprog("churn_server"), "aging", std::to_string(leak), "3"});
  EXPECT_TRUE(program.wait_for_line("ready"));
  out.pid = program.pid();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the ring recycled 5 times over
  // The reports go to a file: the test reads them once the tracer is done, and it must not
  // block on a full pipe meanwhile.
  const std::string path = ::testing::TempDir() + "aging-" + std::to_string(out.pid) + ".json";
  Background tracer({"/bin/sh", "-c",
                     "exec " + tracer_path() + " -p " + std::to_string(out.pid) +
                         " -i 250ms --all-stacks --format json" + (record.empty() ? "" : " --record " + record) +
                         " > " + path});
  // Attached and sampling once the first report is written (start-up takes seconds here).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  auto written = [&] {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    return !ec && size > 0;
  };
  while (!written() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  kill(out.pid, SIGUSR1);
  if (leak > 0) {
    EXPECT_TRUE(program.wait_for_line("leaked " + std::to_string(leak), std::chrono::seconds(30)));
  }
  out.program_exit = program.wait();
  out.trace.exit_code = tracer.wait();
  std::ifstream in(path);
  out.trace.out.assign(std::istreambuf_iterator<char>(in), {});
  out.trace.reports = json_lines(out.trace.out);
  std::filesystem::remove(path);
  return out;
}

TEST(LiveClassify, OldBlocksCountALeakBeneathTheAttachWarmupExactly) {
  EDLEAK_REQUIRE_LIVE();
  constexpr int kLeaked = 60;
  const std::string record = ::testing::TempDir() + "aging.edlk";
  const AgingRun r = trace_aging(kLeaked, record);
  ASSERT_EQ(r.program_exit, 0);
  ASSERT_EQ(r.trace.exit_code, 0) << r.trace.err;
  const nlohmann::json* process = find_process(final_report(r.trace), r.pid);
  ASSERT_NE(process, nullptr) << r.trace.out;
  const nlohmann::json* leaker = find_leaker(*process, "handle_request");
  ASSERT_NE(leaker, nullptr) << r.trace.out;
  const nlohmann::json& factor = (*leaker)["leak_factor"];
  const std::string cls = factor["class"];
  // Whichever evidence called it (the bytes' trend often does, the old blocks beneath churn),
  // the count is the old blocks': exactly what was kept.
  EXPECT_TRUE(cls == "linear" || cls == "logarithmic" || cls == "exponential") << factor.dump();
  EXPECT_EQ(factor["leak_blocks"].get<std::uint64_t>(), static_cast<std::uint64_t>(kLeaked)) << factor.dump();
  EXPECT_EQ(factor["leak"].get<std::uint64_t>(), 256u * kLeaked) << factor.dump();

  // Its record replays to the same verdicts, every stack's leak factor field for field: the old
  // blocks and the series' low points are in it (record version 3).
  const nlohmann::json replay = replayed_report(record, {"--all-stacks"});
  const auto live_factors = leak_factors(final_report(r.trace));
  EXPECT_FALSE(live_factors.empty());
  EXPECT_EQ(leak_factors(replay), live_factors) << "live: " << final_report(r.trace).dump()
                                                << "\nreplayed: " << replay.dump();
  std::filesystem::remove(record);
}

TEST(LiveClassify, SteadyRingAttachedIsNeverALeakByAge) {
  EDLEAK_REQUIRE_LIVE();
  const AgingRun r = trace_aging(0);
  ASSERT_EQ(r.program_exit, 0);
  ASSERT_EQ(r.trace.exit_code, 0) << r.trace.err;
  const auto v = verdicts(r.trace, r.pid, "handle_request");
  ASSERT_GT(v.size(), 10u) << r.trace.out;
  expect_never_a_leak(v);
  if (HasFailure()) ADD_FAILURE() << joined(v);
}

// malloc(0) asks for no bytes (glibc still spends a 32-byte chunk on each): the stack's blocks
// show the leak, its bytes cannot.
TEST(LiveClassify, ZeroByteBlocksLeakIsListedAndClassified) {
  EDLEAK_REQUIRE_LIVE();
  const RunResult r = trace_command({testprog("churn_server"), "zero", "0", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json* process = only_process(final_report(r));
  ASSERT_NE(process, nullptr) << r.out;
  const nlohmann::json* leaker = find_leaker(*process, "leak_zero");
  ASSERT_NE(leaker, nullptr) << r.out;
  EXPECT_EQ((*leaker)["leak_factor"]["class"], "linear") << leaker->dump();
  EXPECT_EQ((*leaker)["leak_factor"]["evidence"], "blocks") << leaker->dump();
  EXPECT_GT((*leaker)["leak_factor"]["leak_blocks"].get<std::uint64_t>(), 1000u) << leaker->dump();
  EXPECT_GT((*leaker)["outstanding_allocs"].get<std::uint64_t>(), 1000u) << leaker->dump();
}

}  // namespace
}  // namespace edleak::live
