#include "report/metrics_text.h"

#include <gtest/gtest.h>

#include "sample_report.h"

namespace edleak::report {
namespace {

std::size_t count_lines_starting(const std::string& text, const std::string& prefix) {
  std::size_t n = 0;
  for (std::size_t at = 0; at < text.size();) {
    const auto end = text.find('\n', at);
    if (text.compare(at, prefix.size(), prefix) == 0) ++n;
    at = end == std::string::npos ? text.size() : end + 1;
  }
  return n;
}

TEST(MetricsText, FamiliesWithHelpTypeAndLabels) {
  const std::string text = metrics_text(test_data::sample_report());
  EXPECT_NE(text.find("# TYPE edleak_stack_leak_bytes gauge\n"), std::string::npos);
  EXPECT_NE(text.find("edleak_stack_leak_bytes{pid=\"1234\",comm=\"server\",rank=\"1\",site=\"leak_here\","
                      "class=\"linear\"} 15009\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("edleak_process_outstanding_bytes{pid=\"99\",comm=\"idle\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE edleak_unknown_frees_total counter\nedleak_unknown_frees_total 3\n"), std::string::npos);
}

// Watch mode: each listed process's heap, and the processes watched and traced.
TEST(MetricsText, WatchModeHeaps) {
  Report r = test_data::sample_report();
  EXPECT_EQ(metrics_text(r).find("edleak_process_heap_bytes"), std::string::npos);  // not in watch mode
  r.watch = WatchSummary{.processes = 214, .growing = 1, .zoomed = 1};
  HeapReport heap;
  heap.bytes = 4096;
  heap.verdict.cls = classify::LeakClass::linear;
  heap.verdict.growth_bytes_per_s = 512;
  heap.zoomed = true;
  r.processes[0].heap = heap;
  const std::string text = metrics_text(r);
  EXPECT_NE(text.find("edleak_process_heap_bytes{pid=\"1234\",comm=\"server\",class=\"linear\",traced=\"true\"} 4096\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("edleak_process_heap_growth_bytes_per_second{pid=\"1234\",comm=\"server\",class=\"linear\","
                      "traced=\"true\"} 512\n"),
            std::string::npos);
  EXPECT_EQ(count_lines_starting(text, "edleak_process_heap_bytes{"), 1u);  // pid 99 has no heap
  EXPECT_NE(text.find("\nedleak_watched_processes 214\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nedleak_zoomed_processes 1\n"), std::string::npos);
}

TEST(MetricsText, CardinalityIsBounded) {
  Report r = test_data::sample_report();
  ProcessReport many = r.processes[0];
  for (int i = 0; i < 30; ++i) many.leakers.push_back(many.leakers[0]);
  r.processes.assign(50, many);
  const std::string text = metrics_text(r);
  EXPECT_EQ(count_lines_starting(text, "edleak_process_outstanding_bytes{"), kMaxProcesses);
  EXPECT_EQ(count_lines_starting(text, "edleak_stack_leak_bytes{"), kMaxProcesses * kMaxStacksPerProcess);
}

TEST(MetricsText, LabelValuesEscapedAndCut) {
  EXPECT_EQ(metric_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(metric_label_value(std::string(500, 'x')).size(), kMaxLabelBytes);
}

}  // namespace
}  // namespace edleak::report
