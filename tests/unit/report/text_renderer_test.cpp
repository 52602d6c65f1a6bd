#include "report/text_renderer.h"

#include <ctime>
#include <sstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sample_report.h"

namespace edleak::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using test_data::frame;
using test_data::sample_report;

std::string render_utc(const Report& report) {
  std::ostringstream out;
  TextRenderer(TextRenderer::TimeZone::utc).render(report, out);
  return out.str();
}

TEST(TextRenderer, SampleReport) {
  EXPECT_EQ(render_utc(sample_report()),
            "[10:00:12] edleak-bpf: 12 samples over 12.0s (interval 1s)\n"
            "lost: 0 allocs, 0 sites; stack errors: 0; untracked frees: 3; failed allocs: 0\n"
            "pid 1234 (server): 1 leaking of 57 stacks, 1.2 MiB outstanding\n"
            "  #1 linear      leak 14.7 KiB (15009 B), +1.2 KiB/s, outstanding 29.3 KiB in 30 blocks "
            "(31 allocs, 1 free)\n"
            "      push_item (list.h:12) [inlined]\n"
            "      leak_here+0x18 (server.c:42) [/usr/bin/server]\n"
            "      main+0x4a (server.c:90) [/usr/bin/server]\n"
            "      0x7f12a0c3b191 [/usr/lib/x86_64-linux-gnu/libc.so.6]\n"
            "      0x1234 [unknown]\n"
            "pid 99 (idle, exited): no leaks detected among 1 stack, 1 B outstanding\n"
            "\n");
}

TEST(TextRenderer, FinalReportIsMarked) {
  Report r = sample_report();
  r.final = true;
  r.interval_s = 0.5;
  r.samples = 1;
  r.elapsed_s = 0.5;
  EXPECT_THAT(render_utc(r), StartsWith("[10:00:12] edleak-bpf: final report, 1 sample over 0.5s (interval 500ms)\n"));
}

TEST(TextRenderer, LeakersInTheOrderGivenNumberedFromOne) {
  Report r = sample_report();
  Leaker small = r.processes[0].leakers[0];
  small.leak_factor.cls = classify::LeakClass::logarithmic;
  small.leak_factor.leak = 100;
  small.leak_factor.growth_bytes_per_s = -3;
  small.stack = {frame(0x10, "cache_put", 0, "/lib/libcache.so", "cache.c", 0)};
  small.outstanding_allocs = 1;
  small.total_frees = 0;
  r.processes[0].leakers.push_back(small);
  r.processes[0].leaking_stacks = 2;
  std::string text = render_utc(r);
  EXPECT_THAT(text, HasSubstr("  #2 logarithmic leak 100 B (100 B), -3.0 B/s, outstanding 29.3 KiB in 1 block "
                              "(31 allocs, 0 frees)\n"
                              "      cache_put+0x0 (cache.c) [/lib/libcache.so]\n"));
  EXPECT_THAT(text, HasSubstr("pid 1234 (server): 2 leaking of 57 stacks"));
  EXPECT_LT(text.find("  #1 linear"), text.find("  #2 logarithmic"));
}

TEST(TextRenderer, LongStacksAreCut) {
  Report r = sample_report();
  std::vector<symbolize::Frame>& stack = r.processes[0].leakers[0].stack;
  stack.clear();
  for (int i = 0; i < 20; ++i) stack.push_back(frame(0x1000 + i, fmt::format("f{}", i), 1, "/bin/x"));
  std::string text = render_utc(r);
  EXPECT_THAT(text, HasSubstr("      f15+0x1 [/bin/x]\n      ... 4 more frames\npid 99"));
  EXPECT_THAT(text, Not(HasSubstr("f16")));
  stack.resize(TextRenderer::kMaxFrames + 1);
  EXPECT_THAT(render_utc(r), HasSubstr("      ... 1 more frame\n"));
  stack.resize(TextRenderer::kMaxFrames);
  EXPECT_THAT(render_utc(r), Not(HasSubstr("more frame")));
}

TEST(TextRenderer, EmptyStackSaysSo) {
  Report r = sample_report();
  r.processes[0].leakers[0].stack.clear();
  EXPECT_THAT(render_utc(r), HasSubstr("1 free)\n      [no stack]\npid 99"));
}

TEST(TextRenderer, NoProcesses) {
  Report r = sample_report();
  r.processes.clear();
  EXPECT_EQ(render_utc(r),
            "[10:00:12] edleak-bpf: 12 samples over 12.0s (interval 1s)\n"
            "lost: 0 allocs, 0 sites; stack errors: 0; untracked frees: 3; failed allocs: 0\n"
            "no process with outstanding allocations\n"
            "\n");
}

