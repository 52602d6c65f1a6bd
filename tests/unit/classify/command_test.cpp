#include "classify/command.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace edleak::classify {
namespace {

struct Outcome {
  int code;
  std::string out, err;
};

Outcome run(const std::string& input, bool json, const std::string& stdin_text) {
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  int code = run_classify_command(input, json, in, out, err);
  return {code, out.str(), err.str()};
}

// 100 bytes more every second: a linear leak of 1500 bytes over 16 samples.
std::string linear_series() {
  std::string text = "# t bytes\n";
  for (int i = 0; i < 16; ++i) text += std::to_string(1000 + i) + " " + std::to_string(2000 + 100 * i) + "\n";
  return text;
}

TEST(ClassifyCommand, PrintsEdleaksJsonObject) {
  Outcome r = run("-", true, linear_series());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc.size(), 1u);
  const auto& f = doc.at("leak_factor");
  EXPECT_EQ(f.size(), 9u);  // edLeak's five, then leak_edleak, leak_blocks, evidence, confidence
  EXPECT_EQ(f.at("class"), "linear");
  EXPECT_EQ(f.at("leak_edleak"), 1500);
  EXPECT_EQ(f.at("evidence"), "trend");
  EXPECT_EQ(f.at("leak"), 1500);
  EXPECT_EQ(f.at("min_size"), 2000);
  EXPECT_EQ(f.at("max_size"), 3500);
  ASSERT_EQ(f.at("coef").size(), 3u);
  EXPECT_NEAR(f.at("coef")[1].get<double>(), 1.0, 1e-9);
  EXPECT_EQ(r.out.back(), '\n');
}

TEST(ClassifyCommand, PrintsReadableText) {
  Outcome r = run("-", false, linear_series());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("class:    linear (leaks regularly)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("leak:     1.5 KiB (1500 bytes)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("min size: 2.0 KiB (2000 bytes)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("growth:   +100 B/s\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.rfind("series:   16 samples over 15 s\n", 0), 0u) << r.out;
}

TEST(ClassifyCommand, ReportsBadInputWithFileAndLine) {
  const std::string path = ::testing::TempDir() + "classify_bad.txt";
  {
    std::ofstream file(path);
    file << "0 1\n1 2\n2 3\n3 4\n4 5\n5 6\nabc 7\n";
  }
  Outcome r = run(path, false, "");
  std::remove(path.c_str());
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "edleak-bpf: classify: " + path + ":7: 'abc' is not a number\n");
}

TEST(ClassifyCommand, NamesStdinInErrors) {
  Outcome r = run("-", true, "0 1\n1 0\n0 5\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "edleak-bpf: classify: <stdin>:3: time 0 goes backwards (previous sample at 1)\n");
}

TEST(ClassifyCommand, ReportsAMissingFile) {
  Outcome r = run("/nonexistent/series.txt", false, "");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "edleak-bpf: classify: cannot open '/nonexistent/series.txt': No such file or directory\n");
}

TEST(ClassifyCommand, ConstantSeriesIsNoLeak) {
  std::string text;
  for (int i = 0; i < 10; ++i) text += std::to_string(i) + " 4096\n";
  Outcome r = run("-", true, text);
  ASSERT_EQ(r.code, 0);
  EXPECT_EQ(r.out, R"({"leak_factor":{"class":"constant","coef":[0.0,0.0,0.0],"leak":0,"min_size":4096,"max_size":4096,)"
            R"("leak_edleak":0,"leak_blocks":0,"evidence":"none","confidence":0.0}})" "\n");
}

TEST(ClassifyCommand, ShowsSlowGrowthRates) {
  LeakFactor f;
  f.growth_bytes_per_s = 0.25;
  EXPECT_NE(format_leak_factor_text(f).find("growth:   +0.25 B/s\n"), std::string::npos);
  f.growth_bytes_per_s = -3 * 1048576.0;
  EXPECT_NE(format_leak_factor_text(f).find("growth:   -3.0 MiB/s\n"), std::string::npos);
}

TEST(FormatBytes, UsesBinaryUnitsChosenAfterRounding) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(15009), "14.7 KiB");
  EXPECT_EQ(format_bytes(1048575), "1.0 MiB");
  EXPECT_EQ(format_bytes(3ULL << 30), "3.0 GiB");
}

}  // namespace
}  // namespace edleak::classify
