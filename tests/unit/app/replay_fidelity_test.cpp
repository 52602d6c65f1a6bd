// A replay judges exactly as the live run did. A synthetic capture is fed to a SiteTable as the
// capture feeds it (age rings from the kernel model, long enough that the series halve and a
// bucket is pending), reported as the tracer reports, recorded, written, read back and replayed:
// every stack's leak factor, and the whole report, is the live one. Watch mode's heaps likewise.
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../sample/kernel_site.h"
#include "app/recording.h"
#include "app/watch_report.h"
#include "record/format.h"
#include "report/json_renderer.h"

namespace edleak::app {
namespace {

using nlohmann::json;
using sample::KernelSite;

constexpr std::uint32_t kServer = 100, kHelper = 200;
constexpr int kReadings = 203;  // past 64 and 128: the series are at 4 samples a point, one bucket pending

// One stack of the synthetic run: what it does at each reading.
enum class Shape { churn_leak, batch_leak, steady, linear, cache, mmap_leak };

struct SyntheticStack {
  std::uint32_t pid;
  std::uint64_t stack_id;
  Shape shape;
  const char* symbol;
  KernelSite kernel{};
  std::vector<KernelSite::Block> live{};   // recycled or batched blocks, oldest first
  std::vector<std::uint32_t> deaths{};     // reading at which each live block is freed
};

struct SyntheticRun {
  sample::SiteTable table;
  ProcessInfos infos;
  std::map<std::uint64_t, const char*> symbols;
  double elapsed_s = 0;
};

// The readings of every stack, in the capture's order: the kernel model runs an epoch, the sites
// are read, the next epoch begins.
SyntheticRun synthetic_run() {
  std::mt19937 rng(20241202);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::vector<SyntheticStack> stacks = {
      {kServer, 0x11, Shape::churn_leak, "handle_request"}, {kServer, 0x12, Shape::batch_leak, "flush_batch"},
      {kServer, 0x13, Shape::steady, "parse_header"},       {kServer, 0x14, Shape::linear, "open_session"},
      {kServer, 0x15, Shape::cache, "cache_insert"},        {kServer, 0x16, Shape::mmap_leak, "map_arena"},
      {kHelper, 0x21, Shape::linear, "helper_leak"},        {kHelper, 0x22, Shape::steady, "helper_work"}};
  SyntheticRun run;
  for (const auto& s : stacks) run.symbols[s.stack_id] = s.symbol;
  std::uint32_t epoch = 1;
  for (int r = 0; r < kReadings; ++r, ++epoch) {
    for (SyntheticStack& s : stacks) {
      KernelSite& k = s.kernel;
      k.epoch = epoch;
      auto free_due = [&] {
        for (std::size_t i = 0; i < s.live.size();)
          if (s.deaths[i] <= static_cast<std::uint32_t>(r)) {
            k.free(s.live[i]);
            s.live.erase(s.live.begin() + static_cast<long>(i));
            s.deaths.erase(s.deaths.begin() + static_cast<long>(i));
          } else {
            ++i;
          }
      };
      switch (s.shape) {
        case Shape::churn_leak:
          // Buffers that live one reading, 100 to 180 of them at a time; one request in five
          // readings keeps its own. The swings drown the leak in the bytes and the blocks; their
          // old blocks are the leak alone (rising by more than a quarter of the young blocks'
          // swing, which the classifier asks of old blocks).
          if (r % 5 == 2) k.alloc(256);
          for (const auto& block : s.live) k.free(block);
          s.live.clear();
          for (int i = 100 + uniform(0, 80); i > 0; --i) s.live.push_back(k.alloc(256));
          break;
        case Shape::steady:
          for (int i = uniform(50, 150); i > 0; --i) {
            const auto block = k.alloc(256);
            s.live.push_back(block);
            s.deaths.push_back(static_cast<std::uint32_t>(r + uniform(1, 3)));
          }
          free_due();
          break;
        case Shape::batch_leak:  // fills for 3 readings, emptied on the 4th but for one block kept
          for (int i = uniform(30, 50); i > 0; --i) {
            s.live.push_back(k.alloc(512));
            s.deaths.push_back(UINT32_MAX);
          }
          if (r % 4 == 3) {
            s.live.pop_back();  // kept for ever
            s.deaths.pop_back();
            for (auto& death : s.deaths) death = static_cast<std::uint32_t>(r);
          }
          free_due();
          break;
        case Shape::linear:
          k.alloc(100 + uniform(0, 50));
          break;
        case Shape::cache:  // misses ever fewer as it fills
          if (uniform(0, r + 4) < 4) k.alloc(4096);
          break;
        case Shape::mmap_leak:
          if (r % 3 == 0) k.alloc(4096 * uniform(1, 4));
          break;
      }
    }
    sample::Snapshot snap;
    snap.t_s = 0.25 * r + 0.01 * uniform(0, 3);
    snap.age_epoch = epoch;
    for (const SyntheticStack& s : stacks) {
      if (s.kernel.allocs == 0) continue;  // not in the sites map yet
      sample::SiteSample site = s.kernel.sample(s.pid, s.stack_id);
      site.incarnation = s.pid == kHelper ? 1 : 0;
      snap.sites.push_back(site);
      if (r == 0 || !run.table.stack(s.stack_id)) {
        sample::StackRecord& stack = snap.new_stacks[s.stack_id];
        stack.frames = {0x401000 + s.stack_id};
        stack.complete = true;
        stack.mmap = s.shape == Shape::mmap_leak;
      }
    }
    run.table.ingest(snap);
    run.elapsed_s = snap.t_s;
  }
  ProcessInfo server("server");
  server.command = "./server --port 80";
  server.parent_pid = 1;
  server.allocators = {{"glibc", "/usr/lib/x86_64-linux-gnu/libc.so.6", false, "", true, "glibc (libc.so.6)"}};
  run.infos[sample::ProcessKey(kServer)] = server;
  ProcessInfo helper("helper", /*exited=*/true);
  helper.named = false;
  helper.parent_pid = kServer;
  helper.exit_status = 0;
  helper.cgroup = "/system.slice/server.service";
  helper.notes = {"a note of the run"};
  run.infos[sample::ProcessKey(kHelper, 1)] = helper;
  return run;
}

StackResolver resolver_of(const SyntheticRun& run) {
  return [&run](const sample::ProcessKey&, std::uint64_t id) {
    symbolize::Frame f;
    f.addr = 0x401000 + id;
    if (auto it = run.symbols.find(id); it != run.symbols.end()) f.symbol = it->second;
    f.module = "/usr/bin/server";
    return std::vector<symbolize::Frame>{f};
  };
}

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
