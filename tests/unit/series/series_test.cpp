#include "series/series.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

namespace edleak::series {
namespace {

constexpr double kDay_s = 24 * 3600;

// A deterministic wobble in [-1, 1] without any random engine: enough to make min and max land
// on arbitrary samples.
double wobble(std::uint64_t i) { return std::sin(static_cast<double>(i) * 12.9898); }

TEST(Series, StartsEmpty) {
  Series s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.samples_seen(), 0u);
  EXPECT_EQ(s.capacity(), Series::kDefaultCapacity);
}

TEST(Series, KeepsEverySampleWhileBelowCapacity) {
  Series s(16);
  for (int i = 0; i < 10; ++i) s.append(i, 100.0 * i);
  ASSERT_EQ(s.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(s.points()[i].t_s, i);
    EXPECT_EQ(s.points()[i].bytes, 100.0 * i);
  }
  EXPECT_EQ(s.min_bytes(), 0);
  EXPECT_EQ(s.max_bytes(), 900);
}

TEST(Series, RaisesTinyCapacityToTheMinimum) {
  Series s(2);
  EXPECT_EQ(s.capacity(), Series::kMinCapacity);
  for (int i = 0; i < 1000; ++i) s.append(i, i % 7);
  EXPECT_LE(s.size(), Series::kMinCapacity);
}

TEST(Series, IgnoresSamplesGoingBackOrNotFinite) {
  Series s;
  s.append(10, 1);
  s.append(5, 2);
  s.append(std::numeric_limits<double>::quiet_NaN(), 3);
  s.append(11, std::numeric_limits<double>::infinity());
  s.append(12, 4);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.samples_seen(), 2u);
  EXPECT_EQ(s.last().t_s, 12);
  EXPECT_EQ(s.max_bytes(), 4);
}

// A day at one sample per second costs exactly what a series that filled up once costs; a
// short series costs less.
TEST(Series, MemoryIsBoundedWhateverTheRunLength) {
  Series minute, full, day;
  const std::size_t empty_cost = day.memory_bytes();
  for (int i = 0; i < 60; ++i) minute.append(i, 1000 + 10.0 * i);
  for (std::size_t i = 0; i < full.capacity(); ++i) full.append(static_cast<double>(i), 1.0);
  for (std::uint64_t i = 0; i < 86400; ++i) {
    day.append(static_cast<double>(i), 1000 + 10.0 * static_cast<double>(i));
    ASSERT_LE(day.size(), day.capacity());
  }
  EXPECT_EQ(day.samples_seen(), 86400u);
  EXPECT_EQ(day.memory_bytes(), full.memory_bytes());
  EXPECT_LT(minute.memory_bytes(), day.memory_bytes());
  EXPECT_LT(empty_cost, minute.memory_bytes());
  EXPECT_LE(day.memory_bytes(), sizeof(Series) + 2 * (day.capacity() + 1) * sizeof(Point));
  // Merging keeps the points spread over the whole day, not bunched at one end.
  EXPECT_GE(day.size(), day.capacity() / 2);
}

TEST(Series, KeepsFirstLastMinAndMaxExactlyOverHours) {
  Series s;
  double true_min = std::numeric_limits<double>::infinity();
  double true_max = -true_min;
  Point first{}, last{};
  for (std::uint64_t i = 0; i < 6 * 3600; ++i) {
    const double t = 1700000000.0 + static_cast<double>(i);
    const double bytes = std::round(50000 + 20000 * wobble(i) + (i == 7777 ? 1e6 : 0));
    if (i == 0) first = {t, bytes};
    last = {t, bytes};
    true_min = std::min(true_min, bytes);
    true_max = std::max(true_max, bytes);
    s.append(t, bytes);
  }
  EXPECT_EQ(s.first().t_s, first.t_s);
  EXPECT_EQ(s.first().bytes, first.bytes);
  EXPECT_EQ(s.last().t_s, last.t_s);
  EXPECT_EQ(s.last().bytes, last.bytes);
  EXPECT_EQ(s.min_bytes(), true_min);
  EXPECT_EQ(s.max_bytes(), true_max);
  // Points are means: within the extremes, and the one-sample spike of a megabyte is a bump
  // much smaller than its true height.
  for (const Point& p : s.points()) {
    EXPECT_GE(p.bytes, true_min);
    EXPECT_LE(p.bytes, true_max);
  }
  const auto highest = std::max_element(s.points().begin(), s.points().end(),
                                        [](const Point& a, const Point& b) { return a.bytes < b.bytes; });
  EXPECT_LT(highest->bytes, 50000 + 20000 + 1e6 / 10);
}

