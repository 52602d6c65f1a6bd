#include "classify/leak_factor.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include <Eigen/Dense>
#include <gtest/gtest.h>

#include "classify/leak_factor_json.h"
#include "series/series.h"

namespace edleak::classify {
namespace {

using series::Point;

std::vector<Point> line(std::size_t n, double start, double step_per_sample, double t0 = 0,
                        double interval = 1) {
  std::vector<Point> points;
  for (std::size_t i = 0; i < n; ++i)
    points.push_back({t0 + interval * static_cast<double>(i), start + step_per_sample * static_cast<double>(i)});
  return points;
}

// The seed's own example: edLeak printed this leak factor for allocer 21 of its leaker test.
TEST(LeakSize, ReproducesTheSeedExample) {
  const std::array<double, 3> coef{-0.030319879363351707, 0.9684086019444907, 0.017054468535166723};
  EXPECT_EQ(leak_size(coef, 2000, 18000), 15009u);
}

TEST(LeakSize, IsZeroWhenTheTrendFallsOrThereIsNoRange) {
  EXPECT_EQ(leak_size({0.1, -0.5, 1.0}, 0, 1000), 0u);
  EXPECT_EQ(leak_size({0.0, 1.0, 0.0}, 500, 500), 0u);
  EXPECT_EQ(leak_size({std::nan(""), 1.0, 0.0}, 0, 1000), 0u);
  EXPECT_EQ(leak_size({0.0, 1.0, 0.0}, 0, 1e30), UINT64_MAX);
}

TEST(LeakClassNames, RoundTrip) {
  for (LeakClass c : {LeakClass::insufficient_data, LeakClass::constant, LeakClass::linear,
                      LeakClass::logarithmic, LeakClass::exponential})
    EXPECT_EQ(leak_class_from_string(to_string(c)), c);
  EXPECT_EQ(to_string(LeakClass::linear), "linear");
  EXPECT_EQ(leak_class_from_string("Linear"), std::nullopt);
}

TEST(LeakFactorJson, HasEdleaksFieldsFirstThenOurEvidence) {
  LeakFactor f;
  f.cls = LeakClass::linear;
  f.coef = {-0.030319879363351707, 0.9684086019444907, 0.017054468535166723};
  f.leak = 15009;
  f.min_size = 2000;
  f.max_size = 18000;
  f.growth_bytes_per_s = 12.5;  // ours, not edLeak's: not in this object
  f.leak_edleak = 15009;
  f.leak_blocks = 120;
  f.evidence = Evidence::floor;
  f.confidence = 2.345;
  EXPECT_EQ(to_json(f).dump(),
            R"({"class":"linear","coef":[-0.030319879363351707,0.9684086019444907,0.017054468535166723],)"
            R"("leak":15009,"min_size":2000,"max_size":18000,)"
            R"("leak_edleak":15009,"leak_blocks":120,"evidence":"floor","confidence":2.35})");
  f.min_size = 0.5;
  EXPECT_EQ(to_json(f)["min_size"].get<double>(), 0.5);
}

TEST(LeakFactor, TooFewPointsIsInsufficientData) {
  const LeakFactor f = compute_leak_factor(line(kMinPoints - 1, 0, 1000));
  EXPECT_EQ(f.cls, LeakClass::insufficient_data);
  EXPECT_FALSE(f.is_leak());
  EXPECT_EQ(f.min_size, 0);
  EXPECT_EQ(f.max_size, 6000);
  EXPECT_EQ(compute_leak_factor(std::vector<Point>{}).cls, LeakClass::insufficient_data);
}

TEST(LeakFactor, NoTimeSpanIsInsufficientData) {
  std::vector<Point> same_time = line(20, 0, 1000, 5, 0);
  EXPECT_EQ(compute_leak_factor(same_time).cls, LeakClass::insufficient_data);
}

// Only two distinct times: the parabola is not determined, the verdict must still be sane.
TEST(LeakFactor, TwoDistinctTimesGiveAFiniteVerdict) {
  std::vector<Point> points;
  for (int i = 0; i < 10; ++i) points.push_back({i < 5 ? 0.0 : 60.0, i < 5 ? 1000.0 : 5000.0});
  const LeakFactor f = compute_leak_factor(points);
  for (double c : f.coef) EXPECT_TRUE(std::isfinite(c));
  EXPECT_TRUE(std::isfinite(f.growth_bytes_per_s));
  EXPECT_NE(f.cls, LeakClass::insufficient_data);
  EXPECT_EQ(f.min_size, 1000);
  EXPECT_EQ(f.max_size, 5000);
}

TEST(LeakFactor, ReportsTheSamplesExtremesForMeans) {
  std::vector<Point> means = line(64, 1000, 10);
  const LeakFactor f = compute_leak_factor(means, 900, 2000);
  EXPECT_EQ(f.min_size, 900);
  EXPECT_EQ(f.max_size, 2000);
  EXPECT_EQ(f.cls, LeakClass::linear);
  EXPECT_EQ(f.leak, 630u);  // the trend's rise, whatever the range it is normalised by
  EXPECT_EQ(compute_leak_factor(line(4, 1, 1), 0, 9).max_size, 9);
}

TEST(LeakFactor, ConstantBytesAreConstant) {
  const LeakFactor f = compute_leak_factor(line(50, 65536, 0));
  EXPECT_EQ(f.cls, LeakClass::constant);
  EXPECT_EQ(f.leak, 0u);
  EXPECT_EQ(f.min_size, 65536);
  EXPECT_EQ(f.max_size, 65536);
  EXPECT_EQ(f.growth_bytes_per_s, 0);
}

TEST(LeakFactor, SteadyGrowthIsALinearLeakOfItsSize) {
  // 100 bytes every 2 s for 100 samples, from a 1 MiB base.
  const LeakFactor f = compute_leak_factor(line(100, 1 << 20, 100, 1000, 2));
  EXPECT_EQ(f.cls, LeakClass::linear);
  EXPECT_EQ(f.leak, 9900u);
  EXPECT_NEAR(f.coef[0], 0, 1e-9);
  EXPECT_NEAR(f.coef[1], 1, 1e-9);
  EXPECT_NEAR(f.coef[2], 0, 1e-9);
  EXPECT_NEAR(f.growth_bytes_per_s, 50, 1e-6);
  EXPECT_EQ(f.min_size, 1 << 20);
  EXPECT_EQ(f.max_size, (1 << 20) + 9900);
}

TEST(LeakFactor, ShrinkingIsNoLeak) {
  const LeakFactor f = compute_leak_factor(line(40, 1e6, -1000));
  EXPECT_EQ(f.cls, LeakClass::constant);
  EXPECT_EQ(f.leak, 0u);
  EXPECT_NEAR(f.growth_bytes_per_s, -1000, 1e-6);
}

TEST(LeakFactor, AcceleratingGrowthIsExponential) {
  std::vector<Point> points;
  for (int i = 0; i < 64; ++i) points.push_back({double(i), 4096 * std::exp(i / 10.0)});
  const LeakFactor f = compute_leak_factor(points);
  EXPECT_EQ(f.cls, LeakClass::exponential);
  EXPECT_GT(f.coef[0], 0.5);
  EXPECT_TRUE(f.is_leak());
}

TEST(LeakFactor, FillingThenFlatIsACache) {
  std::vector<Point> points;
  for (int i = 0; i < 120; ++i) points.push_back({double(i), 1e6 * (1 - std::exp(-i / 12.0))});
  const LeakFactor f = compute_leak_factor(points);
  EXPECT_EQ(f.cls, LeakClass::logarithmic);
  EXPECT_LT(f.coef[0], 0);
  EXPECT_TRUE(f.is_leak());
}

// The closed-form normal equations against a textbook least squares (QR on the normalised
// design matrix), on irregular times and bytes at several scales.
TEST(LeakFactor, FitMatchesAReferenceLeastSquares) {
  std::uint64_t state = 7;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  };
  for (std::size_t n : {8u, 9u, 31u, 256u}) {
    for (double scale : {300.0, 5e9}) {
      std::vector<Point> points;
      double t = 1e6 * next();
      for (std::size_t i = 0; i < n; ++i) {
        t += 0.1 + 5 * next();
        points.push_back({t, std::round(scale * (1 + next() + 0.3 * static_cast<double>(i) / n))});
      }
      const LeakFactor f = compute_leak_factor(points);
      Eigen::MatrixXd design(n, 3);
      Eigen::VectorXd y(n);
      const double span = points.back().t_s - points.front().t_s;
      for (std::size_t i = 0; i < n; ++i) {
        const double x = (points[i].t_s - points.front().t_s) / span;
        design.row(i) << x * x, x, 1;
        y[i] = (points[i].bytes - f.min_size) / (f.max_size - f.min_size);
      }
      const Eigen::Vector3d expected = design.colPivHouseholderQr().solve(y);
      for (int k = 0; k < 3; ++k)
        EXPECT_NEAR(f.coef[k], expected[k], 1e-9) << "n=" << n << " scale=" << scale << " k=" << k;
      EXPECT_NEAR(f.growth_bytes_per_s, (expected[0] + expected[1]) * (f.max_size - f.min_size) / span,
                  1e-9 * scale);
    }
  }
}

// What edLeak's rule got wrong, in three lines each: our rule says constant, edLeak's a leak.
TEST(LeakFactor, ASpikeFreedLaterIsNoLeakUnlikeEdleaksRule) {
  std::vector<Point> points = line(60, 8192, 0);
  for (int i = 30; i < 50; ++i) points[i].bytes += 50 << 20;  // 50 MiB for 20 s
  EXPECT_EQ(compute_leak_factor(points).cls, LeakClass::constant);
  EXPECT_EQ(compute_leak_factor(points).leak, 0u);
  EXPECT_TRUE(compute_leak_factor_edleak(points).is_leak());
}

TEST(LeakFactor, ABatchBufferIsNoLeakUnlikeEdleaksRule) {
  std::vector<Point> points;
  for (int i = 0; i < 64; ++i) points.push_back({double(i), 1000.0 * (i % 10)});
  points.back().bytes = 9000;  // the run stops with the buffer nearly full
  EXPECT_EQ(compute_leak_factor(points).cls, LeakClass::constant);
  EXPECT_TRUE(compute_leak_factor_edleak(points).is_leak());
}

TEST(LeakFactor, EdleaksRuleOnTheSameFitKeepsItsThresholds) {
  const LeakFactor linear = compute_leak_factor_edleak(line(30, 0, 10));
  EXPECT_EQ(linear.cls, LeakClass::linear);
  EXPECT_EQ(linear.leak, 290u);
  std::vector<Point> quadratic;
  for (int i = 0; i < 30; ++i) quadratic.push_back({double(i), double(i * i)});
  EXPECT_EQ(compute_leak_factor_edleak(quadratic).cls, LeakClass::exponential);
}

TEST(Assess, ExplainsTheVerdict) {
  std::vector<Point> points = line(32, 1000, 100);
  const Assessment a = assess(points);
  EXPECT_EQ(a.factor.cls, LeakClass::linear);
  // Lowest of the last 8 points minus lowest of the first 8: samples 24 and 0.
  EXPECT_EQ(a.evidence.floor_rise_bytes, 2400);
  EXPECT_EQ(a.evidence.floor_fall, 0);
  EXPECT_NEAR(a.evidence.noise_bytes, 0, 1e-6);
  EXPECT_GT(a.evidence.rise_over_noise, 1e6);  // an exact line: rounding is all the noise
  EXPECT_NEAR(a.evidence.relative_rise, 2400.0 / 4100.0, 1e-12);
  EXPECT_NEAR(a.evidence.curvature, 0, 1e-9);
  EXPECT_GT(required_rise_over_noise(8), required_rise_over_noise(256));
}

// Uniform deterministic noise in [-1, 1) (an LCG), so that the tests below see the same series
// everywhere.
class Jitter {
 public:
  double operator()() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state_ >> 11) * 0x1.0p-52 - 1;
  }

 private:
  std::uint64_t state_ = 12345;
};

