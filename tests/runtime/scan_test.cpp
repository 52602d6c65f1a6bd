// Live tests of the reachability scan: edleak-bpf's categories per allocation site against
// valgrind's on the same program (scan at the exit stop), against LeakSanitizer's semantics for
// pointers only a running process holds (on a stack, in a register, in a thread's TLS: -p and
// SIGUSR1), and the target's safety (a bounded freeze, the tracer killed in the middle of a scan).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <fmt/format.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "live.h"

namespace edleak::live {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

struct Totals {
  std::uint64_t bytes = 0;
  std::uint64_t blocks = 0;
  bool operator==(const Totals&) const = default;
};
// category ("definitely_lost"...) -> totals, per allocation site (the allocator's caller).
using Verdicts = std::map<std::string, std::map<std::string, Totals>>;

std::string dump(const Verdicts& v) {
  std::string s;
  for (const auto& [site, cats] : v) {
    s += site + ":";
    for (const auto& [cat, t] : cats) s += fmt::format(" {} {} B in {}", cat, t.bytes, t.blocks);
    s += "\n";
  }
  return s;
}

std::string valgrind_path() {
  for (const char* p : {"/usr/bin/valgrind", "/usr/local/bin/valgrind"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

std::string between(const std::string& text, const std::string& open, const std::string& close, std::size_t from = 0) {
  std::size_t a = text.find(open, from);
  if (a == std::string::npos) return "";
  a += open.size();
  std::size_t b = text.find(close, a);
  return b == std::string::npos ? "" : text.substr(a, b - a);
}

// valgrind --xml=yes: each leak <error> has a <kind> (Leak_DefinitelyLost...), its bytes and blocks
// (a definitely or possibly lost record's bytes include the indirect ones it leads: its <text>
// gives the direct part) and a stack whose first frame outside valgrind's allocator replacement
// is the allocation site.
Verdicts parse_valgrind_xml(const std::string& xml) {
  static const std::map<std::string, std::string> kinds = {{"Leak_DefinitelyLost", "definitely_lost"},
                                                          {"Leak_IndirectlyLost", "indirectly_lost"},
                                                          {"Leak_PossiblyLost", "possibly_lost"},
                                                          {"Leak_StillReachable", "still_reachable"}};
  Verdicts out;
  for (std::size_t at = 0; (at = xml.find("<error>", at)) != std::string::npos; ++at) {
    std::string error = between(xml, "<error>", "</error>", at);
    auto kind = kinds.find(between(error, "<kind>", "</kind>"));
    if (kind == kinds.end()) continue;
    Totals t;
    t.bytes = std::stoull(between(error, "<leakedbytes>", "</leakedbytes>"));
    t.blocks = std::stoull(between(error, "<leakedblocks>", "</leakedblocks>"));
    std::smatch m;
    std::string text = between(error, "<text>", "</text>");
    if (std::regex_search(text, m, std::regex(R"(\(([0-9,]+) direct)"))) {
      std::string digits = m[1];
      digits.erase(std::remove(digits.begin(), digits.end(), ','), digits.end());
      t.bytes = std::stoull(digits);
    }
    std::string site;
    for (std::size_t f = 0; (f = error.find("<frame>", f)) != std::string::npos; ++f) {
      std::string frame = between(error, "<frame>", "</frame>", f);
      if (between(frame, "<obj>", "</obj>").find("vgpreload") != std::string::npos) continue;
      site = between(frame, "<fn>", "</fn>");
      break;
    }
    auto& totals = out[site][kind->second];
    totals.bytes += t.bytes;
    totals.blocks += t.blocks;
  }
  return out;
}

// edleak-bpf's JSON: every listed stack with its reachability, summed per allocation site.
Verdicts edleak_verdicts(const nlohmann::json& process) {
  Verdicts out;
  for (const nlohmann::json& leaker : listed_stacks(process)) {
    if (leaker["reachability"].is_null() || leaker["stack"].empty()) continue;
    const auto& symbol = leaker["stack"][0]["symbol"];
    std::string site = symbol.is_string() ? symbol.get<std::string>() : "?";
    for (const auto& [category, totals] : leaker["reachability"].items()) {
      if (totals["blocks"].get<std::uint64_t>() == 0) continue;
      auto& t = out[site][category];
      t.bytes += totals["bytes"].get<std::uint64_t>();
      t.blocks += totals["blocks"].get<std::uint64_t>();
    }
  }
  return out;
}

Verdicts only(const Verdicts& all, const std::vector<std::string>& sites) {
  Verdicts out;
  for (const auto& site : sites)
    if (auto it = all.find(site); it != all.end()) out[site] = it->second;
  return out;
}

std::string dtls_library() { return testprog("libscan_dtls.so"); }

// scan_exit.c's sites and what LeakSanitizer and valgrind say of each at exit.
const std::vector<std::string> kExitSites = {
    "direct_leak",    "lost_parent",         "lost_child",  "cycle_first",   "cycle_second",
    "kept_in_global", "kept_in_tls",         "kept_in_key", "only_interior", "kept_in_dynamic_tls",
    "leaked_in_thread", "kept_by_thread",    "realloc_moved", "realloc_kept", "spacer"};

Verdicts expected_exit_verdicts() {
  return {
      {"direct_leak", {{"definitely_lost", {300, 3}}}},
      {"lost_parent", {{"definitely_lost", {64, 1}}}},
      {"lost_child", {{"indirectly_lost", {48, 1}}}},
      {"cycle_first", {{"definitely_lost", {32, 1}}}},   // the cycle's first block leads it
      {"cycle_second", {{"indirectly_lost", {32, 1}}}},
      {"kept_in_global", {{"still_reachable", {72, 1}}}},
      {"kept_in_tls", {{"still_reachable", {80, 1}}}},
      {"kept_in_key", {{"still_reachable", {96, 1}}}},
      {"only_interior", {{"possibly_lost", {104, 1}}}},
      {"kept_in_dynamic_tls", {{"still_reachable", {88, 1}}}},
      {"leaked_in_thread", {{"definitely_lost", {112, 1}}}},
      {"kept_by_thread", {{"still_reachable", {120, 1}}}},
      {"realloc_moved", {{"definitely_lost", {4000, 1}}}},
      {"realloc_kept", {{"still_reachable", {3000, 1}}}},
      {"spacer", {{"definitely_lost", {48, 2}}}},
  };
}

RunResult trace_exit_scan(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {tracer_path(), "-i", "100ms", "--format", "json", "-a", "--top", "1000"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.insert(argv.end(), {"--", testprog("scan_exit"), dtls_library()});
  return run(argv);
}

TEST(Scan, AtExitAgreesWithValgrind) {
  EDLEAK_REQUIRE_LIVE();
  std::string valgrind = valgrind_path();
  if (valgrind.empty()) {
    if (in_ci()) FAIL() << "CI=true but valgrind is not installed (scripts/setup installs it)";
    GTEST_SKIP() << "valgrind is not installed";
  }
  RunResult r = trace_exit_scan();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto* process = only_process(final_report(r));
  ASSERT_NE(process, nullptr) << r.out << r.err;
  const auto& scan = (*process)["scan"];
  ASSERT_TRUE(scan.is_object()) << process->dump();
  EXPECT_TRUE(scan["at_exit"].get<bool>());
  EXPECT_FALSE(scan["aborted"].get<bool>());
  EXPECT_TRUE(scan["error"].is_null());
  EXPECT_GT(scan["bytes_scanned"].get<std::uint64_t>(), 0u);
  Verdicts ours = only(edleak_verdicts(*process), kExitSites);

  std::string xml_path = fmt::format("/tmp/edleak-valgrind-{}.xml", getpid());
  RunResult vg = run({valgrind, "--leak-check=full", "--show-leak-kinds=all", "--xml=yes", "--xml-file=" + xml_path,
                      testprog("scan_exit"), dtls_library()},
                     std::chrono::seconds(110));
  std::ifstream in(xml_path);
  std::stringstream xml;
  xml << in.rdbuf();
  std::remove(xml_path.c_str());
  ASSERT_EQ(vg.exit_code, 0) << vg.err;
  Verdicts theirs = only(parse_valgrind_xml(xml.str()), kExitSites);

  EXPECT_EQ(ours, theirs) << "edleak-bpf:\n" << dump(ours) << "valgrind:\n" << dump(theirs);
  EXPECT_EQ(ours, expected_exit_verdicts()) << dump(ours);
}

TEST(Scan, TextReportSaysWhatIsLost) {
  EDLEAK_REQUIRE_LIVE();
  RunResult r = run({tracer_path(), "-i", "100ms", "--", testprog("scan_exit"), dtls_library()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("  scan at exit: frozen "));
  EXPECT_THAT(r.out, HasSubstr("      definitely lost: 300 B in 3 blocks\n"));
  EXPECT_THAT(r.out, HasSubstr("      indirectly lost: 48 B in 1 block\n"));
  // Listed without -a although no stack has a trend: they have lost blocks.
  EXPECT_THAT(r.out, HasSubstr("direct_leak+"));
  // Reachable stacks are not listed without -a.
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("kept_in_global+")));
}

TEST(Scan, FailOnDefinitelyLost) {
  EDLEAK_REQUIRE_LIVE();
  RunResult leaking = trace_exit_scan({"--fail-on", "definitely-lost"});
  EXPECT_EQ(leaking.exit_code, 3) << leaking.err;
  // Nothing lost: the one block it keeps is in a global.
  RunResult clean = run({tracer_path(), "-i", "100ms", "--fail-on", "definitely-lost", "--", testprog("scan_victim"), "1"});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  // The command's own failure comes first.
  RunResult failing = run({tracer_path(), "-i", "100ms", "--fail-on", "definitely-lost", "--", testprog("short_lived")});
  EXPECT_EQ(failing.exit_code, 7) << failing.err;
}

// Enough blocks for the BPF iterator to list them (app/capture: from 100,000 on): bench/scan_target.c
// chains its blocks from a global and drops one in ten.
TEST(Scan, ManyBlocksAtExit) {
  EDLEAK_REQUIRE_LIVE();
  RunResult r = run({tracer_path(), "-i", "1s", "--format", "json", "--", std::string(EDLEAK_BENCH_DIR) + "/scan_target",
                     "150000", "64", "exit"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto* process = only_process(final_report(r));
  ASSERT_NE(process, nullptr) << r.out << r.err;
  const auto& scan = (*process)["scan"];
  ASSERT_TRUE(scan.is_object() && !scan["reachability"].is_null()) << process->dump();
  EXPECT_GE(scan["blocks_scanned"].get<std::uint64_t>(), 150000u);
  EXPECT_EQ(scan["reachability"]["definitely_lost"]["blocks"], 15000);
  EXPECT_EQ(scan["reachability"]["definitely_lost"]["bytes"], 15000 * 64);
  EXPECT_GE(scan["reachability"]["still_reachable"]["blocks"].get<std::uint64_t>(), 135000u);
}

TEST(Scan, NoExitScan) {
  EDLEAK_REQUIRE_LIVE();
  RunResult r = trace_exit_scan({"--no-exit-scan"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto* process = only_process(final_report(r));
  ASSERT_NE(process, nullptr) << r.out;
  EXPECT_TRUE((*process)["scan"].is_null());
}

// ---- -p: scans of a running process --------------------------------------------------------

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The last report in `path` holding a scan of `pid` that satisfies `pred`, waiting up to `timeout`.
nlohmann::json wait_for_scan(const std::string& path, pid_t pid, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto lines = read_lines(path);
    for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
      auto report = nlohmann::json::parse(*it, nullptr, false);
      if (report.is_discarded()) continue;
      const auto* process = find_process(report, pid);
      if (process && (*process)["scan"].is_object()) return *process;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return nullptr;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// The state letter of /proc/PID/stat ('t': stopped by a tracer), '?' when gone.
char process_state(pid_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(stat, line)) return '?';
  auto paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() ? '?' : line[paren + 2];
}

// Every thread of pid stopped by a tracer.
bool all_threads_traced_stopped(pid_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  if (!stat) return false;
  std::string tasks = fmt::format("/proc/{}/task", pid);
  int threads = 0;
  for (const auto& entry : std::filesystem::directory_iterator(tasks)) {
    ++threads;
    std::ifstream t(entry.path() / "stat");
    std::string line;
    std::getline(t, line);
    auto paren = line.rfind(')');
    if (paren == std::string::npos || line[paren + 2] != 't') return false;
  }
  return threads > 0;
}

TEST(Scan, OnDemandSeesStacksRegistersAndThreadTls) {
  EDLEAK_REQUIRE_LIVE();
  Background program({testprog("scan_alive"), "20"});
  ASSERT_TRUE(program.wait_for_line("waiting"));
  std::string out_path = fmt::format("/tmp/edleak-scan-{}.json", getpid());
  Background tracer({tracer_path(), "-p", std::to_string(program.pid()), "-i", "200ms", "--format", "json", "-a",
                     "--top", "100", "-o", out_path});
  // Attached once the first report is written; then the program allocates.
  ASSERT_TRUE(wait_until([&] { return !read_lines(out_path).empty(); }, std::chrono::seconds(20)));
  kill(program.pid(), SIGUSR2);
  ASSERT_TRUE(program.wait_for_line("ready"));
  kill(tracer.pid(), SIGUSR1);
  nlohmann::json process = wait_for_scan(out_path, program.pid(), std::chrono::seconds(20));
  kill(tracer.pid(), SIGINT);
  EXPECT_EQ(tracer.wait(), 0);
  std::remove(out_path.c_str());
  ASSERT_TRUE(process.is_object());
  const auto& scan = process["scan"];
  EXPECT_FALSE(scan["at_exit"].get<bool>());
  EXPECT_FALSE(scan["aborted"].get<bool>()) << scan.dump();
  EXPECT_LT(scan["frozen_ms"].get<double>(), 300.0);
  Verdicts ours = only(edleak_verdicts(process), {"dropped", "on_stack", "in_register", "in_thread_tls"});
  // LeakSanitizer's verdicts: a pointer on a live stack, in a register, in static TLS: not a leak.
  Verdicts expected = {{"dropped", {{"definitely_lost", {144, 1}}}},
                       {"on_stack", {{"still_reachable", {128, 1}}}},
                       {"in_register", {{"still_reachable", {136, 1}}}},
                       {"in_thread_tls", {{"still_reachable", {152, 1}}}}};
  EXPECT_EQ(ours, expected) << dump(ours);
  // It ran on: the tracer let it go.
  EXPECT_NE(process_state(program.pid()), 't');
}

TEST(Scan, FreezeIsBoundedByMaxScanPause) {
  EDLEAK_REQUIRE_LIVE();
  Background program({testprog("scan_victim"), "60"});
  ASSERT_TRUE(program.wait_for_line("ready"));
  RunResult r = run({tracer_path(), "-p", std::to_string(program.pid()), "-i", "200ms", "-d", "1500ms", "--format",
                     "json", "--scan-every", "300ms", "--max-scan-pause", "100ms"},
                    std::chrono::seconds(30), {"EDLEAK_DEBUG_SCAN_SLEEP_MS=400"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr(fmt::format("scan of pid {} aborted after", program.pid())));
  const auto* process = find_process(final_report(r), program.pid());
  ASSERT_NE(process, nullptr) << r.out;
  const auto& scan = (*process)["scan"];
  ASSERT_TRUE(scan.is_object()) << process->dump();
  EXPECT_TRUE(scan["aborted"].get<bool>());
  EXPECT_TRUE(scan["reachability"].is_null());
  EXPECT_EQ(program.wait(), 0);
}

TEST(Scan, TracerKilledDuringAScanLeavesTheProcessRunning) {
  EDLEAK_REQUIRE_LIVE();
  Background program({testprog("scan_victim"), "60"});
  ASSERT_TRUE(program.wait_for_line("ready"));
  Background tracer({tracer_path(), "-p", std::to_string(program.pid()), "-i", "200ms", "-o", "/dev/null",
                     "--scan-every", "100ms", "--max-scan-pause", "60s"},
                    {"EDLEAK_DEBUG_SCAN_SLEEP_MS=30000"});
  // Frozen: every thread in a tracing stop.
  ASSERT_TRUE(wait_until([&] { return all_threads_traced_stopped(program.pid()); }, std::chrono::seconds(20)));
  kill(tracer.pid(), SIGKILL);
  EXPECT_EQ(tracer.wait(), 128 + SIGKILL);
  EXPECT_TRUE(wait_until([&] { return process_state(program.pid()) != 't'; }, std::chrono::seconds(2)))
      << "state " << process_state(program.pid());
  // It finishes its work (6 s of it) and exits 0.
  EXPECT_TRUE(program.wait_for_line("done", std::chrono::seconds(10)));
  EXPECT_EQ(program.wait(), 0);
}

TEST(Scan, TracerKilledDuringAnExitScanLetsTheCommandExit) {
  EDLEAK_REQUIRE_LIVE();
  // The command outlives its tracer: adopt it to see its exit status.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  Background tracer({tracer_path(), "-i", "200ms", "--", testprog("scan_victim"), "1"},
                    {"EDLEAK_DEBUG_SCAN_SLEEP_MS=30000"});
  ASSERT_TRUE(tracer.wait_for_line("done"));
  pid_t command = -1;
  ASSERT_TRUE(wait_until(
      [&] {
        std::ifstream children(fmt::format("/proc/{0}/task/{0}/children", tracer.pid()));
        return static_cast<bool>(children >> command);
      },
      std::chrono::seconds(10)));
  ASSERT_TRUE(wait_until([&] { return process_state(command) == 't'; }, std::chrono::seconds(10)));
  kill(tracer.pid(), SIGKILL);
  EXPECT_EQ(tracer.wait(), 128 + SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(command, &status, 0), command);  // reparented to us
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Scan, SigusrWithoutPidsIsHarmless) {
  EDLEAK_REQUIRE_LIVE();
  Background tracer({tracer_path(), "-i", "200ms", "-d", "3s", "-o", "/dev/null", "--", testprog("scan_victim"), "15"});
  ASSERT_TRUE(tracer.wait_for_line("ready"));
  kill(tracer.pid(), SIGUSR1);
  EXPECT_EQ(tracer.wait(), 0);
}

}  // namespace
}  // namespace edleak::live
