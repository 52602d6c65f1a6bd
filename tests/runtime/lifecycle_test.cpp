// Live tests of process lifecycle: a command's children and grandchildren, -p -f on a forking
// server, exec starting a new history, a reused pid, a process with its own libc started after
// the tracer in all-process mode. Each process history gets its own section; a child's final
// section is in the report of the interval it ended in, so sections are gathered from every
// report, not only the last.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "live.h"

namespace edleak::live {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

// Every section of process histories that ended (exited, or exec'd away), from every report,
// with the named processes' sections of the final report.
std::vector<json> ended_sections(const RunResult& r) {
  std::vector<json> out;
  for (const auto& report : r.reports)
    for (const auto& p : report["processes"])
      if (p["exited"].get<bool>() || p["exec_ended"].get<bool>()) out.push_back(p);
  return out;
}

std::vector<json> sections_of(const RunResult& r, const std::string& comm) {
  std::vector<json> out;
  for (auto& p : ended_sections(r))
    if (p["comm"] == comm) out.push_back(p);
  return out;
}

// The allocations of the process's site in `symbol` (0 when it has none).
std::uint64_t allocs_at(const json& process, const std::string& symbol) {
  const json* leaker = find_leaker(process, symbol);
  return leaker ? (*leaker)["total_allocs"].get<std::uint64_t>() : 0;
}

// The command's own section in the final report (it has no parent in the report).
const json* root_section(const RunResult& r) {
  const json& report = final_report(r);
  const json* root = nullptr;
  if (!report.contains("processes")) return nullptr;
  for (const auto& p : report["processes"])
    if (p["parent_pid"].is_null() && !p["exec_ended"].get<bool>()) root = &p;
  return root;
}

// One line per section of every report: what a failure message needs, not megabytes of JSON.
std::string summary(const RunResult& r) {
  std::string out;
  for (const auto& report : r.reports) {
    out += fmt::format("report final={}:\n", report["final"].get<bool>());
    for (const auto& p : report["processes"]) {
      out += fmt::format("  pid {} {} parent {} exited {} exec_ended {} sites:", p["pid"].dump(), p["comm"].dump(),
                         p["parent_pid"].dump(), p["exited"].dump(), p["exec_ended"].dump());
      for (const auto& l : p["leakers"])
        out += fmt::format(" {}x{}", l["stack"].empty() ? "?" : l["stack"][0]["symbol"].dump(), l["total_allocs"].dump());
      out += "\n";
    }
  }
  return out + r.err;
}

std::vector<std::string> base_argv() {
  return {tracer_path(), "-i", "100ms", "--format", "json", "-a", "--top", "50"};
}

TEST(Lifecycle, ACommandsChildrenAreTracedEachInItsSection) {
  EDLEAK_REQUIRE_LIVE();
  const std::string child = testprog("leaky_child");
  auto argv = base_argv();
  argv.insert(argv.end(), {"--", "sh", "-c", fmt::format("{0} 60 25 & {0} 90 25; wait", child)});
  RunResult r = run(argv, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json* shell = root_section(r);
  ASSERT_NE(shell, nullptr) << summary(r);
  auto children = sections_of(r, "leaky_child");
  ASSERT_EQ(children.size(), 2u) << summary(r);
  std::vector<std::uint64_t> counts;
  for (const auto& c : children) {
    EXPECT_EQ(c["parent_pid"], (*shell)["pid"]) << summary(r);
    EXPECT_THAT(c["command"].get<std::string>(), HasSubstr("leaky_child"));
    EXPECT_EQ(c["exit_status"], 0);
    const json* leaker = find_leaker(c, "leak_in_child");
    ASSERT_NE(leaker, nullptr) << summary(r);
    counts.push_back((*leaker)["total_allocs"].get<std::uint64_t>());
    EXPECT_EQ((*leaker)["outstanding_bytes"].get<std::uint64_t>(), counts.back() * 1000);
    EXPECT_EQ((*leaker)["leak_factor"]["class"], "linear") << summary(r);
  }
  std::sort(counts.begin(), counts.end());
  EXPECT_EQ(counts, (std::vector<std::uint64_t>{60, 90}));
  EXPECT_EQ(final_report(r)["stats"]["stack_errors"], 0);
}

TEST(Lifecycle, NoFollowTracesTheCommandOnly) {
  EDLEAK_REQUIRE_LIVE();
  auto argv = base_argv();
  argv.insert(argv.end(), {"--no-follow", "--", "sh", "-c", testprog("leaky_child") + " 20 10; true"});
  RunResult r = run(argv, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(sections_of(r, "leaky_child").empty()) << summary(r);
}

TEST(Lifecycle, AGrandchildThroughMakeIsTraced) {
  EDLEAK_REQUIRE_LIVE();
  auto dir = std::filesystem::temp_directory_path() / fmt::format("edleak-make-{}", getpid());
  std::filesystem::create_directories(dir);
  {
    std::ofstream makefile(dir / "Makefile");
    // Through a shell: make -> sh -> leaky_child.
    makefile << "all:\n\tsh -c '" << testprog("leaky_child") << " 50 20; true'\n";
  }
  auto argv = base_argv();
  argv.insert(argv.end(), {"--", "make", "-s", "-C", dir.string()});
  RunResult r = run(argv, std::chrono::seconds(60));
  std::filesystem::remove_all(dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json* make = root_section(r);
  ASSERT_NE(make, nullptr) << summary(r);
  auto children = sections_of(r, "leaky_child");
  ASSERT_EQ(children.size(), 1u) << summary(r);
  EXPECT_EQ(allocs_at(children[0], "leak_in_child"), 50u) << summary(r);
  // Its parent is the shell make started, not make.
  EXPECT_NE(children[0]["parent_pid"], (*make)["pid"]);
}

TEST(Lifecycle, FollowForksOfARunningServer) {
  EDLEAK_REQUIRE_LIVE();
  Background server({testprog("fork_server"), "2500", "2", "40"});
  ASSERT_TRUE(server.wait_for_line("ready"));
  auto argv = base_argv();
  argv.insert(argv.end(), {"-p", std::to_string(server.pid()), "-f", "-d", "20s"});
  RunResult r = run(argv, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto workers = sections_of(r, "fork_server");
  std::vector<json> children;
  for (const auto& w : workers)
    if (w["pid"] != server.pid()) children.push_back(w);
  ASSERT_EQ(children.size(), 2u) << summary(r);
  for (const auto& c : children) {
    EXPECT_EQ(c["parent_pid"], server.pid());
    // A -p process's child is probed once its fork is seen, a few ms after it started: its
    // first allocation or two may come before.
    const auto allocs = allocs_at(c, "worker_leak");
    EXPECT_GE(allocs, 36u) << summary(r);
    EXPECT_LE(allocs, 40u);
  }
  EXPECT_EQ(server.wait(), 0);
}

TEST(Lifecycle, AServerWhoseChildrenAllocateGetsAHint) {
  EDLEAK_REQUIRE_LIVE();
  // Its worker allocates for 8 s: longer than the tracer takes to start on a loaded machine.
  Background server({testprog("fork_server"), "0", "1", "400"});
  ASSERT_TRUE(server.wait_for_line("ready"));
  auto argv = base_argv();
  argv.insert(argv.end(), {"-p", std::to_string(server.pid()), "-d", "2500ms"});
  RunResult r = run(argv, std::chrono::seconds(30));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  bool hinted = false;
  for (const auto& report : r.reports)
    for (const auto& p : report["processes"])
      for (const auto& note : p["notes"]) hinted = hinted || note.get<std::string>().find("-f") != std::string::npos;
  EXPECT_TRUE(hinted) << summary(r);
}

TEST(Lifecycle, ExecStartsAFreshSectionUnderTheSamePid) {
  EDLEAK_REQUIRE_LIVE();
  auto argv = base_argv();
  argv.insert(argv.end(), {"--", testprog("exec_after_leak"), testprog("leaky_child"), "40", "20"});
  RunResult r = run(argv, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto before = sections_of(r, "exec_after_leak");
  ASSERT_EQ(before.size(), 1u) << summary(r);
  EXPECT_TRUE(before[0]["exec_ended"].get<bool>());
  EXPECT_EQ(allocs_at(before[0], "leak_before_exec"), 10u) << summary(r);
  EXPECT_EQ(allocs_at(before[0], "leak_in_child"), 0u);
  const json* after = root_section(r);
  ASSERT_NE(after, nullptr) << summary(r);
  EXPECT_EQ((*after)["pid"], before[0]["pid"]);
  EXPECT_EQ((*after)["comm"], "leaky_child");
  EXPECT_EQ(allocs_at(*after, "leak_in_child"), 40u) << summary(r);
  EXPECT_EQ(allocs_at(*after, "leak_before_exec"), 0u);
}

TEST(Lifecycle, AReusedPidNeverInheritsTheOldStacks) {
  EDLEAK_REQUIRE_LIVE();
  auto argv = base_argv();
  argv.insert(argv.end(), {"--", testprog("pid_reuse")});
  RunResult r = run(argv, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_THAT(r.out, HasSubstr("reused ")) << "the pid could not be had again: " << summary(r);
  std::vector<json> children;
  for (const auto& s : sections_of(r, "pid_reuse"))
    if (!s["parent_pid"].is_null()) children.push_back(s);
  ASSERT_EQ(children.size(), 2u) << summary(r);
  EXPECT_EQ(children[0]["pid"], children[1]["pid"]);
  std::uint64_t first = 0, second = 0, mixed = 0;
  for (const auto& c : children) {
    const auto a = allocs_at(c, "leak_first"), b = allocs_at(c, "leak_second");
    if (a && b) ++mixed;
    first += a;
    second += b;
  }
  EXPECT_EQ(mixed, 0u) << summary(r);
  EXPECT_EQ(first, 20u);
  EXPECT_EQ(second, 30u);
}

// A "container": its own copy of libc bind-mounted over the system's in a private mount
// namespace, started after the tracer: probed within an interval of its exec.
TEST(Lifecycle, AContainerStartedLaterIsTracedInAllProcessMode) {
  EDLEAK_REQUIRE_LIVE();
  PrivateLibc libc;
  const std::string output = libc.dir() + "/reports.json";
  // -a: the container's section is listed whether or not its few samples make a verdict.
  Background tracer({tracer_path(), "--probe-all", "-i", "200ms", "-d", "14s", "--format", "json", "-a", "--top", "3", "-o", output});
  // Loading and attaching take a second or two; the container starts well after.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const std::string script = fmt::format(
      "mount --bind {} /usr/lib/x86_64-linux-gnu/libc.so.6 && exec {} 250 20", libc.libc_path(),
      testprog("leaky_child"));
  RunResult container = run({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script});
  ASSERT_EQ(container.exit_code, 0) << container.err;
  ASSERT_EQ(tracer.wait(), 0);
  RunResult r;
  std::ifstream lines(output);
  std::string out;
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) {
      r.reports.push_back(json::parse(line));
      out += line.substr(0, 2000) + "\n";
    }
  std::uint64_t allocs = 0;
  for (const auto& s : sections_of(r, "leaky_child")) allocs = std::max(allocs, allocs_at(s, "leak_in_child"));
  // Probed once its exec is seen: within milliseconds on a quiet machine, seconds later when the
  // all-process loop is busy with every other new process (the other tests): traced, then.
  EXPECT_GE(allocs, 50u) << out;
  EXPECT_LE(allocs, 250u);
}

}  // namespace
}  // namespace edleak::live
