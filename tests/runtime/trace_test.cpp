// Live tests: edleak-bpf traces the programs of tests/testprogs with real probes. Each program
// leaks from distinct functions at a known rate, so classes, bytes and call sites are checked
// against what the program did.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <fmt/format.h>
#include <string>
#include <thread>

#include "live.h"

namespace edleak::live {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kIterations = 30;
constexpr int kPeriodMs = 60;

struct Site {
  const char* function;
  std::uint64_t bytes_per_call;
};

// What alloc_sites.c leaks per iteration, by function.
const Site kLibcSites[] = {
    {"leak_malloc", 100},         {"leak_calloc", 120},   {"leak_realloc", 140},
    {"leak_reallocarray", 150},   {"leak_posix_memalign", 160},
    {"leak_aligned_alloc", 192},  {"leak_memalign", 176}, {"leak_valloc", 200},
    {"leak_pvalloc", 4096},       {"leak_small_aligned", 208},
};

RunResult trace_command(const std::vector<std::string>& command, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {tracer_path(), "--interval", "100ms", "--format", "json", "--top", "50"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return run(argv);
}

void expect_libc_sites(const std::string& program) {
  RunResult r = trace_command({testprog(program), std::to_string(kIterations), std::to_string(kPeriodMs)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_GE(r.reports.size(), 5u) << r.out << r.err;
  const auto& report = final_report(r);
  EXPECT_TRUE(report["final"].get<bool>());
  const auto* process = only_process(report);
  ASSERT_NE(process, nullptr) << report.dump();
  EXPECT_TRUE((*process)["exited"].get<bool>());
  EXPECT_EQ(report["stats"]["lost_allocs"], 0);
  EXPECT_EQ(report["stats"]["stack_errors"], 0);
  // Hit counts: 13 allocations and 3 releases per iteration (churn's free, realloc moving a
  // block, realloc(p, 0)); free(NULL) and the allocator's internal calls add nothing. The
  // probe on free sits after its NULL test and must still see every non-NULL free.
  EXPECT_EQ((*process)["total_allocs"], 13 * kIterations);
  EXPECT_EQ((*process)["total_frees"], 3 * kIterations);

  for (const Site& site : kLibcSites) {
    SCOPED_TRACE(site.function);
    const auto* leaker = find_leaker(*process, site.function);
    ASSERT_NE(leaker, nullptr) << "sites: " << ::testing::PrintToString(site_symbols(*process));
    const std::uint64_t expected = site.bytes_per_call * kIterations;
    // Every byte exactly once: the counts are exact, not merely within 10%.
    EXPECT_EQ((*leaker)["outstanding_allocs"], kIterations);
    EXPECT_EQ((*leaker)["total_allocs"], kIterations);
    EXPECT_EQ((*leaker)["outstanding_bytes"], expected);
    EXPECT_EQ((*leaker)["leak_factor"]["class"], "linear");
    EXPECT_NEAR((*leaker)["leak_factor"]["leak"].get<double>(), expected, expected * 0.35);
    const auto& frame = (*leaker)["stack"][0];
    EXPECT_THAT(frame["module"].get<std::string>(), HasSubstr(program));
    EXPECT_THAT(frame["file"].get<std::string>(), ::testing::EndsWith("alloc_sites.c"));
  }
  // Frees, realloc(p, 0) and free(NULL) leave nothing behind.
  auto symbols = site_symbols(*process);
  EXPECT_THAT(symbols, Not(Contains("churn")));
  EXPECT_THAT(symbols, Not(Contains("realloc_to_zero")));
  EXPECT_THAT(symbols, Not(Contains("free_null")));
}

TEST(Live, EveryLibcAllocatorCountedOnceAtItsCaller) {
  EDLEAK_REQUIRE_LIVE();
  expect_libc_sites("alloc_sites");
}

TEST(Live, CallSiteFoundWithoutFramePointers) {
  EDLEAK_REQUIRE_LIVE();
  expect_libc_sites("alloc_sites_nofp");
}

void expect_cxx_sites(const std::string& program) {
  RunResult r = trace_command({testprog(program), std::to_string(kIterations), std::to_string(kPeriodMs)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto* process = only_process(final_report(r));
  ASSERT_NE(process, nullptr) << r.out << r.err;
  const std::pair<const char*, std::uint64_t> sites[] = {
      {"sites::leak_new", 96}, {"sites::leak_new_array", 112}, {"sites::leak_new_nothrow", 120},
      {"sites::leak_new_aligned", 128}};
  for (const auto& [function, size] : sites) {
    SCOPED_TRACE(function);
    const auto* leaker = find_leaker(*process, function);
    ASSERT_NE(leaker, nullptr) << "sites: " << ::testing::PrintToString(site_symbols(*process));
    EXPECT_EQ((*leaker)["total_allocs"], kIterations);  // not once more for the malloc inside new
    EXPECT_EQ((*leaker)["outstanding_bytes"], size * kIterations);
    EXPECT_EQ((*leaker)["leak_factor"]["class"], "linear");
  }
  EXPECT_EQ((*process)["total_frees"], kIterations);  // churn_new's deletes, through free
  for (const auto& symbol : site_symbols(*process)) {
    EXPECT_THAT(symbol, Not(HasSubstr("operator new")));
    EXPECT_THAT(symbol, Not(HasSubstr("churn_new")));
  }
}

TEST(Live, CxxNewAttributedToItsCaller) {
  EDLEAK_REQUIRE_LIVE();
  expect_cxx_sites("new_sites");
}

TEST(Live, CxxNewAttributedToItsCallerWithoutFramePointers) {
  EDLEAK_REQUIRE_LIVE();
  expect_cxx_sites("new_sites_nofp");
}

TEST(Live, PidModeReportsUntilTheProcessExits) {
  EDLEAK_REQUIRE_LIVE();
  // Long enough to outlive the tracer's start (loading the BPF programs takes over a second).
  Background program({testprog("alloc_sites"), "100", "50"});
  ASSERT_TRUE(program.wait_for_line("ready"));
  RunResult r = run({tracer_path(), "-p", std::to_string(program.pid()), "-i", "100ms", "--format", "json"});
  EXPECT_EQ(program.wait(), 0);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto& report = final_report(r);
  EXPECT_TRUE(report["final"].get<bool>());
  const auto* process = find_process(report, program.pid());
  ASSERT_NE(process, nullptr) << r.out;
  EXPECT_TRUE((*process)["exited"].get<bool>());
  EXPECT_EQ((*process)["comm"], "alloc_sites");
  EXPECT_NE(find_leaker(*process, "leak_malloc"), nullptr) << r.out;
}

TEST(Live, AllProcessModeSeesEveryProcess) {
  EDLEAK_REQUIRE_LIVE();
  // Two processes on a private libc: the all-process probes on it fire only in them.
  PrivateLibc libc;
  Background first({testprog("alloc_sites"), "200", "50"}, {libc.env()});
  Background second({testprog("alloc_sites_nofp"), "200", "50"}, {libc.env()});
  ASSERT_TRUE(first.wait_for_line("ready"));
  ASSERT_TRUE(second.wait_for_line("ready"));
  RunResult r = run({tracer_path(), "--probe-all", "--libc", libc.libc_path(), "-i", "100ms", "-d", "2s", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto& report = final_report(r);
  for (pid_t pid : {first.pid(), second.pid()}) {
    const auto* process = find_process(report, pid);
    ASSERT_NE(process, nullptr) << "pid " << pid << " missing: " << report.dump();
    EXPECT_NE(find_leaker(*process, "leak_malloc"), nullptr);
  }
  EXPECT_EQ(report["processes"].size(), 2u) << report.dump();
}

TEST(Live, CommandExitStatusIsPassedOn) {
  EDLEAK_REQUIRE_LIVE();
  RunResult r = run({tracer_path(), "-i", "100ms", "--", "/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

// A command that exits before the first sample: it is stopped at its exit (ptrace), read and
// let go, so the final report still has its name and every allocation.
TEST(Live, CommandFollowedToItsExit) {
  EDLEAK_REQUIRE_LIVE();
  auto started = std::chrono::steady_clock::now();
  RunResult r = run({tracer_path(), "-i", "30s", "--all-stacks", "--format", "json", "--", testprog("short_lived")});
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(25));  // not one interval
  EXPECT_EQ(r.exit_code, 7) << r.err;
  const auto* process = only_process(final_report(r));
  ASSERT_NE(process, nullptr) << r.out << r.err;
  EXPECT_EQ((*process)["comm"], "short_lived");
  EXPECT_TRUE((*process)["exited"].get<bool>());
  EXPECT_EQ((*process)["total_allocs"], 10);
  EXPECT_EQ((*process)["outstanding_bytes"], 42420);
  // Symbolized although the process was gone by the report: its maps were read at the exit stop.
  const auto* site = find_leaker(*process, "quick_leak");
  ASSERT_NE(site, nullptr) << r.out;
  EXPECT_EQ((*site)["leak_factor"]["class"], "insufficient_data");  // one sample: no verdict
  EXPECT_EQ((*site)["outstanding_allocs"], 10);
}

TEST(Live, MissingCommandIsAnError) {
  EDLEAK_REQUIRE_LIVE();
  RunResult r = run({tracer_path(), "--", "/nonexistent/program"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot run '/nonexistent/program': No such file or directory"));
}

TEST(Live, SigintGivesAFinalReport) {
  EDLEAK_REQUIRE_LIVE();
  Background program({testprog("alloc_sites"), "200", "50"});
  ASSERT_TRUE(program.wait_for_line("ready"));
  // Reports go to a file: nobody reads the tracer's stdout here.
  std::string out_path = fmt::format("/tmp/edleak-sigint-{}.json", getpid());
  Background tracer({tracer_path(), "-p", std::to_string(program.pid()), "-i", "100ms", "--format", "json", "-o", out_path});
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));  // start-up included
  kill(tracer.pid(), SIGINT);
  EXPECT_EQ(tracer.wait(), 0);
  std::ifstream in(out_path);
  std::string line, last;
  int reports = 0;
  while (std::getline(in, line)) {
    last = line;
    ++reports;
  }
  std::remove(out_path.c_str());
  EXPECT_GE(reports, 3);
  auto final = nlohmann::json::parse(last, nullptr, false);
  ASSERT_FALSE(final.is_discarded()) << last;
  EXPECT_TRUE(final["final"].get<bool>());
  const auto* process = find_process(final, program.pid());
  ASSERT_NE(process, nullptr) << last;
  EXPECT_FALSE((*process)["exited"].get<bool>());  // still running: we stopped, not it
}

// -p on a process that allocates and exits between two samples: its stacks were never symbolized
// while it ran, and /proc has no maps of it by the report. They resolve from the maps read at attach.
TEST(Live, PidThatAllocatesAndExitsAtOnceIsSymbolized) {
  EDLEAK_REQUIRE_LIVE();
  Background program({testprog("short_lived"), "wait"});
  ASSERT_TRUE(program.wait_for_line("ready"));
  const std::string out_path = fmt::format("/tmp/edleak-quick-exit-{}.json", getpid());
  // stderr on the pipe: the "tracing ..." line says the probes are in.
  Background tracer({"/bin/sh", "-c",
                     fmt::format("exec {} -p {} -i 2s -a --format json -o {} 2>&1", tracer_path(), program.pid(),
                                 out_path)});
  ASSERT_TRUE(tracer.wait_for_line_containing("tracing pid", std::chrono::seconds(30)));
  kill(program.pid(), SIGUSR1);
  EXPECT_EQ(program.wait(), 7);
  EXPECT_EQ(tracer.wait(), 0);
  std::ifstream in(out_path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  std::remove(out_path.c_str());
  auto report = nlohmann::json::parse(last, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << last;
  const auto* process = find_process(report, program.pid());
  ASSERT_NE(process, nullptr) << last;
  EXPECT_TRUE((*process)["exited"].get<bool>());
  EXPECT_EQ((*process)["total_allocs"], 10);
  const auto* site = find_leaker(*process, "quick_leak");
  ASSERT_NE(site, nullptr) << process->dump();
  EXPECT_EQ((*site)["stack"][0]["module"], testprog("short_lived"));
  EXPECT_EQ((*site)["outstanding_allocs"], 10);
}

// Errors: clear one-line messages and a non-zero exit.
TEST(Errors, UnknownPid) {
  EDLEAK_REQUIRE_LIVE();  // without privileges, that is what it reports first
  RunResult r = run({tracer_path(), "-p", "999999"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "edleak-bpf: no process with pid 999999\n");
}

TEST(Errors, WithoutPrivilegesSaysWhatIsNeeded) {
  EDLEAK_REQUIRE_LIVE();  // root, to drop to nobody
  RunResult r = run({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", tracer_path(),
                     "-p", std::to_string(getpid())});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("needs root, or the capabilities CAP_BPF and CAP_PERFMON"));
}

TEST(Errors, BadDurationNamesTheValue) {
  RunResult r = run({tracer_path(), "--interval", "soon"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("'soon'"));
}

}  // namespace
}  // namespace edleak::live