// Every point stands for the same number of samples: the series is even, which the noise
// estimate of the leak factor relies on. The bucket being filled waits outside points().
TEST(Series, PointsAreMeansOfEqualBuckets) {
  Series s;
  for (int i = 0; i < 200; ++i) s.append(i, i);
  EXPECT_EQ(s.samples_per_point(), 1u);
  EXPECT_EQ(s.size(), 200u);  // below capacity: the samples themselves
  for (int i = 200; i < 1000; ++i) s.append(i, i);
  // 1000 samples at 256 points: resolution 4, 250 full buckets.
  EXPECT_EQ(s.samples_per_point(), 4u);
  ASSERT_EQ(s.size(), 250u);
  for (std::size_t k = 0; k < s.size(); ++k) {
    EXPECT_DOUBLE_EQ(s.points()[k].t_s, 4.0 * k + 1.5) << k;  // mean of 4k .. 4k+3
    EXPECT_DOUBLE_EQ(s.points()[k].bytes, 4.0 * k + 1.5) << k;
  }
  EXPECT_EQ(s.first().t_s, 0);
  EXPECT_EQ(s.last().t_s, 999);
}

TEST(Series, PointsStayInTimeOrder) {
  Series s(32);
  for (std::uint64_t i = 0; i < 100000; ++i) s.append(static_cast<double>(i) * 0.5, wobble(i));
  for (std::size_t i = 1; i < s.size(); ++i)
    EXPECT_LE(s.points()[i - 1].t_s, s.points()[i].t_s) << "at " << i;
}

// Merged points are weighted means: a straight line stays on the line, and noise around a
// level averages out instead of surviving as spikes.
TEST(Series, KeepsTheShapeOfADayLongLinearGrowth) {
  Series s;
  for (std::uint64_t i = 0; i < 86400; ++i) {
    const double t = static_cast<double>(i);
    s.append(t, 4096 + 2 * t + 500 * wobble(i));
  }
  double worst = 0;
  const auto& points = s.points();
  for (const Point& p : points) worst = std::max(worst, std::fabs(p.bytes - (4096 + 2 * p.t_s)));
  EXPECT_LT(worst, 50.0) << "means of hundreds of samples should sit on the trend (noise is +-500 bytes)";
  // From the first bucket to the last full one: nearly the whole day.
  EXPECT_GT(points.back().t_s - points.front().t_s, 0.98 * kDay_s);
  EXPECT_EQ(s.samples_per_point(), 512u);
  EXPECT_EQ(s.size(), 86400u / 512u);
}

// A batch buffer emptied every 10 samples: the means of 8 or 16 samples hide the emptied
// level, the lows keep it exactly at any resolution; the samples behind the points are counted.
TEST(Series, LowsKeepTheLowestSampleBehindEachPoint) {
  Series s(8);
  for (std::uint64_t i = 0; i < 1000; ++i) s.append(static_cast<double>(i), 100.0 + 50.0 * static_cast<double>(i % 10));
  ASSERT_EQ(s.lows().size(), s.size());
  for (std::size_t k = 0; k < s.size(); ++k) {
    EXPECT_EQ(s.lows()[k], 100.0) << k;
    EXPECT_GT(s.points()[k].bytes, 200.0) << k;
  }
  EXPECT_EQ(s.samples_in_points(), s.samples_per_point() * s.size());
  EXPECT_LE(s.samples_seen() - s.samples_in_points(), s.samples_per_point());
}

}  // namespace
}  // namespace edleak::series

