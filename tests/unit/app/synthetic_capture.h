#pragma once
// A synthetic capture of two processes whose stacks have the shapes the classifier tells apart
// (a leak beneath churn and beneath a batch buffer, steady churn, lines, a cache, an mmap leak),
// fed to a SiteTable as the capture feeds it: age rings from the kernel model, long enough that
// the series halve and a bucket is pending. For tests of what is built from a run (reports,
// records, replays).
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "../sample/kernel_site.h"
#include "app/report_builder.h"
#include "sample/site_table.h"

namespace edleak::app::synthetic {

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
  std::vector<sample::Snapshot> snapshots;  // as ingested by the table, in order
};

// The readings of every stack, in the capture's order: the kernel model runs an epoch, the sites
// are read, the next epoch begins.
inline SyntheticRun synthetic_run() {
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
    run.snapshots.push_back(std::move(snap));
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

inline StackResolver resolver_of(const SyntheticRun& run) {
  return [&run](const sample::ProcessKey&, std::uint64_t id) {
    symbolize::Frame f;
    f.addr = 0x401000 + id;
    if (auto it = run.symbols.find(id); it != run.symbols.end()) f.symbol = it->second;
    f.module = "/usr/bin/server";
    return std::vector<symbolize::Frame>{f};
  };
}

}  // namespace edleak::app::synthetic
