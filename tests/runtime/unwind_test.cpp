// Live tests of whole stacks: programs built -O2 with and without frame pointers, and Debian's
// own binaries (built without them), unwound from their CFI in the kernel.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "live.h"

namespace edleak::live {
namespace {

using ::testing::HasSubstr;

constexpr int kIterations = 20;

std::string frame_symbol(const nlohmann::json& frame) {
  return frame["symbol"].is_string() ? frame["symbol"].get<std::string>() : std::string();
}

// Function names of a stack, outermost inlined function of each frame (as a reader of the
// source expects: "the caller of strdup is leak_strdup").
std::vector<std::string> stack_symbols(const nlohmann::json& leaker) {
  std::vector<std::string> out;
  for (const auto& frame : leaker["stack"]) {
    out.push_back(frame_symbol(frame));
  }
  return out;
}

bool names(const std::string& symbol, const std::string& function) {
  return symbol == function || symbol.rfind(function + "(", 0) == 0;
}

// The stacks of a process that hold `function` within their first `within` frames.
std::vector<const nlohmann::json*> stacks_through(const nlohmann::json& process, const std::string& function,
                                                  std::size_t within = 64) {
  std::vector<const nlohmann::json*> out;
  for (const nlohmann::json& leaker : listed_stacks(process)) {
    auto symbols = stack_symbols(leaker);
    for (std::size_t i = 0; i < symbols.size() && i < within; ++i)
      if (names(symbols[i], function)) {
        out.push_back(&leaker);
        break;
      }
  }
  return out;
}

std::string describe(const nlohmann::json& process) {
  std::string s;
  for (const nlohmann::json& leaker : listed_stacks(process)) {
    s += fmt::format("\n  {} B {} allocs:", leaker["outstanding_bytes"].get<std::uint64_t>(),
                     leaker["total_allocs"].get<std::uint64_t>());
    for (const auto& symbol : stack_symbols(leaker)) s += " " + (symbol.empty() ? "?" : symbol);
  }
  return s;
}

RunResult trace(const std::vector<std::string>& command, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {tracer_path(), "--interval", "100ms", "--format", "json", "--top", "200",
                                   "--all-stacks"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return run(argv, std::chrono::seconds(120));
}

// The one stack through `function`, which must be the whole chain `expected` from frame 0 on.
void expect_chain(const nlohmann::json& process, const std::vector<std::string>& expected,
                  std::uint64_t allocs) {
  auto stacks = stacks_through(process, expected.front(), 1);
  ASSERT_EQ(stacks.size(), 1u) << expected.front() << " is not one site:" << describe(process);
  const auto& leaker = *stacks.front();
  auto symbols = stack_symbols(leaker);
  ASSERT_GE(symbols.size(), expected.size()) << describe(process);
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_TRUE(names(symbols[i], expected[i])) << "frame " << i << ": " << symbols[i];
  EXPECT_TRUE(leaker["stack_complete"].get<bool>()) << describe(process);
  EXPECT_EQ(leaker["total_allocs"], allocs);
}

void expect_deep_stacks(const std::string& program, const std::vector<std::string>& extra = {}) {
  const std::string library = testprog("libdlopened_leaker.so");
  RunResult r = trace({testprog(program), std::to_string(kIterations), "50", library}, extra);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto* process = only_process(final_report(r));
  ASSERT_NE(process, nullptr) << r.out << r.err;
  EXPECT_EQ(final_report(r)["stats"]["stack_errors"], 0);
  SCOPED_TRACE(describe(*process));

  // A 10-deep chain, every frame right, to main and beyond (libc's start, _start).
  expect_chain(*process,
               {"chain_10", "chain_9", "chain_8", "chain_7", "chain_6", "chain_5", "chain_4", "chain_3",
                "chain_2", "chain_1", "main"},
               kIterations);
  // Through libc's helpers: the app function within 4 frames.
  for (const char* function : {"leak_strdup", "leak_asprintf"}) {
    auto stacks = stacks_through(*process, function, 4);
    ASSERT_EQ(stacks.size(), 1u) << function;
    EXPECT_EQ((*stacks[0])["total_allocs"], kIterations) << function;
    EXPECT_TRUE((*stacks[0])["stack_complete"].get<bool>()) << function;
    EXPECT_THAT(stack_symbols(*stacks[0]), ::testing::Contains("main")) << function;
  }
  // A worker thread's stack ends at the thread's start.
  expect_chain(*process, {"thread_leak", "worker", "start_thread"}, kIterations);
  // A signal handler's stack crosses the signal frame back to the interrupted code and main.
  {
    auto stacks = stacks_through(*process, "handler_leak", 1);
    ASSERT_EQ(stacks.size(), 1u);
    auto symbols = stack_symbols(*stacks[0]);
    EXPECT_TRUE(names(symbols.at(1), "on_signal"));
    // Frame 2 is libc's signal trampoline (__restore_rt, which Debian's libc does not name),
    // then the code the signal interrupted, inside raise().
    EXPECT_THAT((*stacks[0])["stack"][2]["module"].get<std::string>(), HasSubstr("libc.so"));
    EXPECT_THAT(symbols, ::testing::Contains("raise"));
    EXPECT_THAT(symbols, ::testing::Contains("main"));
    EXPECT_TRUE((*stacks[0])["stack_complete"].get<bool>());
    EXPECT_EQ((*stacks[0])["total_allocs"], kIterations);
  }
  // A library loaded after tracing started: its tables are read when its first stack asks.
  {
    auto stacks = stacks_through(*process, "dlopened_inner", 1);
    ASSERT_GE(stacks.size(), 1u);
    std::uint64_t allocs = 0;
    const nlohmann::json* whole = nullptr;
    for (const auto* s : stacks) {
      allocs += (*s)["total_allocs"].get<std::uint64_t>();
      if ((*s)["stack_complete"].get<bool>()) whole = s;
    }
    EXPECT_EQ(allocs, kIterations - 2u);
    ASSERT_NE(whole, nullptr);
    // At most the allocation that asked for the tables has a short stack.
    EXPECT_GE((*whole)["total_allocs"].get<std::uint64_t>(), kIterations - 3u);
    auto symbols = stack_symbols(*whole);
    EXPECT_TRUE(names(symbols.at(1), "dlopened_leak"));
    EXPECT_TRUE(names(symbols.at(2), "main"));
  }
}

TEST(Unwind, WholeStacksWithoutFramePointers) {
  EDLEAK_REQUIRE_LIVE();
  expect_deep_stacks("deep_stacks_nofp");
}

TEST(Unwind, WholeStacksWithFramePointers) {
  EDLEAK_REQUIRE_LIVE();
  expect_deep_stacks("deep_stacks");
}

TEST(Unwind, CxxContainersNameTheMethod) {
  EDLEAK_REQUIRE_LIVE();
  RunResult r = trace({testprog("deep_containers_nofp"), std::to_string(kIterations), "50"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto* process = only_process(final_report(r));
  ASSERT_NE(process, nullptr) << r.out << r.err;
  SCOPED_TRACE(describe(*process));
  for (const char* method : {"app::Registry::add_reading", "app::Registry::add_name", "app::Registry::append_log",
                             "app::Registry::add_tag"}) {
    auto stacks = stacks_through(*process, method, 4);
    ASSERT_FALSE(stacks.empty()) << method;
    std::uint64_t bytes = 0;
    for (const auto* s : stacks) {
      bytes += (*s)["outstanding_bytes"].get<std::uint64_t>();
      EXPECT_TRUE((*s)["stack_complete"].get<bool>()) << method;
    }
    EXPECT_GT(bytes, 0u) << method;
  }
}

// A pointer to a stack local in %rbp: with CFI the frame-pointer walk is never taken; with
// frame pointers only, the garbage "return address" is outside every mapping and ends the
// stack. Either way one site, one stack, classified linear.
void expect_one_site(const std::vector<std::string>& extra) {
  RunResult r = trace({testprog("rbp_local_nofp"), std::to_string(kIterations), "50"}, extra);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto* process = only_process(final_report(r));
  ASSERT_NE(process, nullptr) << r.out << r.err;
  auto stacks = stacks_through(*process, "leak16", 1);
  ASSERT_EQ(stacks.size(), 1u) << describe(*process);
  EXPECT_EQ((*stacks[0])["total_allocs"], 100 * kIterations);
  EXPECT_EQ((*stacks[0])["outstanding_bytes"], 1600 * kIterations);
  EXPECT_EQ((*stacks[0])["leak_factor"]["class"], "linear");
}

TEST(Unwind, StackLocalInRbpStaysOneSite) {
  EDLEAK_REQUIRE_LIVE();
  expect_one_site({});
}

TEST(Unwind, StackLocalInRbpStaysOneSiteWithFramePointersOnly) {
  EDLEAK_REQUIRE_LIVE();
  expect_one_site({"--unwind", "fp"});
}

// Debian's binaries keep no frame pointers: the share of outstanding bytes whose stack reaches
// the outermost frame (_start or a thread's start), over every stack listed.
double complete_share(const nlohmann::json& process) {
  double all = 0, complete = 0;
  for (const nlohmann::json& leaker : listed_stacks(process)) {
    const double bytes = leaker["outstanding_bytes"].get<double>();
    all += bytes;
    if (leaker["stack_complete"].get<bool>()) complete += bytes;
  }
  return all > 0 ? complete / all : 0;
}

void expect_whole_stacks_of(const std::vector<std::string>& command, const std::string& comm,
                            bool every_stack_whole = false) {
  ASSERT_TRUE(std::filesystem::exists(command[0])) << command[0] << " is not installed (scripts/setup)";
  RunResult r = trace(command, {"--top", "100000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The report where the program held the most (at exit it may have freed nearly everything).
  const nlohmann::json* process = nullptr;
  for (const auto& report : r.reports) {
    const auto* p = only_process(report);
    if (p && (!process || (*p)["outstanding_bytes"] > (*process)["outstanding_bytes"])) process = p;
  }
  ASSERT_NE(process, nullptr) << r.out << r.err;
  EXPECT_EQ((*process)["comm"], comm);
  const double share = complete_share(*process);
  std::printf("%s: %.2f %% of %llu outstanding bytes on whole stacks (%zu stacks)\n", comm.c_str(), share * 100,
              static_cast<unsigned long long>((*process)["outstanding_bytes"].get<std::uint64_t>()),
              (*process)["leakers"].size());
  EXPECT_GE(share, 0.95) << describe(*process);
  if (every_stack_whole) {
    for (const auto& leaker : (*process)["leakers"]) {
      EXPECT_TRUE(leaker["stack_complete"].get<bool>()) << describe(*process);
    }
  }
}

TEST(Unwind, DebianPerlStacksAreWhole) {
  EDLEAK_REQUIRE_LIVE();
  expect_whole_stacks_of({"/usr/bin/perl", "-e",
                          "my %h; for my $i (1..200000) { $h{$i} = 'x' x 100 } select(undef,undef,undef,0.5);"},
                         "perl");
}

TEST(Unwind, DebianSqliteStacksAreWhole) {
  EDLEAK_REQUIRE_LIVE();
  std::string sql = std::string(EDLEAK_SOURCE_DIR) + "/bench/sqlite_workload.sql";
  // Through a shell that execs it: the command is held again at its first allocation after
  // exec, so even its first stacks are whole.
  expect_whole_stacks_of({"/bin/sh", "-c", "exec /usr/bin/sqlite3 :memory: '.read " + sql + "'"}, "sqlite3",
                         /*every_stack_whole=*/true);
}

TEST(Unwind, DebianPythonStacksAreWhole) {
  EDLEAK_REQUIRE_LIVE();
  expect_whole_stacks_of({"/usr/bin/python3.11", "-c",
                          "import time\nd = {i: str(i) * 10 for i in range(200000)}\ntime.sleep(0.5)"},
                         "python3.11");
}

}  // namespace
}  // namespace edleak::live
