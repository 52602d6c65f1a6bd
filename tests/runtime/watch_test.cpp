// Live tests of the watch mode (no -p, no command): every process's heap is read each interval
// and only a process whose heap grows like a leak has its allocator probed, for a window.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "live.h"

namespace edleak::live {
namespace {

using json = nlohmann::json;

std::vector<json> read_reports(const std::string& path) {
  std::vector<json> reports;
  std::ifstream lines(path);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) reports.push_back(json::parse(line));
  return reports;
}

// 50 steady processes (churning through a ring of written blocks: a flat heap) and one that
// leaks 32 KiB blocks, started at a random moment after the tracer: the leaking one is zoomed and
// its leaking stack reported at its site with exact sizes; no steady one is ever zoomed. Beside
// them, one whose heap grows by sbrk() (no allocator call): zoomed, and its growth said to be
// unexplained by the traced calls.
TEST(Watch, TheLeakingProcessAmongFiftySteadyOnesIsFoundAndOnlyIt) {
  EDLEAK_REQUIRE_LIVE();
  std::vector<std::unique_ptr<Background>> steady;
  std::set<int> steady_pids;
  for (int i = 0; i < 50; ++i) {
    steady.push_back(std::make_unique<Background>(std::vector<std::string>{testprog("heap_grower"), "steady", "200"}));
    steady_pids.insert(steady.back()->pid());
  }
  for (auto& s : steady) ASSERT_TRUE(s->wait_for_line("ready"));
  char dir[] = "/tmp/edleak-watch-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string output = std::string(dir) + "/reports.json";
  std::error_code ec;
  // --max-zoom above one: a steady process taken for a suspect would be zoomed too, and seen.
  Background tracer({tracer_path(), "-i", "200ms", "-d", "40s", "--zoom", "20s", "--max-zoom", "8",
                     "--suspect-after", "2s", "--format", "json",
                     "-o", output});
  // Started once the tracer reports (loading takes seconds, more on a loaded machine), at a
  // random moment after.
  const auto load_started = std::chrono::steady_clock::now();
  while (std::filesystem::file_size(output, ec) == 0 || ec) {
    ASSERT_LT(std::chrono::steady_clock::now() - load_started, std::chrono::seconds(120)) << "no report";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::mt19937 rng(std::random_device{}());
  const auto delay = std::chrono::milliseconds(rng() % 4000);
  std::this_thread::sleep_for(delay);
  Background leaker({testprog("heap_grower"), "leak", "34"});
  Background breaker({testprog("heap_grower"), "sbrk", "34"});
  ASSERT_TRUE(leaker.wait_for_line("ready"));
  ASSERT_TRUE(breaker.wait_for_line("ready"));
  ASSERT_EQ(tracer.wait(), 0);
  const std::vector<json> reports = read_reports(output);
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(reports.empty());

  bool heap_linear = false, zoomed = false, breaker_zoomed = false, breaker_explained = false;
  const json* found = nullptr;
  double found_at = 0;
  std::string seen;
  for (const json& report : reports) {
    ASSERT_FALSE(report["watch"].is_null());
    EXPECT_GE(report["watch"]["processes"].get<std::uint64_t>(), 51u);
    for (const json& p : report["processes"]) {
      const int pid = p["pid"].get<int>();
      if (steady_pids.count(pid)) {
        EXPECT_FALSE(!p["heap"].is_null() && p["heap"]["zoomed"].get<bool>()) << "steady pid " << pid << " zoomed";
        EXPECT_TRUE(p["leakers"].empty()) << "steady pid " << pid << " traced";
      }
      if (pid == breaker.pid()) {
        breaker_zoomed = breaker_zoomed || (!p["heap"].is_null() && p["heap"]["zoomed"].get<bool>());
        for (const auto& note : p["notes"])
          breaker_explained = breaker_explained || note.get<std::string>().find("not from traced allocator calls") !=
                                                        std::string::npos;
        EXPECT_EQ(find_leaker(p, "grow_break"), nullptr);
      }
      if (pid != leaker.pid()) continue;
      if (!p["heap"].is_null()) {
        heap_linear = heap_linear || p["heap"]["leak_factor"]["class"] == "linear";
        zoomed = zoomed || p["heap"]["zoomed"].get<bool>();
      }
      const json* l = find_leaker(p, "leak_chunk");
      if (l && (*l)["leak_factor"]["class"] == "linear") {
        if (!found) found_at = report["elapsed_s"].get<double>();
        found = l;  // the last one: the most blocks
      }
      seen += fmt::format("t={} heap={} leakers={}\n", report["elapsed_s"].dump(), p["heap"].dump().substr(0, 300),
                          p["leakers"].size());
    }
  }
  EXPECT_TRUE(breaker_zoomed);
  EXPECT_TRUE(breaker_explained);
  EXPECT_TRUE(heap_linear) << seen;
  EXPECT_TRUE(zoomed) << seen;
  ASSERT_NE(found, nullptr) << seen;
  // Exact: every outstanding block of the site is one 32 KiB leak, none freed.
  EXPECT_EQ((*found)["outstanding_bytes"].get<std::uint64_t>(), 32768 * (*found)["outstanding_allocs"].get<std::uint64_t>());
  EXPECT_EQ((*found)["total_frees"].get<std::uint64_t>(), 0u);
  EXPECT_GE((*found)["outstanding_allocs"].get<std::uint64_t>(), 8u);
  EXPECT_NE((*found)["stack"][0]["file"].get<std::string>().find("heap_grower.c"), std::string::npos);
  std::cerr << "leak found " << found_at << " s into the run (leaker started ~" << delay.count() / 1000.0
            << " s after the first report)\n";
  for (auto& s : steady) kill(s->pid(), SIGTERM);
}

// Debian's own python3.11 (no frame pointers, stripped to .dynsym) serving "requests", one in 20
// of which keeps its 2 KB response in a global list: watch mode zooms it unasked and reports the
// leaking stack as linear, exact in bytes (every block is one response string) and whole down
// to _start.
TEST(Watch, DebiansPythonLeakingOneResponseInTwentyIsZoomedAndItsStackReported) {
  EDLEAK_REQUIRE_LIVE();
  const std::string python = "/usr/bin/python3.11";
  ASSERT_TRUE(std::filesystem::exists(python)) << "scripts/setup installs python3.11";
  const std::string body = "('r%06d' % i) * 300";
  RunResult sized = run({python, "-c", "import sys; i = 0; print(sys.getsizeof(" + body + "))"});
  ASSERT_EQ(sized.exit_code, 0) << sized.err;
  const std::uint64_t block = std::stoull(sized.out);
  const std::string server = "import time\n"
                             "history = []\n"
                             "def handle(i):\n"
                             "    body = " + body + "\n"
                             "    if i % 20 == 0:\n"
                             "        history.append(body)\n"
                             "    return len(body)\n"
                             "print('ready', flush=True)\n"
                             "i = 0\n"
                             "while True:\n"
                             "    for _ in range(100):\n"
                             "        handle(i); i += 1\n"
                             "    time.sleep(0.01)\n";
  Background leaker({python, "-c", server});
  ASSERT_TRUE(leaker.wait_for_line("ready"));
  char dir[] = "/tmp/edleak-watch-py-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string output = std::string(dir) + "/reports.json";
  Background tracer({tracer_path(), "-i", "250ms", "-d", "20s", "--zoom", "15s", "--max-zoom", "16",
                     "--suspect-after", "2s", "--format", "json", "-o", output});
  ASSERT_EQ(tracer.wait(), 0);
  kill(leaker.pid(), SIGTERM);
  const std::vector<json> reports = read_reports(output);
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(reports.empty());
  const json* found = nullptr;
  bool zoomed = false;
  for (const json& p : reports.back()["processes"]) {
    if (p["pid"].get<int>() != leaker.pid()) continue;
    zoomed = !p["heap"].is_null() && p["heap"]["zoomed"].get<bool>();
    for (const json& l : p["leakers"])
      if (l["leak_factor"]["class"] == "linear" && l["outstanding_allocs"].get<std::uint64_t>() > 0 &&
          l["outstanding_bytes"].get<std::uint64_t>() == block * l["outstanding_allocs"].get<std::uint64_t>())
        found = &l;
  }
  ASSERT_TRUE(zoomed) << reports.back().dump().substr(0, 2000);
  ASSERT_NE(found, nullptr) << reports.back().dump().substr(0, 4000);
  // Whole without frame pointers: from the allocator's caller in python3.11 down to _start.
  const json& stack = (*found)["stack"];
  ASSERT_GE(stack.size(), 5u);
  EXPECT_NE(stack[0]["module"].get<std::string>().find("python3.11"), std::string::npos) << stack.dump();
  std::string symbols;
  for (const json& frame : stack) symbols += frame["symbol"].is_string() ? frame["symbol"].get<std::string>() + " " : "? ";
  EXPECT_NE(symbols.find("PyEval_EvalCode"), std::string::npos) << symbols;
  EXPECT_NE(symbols.find("Py_BytesMain"), std::string::npos) << symbols;
  EXPECT_NE(symbols.find("_start"), std::string::npos) << symbols;
  EXPECT_GE((*found)["outstanding_allocs"].get<std::uint64_t>(), 100u);
}

// A window holds at most its share of the stack table (--max-stacks / --max-zoom): a process
// leaking from 576 stacks, with a share of 256, has its window ended early and says why, while a
// process leaking from one stack beside it is still traced and its leak reported.
TEST(Watch, AProcessWithMoreStacksThanItsShareHasItsWindowEndedEarly) {
  EDLEAK_REQUIRE_LIVE();
  char dir[] = "/tmp/edleak-watch-share-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string output = std::string(dir) + "/reports.json";
  Background wide({testprog("heap_grower"), "wide", "40"});
  Background narrow({testprog("heap_grower"), "leak", "40"});
  ASSERT_TRUE(wide.wait_for_line("ready"));
  ASSERT_TRUE(narrow.wait_for_line("ready"));
  Background tracer({tracer_path(), "-i", "200ms", "-d", "20s", "--zoom", "15s", "--max-zoom", "16",
                     "--suspect-after", "2s", "--max-stacks", "4096", "--format", "json", "-o", output});
  ASSERT_EQ(tracer.wait(), 0);
  kill(wide.pid(), SIGTERM);
  kill(narrow.pid(), SIGTERM);
  const std::vector<json> reports = read_reports(output);
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(reports.empty());
  bool wide_zoomed = false, wide_ended = false, wide_after = false, narrow_found = false;
  std::string seen;
  for (const json& report : reports)
    for (const json& p : report["processes"]) {
      const bool zoomed = !p["heap"].is_null() && p["heap"]["zoomed"].get<bool>();
      if (p["pid"].get<int>() == wide.pid()) {
        seen += fmt::format("t={} zoomed={} leakers={} notes={}\n", report["elapsed_s"].dump(), zoomed,
                            p["leakers"].size(), p["notes"].dump());
        if (wide_ended && zoomed) wide_after = true;
        wide_zoomed = wide_zoomed || zoomed;
        for (const auto& note : p["notes"])
          if (note.get<std::string>().find("window ended early, not traced again: ") != std::string::npos &&
              note.get<std::string>().find("share of --max-stacks (256 = 4096 / --max-zoom 16)") != std::string::npos)
            wide_ended = true;
      }
      if (p["pid"].get<int>() == narrow.pid()) {
        const json* l = find_leaker(p, "leak_chunk");
        narrow_found = narrow_found || (l && (*l)["leak_factor"]["class"] == "linear");
      }
    }
  EXPECT_TRUE(wide_zoomed) << seen;
  EXPECT_TRUE(wide_ended) << seen;
  EXPECT_FALSE(wide_after) << "zoomed again at once: " << seen;
  EXPECT_TRUE(narrow_found);
}

// A recorded watch-mode run keeps every watched process's heap: its replay shows the final
// report's watch line, and each process listed with its heap, its notes and its stacks' verdicts,
// as the live report did. (A run of its own: on a busy machine the record of a zoomed compiler's
// thousands of stacks holds the tracer up while it is written, which the test above must not
// suffer.)
TEST(Watch, RecordReplaysTheHeapsAsTheFinalReport) {
  EDLEAK_REQUIRE_LIVE();
  Background leaker({testprog("heap_grower"), "leak", "20"});
  ASSERT_TRUE(leaker.wait_for_line("ready"));
  char dir[] = "/tmp/edleak-watch-record-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string output = std::string(dir) + "/reports.json", record = std::string(dir) + "/watch.edlk";
  const RunResult r = run({tracer_path(), "-i", "200ms", "-d", "12s", "--zoom", "20s", "--max-zoom", "2",
                           "--suspect-after", "2s", "--format", "json", "-o", output, "--record", record},
                          std::chrono::seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> reports = read_reports(output);
  const json replay = replayed_report(record);
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(reports.empty());
  const json& last = reports.back();
  ASSERT_FALSE(last["watch"].is_null());
  EXPECT_EQ(replay["watch"], last["watch"]);
  ASSERT_EQ(replay["processes"].size(), last["processes"].size()) << "live: " << last.dump().substr(0, 4000)
                                                                  << "\nreplayed: " << replay.dump().substr(0, 4000);
  std::size_t heaps = 0;
  for (std::size_t i = 0; i < last["processes"].size(); ++i) {
    const json &live_p = last["processes"][i], &replayed_p = replay["processes"][i];
    EXPECT_EQ(replayed_p["pid"], live_p["pid"]);
    EXPECT_EQ(replayed_p["comm"], live_p["comm"]);
    EXPECT_EQ(replayed_p["heap"], live_p["heap"]) << "pid " << live_p["pid"];
    EXPECT_EQ(replayed_p["notes"], live_p["notes"]) << "pid " << live_p["pid"];
    heaps += !live_p["heap"].is_null();
  }
  EXPECT_GE(heaps, 1u) << last.dump().substr(0, 4000);  // the leaker at least: growing
  EXPECT_EQ(leak_factors(replay), leak_factors(last));
}

// Usage errors name the watch-mode options that do not apply.
TEST(Watch, ZoomOptionsNeedTheWatchMode) {
  RunResult r = run({tracer_path(), "--zoom", "1m", "-p", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--zoom applies to the watch mode"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace edleak::live
