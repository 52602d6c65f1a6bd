#pragma once
// The report as one self-contained HTML page (--html FILE, `report FILE --format html`): no
// script, no external resource. An overview chart of the top leakers together, then one section
// per process and, per leaker, the class, leak size and rate, its outstanding bytes over time
// (SVG, a marker per point) with the fitted curve, and the symbolized stack.
//
// The DOM is part of the interface (tests/runtime/html_browser_test.cpp reads it back in
// Chromium): section.process[data-pid], div.leaker[data-class], svg.leaker-chart with
// polyline.series[data-points] and polyline.fit, span.class, svg.overview.
#include <ostream>

#include "report/renderer.h"

namespace edleak::report {

class HtmlRenderer final : public Renderer {
 public:
  void render(const Report& report, std::ostream& out) override;
};

// The fitted curve of a leaker, in bytes over the times of its series (kFitSteps + 1 points).
std::vector<series::Point> fitted_curve(const Leaker& leaker);

}  // namespace edleak::report