namespace edleak::series {
namespace {

// A replayed series (record/) classifies as the live one: its whole state comes back (points,
// lows, extremes, resolution, the first and latest samples), pending samples included in the
// latest one.
// unchanged_from() against the samples themselves: from an empty series at an even capacity,
// point i holds samples [i * spp, (i + 1) * spp), so the first point whose samples all belong
// to the last run of equal samples is found by walking the samples back.
TEST(Series, UnchangedFromIsWhereTheLastRunOfEqualSamplesCoversWholePoints) {
  for (std::uint64_t run_length : {1u, 2u, 3u, 5u, 8u, 13u, 40u}) {
    Series s(8);
    std::vector<double> samples;
    for (std::uint64_t i = 0; i < 300; ++i) {
      // Runs of run_length samples at 0, 1 or 2, then a long flat stretch, then runs again.
      const double v = i >= 120 && i < 200 ? 7.0 : static_cast<double>((i / run_length) % 3);
      s.append(static_cast<double>(i), v);
      samples.push_back(v);
      const std::uint64_t in_points = s.samples_in_points(), spp = s.samples_per_point();
      std::size_t want = 0;
      if (in_points > 0) {
        std::uint64_t run_start = in_points - 1;
        while (run_start > 0 && samples[run_start - 1] == samples[in_points - 1]) --run_start;
        want = std::min<std::size_t>(s.size(), static_cast<std::size_t>((run_start + spp - 1) / spp));
      }
      ASSERT_EQ(s.unchanged_from(), want) << "run " << run_length << ", sample " << i;
      for (std::size_t p = want; p < s.size(); ++p) {
        EXPECT_EQ(s.points()[p].bytes, samples[in_points - 1]);
        EXPECT_EQ(s.lows()[p], samples[in_points - 1]);
      }
    }
  }
}

// The points change at a filled bucket or a halving; a sample that only joins the pending
// bucket changes none, whatever it does to the extremes.
TEST(Series, RevisionChangesWithThePoints) {
  Series s(8);
  std::uint32_t seen = s.revision();
  auto changed = [&] {
    const bool c = s.revision() != seen;
    seen = s.revision();
    return c;
  };
  for (int t = 0; t < 8; ++t) {
    s.append(t, 100 + t % 3);  // one sample a point: a point each
    EXPECT_TRUE(changed()) << t;
  }
  s.append(8, 200);  // full: halved, the sample pending
  EXPECT_TRUE(changed());
  EXPECT_EQ(s.samples_per_point(), 2u);
  EXPECT_EQ(s.size(), 4u);
  s.append(9, 250);  // fills the bucket
  EXPECT_TRUE(changed());
  EXPECT_EQ(s.size(), 5u);
  s.append(10, 4000);  // pending, a new maximum
  EXPECT_FALSE(changed());
  EXPECT_EQ(s.size(), 5u);
  s.append(11, 0);  // fills the bucket (and a new minimum)
  EXPECT_TRUE(changed());
  s.append(12, std::numeric_limits<double>::quiet_NaN());  // ignored
  EXPECT_FALSE(changed());
  s.append(12, 60);
  EXPECT_FALSE(changed());
  EXPECT_EQ(s.size(), 6u);
}

// Points already read stay the same at one layout: appending keeps it, a halving (which merges
// them) or a restore gives another, a copy shares it.
TEST(Series, LayoutChangesWhenThePointsAlreadyThereChange) {
  Series s(8), other(8);
  EXPECT_NE(s.layout(), other.layout());
  const std::uint64_t start = s.layout();
  for (int t = 0; t < 8; ++t) s.append(t, 100 + t);
  EXPECT_EQ(s.layout(), start);  // eight points appended, none changed
  const Series copy = s;
  EXPECT_EQ(copy.layout(), start);
  s.append(8, 300);  // full: the points are merged
  EXPECT_NE(s.layout(), start);
  const std::uint64_t halved = s.layout();
  s.append(9, 300);
  s.append(10, 300);
  EXPECT_EQ(s.layout(), halved);
  EXPECT_NE(Series::restored(8, s.state()).layout(), halved);
}

TEST(SeriesRestored, FindsWhereItStoppedChanging) {
  SeriesState state;
  state.points = {{0, 1}, {1, 4}, {2, 4}, {3, 4}};
  state.lows = {1, 4, 3, 4};  // the third point's samples were not all 4
  EXPECT_EQ(Series::restored(8, state).unchanged_from(), 3u);
  state.lows = {1, 4, 4, 4};
  EXPECT_EQ(Series::restored(8, state).unchanged_from(), 1u);
  state.points.back().bytes = 5;
  state.lows.back() = 5;
  EXPECT_EQ(Series::restored(8, state).unchanged_from(), 3u);
  EXPECT_EQ(Series::restored(8, SeriesState{}).unchanged_from(), 0u);
}

TEST(SeriesRestored, KeepsItsWholeState) {
  Series live(64);
  for (int i = 0; i < 203; ++i) live.append(i, 10.0 * i + (i % 7) * 40.0);
  ASSERT_GT(live.samples_seen(), live.samples_in_points());  // a bucket pending
  Series back = Series::restored(64, live.state());
  ASSERT_EQ(back.size(), live.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back.points()[i].t_s, live.points()[i].t_s);
    EXPECT_EQ(back.points()[i].bytes, live.points()[i].bytes);
    EXPECT_EQ(back.lows()[i], live.lows()[i]);
    EXPECT_LT(back.lows()[i], back.points()[i].bytes) << i;  // the lows are not the means
  }
  EXPECT_EQ(back.min_bytes(), live.min_bytes());
  EXPECT_EQ(back.max_bytes(), live.max_bytes());
  EXPECT_EQ(back.samples_seen(), 203u);
  EXPECT_EQ(back.samples_per_point(), live.samples_per_point());
  EXPECT_EQ(back.first().bytes, live.first().bytes);
  EXPECT_EQ(back.last().t_s, 202);
  EXPECT_EQ(back.last().bytes, live.last().bytes);
  EXPECT_TRUE(Series::restored(64, {}).empty());
  // Appending to a restored series keeps every invariant.
  for (int i = 203; i < 400; ++i) back.append(i, 5.0 * i);
  EXPECT_LE(back.size(), back.capacity());
  EXPECT_EQ(back.lows().size(), back.size());
}

// What an older record does not know is taken from the points: each point its own low, the
// resolution from the samples behind them, the end points for the first and latest samples.
TEST(SeriesRestored, FillsWhatTheStateDoesNotKnow) {
  SeriesState state;
  for (int i = 0; i < 20; ++i) state.points.push_back({double(i), 3.0 * i});
  state.min = 0, state.max = 57, state.samples_seen = 40;
  const Series back = Series::restored(64, state);
  ASSERT_EQ(back.lows().size(), 20u);
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ(back.lows()[i], back.points()[i].bytes);
  EXPECT_EQ(back.samples_per_point(), 2u);
  EXPECT_EQ(back.first().bytes, 0);
  EXPECT_EQ(back.last().bytes, 57);
}

}  // namespace
}  // namespace edleak::series
