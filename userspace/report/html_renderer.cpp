#include "report/html_renderer.h"

#include <algorithm>

#include <fmt/format.h>

#include "classify/leak_factor.h"
#include "report/format.h"
#include "report/json_renderer.h"
#include "report/svg_chart.h"
#include "symbolize/frame.h"

namespace edleak::report {
namespace {

constexpr int kFitSteps = 48;
constexpr std::size_t kOverviewLines = 8;
// Colour-blind-safe (Okabe-Ito), one per overview line.
constexpr const char* kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"};

constexpr const char* kStyle = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px}h2{font-size:17px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}
h3{font-size:15px;margin:18px 0 6px}.meta{color:#555}.class{padding:1px 6px;border-radius:3px;color:#fff}
.class.linear{background:#D55E00}.class.exponential{background:#a00}.class.logarithmic{background:#0072B2}
.class.constant,.class.insufficient_data{background:#777}
.chart .plot{fill:#fafafa;stroke:#bbb}.chart .grid{stroke:#eee}.chart text{font-size:11px;fill:#444}
.chart .ylabel{text-anchor:end}.chart .xlabel{text-anchor:middle}.chart polyline.series{stroke-width:2}
.chart polyline.fit{stroke-width:1.5;stroke-dasharray:5 3}
ol.stack{font:12px/1.35 ui-monospace,monospace;margin:6px 0 0;padding-left:28px}
ol.stack .inl{color:#777}.leaker,.heap{margin-left:8px}.note{color:#555;font-style:italic}
)";

std::string class_name(const classify::LeakFactor& f) { return std::string(classify::to_string(f.cls)); }

std::string leaker_label(std::uint32_t pid, const Leaker& leaker) {
  std::string site = leaker.stack.empty() ? "[no stack]" : symbolize::format_frame(leaker.stack.front());
  return fmt::format("{}: {}", pid, site.substr(0, site.find(' ')));
}

// A series with a marker per point and its fitted curve (none without a verdict).
Chart series_chart(const char* css_class, const std::vector<series::Point>& points, const std::string& label,
                   const classify::LeakFactor& f) {
  Chart chart;
  chart.css_class = css_class;
  chart.legend = true;  // which line is measured, which is the fit
  chart.lines.push_back({points, label, "#0072B2", true, false});
  if (f.cls != classify::LeakClass::insufficient_data)
    chart.lines.push_back({fitted_curve(points, f), "fitted curve (" + class_name(f) + ")", "#D55E00", false, true});
  return chart;
}

// Watch mode: the process's heap over time, as the leakers' bytes are shown.
void write_heap(std::ostream& out, const HeapReport& heap) {
  const std::string cls = class_name(heap.verdict);
  out << fmt::format("<div class=\"heap\" data-class=\"{}\" data-zoomed=\"{}\">\n", cls, heap.zoomed ? "yes" : "no");
  out << fmt::format("<h3><span class=\"class {}\">{}</span> {}</h3>\n", cls, cls, html_escape(heap_text(heap, false)));
  if (heap.series.size() >= 2)
    out << render_svg(series_chart("heap-chart", heap.series, "heap (anonymous resident)", heap.verdict)) << '\n';
  out << "</div>\n";
}

void write_leaker(std::ostream& out, std::size_t rank, const Leaker& leaker) {
  const classify::LeakFactor& f = leaker.leak_factor;
  const std::string cls = class_name(f);
  out << fmt::format("<div class=\"leaker\" data-class=\"{}\" data-stack-id=\"{:#x}\">\n", cls, leaker.stack_id);
  out << fmt::format("<h3>#{} <span class=\"class {}\">{}</span> leak {}, {}, outstanding {} in {} blocks ({} "
                     "allocs, {} frees)</h3>\n",
                     rank, cls, cls, format_bytes(f.leak), format_rate(f.growth_bytes_per_s),
                     format_bytes(leaker.outstanding_bytes), leaker.outstanding_allocs, leaker.total_allocs,
                     leaker.total_frees);
  out << render_svg(series_chart("leaker-chart", leaker.series, "outstanding bytes", f)) << '\n';
  out << "<ol class=\"stack\">\n";
  for (const symbolize::Frame& frame : leaker.stack) {
    const auto lines = symbolize::format_frame_with_inlined(frame);
    for (std::size_t i = 0; i < lines.size(); ++i)
      out << fmt::format("<li{}>{}</li>\n", i + 1 < lines.size() ? " class=\"inl\"" : "", html_escape(lines[i]));
  }
  out << "</ol>\n</div>\n";
}

void write_overview(std::ostream& out, const Report& report) {
  std::vector<std::pair<std::uint32_t, const Leaker*>> all;
  for (const ProcessReport& p : report.processes)
    for (const Leaker& l : p.leakers)
      if (l.leak_factor.is_leak()) all.push_back({p.pid, &l});
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.second->leak_factor.leak > b.second->leak_factor.leak; });
  if (all.size() > kOverviewLines) all.resize(kOverviewLines);
  out << "<h2>Overview: outstanding bytes of the top leakers</h2>\n";
  if (all.empty()) {
    out << "<p class=\"overview-empty\">No leak detected.</p>\n";
    return;
  }
  Chart chart;
  chart.css_class = "overview";
  chart.width = 900;
  chart.height = 260;
  chart.legend = true;
  for (std::size_t i = 0; i < all.size(); ++i)
    chart.lines.push_back({all[i].second->series, leaker_label(all[i].first, *all[i].second), kPalette[i], false, false});
  out << render_svg(chart) << '\n';
}

}  // namespace

std::vector<series::Point> fitted_curve(const Leaker& leaker) { return fitted_curve(leaker.series, leaker.leak_factor); }

std::vector<series::Point> fitted_curve(std::span<const series::Point> series, const classify::LeakFactor& f) {
  std::vector<series::Point> curve;
  if (series.size() < 2) return curve;
  const double t0 = series.front().t_s, t1 = series.back().t_s;
  // The fit is on normalised data (classify/leak_factor.h): x = (t - t0) / (t1 - t0) and bytes
  // = min_size + (max_size - min_size) * (a x^2 + b x + c).
  for (int i = 0; i <= kFitSteps; ++i) {
    const double x = static_cast<double>(i) / kFitSteps;
    const double y = f.coef[0] * x * x + f.coef[1] * x + f.coef[2];
    curve.push_back({t0 + x * (t1 - t0), std::max(0.0, f.min_size + (f.max_size - f.min_size) * y)});
  }
  return curve;
}

void HtmlRenderer::render(const Report& report, std::ostream& out) {
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>edleak-bpf report</title>\n<style>"
      << kStyle << "</style></head><body>\n";
  out << fmt::format("<h1>edleak-bpf {}report</h1>\n<p class=\"meta\">{} UTC &middot; {} samples over {:.1f} s "
                     "(interval {:.3g} s) &middot; lost {} allocs, {} stacks; stack errors {}; untracked frees {}</p>\n",
                     report.final ? "final " : "", format_utc_iso8601(report.time), report.samples, report.elapsed_s,
                     report.interval_s, report.stats.lost_allocs, report.stats.lost_sites, report.stats.stack_errors,
                     report.stats.unknown_frees);
  if (report.watch) out << fmt::format("<p class=\"watch\">{}</p>\n", html_escape(watch_text(*report.watch)));
  write_overview(out, report);
  for (const ProcessReport& p : report.processes) {
    out << fmt::format("<section class=\"process\" data-pid=\"{}\">\n<h2>pid {} ({}{})</h2>\n", p.pid, p.pid,
                       html_escape(p.comm), p.exited ? ", exited" : "");
    for (const std::string& note : p.notes) out << fmt::format("<p class=\"note\">{}</p>\n", html_escape(note));
    if (p.heap) write_heap(out, *p.heap);
    // Watch mode, a process not traced: its heap is all there is to say.
    if (p.heap && !p.heap->zoomed && !p.heap->zoom_ended) {
      out << "</section>\n";
      continue;
    }
    out << fmt::format("<p class=\"meta\">{} leaking of {} stacks, {} outstanding, {} allocs, {} frees</p>\n",
                       p.leaking_stacks, p.stacks, format_bytes(p.outstanding_bytes), p.total_allocs, p.total_frees);
    for (std::size_t i = 0; i < p.leakers.size(); ++i) write_leaker(out, i + 1, p.leakers[i]);
    if (p.unlisted > 0) out << fmt::format("<p class=\"more\">{} more stacks (--top)</p>\n", p.unlisted);
    out << "</section>\n";
  }
  out << "</body></html>\n";
  out.flush();
}

}  // namespace edleak::report
