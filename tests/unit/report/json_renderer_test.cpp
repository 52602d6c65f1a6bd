#include "report/json_renderer.h"

#include <algorithm>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "classify/leak_factor_json.h"
#include "sample_report.h"

namespace edleak::report {
namespace {

using nlohmann::json;
using test_data::sample_report;
using test_data::sample_time;

std::string render(const Report& report) {
  std::ostringstream out;
  JsonRenderer().render(report, out);
  return out.str();
}

// Renders, checks the output is exactly one line, parses it back.
json render_and_parse(const Report& report) {
  std::string line = render(report);
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
  return json::parse(line);
}

TEST(JsonRenderer, TopLevelFields) {
  json j = render_and_parse(sample_report());
  EXPECT_EQ(j["time"], "2026-11-24T10:00:12Z");
  EXPECT_EQ(j["elapsed_s"], 12.0);
  EXPECT_EQ(j["interval_s"], 1.0);
  EXPECT_EQ(j["samples"], 12);
  EXPECT_EQ(j["final"], false);
  EXPECT_EQ(j["stats"], json::parse(R"({"lost_allocs": 0, "stack_errors": 0, "lost_sites": 0,
                                         "unknown_frees": 3, "failed_allocs": 0, "overwritten_blocks": 0,
                                         "lost_events": 0, "evicted_idle_sites": 0, "evicted_holding_sites": 0,
                                         "refused_site_allocs": 0, "refused_block_allocs": 0, "orphan_frees": 0})"));
  ASSERT_TRUE(j["processes"].is_array());
  EXPECT_EQ(j["processes"].size(), 2u);
}

TEST(JsonRenderer, Processes) {
  json j = render_and_parse(sample_report());
  const json& server = j["processes"][0];
  EXPECT_EQ(server["pid"], 1234);
  EXPECT_EQ(server["comm"], "server");
  EXPECT_EQ(server["exited"], false);
  EXPECT_EQ(server["outstanding_bytes"], 1258291);
  EXPECT_EQ(server["stacks"], 57);
  EXPECT_EQ(server["leaking_stacks"], 1);
  EXPECT_EQ(server["total_allocs"], 40);
  EXPECT_EQ(server["total_frees"], 3);
  EXPECT_EQ(server["leakers"].size(), 1u);
  const json& idle = j["processes"][1];
  EXPECT_EQ(idle["pid"], 99);
  EXPECT_EQ(idle["exited"], true);
  EXPECT_EQ(idle["leakers"], json::array());
}

TEST(JsonRenderer, Leaker) {
  Report r = sample_report();
  json leaker = render_and_parse(r)["processes"][0]["leakers"][0];
  EXPECT_EQ(leaker["outstanding_bytes"], 30000);
  EXPECT_EQ(leaker["outstanding_allocs"], 30);
  EXPECT_EQ(leaker["total_allocs"], 31);
  EXPECT_EQ(leaker["total_frees"], 1);
  EXPECT_EQ(leaker["stack_id"], "0x9e3779b97f4a7c15");
  // Same object as `edleak-bpf classify --format json`, with edLeak's names.
  EXPECT_EQ(leaker["leak_factor"], classify::to_json(r.processes[0].leakers[0].leak_factor));
  EXPECT_EQ(leaker["leak_factor"]["class"], "linear");
  EXPECT_EQ(leaker["leak_factor"]["leak"], 15009);
  EXPECT_EQ(leaker["leak_factor"]["coef"], json::parse("[-0.03, 0.97, 0.017]"));
  EXPECT_EQ(leaker["leak_factor"]["min_size"], 2000.0);
  EXPECT_EQ(leaker["leak_factor"]["max_size"], 18000.0);
}

TEST(JsonRenderer, FramesWithEveryKeyAndNullWhenUnknown) {
  json stack = render_and_parse(sample_report())["processes"][0]["leakers"][0]["stack"];
  ASSERT_EQ(stack.size(), 4u);
  EXPECT_EQ(stack[0], json::parse(R"({"addr": "0x55d0c2a1b191", "symbol": "leak_here", "offset": 24,
      "module": "/usr/bin/server", "module_offset": null, "file": "server.c", "line": 42,
      "inlined": [{"symbol": "push_item", "file": "list.h", "line": 12}]})"));
  EXPECT_EQ(stack[1], json::parse(R"({"addr": "0x55d0c2a1b2ca", "symbol": "main", "offset": 74,
      "module": "/usr/bin/server", "module_offset": null, "file": "server.c", "line": 90})"));
  EXPECT_EQ(stack[2], json::parse(R"({"addr": "0x7f12a0c3b191", "symbol": null, "offset": null,
      "module": "/usr/lib/x86_64-linux-gnu/libc.so.6", "module_offset": null, "file": null, "line": null})"));
  EXPECT_EQ(stack[3], json::parse(R"({"addr": "0x1234", "symbol": null, "offset": null,
      "module": null, "module_offset": null, "file": null, "line": null})"));
}

TEST(JsonRenderer, FileWithoutLine) {
  symbolize::Frame f = test_data::frame(0x10, "f", 0, "/bin/x", "x.c", 0);
  f.inlined.push_back({"", "", 0});
  // Compared as an unordered object: key order is pinned by EmptyReport.
  EXPECT_EQ(json::parse(to_json(f).dump()), json::parse(R"({"addr": "0x10", "symbol": "f", "offset": 0, "module": "/bin/x", "module_offset": null,
      "file": null, "line": null, "inlined": [{"symbol": null, "file": "x.c", "line": null}]})"));
}

TEST(JsonRenderer, FinalFlag) {
  Report r = sample_report();
  r.final = true;
  EXPECT_EQ(render_and_parse(r)["final"], true);
}

TEST(JsonRenderer, EmptyReport) {
  Report r;
  r.time = sample_time();
  EXPECT_EQ(render(r),
            R"({"time":"2026-11-24T10:00:12Z","elapsed_s":0.0,"interval_s":0.0,"samples":0,"final":false,)"
            R"("stats":{"lost_allocs":0,"stack_errors":0,"lost_sites":0,"unknown_frees":0,"failed_allocs":0,)"
            R"("overwritten_blocks":0,"lost_events":0,"evicted_idle_sites":0,"evicted_holding_sites":0,)"
            R"("refused_site_allocs":0,"refused_block_allocs":0,"orphan_frees":0},)"
            R"("processes":[],"watch":null})"
            "\n");
}

TEST(JsonRenderer, ProcessIdentityAndHistory) {
  Report r = sample_report();
  json plain = render_and_parse(r)["processes"][0];
  EXPECT_EQ(plain["parent_pid"], nullptr);
  EXPECT_EQ(plain["exit_status"], nullptr);
  EXPECT_EQ(plain["exec_ended"], false);
  EXPECT_EQ(plain["notes"], json::array());
  auto& p = r.processes[0];
  p.parent_pid = 77;
  p.command = "./server -v";
  p.exit_status = 256;
  p.ns_pid = 7;
  p.cgroup = "/c";
  p.exec_ended = true;
  p.notes = {"add -f"};
  json j = render_and_parse(r)["processes"][0];
  EXPECT_EQ(j["parent_pid"], 77);
  EXPECT_EQ(j["command"], "./server -v");
  EXPECT_EQ(j["exit_status"], 256);
  EXPECT_EQ(j["ns_pid"], 7);
  EXPECT_EQ(j["cgroup"], "/c");
  EXPECT_EQ(j["exec_ended"], true);
  EXPECT_EQ(j["notes"], json::array({"add -f"}));
}

TEST(JsonRenderer, StringsWithNewlinesStayOnOneLine) {
  Report r = sample_report();
  r.processes[0].comm = "two\nlines";
  EXPECT_EQ(render_and_parse(r)["processes"][0]["comm"], "two\nlines");
}

TEST(JsonRenderer, InvalidUtf8IsReplacedNotThrown) {
  Report r = sample_report();
  r.processes[0].comm = "bad\xff\xfe";
  json j;
  ASSERT_NO_THROW(j = render_and_parse(r));
  EXPECT_EQ(j["processes"][0]["comm"], "bad\xef\xbf\xbd\xef\xbf\xbd");  // two U+FFFD
}

TEST(JsonRenderer, ReportsFollowEachOtherOneLineEach) {
  std::ostringstream out;
  JsonRenderer renderer;
  renderer.render(sample_report(), out);
  renderer.render(sample_report(), out);
  std::istringstream lines(out.str());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    EXPECT_EQ(json::parse(line)["samples"], 12);
    ++count;
  }
  EXPECT_EQ(count, 2);
}

TEST(FormatUtcIso8601, WholeSecondsInUtc) {
  EXPECT_EQ(format_utc_iso8601(sample_time() + std::chrono::milliseconds(999)), "2026-11-24T10:00:12Z");
  EXPECT_EQ(format_utc_iso8601(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00Z");
}

TEST(MakeRenderer, JsonFormatGivesJsonLines) {
  std::ostringstream out;
  make_renderer(Format::json)->render(sample_report(), out);
  EXPECT_EQ(json::parse(out.str())["processes"][0]["pid"], 1234);
}

}  // namespace
}  // namespace edleak::report
