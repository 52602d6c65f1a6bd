// The HTML report in a real browser: Debian's headless Chromium loads the demo's report, a probe
// script (added to a copy of the page; the report itself has none) reads the DOM back as
// Chromium built and laid it out, and a screenshot is kept as an artifact
// (build/tests/artifacts/html_report.png).
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../record/sample_recording.h"
#include "app/recording.h"
#include "demo_record.h"
#include "external_tool.h"
#include "report/html_renderer.h"

namespace edleak::app {
namespace {

constexpr const char* kProbe = R"(<script>
const chart = (d, sel) => d.querySelector('svg.leaker-chart ' + sel);
const r = {
  sections: [...document.querySelectorAll('section.process')].map(s => s.dataset.pid),
  leakers: [...document.querySelectorAll('div.leaker')].map(d => ({
    cls: d.dataset.class,
    label: d.querySelector('span.class').textContent,
    points: +chart(d, 'polyline.series').dataset.points,
    vertices: chart(d, 'polyline.series').points.numberOfItems,
    circles: d.querySelectorAll('svg.leaker-chart circle.point').length,
    fit: chart(d, 'polyline.fit') ? chart(d, 'polyline.fit').points.numberOfItems : 0,
    width: d.querySelector('svg.leaker-chart').getBoundingClientRect().width,
    frames: d.querySelectorAll('ol.stack li').length})),
  heaps: [...document.querySelectorAll('div.heap')].map(d => ({
    pid: d.closest('section.process').dataset.pid,
    cls: d.dataset.class,
    zoomed: d.dataset.zoomed,
    label: d.querySelector('span.class').textContent,
    points: +d.querySelector('svg.heap-chart polyline.series').dataset.points,
    vertices: d.querySelector('svg.heap-chart polyline.series').points.numberOfItems,
    fit: d.querySelector('svg.heap-chart polyline.fit') ? d.querySelector('svg.heap-chart polyline.fit').points.numberOfItems : 0,
    width: d.querySelector('svg.heap-chart').getBoundingClientRect().width})),
  watch: document.querySelector('p.watch') ? document.querySelector('p.watch').textContent : '',
  overview: document.querySelectorAll('svg.overview polyline.series').length,
  external: document.querySelectorAll('[src], link[href]').length,
};
const pre = document.createElement('pre');
pre.id = 'edleak-test-result';
pre.textContent = JSON.stringify(r);
document.body.appendChild(pre);
</script>)";

std::string unescape(std::string s) {
  for (auto [from, to] : {std::pair{"&quot;", "\""}, {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}})
    for (std::size_t at; (at = s.find(from)) != std::string::npos;) s.replace(at, std::string(from).size(), to);
  return s;
}

// The page as Chromium built it: `report.html` (as rendered) and `probed.html` (with the probe)
// written in `dir`; the probe's result read back from the DOM Chromium dumps.
nlohmann::json read_back(const std::string& chromium, const std::string& flags, const std::filesystem::path& dir,
                         const std::string& page) {
  std::string probed = page;
  probed.insert(probed.rfind("</body>"), kProbe);
  std::ofstream(dir / "report.html") << page;
  std::ofstream(dir / "probed.html") << probed;
  const auto dom = test::run_shell(chromium + " " + flags + " --dump-dom file://" + (dir / "probed.html").string());
  EXPECT_EQ(dom.status, 0) << dom.out;
  const std::string open = "<pre id=\"edleak-test-result\">";
  const auto at = dom.out.find(open);
  if (at == std::string::npos) {
    ADD_FAILURE() << dom.out.substr(0, 2000);
    return nlohmann::json::object();
  }
  const auto end = dom.out.find("</pre>", at);
  return nlohmann::json::parse(unescape(dom.out.substr(at + open.size(), end - at - open.size())));
}

std::string chromium_flags(const std::filesystem::path& dir) {
  return "--headless=new --no-sandbox --disable-gpu --no-first-run --disable-extensions --user-data-dir=" +
         (dir / "profile").string();
}

// A screenshot of `dir`/report.html, kept as build/tests/artifacts/NAME.
void screenshot(const std::string& chromium, const std::filesystem::path& dir, const std::string& name) {
  const auto artifacts = std::filesystem::path(EDLEAK_TESTPROGS_DIR).parent_path() / "artifacts";
  std::filesystem::create_directories(artifacts);
  const auto png = artifacts / name;
  std::filesystem::remove(png);
  const auto shot = test::run_shell(chromium + " " + chromium_flags(dir) + " --window-size=1200,1400 --screenshot=" +
                                    png.string() + " file://" + (dir / "report.html").string());
  ASSERT_EQ(shot.status, 0) << shot.out;
  ASSERT_TRUE(std::filesystem::exists(png)) << shot.out;
  std::ifstream in(png, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  EXPECT_GT(std::filesystem::file_size(png), 20000u);  // a blank page is a few KB
}

TEST(HtmlInChromium, ChartsPointsAndClassesReadBack) {
  EDLEAK_REQUIRE_TOOL(chromium, "chromium", "chromium");
  const report::Report report = test::demo_report();
  std::ostringstream page;
  report::HtmlRenderer().render(report, page);
  ASSERT_EQ(page.str().find("<script"), std::string::npos) << "the report must stay script-free";

  const auto dir = test::temp_dir("html_browser");
  const auto result = read_back(chromium, chromium_flags(dir), dir, page.str());

  ASSERT_EQ(result["sections"].size(), report.processes.size());
  EXPECT_EQ(result["sections"][0], std::to_string(report.processes[0].pid));
  const auto& leakers = report.processes[0].leakers;
  ASSERT_EQ(result["leakers"].size(), leakers.size());
  for (std::size_t i = 0; i < leakers.size(); ++i) {
    const auto& got = result["leakers"][i];
    const std::string cls(classify::to_string(leakers[i].leak_factor.cls));
    EXPECT_EQ(got["cls"], cls);
    EXPECT_EQ(got["label"], cls);
    EXPECT_EQ(got["points"], leakers[i].series.size());
    EXPECT_EQ(got["vertices"], leakers[i].series.size());  // as the browser parsed the polyline
    EXPECT_EQ(got["circles"], leakers[i].series.size());
    EXPECT_EQ(got["fit"], 49);
    EXPECT_GT(got["width"].get<double>(), 100);  // laid out, not collapsed
    EXPECT_EQ(got["frames"], leakers[i].stack.size());
  }
  EXPECT_EQ(result["leakers"][0]["cls"], "logarithmic");
  EXPECT_EQ(result["leakers"][1]["cls"], "linear");
  EXPECT_EQ(result["overview"], 2);
  EXPECT_EQ(result["external"], 0);  // self-contained
  EXPECT_TRUE(result["heaps"].empty());
  screenshot(chromium, dir, "html_report.png");
}

// A recorded watch-mode run replayed as HTML: the watch line, and the zoomed process's heap
// chart (its points and fitted curve) beside its stacks.
TEST(HtmlInChromium, WatchModeHeapChartsReadBack) {
  EDLEAK_REQUIRE_TOOL(chromium, "chromium", "chromium");
  const report::Report report = replay_report(record::test_data::sample_recording(), 10, false);
  ASSERT_TRUE(report.watch.has_value());
  std::ostringstream page;
  report::HtmlRenderer().render(report, page);
  ASSERT_EQ(page.str().find("<script"), std::string::npos) << "the report must stay script-free";
  const auto dir = test::temp_dir("html_browser_watch");
  const auto result = read_back(chromium, chromium_flags(dir), dir, page.str());

  EXPECT_EQ(result["watch"], "watching 2 processes (heap: anonymous resident memory): 1 growing, 1 with the "
                             "allocator traced; 2 not watched (too many)");
  ASSERT_EQ(result["heaps"].size(), 1u) << result.dump();
  const auto& heap = result["heaps"][0];
  const report::HeapReport& want = *report.processes.at(0).heap;
  EXPECT_EQ(heap["pid"], "1234");
  EXPECT_EQ(heap["zoomed"], "yes");
  EXPECT_EQ(heap["cls"], std::string(classify::to_string(want.verdict.cls)));
  EXPECT_EQ(heap["cls"], "linear");
  EXPECT_EQ(heap["label"], "linear");
  EXPECT_EQ(heap["points"], 20);
  EXPECT_EQ(heap["vertices"], 20);
  EXPECT_EQ(heap["fit"], 49);
  EXPECT_GT(heap["width"].get<double>(), 100);
  EXPECT_EQ(result["external"], 0);
  screenshot(chromium, dir, "html_watch_report.png");
}

}  // namespace
}  // namespace edleak::app