// From 32 points a straight trend needs 2 noises less than required_rise_over_noise(n): a long
// line stands out of its noise sooner.
TEST(Assess, ALongStraightLineNeedsLessRise) {
  Jitter jitter;
  std::vector<Point> points = line(64, 1e6, 300);
  for (Point& p : points) p.bytes += 5000 * jitter();
  const Assessment a = assess(points);
  EXPECT_EQ(a.factor.cls, LeakClass::linear);
  EXPECT_EQ(a.factor.evidence, Evidence::trend);
  EXPECT_LT(a.evidence.rise_over_noise, required_rise_over_noise(64));
  EXPECT_NEAR(a.evidence.required_rise_over_noise, required_rise_over_noise(64) - 2, 1e-9);
}

// ... so long as the rise holds without the first quarter's lowest point: one dip at the start
// (churn down to 0 once) is no level the series rose from.
TEST(Assess, OneDipAtTheStartIsNotARise) {
  Jitter jitter;
  std::vector<Point> points = line(64, 1e6, 200);
  for (Point& p : points) p.bytes += 5000 * jitter();
  points[2].bytes = 1e6 - 12000;  // 2.4 times the jitter below the line's start
  const Assessment a = assess(points);
  // Its lowest point makes it stand out by more than a long trend needs, less than a short one.
  EXPECT_GE(a.evidence.rise_over_noise, a.evidence.required_rise_over_noise);
  EXPECT_LT(a.evidence.rise_over_noise, required_rise_over_noise(64));
  EXPECT_EQ(a.factor.cls, LeakClass::constant);
  EXPECT_LT(a.factor.confidence, 1);  // what the verdict rests on did not rise enough
}

// The tracer's path: a day of samples through the bounded Series, then the leak factor.
TEST(LeakFactor, ClassifiesDayLongRunsThroughTheSeries) {
  series::Series leak, steady;
  Jitter jitter;
  for (int i = 0; i < 86400; ++i) {
    const double t = i;
    leak.append(t, std::round(1e6 + 0.5 * t + 2000 * jitter()));  // 43 KB over a day, in noise
    steady.append(t, std::round(1e6 + 2000 * jitter() + (i % 600 < 60 ? 5e5 : 0)));  // bursts
  }
  const LeakFactor leaking = compute_leak_factor(leak);
  EXPECT_EQ(leaking.cls, LeakClass::linear);
  EXPECT_NEAR(static_cast<double>(leaking.leak), 43200, 43200 * 0.1);
  EXPECT_NEAR(leaking.growth_bytes_per_s, 0.5, 0.05);
  EXPECT_EQ(compute_leak_factor(steady).cls, LeakClass::constant);
}

}  // namespace
}  // namespace edleak::classify
