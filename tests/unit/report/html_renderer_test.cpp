#include "report/html_renderer.h"

#include <sstream>

#include <gtest/gtest.h>

#include "report/svg_chart.h"
#include "sample_report.h"

namespace edleak::report {
namespace {

Report report_with_series() {
  Report r = test_data::sample_report();
  auto& leaker = r.processes[0].leakers[0];
  for (int t = 0; t < 12; ++t) leaker.series.push_back({double(t), 2000.0 + 16000.0 * t / 11});
  return r;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
  return n;
}

TEST(HtmlRenderer, SelfContainedWithOneChartPerLeakerAndOverview) {
  std::ostringstream out;
  HtmlRenderer().render(report_with_series(), out);
  const std::string page = out.str();
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("src="), std::string::npos);
  EXPECT_EQ(page.find("<link"), std::string::npos);
  EXPECT_EQ(count(page, "<section class=\"process\""), 2u);
  EXPECT_EQ(count(page, "class=\"chart leaker-chart\""), 1u);
  EXPECT_EQ(count(page, "class=\"chart overview\""), 1u);
  EXPECT_EQ(count(page, "<circle class=\"point\""), 12u);
  EXPECT_NE(page.find("data-class=\"linear\""), std::string::npos);
  EXPECT_NE(page.find("<polyline class=\"fit\" data-points=\"49\""), std::string::npos);
  EXPECT_NE(page.find("push_item (list.h:12) [inlined]"), std::string::npos);
}

TEST(HtmlRenderer, FittedCurveFollowsTheNormalisedFit) {
  Leaker leaker = report_with_series().processes[0].leakers[0];
  leaker.leak_factor.coef = {0, 1, 0};  // a straight line from min_size to max_size
  const auto curve = fitted_curve(leaker);
  ASSERT_EQ(curve.size(), 49u);
  EXPECT_DOUBLE_EQ(curve.front().t_s, 0);
  EXPECT_DOUBLE_EQ(curve.front().bytes, leaker.leak_factor.min_size);
  EXPECT_DOUBLE_EQ(curve.back().t_s, 11);
  EXPECT_DOUBLE_EQ(curve.back().bytes, leaker.leak_factor.max_size);
}

TEST(HtmlRenderer, NamesFromProcessesAreEscaped) {
  Report r = report_with_series();
  r.processes[0].comm = "<img src=x onerror=alert(1)>";
  r.processes[0].leakers[0].stack[0].symbol = "f<int>&\"'";
  std::ostringstream out;
  HtmlRenderer().render(r, out);
  EXPECT_EQ(out.str().find("<img"), std::string::npos);
  EXPECT_NE(out.str().find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(out.str().find("f&lt;int&gt;&amp;&quot;&#39;"), std::string::npos);
  EXPECT_EQ(html_escape("a\x1b[0m"), "a\\x1b[0m");
}

}  // namespace
}  // namespace edleak::report
