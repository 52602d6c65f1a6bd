// When the files made from a recording are rewritten (app/outputs.h).
#include <gtest/gtest.h>

#include "app/outputs.h"

namespace edleak::app {
namespace {

using namespace std::chrono_literals;
using Clock = RewriteBudget::Clock;

TEST(RewriteBudget, FirstIsDueThenWaitsNineTimesItsCost) {
  RewriteBudget budget;
  const Clock::time_point t0 = Clock::now();
  EXPECT_TRUE(budget.due(t0, false));
  budget.done(t0, t0 + 100ms);  // a rewrite of 100 ms
  EXPECT_FALSE(budget.due(t0 + 100ms, false));
  EXPECT_FALSE(budget.due(t0 + 999ms, false));
  EXPECT_TRUE(budget.due(t0 + 1000ms, false));  // 900 ms after it ended: 1/10 of the time
  budget.done(t0 + 1000ms, t0 + 1001ms);        // a cheap one: due again soon
  EXPECT_TRUE(budget.due(t0 + 1010ms, false));
}

TEST(RewriteBudget, TheFinalReportAlwaysRewrites) {
  RewriteBudget budget;
  const Clock::time_point t0 = Clock::now();
  budget.done(t0, t0 + 10s);
  EXPECT_FALSE(budget.due(t0 + 11s, false));
  EXPECT_TRUE(budget.due(t0 + 11s, true));
}

}  // namespace
}  // namespace edleak::app
