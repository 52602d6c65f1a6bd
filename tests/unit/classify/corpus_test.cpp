// The rule against the labelled synthetic corpus of bytes series (the shapes without counts;
// prefix_corpus_test.cpp scores every shape, counts included, at every prefix): accuracy per
// shape, ours and edLeak's, on the whole series.
// The table is printed on every run; docs/classifier.md quotes it and explains the rule.
#include <cstdio>
#include <map>

#include <gtest/gtest.h>

#include "classify/leak_factor.h"
#include "classify/synthetic.h"
#include "series/series.h"

namespace edleak::classify {
namespace {

using synthetic::Shape;

struct Tally {
  std::size_t total = 0, ours = 0, edleak = 0;
  std::size_t long_total = 0, long_ours = 0;  // series of at least 16 points
  double ours_share() const { return static_cast<double>(ours) / static_cast<double>(total); }
  double long_share() const { return static_cast<double>(long_ours) / static_cast<double>(long_total); }
};

class Corpus : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    synthetic::CorpusSpec spec;
    spec.variants = 20;  // 13 shapes x 9 lengths x 4 scales x 20 = 9360 series
    for (const synthetic::LabelledSeries& s : synthetic::make_corpus(spec)) {
      if (synthetic::has_counts(s.shape)) continue;
      Tally& t = tallies_[s.shape];
      const bool ours = compute_leak_factor(s.samples).cls == s.expected;
      ++t.total;
      t.ours += ours;
      t.edleak += compute_leak_factor_edleak(s.samples).cls == s.expected;
      if (s.points >= 16) {
        ++t.long_total;
        t.long_ours += ours;
      }
    }
    Tally all;
    std::printf("%-14s %7s %8s %10s %8s\n", "shape", "series", "ours", "ours n>=16", "edLeak");
    for (Shape shape : synthetic::all_shapes()) {
      if (synthetic::has_counts(shape)) continue;
      const Tally& t = tallies_[shape];
      std::printf("%-14s %7zu %7.1f%% %9.1f%% %7.1f%%\n", std::string(synthetic::to_string(shape)).c_str(),
                  t.total, 100 * t.ours_share(), 100 * t.long_share(),
                  100.0 * static_cast<double>(t.edleak) / static_cast<double>(t.total));
      all.total += t.total;
      all.ours += t.ours;
      all.edleak += t.edleak;
      all.long_total += t.long_total;
      all.long_ours += t.long_ours;
    }
    overall_ = all;
    std::printf("%-14s %7zu %7.2f%% %9.2f%% %7.2f%%\n", "overall", all.total, 100 * all.ours_share(),
                100 * all.long_share(), 100.0 * static_cast<double>(all.edleak) / static_cast<double>(all.total));
  }
  static std::map<Shape, Tally> tallies_;
  static Tally overall_;
};
std::map<Shape, Tally> Corpus::tallies_;
Tally Corpus::overall_;

TEST_F(Corpus, NoFalseLeaksOnFlatSpikesAndBatchBuffers) {
  for (Shape shape : {Shape::flat, Shape::flat_noise, Shape::spike, Shape::sawtooth})
    EXPECT_EQ(tallies_[shape].ours, tallies_[shape].total) << synthetic::to_string(shape);
}

// Churn wanders: eight samples of it now and then line up as a trend (1 series in 720 here,
// 8 points long).
TEST_F(Corpus, ChurnIsAlmostNeverALeak) {
  EXPECT_GE(tallies_[Shape::churn].ours_share(), 0.998);
  EXPECT_EQ(tallies_[Shape::churn].long_ours, tallies_[Shape::churn].long_total);
}

TEST_F(Corpus, FindsTheLeaksAndNamesTheirShape) {
  const std::map<Shape, double> minimum{
      {Shape::linear, 0.99},        {Shape::slow_linear, 1.0},   {Shape::staircase, 1.0},
      {Shape::exponential, 0.95},   {Shape::quadratic, 1.0},     {Shape::logarithmic, 0.99},
      {Shape::cache_filling, 0.99}, {Shape::cache_filled, 0.88},
  };
  for (const auto& [shape, share] : minimum)
    EXPECT_GE(tallies_[shape].ours_share(), share) << synthetic::to_string(shape);
}

// From 16 points on, every shape but a few noisy linear and exponential ones is right.
TEST_F(Corpus, SixteenPointsAreEnoughForEveryShape) {
  for (Shape shape : synthetic::all_shapes()) {
    if (synthetic::has_counts(shape)) continue;
    EXPECT_GE(tallies_[shape].long_share(), 0.99) << synthetic::to_string(shape);
  }
  EXPECT_GE(overall_.long_share(), 0.998);
}

TEST_F(Corpus, BeatsEdleaksRule) {
  EXPECT_GE(overall_.ours_share(), 0.98);
  EXPECT_LT(static_cast<double>(overall_.edleak) / static_cast<double>(overall_.total), 0.9);
}

// The tracer's path: every sample through the bounded Series (256 points of bucket means),
// then the leak factor, on runs of ten minutes to a day at one sample per second.
TEST(CorpusThroughSeries, EveryShapeOverLongRuns) {
  std::size_t wrong = 0, total = 0;
  for (Shape shape : synthetic::all_shapes()) {
    if (synthetic::has_counts(shape)) continue;
    for (std::size_t samples : {600u, 3600u, 86400u})
      for (double scale : {100.0, 1e9})
        for (std::uint64_t variant = 0; variant < 2; ++variant) {
          series::Series series;
          for (const series::Point& p : synthetic::generate(shape, samples, scale, 7 * variant + samples))
            series.append(p.t_s, p.bytes);
          const LeakFactor f = compute_leak_factor(series);
          ++total;
          wrong += f.cls != synthetic::expected_class(shape);
          EXPECT_EQ(f.cls, synthetic::expected_class(shape))
              << synthetic::to_string(shape) << " over " << samples << " samples, scale " << scale;
          EXPECT_EQ(f.min_size, series.min_bytes());
          EXPECT_EQ(f.max_size, series.max_bytes());
        }
  }
  std::printf("through the series: %zu of %zu right\n", total - wrong, total);
}

TEST(Synthetic, IsDeterministic) {
  const auto a = synthetic::generate(Shape::churn, 64, 1e6, 42);
  const auto b = synthetic::generate(Shape::churn, 64, 1e6, 42);
  ASSERT_EQ(a.size(), 64u);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].bytes, b[i].bytes);
  EXPECT_NE(synthetic::generate(Shape::churn, 64, 1e6, 43)[10].bytes, a[10].bytes);
}

TEST(Synthetic, LabelsEveryShape) {
  for (Shape shape : synthetic::all_shapes())
    EXPECT_NE(synthetic::expected_class(shape), LeakClass::insufficient_data) << synthetic::to_string(shape);
  EXPECT_EQ(synthetic::expected_class(Shape::cache_filled), LeakClass::logarithmic);
  EXPECT_EQ(synthetic::expected_class(Shape::sawtooth), LeakClass::constant);
}

}  // namespace
}  // namespace edleak::classify
