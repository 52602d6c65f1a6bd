#pragma once
// The report as one self-contained HTML page (--html FILE, `report FILE --format html`): no
// script, no external resource. An overview chart of the top leakers together, then one section
// per process and, per leaker, the class, leak size and rate, its outstanding bytes over time
// (SVG, a marker per point) with the fitted curve, and the symbolized stack.
//
// The DOM is part of the interface (tests/runtime/html_browser_test.cpp reads it back in
// Chromium): section.process[data-pid], div.leaker[data-class], svg.leaker-chart with
// polyline.series[data-points] and polyline.fit, span.class, svg.overview; in watch mode
// p.watch and, per process listed for its heap, div.heap[data-class][data-zoomed] with
// svg.heap-chart (drawn as a leaker's chart is).
#include <ostream>
#include <span>
#include <vector>

#include "report/renderer.h"

namespace edleak::report {

class HtmlRenderer final : public Renderer {
 public:
  void render(const Report& report, std::ostream& out) override;
};

// The fitted curve of a leaker, in bytes over the times of its series (kFitSteps + 1 points).
std::vector<series::Point> fitted_curve(const Leaker& leaker);
// The same for any series and its verdict (a process's heap).
std::vector<series::Point> fitted_curve(std::span<const series::Point> series, const classify::LeakFactor& factor);

}  // namespace edleak::report
