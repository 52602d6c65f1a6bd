#include "watch/heap_watch.h"

#include <gtest/gtest.h>
#include <random>

namespace edleak::watch {
namespace {

constexpr std::uint64_t kMiB = 1 << 20;

// Feeds `n` readings one second apart: `f(i)` bytes for every pid in `pids`.
template <typename F>
void feed(HeapWatch& w, double& t, int n, const std::vector<std::uint32_t>& pids, F f) {
  for (int i = 0; i < n; ++i, t += 1) {
    std::vector<HeapSample> samples;
    for (std::uint32_t pid : pids) samples.push_back({pid, f(pid, i)});
    w.observe(t, samples);
    w.classify();
  }
}

TEST(HeapWatch, SteadyProcessesAreNeverSuspects) {
  HeapWatch w;
  double t = 0;
  std::mt19937 rng(7);
  // Churn: a flat heap with page-sized noise, and one that filled a cache at start.
  feed(w, t, 60, {10, 11}, [&](std::uint32_t pid, int i) -> std::uint64_t {
    const std::uint64_t noise = (rng() % 64) * 4096;
    return pid == 10 ? 50 * kMiB + noise : (i < 5 ? i * 10 * kMiB : 50 * kMiB) + noise;
  });
  EXPECT_TRUE(w.pick_suspects().empty());
  EXPECT_FALSE(w.find(10)->verdict.is_leak() && w.find(10)->verdict.cls == classify::LeakClass::linear);
}

TEST(HeapWatch, GrowingProcessIsASuspectOnceItHasEnoughSamples) {
  WatchConfig config;
  config.suspect_after_s = 0;  // readings alone decide here
  config.min_samples = 10;
  HeapWatch w(config);
  double t = 0;
  feed(w, t, 9, {20, 21}, [](std::uint32_t pid, int i) -> std::uint64_t {
    return pid == 20 ? 10 * kMiB + i * kMiB / 2 : 10 * kMiB;
  });
  EXPECT_TRUE(w.pick_suspects().empty());  // 9 readings: not yet
  feed(w, t, 11, {20, 21}, [](std::uint32_t pid, int i) -> std::uint64_t {
    return pid == 20 ? 10 * kMiB + (i + 9) * kMiB / 2 : 10 * kMiB;
  });
  auto suspects = w.pick_suspects();
  ASSERT_EQ(suspects.size(), 1u);
  EXPECT_EQ(suspects[0], ProcessKey(20, 0));
  EXPECT_EQ(w.find(20)->verdict.cls, classify::LeakClass::linear);
}

// A short job (a compiler grows for its whole life) is not a suspect: the series must span
// suspect_after_s, whatever its readings say.
TEST(HeapWatch, GrowthSeenForLessThanSuspectAfterIsNotASuspect) {
  WatchConfig config;
  config.suspect_after_s = 30;
  HeapWatch w(config);
  double t = 0;
  auto growing = [](std::uint32_t, int i) -> std::uint64_t { return 10 * kMiB + i * kMiB; };
  feed(w, t, 30, {40}, growing);  // readings at 0..29 s: 29 s seen
  EXPECT_EQ(w.find(40)->verdict.cls, classify::LeakClass::linear);
  EXPECT_TRUE(w.pick_suspects().empty());
  feed(w, t, 1, {40}, [&](std::uint32_t pid, int) { return growing(pid, 30); });  // 30 s
  ASSERT_EQ(w.pick_suspects().size(), 1u);
  // A window that found nothing starts the span anew.
  w.start_zoom(ProcessKey(40, 0), t);
  EXPECT_TRUE(w.end_zoom(ProcessKey(40, 0), t, /*stacks_leak=*/false, ""));
  feed(w, t, 25, {40}, [&](std::uint32_t pid, int i) { return growing(pid, 31 + i); });
  EXPECT_TRUE(w.pick_suspects().empty());
}

// A process barred (its window outgrew its share of the stack table) is never zoomed again,
// however it grows; an exec gives the new program a clean slate.
TEST(HeapWatch, ABarredProcessIsNeverZoomedAgainUntilItExecs) {
  WatchConfig config;
  config.suspect_after_s = 0;
  HeapWatch w(config);
  double t = 0;
  auto growing = [](std::uint32_t, int i) -> std::uint64_t { return 10 * kMiB + i * kMiB; };
  feed(w, t, 20, {50}, growing);
  ASSERT_EQ(w.pick_suspects().size(), 1u);
  w.start_zoom(ProcessKey(50, 0), t);
  w.bar(ProcessKey(50, 0), t, "too big");
  EXPECT_FALSE(w.find(50)->zoomed);
  EXPECT_EQ(w.find(50)->note, "too big");
  feed(w, t, 200, {50}, [&](std::uint32_t pid, int i) { return growing(pid, 20 + i); });
  EXPECT_TRUE(w.pick_suspects().empty());
  w.on_exec(50, 1);
  feed(w, t, 20, {50}, growing);
  EXPECT_EQ(w.pick_suspects().size(), 1u);
}

TEST(HeapWatch, GrowthBelowTheMinimumIsNotASuspect) {
  WatchConfig config;
  config.suspect_after_s = 0;  // readings alone decide here
  config.min_growth_bytes = 64 * kMiB;
  HeapWatch w(config);
  double t = 0;
  feed(w, t, 30, {30}, [](std::uint32_t, int i) -> std::uint64_t { return 10 * kMiB + i * kMiB; });
  EXPECT_EQ(w.find(30)->verdict.cls, classify::LeakClass::linear);
  EXPECT_TRUE(w.pick_suspects().empty());  // 29 MiB grown: under 64
}

TEST(HeapWatch, ZoomSlotsAreCappedAndTheFastestGoesFirst) {
  WatchConfig config;
  config.suspect_after_s = 0;  // readings alone decide here
  config.max_zoom = 2;
  HeapWatch w(config);
  double t = 0;
  feed(w, t, 20, {1, 2, 3}, [](std::uint32_t pid, int i) -> std::uint64_t { return kMiB + pid * i * kMiB; });
  auto suspects = w.pick_suspects();
  ASSERT_EQ(suspects.size(), 2u);
  EXPECT_EQ(suspects[0].pid, 3u);
  EXPECT_EQ(suspects[1].pid, 2u);
  w.start_zoom(suspects[0], t);
  suspects = w.pick_suspects();
  ASSERT_EQ(suspects.size(), 1u);  // one slot left, and pid 3 is zoomed already
  EXPECT_EQ(suspects[0].pid, 2u);
  w.start_zoom(suspects[0], t);
  EXPECT_TRUE(w.pick_suspects().empty());
  EXPECT_EQ(w.zoomed(), 2u);
}

TEST(HeapWatch, WindowEndsClearOrExtend) {
  WatchConfig config;
  config.suspect_after_s = 0;  // readings alone decide here
  config.zoom_s = 30;
  HeapWatch w(config);
  double t = 0;
  feed(w, t, 20, {5, 6}, [](std::uint32_t, int i) -> std::uint64_t { return kMiB + i * kMiB; });
  w.start_zoom(ProcessKey(5, 0), t);
  w.start_zoom(ProcessKey(6, 0), t);
  EXPECT_TRUE(w.zooms_due(t + 29).empty());
  ASSERT_EQ(w.zooms_due(t + 30).size(), 2u);
  // 5 leaks through its stacks: another window. 6 does not: probes off, series anew.
  EXPECT_FALSE(w.end_zoom(ProcessKey(5, 0), t + 30, true, "leaks"));
  EXPECT_TRUE(w.end_zoom(ProcessKey(6, 0), t + 30, false, "no leaking stack"));
  EXPECT_TRUE(w.find(5)->zoomed);
  EXPECT_EQ(w.find(5)->zoom_until_s, t + 60);
  const WatchedProcess* six = w.find(6);
  EXPECT_FALSE(six->zoomed);
  EXPECT_EQ(six->cleared, 1u);
  EXPECT_EQ(six->zooms, 1u);
  EXPECT_EQ(six->note, "no leaking stack");
  EXPECT_EQ(six->heap.samples_seen(), 0u);  // it must grow anew to be zoomed again
  EXPECT_TRUE(w.pick_suspects().empty());
}

// A process that grows without a leaking stack (an allocator we cannot trace, say) is looked at
// again after twice as many readings each time, not every min_samples.
TEST(HeapWatch, EachClearedWindowDoublesTheEvidenceNeeded) {
  WatchConfig config;
  config.suspect_after_s = 0;  // readings alone decide here
  config.min_samples = 10;
  HeapWatch w(config);
  double t = 0;
  int i = 0;
  auto grow = [&](int n) { feed(w, t, n, {8}, [&](std::uint32_t, int) -> std::uint64_t { return kMiB + (i++) * kMiB; }); };
  grow(10);
  ASSERT_EQ(w.pick_suspects().size(), 1u);
  w.start_zoom(ProcessKey(8, 0), t);
  w.end_zoom(ProcessKey(8, 0), t, false, "cannot trace it");
  grow(19);
  EXPECT_TRUE(w.pick_suspects().empty());
  grow(1);
  ASSERT_EQ(w.pick_suspects().size(), 1u);  // 20 readings after one cleared window
  w.start_zoom(ProcessKey(8, 0), t);
  w.end_zoom(ProcessKey(8, 0), t, false, "cannot trace it");
  grow(39);
  EXPECT_TRUE(w.pick_suspects().empty());
  grow(1);
  EXPECT_EQ(w.pick_suspects().size(), 1u);
}

TEST(HeapWatch, EventsKeepHistoriesApart) {
  HeapWatch w;
  double t = 0;
  feed(w, t, 12, {40}, [](std::uint32_t, int i) -> std::uint64_t { return kMiB + i * kMiB; });
  EXPECT_EQ(w.find(40)->key, ProcessKey(40, 0));  // ran before the tracer
  w.on_exec(40, 7);
  EXPECT_EQ(w.find(40), nullptr);
  feed(w, t, 1, {40}, [](std::uint32_t, int) -> std::uint64_t { return kMiB; });
  EXPECT_EQ(w.find(40)->key, ProcessKey(40, 7));
  EXPECT_EQ(w.find(40)->heap.samples_seen(), 1u);
  // Exit, then the pid reused by a new process (its fork event first).
  w.on_exit(40);
  w.on_fork(ProcessKey(40, 9));
  feed(w, t, 1, {40}, [](std::uint32_t, int) -> std::uint64_t { return kMiB; });
  EXPECT_EQ(w.find(40)->key, ProcessKey(40, 9));
  // Reused without an exit event seen yet: the fork ends the old series.
  w.on_fork(ProcessKey(40, 11));
  EXPECT_EQ(w.find(40), nullptr);
}

TEST(HeapWatch, GoneProcessesAreDroppedAndMemoryIsBounded) {
  WatchConfig config;
  config.suspect_after_s = 0;  // readings alone decide here
  config.max_processes = 3;
  HeapWatch w(config);
  w.observe(0, std::vector<HeapSample>{{1, kMiB}, {2, kMiB}, {3, kMiB}, {4, kMiB}, {5, kMiB}});
  EXPECT_EQ(w.processes().size(), 3u);
  EXPECT_EQ(w.unwatched(), 2u);
  w.observe(1, std::vector<HeapSample>{{2, kMiB}});
  EXPECT_EQ(w.processes().size(), 1u);
  ASSERT_NE(w.find(2), nullptr);
  // A long run keeps each series at its capacity.
  for (int i = 0; i < 10000; ++i) w.observe(2 + i, std::vector<HeapSample>{{2, kMiB}});
  EXPECT_LE(w.find(2)->heap.size(), config.series_capacity);
}

}  // namespace
}  // namespace edleak::watch
