// A report reuses the verdicts of the stacks whose series did not change since the last report
// (classify/remembered_verdict.h): a run reported at every reading is judged at each exactly as
// a table that never reported before judges it.
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "report/json_renderer.h"
#include "synthetic_capture.h"

namespace edleak::app {
namespace {

using nlohmann::json;
using synthetic::resolver_of;
using synthetic::synthetic_run;
using synthetic::SyntheticRun;

json as_json(const report::Report& report) {
  std::ostringstream out;
  report::JsonRenderer().render(report, out);
  return json::parse(out.str());
}

TEST(RememberedVerdicts, AReportAtEveryReadingJudgesAsAFreshTable) {
  const SyntheticRun run = synthetic_run();
  for (bool attached : {true, false}) {
    ReportContext context;  // as the tracer's interim reports: leaks only
    context.interval_s = 0.25;
    context.top = 50;
    context.attached = attached;
    sample::SiteTable reported;
    std::size_t leaks_at_the_end = 0;
    for (std::size_t r = 0; r < run.snapshots.size(); ++r) {
      reported.ingest(run.snapshots[r]);
      context.elapsed_s = run.snapshots[r].t_s;
      const json again = as_json(build_report(reported, run.infos, resolver_of(run), context));
      sample::SiteTable fresh;
      for (std::size_t i = 0; i <= r; ++i) fresh.ingest(run.snapshots[i]);
      const json afresh = as_json(build_report(fresh, run.infos, resolver_of(run), context));
      ASSERT_EQ(again, afresh) << (attached ? "attached" : "from exec") << ", reading " << r;
      leaks_at_the_end = 0;
      for (const json& p : again["processes"]) leaks_at_the_end += p["leakers"].size();
    }
    // Stacks went from no leak to a leak over the run, the verdicts kept before had to go.
    EXPECT_GE(leaks_at_the_end, 5u) << (attached ? "attached" : "from exec");
  }
}

}  // namespace
}  // namespace edleak::app
