// A replay judges exactly as the live run did. A synthetic capture (synthetic_capture.h) is
// reported as the tracer reports, recorded, written, read back and replayed: every stack's leak
// factor, and the whole report, is the live one. Watch mode's heaps likewise.
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "app/recording.h"
#include "app/watch_report.h"
#include "record/format.h"
#include "report/json_renderer.h"
#include "synthetic_capture.h"

namespace edleak::app {
namespace {

using nlohmann::json;

using synthetic::kHelper;
using synthetic::kServer;
using synthetic::resolver_of;
using synthetic::synthetic_run;
using synthetic::SyntheticRun;

ReportContext live_context(const SyntheticRun& run) {
  ReportContext c;  // as the tracer's for -p PID (attached), final, -a
  c.time = std::chrono::system_clock::time_point(std::chrono::seconds(1795514412));
  c.elapsed_s = run.elapsed_s;
  c.interval_s = 0.25;
  c.top = 50;
  c.all_stacks = true;
  c.final = true;
  c.list_quiet_processes = true;
  c.attached = true;
  return c;
}

RecordingContext recording_context(const ReportContext& c) {
  RecordingContext r;
  r.time = c.time;
  r.elapsed_s = c.elapsed_s;
  r.interval_s = c.interval_s;
  r.final = true;
  r.targets_named = c.list_quiet_processes;
  r.attached = c.attached;
  r.min_leak_bytes = c.min_leak_bytes;
  r.min_leak_share = c.min_leak_share;
  return r;
}

json as_json(const report::Report& report) {
  std::ostringstream out;
  report::JsonRenderer().render(report, out);
  return json::parse(out.str());
}

// Every stack's leak factor, by (pid, stack id).
std::map<std::pair<std::uint32_t, std::string>, json> factors_of(const json& report) {
  std::map<std::pair<std::uint32_t, std::string>, json> out;
  for (const json& p : report["processes"])
    for (const char* list : {"leakers", "other_stacks"})
      for (const json& l : p[list]) out[{p["pid"].get<std::uint32_t>(), l["stack_id"]}] = l["leak_factor"];
  return out;
}

// Through the file, as `edleak-bpf report FILE` reads it.
record::Recording written_and_read(const record::Recording& recording) {
  auto back = record::decode(record::encode(recording));
  EXPECT_TRUE(back) << back.error().message;
  return back ? std::move(*back) : record::Recording{};
}

TEST(ReplayFidelity, EveryStackIsJudgedAsLiveFieldForField) {
  const SyntheticRun run = synthetic_run();
  const ReportContext context = live_context(run);
  const json live = as_json(build_report(run.table, run.infos, resolver_of(run), context));
  const record::Recording recording =
      written_and_read(make_recording(run.table, run.infos, resolver_of(run), recording_context(context)));
  const json replayed = as_json(replay_report(recording, context.top, context.all_stacks));

  const auto live_factors = factors_of(live), replayed_factors = factors_of(replayed);
  ASSERT_EQ(live_factors.size(), 8u) << live.dump();
  EXPECT_EQ(replayed_factors, live_factors);
  for (const auto& [key, factor] : live_factors) {
    ASSERT_TRUE(replayed_factors.count(key)) << key.second;
    EXPECT_EQ(replayed_factors.at(key), factor) << "pid " << key.first << " stack " << key.second;
  }
  // The rest of the report too: stacks, counts, processes, notes, allocators, kinds.
  EXPECT_EQ(replayed, live) << "live:     " << live.dump() << "\nreplayed: " << replayed.dump();

  // The run has what v2 records lost: a verdict on old blocks, and series whose lows are not
  // their means.
  std::set<std::string> evidence;
  for (const auto& [key, factor] : live_factors) evidence.insert(factor["evidence"].get<std::string>());
  EXPECT_TRUE(evidence.count("age")) << live.dump();
  bool lows_differ = false;
  for (const auto& site : recording.sites)
    for (std::size_t i = 0; i < site.bytes.lows.size(); ++i)
      lows_differ = lows_differ || site.bytes.lows[i] < site.bytes.points[i].bytes;
  EXPECT_TRUE(lows_differ);
}

// Without what version 3 added (the low points, the old blocks, the resolution, the latest
// samples: a version 2 record of the same run), the replay judges some stack differently: the
// fidelity above rests on them.
TEST(ReplayFidelity, WithoutLowPointsAndAgesAReplayJudgesOtherwise) {
  const SyntheticRun run = synthetic_run();
  const ReportContext context = live_context(run);
  const json live = as_json(build_report(run.table, run.infos, resolver_of(run), context));
  record::Recording v2 = make_recording(run.table, run.infos, resolver_of(run), recording_context(context));
  for (auto& site : v2.sites) {
    for (record::RecordedSeries* s : {&site.bytes, &site.blocks, &site.frees}) {
      s->lows.clear();
      s->samples_per_point = 0;
      s->first.reset();
      s->last.reset();
    }
    site.old_blocks = {};
    site.old_bytes = 0;
  }
  const json replayed = as_json(replay_report(written_and_read(v2), context.top, context.all_stacks));
  const auto live_factors = factors_of(live), v2_factors = factors_of(replayed);
  EXPECT_NE(v2_factors, live_factors);
  // The leak beneath churn (found by its old blocks) and the batch buffer's (by its lows).
  for (const char* stack : {"0x0000000000000011", "0x0000000000000012"}) {
    const std::pair<std::uint32_t, std::string> key{kServer, stack};
    ASSERT_TRUE(live_factors.count(key)) << stack;
    EXPECT_NE(v2_factors.count(key) ? v2_factors.at(key) : json(), live_factors.at(key))
        << stack << ": " << live_factors.at(key).dump();
  }
}

// Watch mode: a recorded run keeps every watched process's heap and the watch's counts, and the
// replay lists and judges them as the live report did, at any --top.
TEST(ReplayFidelity, WatchModeHeapsAndSummaryAsLive) {
  constexpr std::uint64_t kMiB = 1 << 20;
  watch::WatchConfig config;
  config.min_growth_bytes = kMiB;
  watch::HeapWatch w(config);
  std::mt19937 rng(7);
  for (int i = 0; i < 150; ++i) {
    const std::uint64_t noise = rng() % (256 * 1024);
    std::vector<watch::HeapSample> s{{kServer, 10 * kMiB + i * 2 * kMiB + noise},  // zoomed below
                                     {2, 10 * kMiB + i * kMiB / 2 + noise},        // growing
                                     {3, 40 * kMiB + noise},                       // flat
                                     {4, 5 * kMiB + (i % 8) * kMiB}};              // a batch's saw
    if (i >= 140) s.push_back({5, kMiB});  // too few readings for a verdict
    w.observe(0.25 * i, s);
    w.classify();
    if (i == 100) w.start_zoom(sample::ProcessKey(kServer), 0.25 * i);
  }
  w.end_zoom(sample::ProcessKey(4), 37, false, "its allocator was traced for 2m: no leaking stack");
  const double now = 37.5;

  // The tracer's report: the zoomed process's stacks, then the heaps.
  SyntheticRun run = synthetic_run();
  run.infos.erase(sample::ProcessKey(kHelper, 1));
  run.table.forget_process(sample::ProcessKey(kHelper, 1));
  ReportContext context = live_context(run);
  context.all_stacks = false;
  for (std::size_t top : {std::size_t{10}, std::size_t{0}}) {
    context.top = top;
    report::Report live = build_report(run.table, run.infos, resolver_of(run), context);
    add_heap_watch(live, w, now, top, false, [](std::uint32_t pid) { return "p" + std::to_string(pid); });
    RecordingContext rc = recording_context(context);
    rc.watch = &w;
    rc.watch_now_s = now;
    rc.comm_of = [&live](std::uint32_t pid) {
      for (const auto& p : live.processes)
        if (p.pid == pid) return p.comm;
      return std::string("p") + std::to_string(pid);
    };
    const record::Recording recording = written_and_read(make_recording(run.table, run.infos, resolver_of(run), rc));
    ASSERT_TRUE(recording.watch.has_value());
    EXPECT_EQ(recording.watch->processes.size(), 5u);
    const json live_json = as_json(live), replayed = as_json(replay_report(recording, top, false));
    EXPECT_EQ(replayed["watch"], live_json["watch"]);
    EXPECT_EQ(replayed, live_json) << "live:     " << live_json.dump() << "\nreplayed: " << replayed.dump();
    if (top == 10) {
      EXPECT_EQ(live_json["watch"]["growing"], 2) << live_json["watch"].dump();
      ASSERT_GE(live_json["processes"].size(), 2u);
      EXPECT_TRUE(live_json["processes"][0]["heap"]["zoomed"].get<bool>());
    }
  }
}

}  // namespace
}  // namespace edleak::app
