#include "app/watch_report.h"

#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "report/json_renderer.h"
#include "report/text_renderer.h"

namespace edleak::app {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
constexpr std::uint64_t kMiB = 1 << 20;

// pid 1 grows fast, pid 2 slowly, pid 3 is flat; pid 2 is zoomed and already in the report.
watch::HeapWatch sample_watch() {
  watch::HeapWatch w;
  for (int i = 0; i < 30; ++i) {
    std::vector<watch::HeapSample> s{{1, 10 * kMiB + i * 4 * kMiB}, {2, 10 * kMiB + i * kMiB}, {3, 10 * kMiB}};
    w.observe(i, s);
  }
  w.classify();
  w.start_zoom(sample::ProcessKey(2, 0), 29);
  return w;
}

report::Report traced_report() {
  report::Report r;
  report::ProcessReport two;
  two.pid = 2;
  two.comm = "two";
  two.stacks = 3;
  r.processes.push_back(two);
  return r;
}

std::string comm_of(std::uint32_t pid) { return "p" + std::to_string(pid); }

TEST(AddHeapWatch, TracedProcessesGetTheirHeapAndGrowingOnesAreListed) {
  report::Report r = traced_report();
  add_heap_watch(r, sample_watch(), 40, 10, false, comm_of);
  ASSERT_TRUE(r.watch);
  EXPECT_EQ(r.watch->processes, 3u);
  EXPECT_EQ(r.watch->growing, 2u);
  EXPECT_EQ(r.watch->zoomed, 1u);
  ASSERT_EQ(r.processes.size(), 2u);  // the traced one, then pid 1; the flat one is not listed
  ASSERT_TRUE(r.processes[0].heap);
  EXPECT_TRUE(r.processes[0].heap->zoomed);
  EXPECT_DOUBLE_EQ(r.processes[0].heap->zoom_left_s, 29 + 120 - 40);
  EXPECT_EQ(r.processes[1].pid, 1u);
  EXPECT_EQ(r.processes[1].comm, "p1");
  EXPECT_EQ(r.processes[1].heap->verdict.cls, classify::LeakClass::linear);
  EXPECT_EQ(r.processes[1].heap->series.size(), 30u);
}

TEST(AddHeapWatch, TopCutsTheHeapOnlyListAndAllListsEveryProcess) {
  report::Report cut = traced_report();
  add_heap_watch(cut, sample_watch(), 40, 0, true, comm_of);
  EXPECT_EQ(cut.processes.size(), 1u);
  EXPECT_EQ(cut.watch->unlisted, 2u);  // pids 1 and 3 (-a): cut by --top 0
  report::Report all = traced_report();
  add_heap_watch(all, sample_watch(), 40, 10, true, comm_of);
  EXPECT_EQ(all.processes.size(), 3u);
  EXPECT_EQ(all.watch->unlisted, 0u);
}

TEST(AddHeapWatch, RendersAsHeapLinesAndJson) {
  report::Report r = traced_report();
  add_heap_watch(r, sample_watch(), 40, 10, false, comm_of);
  std::ostringstream text;
  report::TextRenderer(report::TextRenderer::TimeZone::utc).render(r, text);
  EXPECT_THAT(text.str(), HasSubstr("watching 3 processes (heap: anonymous resident memory): 2 growing, 1 with the "
                                    "allocator traced\n"));
  EXPECT_THAT(text.str(), HasSubstr("pid 1 (p1): heap 126.0 MiB, linear +4.0 MiB/s "));
  EXPECT_THAT(text.str(), HasSubstr("pid 2 (two): heap 39.0 MiB, linear +1.0 MiB/s"));
  EXPECT_THAT(text.str(), HasSubstr("; allocator traced, 109s left in this window\n  stacks: "));
  EXPECT_THAT(text.str(), Not(HasSubstr("pid 3")));
  std::ostringstream json;
  report::JsonRenderer().render(r, json);
  EXPECT_THAT(json.str(), HasSubstr(R"("watch":{"processes":3,"growing":2,"zoomed":1,"unlisted":0,"unwatched":0})"));
  EXPECT_THAT(json.str(), HasSubstr(R"("heap":{"bytes":132120576,"leak_factor":{)"));
}

// A zoomed process whose heap grew since its window began by more than its traced stacks hold
// gets the note (in the report of the live run and of its replay alike); an exited one does not.
TEST(AddHeapWatch, ZoomedGrowthTheStacksDoNotHoldIsNoted) {
  watch::HeapWatch w = sample_watch();  // pid 2 zoomed at t = 29 with 39 MiB
  for (int i = 30; i < 35; ++i) {
    std::vector<watch::HeapSample> s{{1, 10 * kMiB}, {2, 10 * kMiB + i * kMiB}, {3, 10 * kMiB}};
    w.observe(i, s);
  }
  report::Report r = traced_report();
  r.processes[0].outstanding_bytes = kMiB;
  add_heap_watch(r, w, 40, 10, false, comm_of);
  ASSERT_EQ(r.processes[0].pid, 2u);
  ASSERT_EQ(r.processes[0].notes.size(), 1u);
  EXPECT_THAT(r.processes[0].notes[0], HasSubstr("its heap grew 5.0 MiB while traced; the traced allocations hold "
                                                 "1.0 MiB"));
  report::Report exited = traced_report();
  exited.processes[0].exited = true;
  add_heap_watch(exited, w, 40, 10, false, comm_of);
  EXPECT_TRUE(exited.processes[0].notes.empty());
}

TEST(UnexplainedGrowth, OnlyGrowthTheTracedCallsDoNotHoldIsNoted) {
  EXPECT_EQ(unexplained_growth(10 * kMiB, 8 * kMiB, kMiB), "");
  EXPECT_EQ(unexplained_growth(kMiB / 2, 0, kMiB), "");  // too small to say
  EXPECT_THAT(unexplained_growth(10 * kMiB, kMiB, kMiB), HasSubstr("its heap grew 10.0 MiB while traced; the traced "
                                                                    "allocations hold 1.0 MiB"));
}

TEST(OverStackShare, AWindowHoldsAtMostItsShareOfTheStackTable) {
  EXPECT_EQ(zoom_stack_share(65536, 4), 16384u);
  EXPECT_EQ(zoom_stack_share(65536, 0), 65536u);  // no division by a zero --max-zoom
  EXPECT_EQ(over_stack_share(16384, 65536, 4), "");
  EXPECT_THAT(over_stack_share(16385, 65536, 4),
              HasSubstr("window ended early, not traced again: 16385 stacks traced, more than one window's "
                        "share of --max-stacks (16384 = 65536 / --max-zoom 4)"));
}

}  // namespace
}  // namespace edleak::app