TEST(TextRenderer, DropsPointAtTheLimitToRaise) {
  Report r = sample_report();
  r.stats = {.lost_allocs = 5, .stack_errors = 2, .lost_sites = 1, .unknown_frees = 0, .failed_allocs = 1,
             .overwritten_blocks = 3, .lost_events = 2};
  EXPECT_THAT(render_utc(r),
              HasSubstr("\nlost: 5 allocs, 1 site; stack errors: 2; untracked frees: 0; failed allocs: 1"
                        "; blocks allocated over missed frees: 3; process events lost: 2"
                        " (incomplete: raise --max-allocs) (incomplete: raise --max-stacks)\n"));
}

TEST(TextRenderer, WhatMakingRoomInTheMapsCostIsShownWhenItHappened) {
  Report r = sample_report();
  EXPECT_THAT(render_utc(r), Not(HasSubstr("room")));
  r.stats.evicted_idle_sites = 1200;
  r.stats.evicted_holding_sites = 30;
  r.stats.refused_site_allocs = 560;
  r.stats.orphan_frees = 4;
  auto& room = r.processes[0].room;
  room.evicted_idle = 1200;
  room.evicted_holding = 30;
  room.evicted_holding_bytes = 2048;
  room.refused_site_allocs = 560;
  const std::string text = render_utc(r);
  EXPECT_THAT(text, HasSubstr("; room: 1200 idle stacks evicted, 30 stacks evicted holding blocks, allocs refused over a "
                              "share: 560 (new stacks), 0 (blocks), frees of evicted stacks' blocks: 4\n"));
  EXPECT_THAT(text, HasSubstr("\n  room: 1200 idle stacks evicted (counts kept), 30 stacks evicted holding 2.0 KiB "
                              "(over its share of the sites map, not counted since), 560 allocs of new stacks refused "
                              "(over its share of the sites map)\n"));
}

TEST(TextRenderer, SaysWhoAProcessIsAndHowItEnded) {
  Report r = sample_report();
  auto& p = r.processes[0];
  p.parent_pid = 77;
  p.ns_pid = 7;
  p.cgroup = "/system.slice/docker-1.scope";
  p.exited = true;
  p.exit_status = 3 << 8;
  p.command = "./server --port 80";
  p.notes = {"add -f"};
  std::string text = render_utc(r);
  EXPECT_THAT(text, HasSubstr("pid 1234 (server, child of 77, pid 7 in its namespace, cgroup "
                              "/system.slice/docker-1.scope, exited with status 3): "));
  EXPECT_THAT(text, HasSubstr("\n  command: ./server --port 80\n  note: add -f\n"));
  p.exit_status = 9;  // killed by SIGKILL
  EXPECT_THAT(render_utc(r), HasSubstr(", killed by signal 9): "));
  p.exited = false;
  p.exec_ended = true;
  EXPECT_THAT(render_utc(r), HasSubstr("pid 1234 (server, child of 77, pid 7 in its namespace, cgroup "
                                       "/system.slice/docker-1.scope, exec'd another program): "));
}

TEST(TextRenderer, EscapesControlBytesFromTheTracedProcess) {
  Report r = sample_report();
  r.processes[0].comm = "evil\x1b[2J";
  r.processes[0].leakers[0].stack[0].symbol = "f\n";
  std::string text = render_utc(r);
  EXPECT_THAT(text, HasSubstr("pid 1234 (evil\\x1b[2J): "));
  EXPECT_THAT(text, HasSubstr("      f\\x0a+0x18 (server.c:42)"));
  EXPECT_THAT(text, Not(HasSubstr("\x1b")));
}

TEST(TextRenderer, LocalTimeByDefault) {
  Report r = sample_report();
  std::time_t t = std::chrono::system_clock::to_time_t(r.time);
  std::tm local{};
  ASSERT_NE(localtime_r(&t, &local), nullptr);
  std::ostringstream out;
  TextRenderer().render(r, out);
  EXPECT_THAT(out.str(), StartsWith(fmt::format("[{:02}:{:02}:{:02}] edleak-bpf: ", local.tm_hour, local.tm_min,
                                                local.tm_sec)));
}

TEST(MakeRenderer, TextFormatGivesTheTextRenderer) {
  std::ostringstream out;
  make_renderer(Format::text)->render(sample_report(), out);
  EXPECT_THAT(out.str(), HasSubstr("\npid 1234 (server): 1 leaking of 57 stacks"));
}

}  // namespace
}  // namespace edleak::report

namespace edleak::report {
namespace {

TEST(TextRenderer, NoVerdictBeforeEnoughSamples) {
  Report r = test_data::sample_report();
  r.samples = 3;
  r.processes[0].leakers.clear();
  std::ostringstream out;
  TextRenderer(TextRenderer::TimeZone::utc).render(r, out);
  EXPECT_THAT(out.str(), ::testing::HasSubstr("pid 1234 (server): 57 stacks, 1.2 MiB outstanding; no verdict before 8 samples (3 so far)\n"));
  EXPECT_THAT(out.str(), ::testing::Not(::testing::HasSubstr("no leaks detected")));
}

}  // namespace
}  // namespace edleak::report
