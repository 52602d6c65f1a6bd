#include "report/svg_chart.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "report/format.h"

namespace edleak::report {
namespace {

constexpr int kLeft = 70, kRight = 12, kTop = 12, kBottom = 28;

struct Bounds {
  double t0 = 0, t1 = 1, b0 = 0, b1 = 1;
};

Bounds bounds_of(const Chart& chart) {
  Bounds b{INFINITY, -INFINITY, 0, -INFINITY};
  for (const ChartLine& line : chart.lines)
    for (const series::Point& p : line.points) {
      b.t0 = std::min(b.t0, p.t_s), b.t1 = std::max(b.t1, p.t_s);
      b.b1 = std::max(b.b1, p.bytes);
    }
  if (!std::isfinite(b.t0)) b.t0 = 0, b.t1 = 1;
  if (b.t1 <= b.t0) b.t1 = b.t0 + 1;
  if (!(b.b1 > b.b0)) b.b1 = b.b0 + 1;
  return b;
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : printable(text)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_svg(const Chart& chart) {
  const Bounds b = bounds_of(chart);
  const double plot_w = chart.width - kLeft - kRight, plot_h = chart.height - kTop - kBottom;
  auto x = [&](double t) { return kLeft + (t - b.t0) / (b.t1 - b.t0) * plot_w; };
  auto y = [&](double bytes) { return kTop + plot_h - (bytes - b.b0) / (b.b1 - b.b0) * plot_h; };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart {}\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\">\n",
      chart.css_class, chart.width, chart.height, chart.width, chart.height);
  // Axes with four ticks each: bytes on the left, seconds below.
  svg += fmt::format("<rect class=\"plot\" x=\"{}\" y=\"{}\" width=\"{:.0f}\" height=\"{:.0f}\"/>\n", kLeft, kTop,
                     plot_w, plot_h);
  for (int i = 0; i <= 4; ++i) {
    const double bytes = b.b0 + (b.b1 - b.b0) * i / 4, t = b.t0 + (b.t1 - b.t0) * i / 4;
    svg += fmt::format("<line class=\"grid\" x1=\"{}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/>", kLeft,
                       kLeft + plot_w, y(bytes), y(bytes));
    svg += fmt::format("<text class=\"ylabel\" x=\"{}\" y=\"{:.1f}\">{}</text>", kLeft - 6, y(bytes) + 4,
                       format_bytes(static_cast<std::uint64_t>(std::llround(bytes))));
    svg += fmt::format("<text class=\"xlabel\" x=\"{:.1f}\" y=\"{}\">{:.0f}s</text>\n", x(t), chart.height - 8, t);
  }
  int legend_row = 0;
  for (const ChartLine& line : chart.lines) {
    std::string pts;
    for (const series::Point& p : line.points) pts += fmt::format("{:.1f},{:.1f} ", x(p.t_s), y(p.bytes));
    svg += fmt::format("<polyline class=\"{}\" data-points=\"{}\" data-label=\"{}\" fill=\"none\" stroke=\"{}\" "
                       "points=\"{}\"/>\n",
                       line.fit ? "fit" : "series", line.points.size(), html_escape(line.label), line.color, pts);
    if (line.markers)
      for (const series::Point& p : line.points)
        svg += fmt::format("<circle class=\"point\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>", x(p.t_s),
                           y(p.bytes), line.color);
    if (chart.legend && !line.label.empty()) {
      const int ly = kTop + 14 + 14 * legend_row++;
      svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>"
                         "<text class=\"legend\" x=\"{}\" y=\"{}\">{}</text>\n",
                         kLeft + 8, ly - 9, line.color, kLeft + 22, ly, html_escape(line.label));
    }
  }
  svg += "</svg>";
  return svg;
}

}  // namespace edleak::report
