#pragma once
// Line charts as inline SVG for the HTML report: outstanding bytes over time, one or more
// series, an optional fitted curve, labelled axes. No script, no external resource.
#include <string>
#include <vector>

#include "series/series.h"

namespace edleak::report {

struct ChartLine {
  std::vector<series::Point> points;
  std::string label;      // legend text (escaped by the chart)
  std::string color;      // CSS color
  bool markers = false;   // a circle per point (class "point")
  bool fit = false;       // drawn dashed, class "fit" rather than "series"
};

struct Chart {
  int width = 560, height = 200;
  std::string css_class;  // on the <svg>
  std::vector<ChartLine> lines;
  bool legend = false;
};

// The <svg> element. Each series is a <polyline class="series" data-points="N">; the fit a
// <polyline class="fit">; with markers, N <circle class="point">.
std::string render_svg(const Chart& chart);

// Escapes &, <, >, " and ' for HTML text and attributes; control bytes become \xNN.
std::string html_escape(const std::string& text);

}  // namespace edleak::report
