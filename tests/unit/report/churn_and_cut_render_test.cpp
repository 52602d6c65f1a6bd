// Text and JSON of what the report builder adds for users: churning stacks, the --top cut,
// stacks listed without a leak, sparklines.
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "report/format.h"
#include "report/json_renderer.h"
#include "report/text_renderer.h"
#include "sample_report.h"

namespace edleak::report {
namespace {

Report with_churn_and_cut() {
  Report r = test_data::sample_report();
  ProcessReport& p = r.processes[0];
  for (int t = 0; t < 12; ++t) p.leakers[0].series.push_back({double(t), 2000.0 * (t + 1)});
  Leaker quiet = p.leakers[0];
  quiet.leak_factor = {};
  quiet.leak_factor.cls = classify::LeakClass::insufficient_data;
  p.leakers.push_back(quiet);
  p.unlisted = 8;
  p.churn_stacks = 3;
  p.churn_allocs_per_s = 1500;
  Churner c;
  c.stack_id = 0x77;
  c.stack = {test_data::frame(0x10, "handle_request", 4, "/usr/bin/server", "server.c", 70)};
  c.total_allocs = 12000, c.total_frees = 11999, c.outstanding_bytes = 2048, c.allocs_per_s = 1000, c.frees_per_s = 999.9;
  p.churners = {c};
  return r;
}

std::string text_of(const Report& r) {
  std::ostringstream out;
  TextRenderer(TextRenderer::TimeZone::utc).render(r, out);
  return out.str();
}

TEST(TextReport, SparklineMoreStacksAndNoMeaninglessLeakLine) {
  const std::string text = text_of(with_churn_and_cut());
  EXPECT_NE(text.find("(31 allocs, 1 free)  ▁▂▂▃▄▄▅▅▆▇▇█\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  #2 no trend yet outstanding 29.3 KiB in 30 blocks (31 allocs, 1 free)\n"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("insufficient_data"), std::string::npos) << text;
  EXPECT_EQ(text.find("leak 0 B"), std::string::npos) << text;
  EXPECT_NE(text.find("  ... 8 more stacks not shown (--top)\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("churn"), std::string::npos) << "churn is for -a\n" << text;
}

TEST(TextReport, ChurnWithAllStacks) {
  Report r = with_churn_and_cut();
  r.all_stacks = true;
  const std::string text = text_of(r);
  EXPECT_NE(text.find("  churn: 3 stacks allocating and freeing, 1500.0 allocs/s together\n"
                      "  churn #1 1000.0 allocs/s, 999.9 frees/s, outstanding 2.0 KiB (12000 allocs, 11999 frees)\n"
                      "      handle_request+0x4 (server.c:70) [/usr/bin/server]\n"),
            std::string::npos)
      << text;
}

TEST(JsonReport, ChurnAlwaysAndNonLeakersApart) {
  std::ostringstream out;
  JsonRenderer().render(with_churn_and_cut(), out);
  const auto j = nlohmann::json::parse(out.str());
  const auto& p = j["processes"][0];
  EXPECT_EQ(p["leakers"].size(), 1u);
  EXPECT_EQ(p["other_stacks"].size(), 1u);
  EXPECT_EQ(p["other_stacks"][0]["leak_factor"]["class"], "insufficient_data");
  EXPECT_EQ(p["unlisted_stacks"], 8);
  EXPECT_EQ(p["churn"]["stacks"], 3);
  EXPECT_EQ(p["churn"]["allocs_per_s"], 1500.0);
  ASSERT_EQ(p["churn"]["top"].size(), 1u);
  EXPECT_EQ(p["churn"]["top"][0]["stack"][0]["symbol"], "handle_request");
  EXPECT_EQ(p["churn"]["top"][0]["total_frees"], 11999);
}

TEST(Sparkline, ScalesFromLowestToHighest) {
  std::vector<series::Point> up, flat;
  for (int i = 0; i < 8; ++i) up.push_back({double(i), double(i)}), flat.push_back({double(i), 5});
  EXPECT_EQ(sparkline(up), "▁▂▃▄▅▆▇█");
  EXPECT_EQ(sparkline(flat), "▁▁▁▁▁▁▁▁");
  EXPECT_EQ(sparkline(up, 4), "▁▃▆█");
  EXPECT_EQ(sparkline(std::vector<series::Point>{{0, 1}}), "");
}

}  // namespace
}  // namespace edleak::report
