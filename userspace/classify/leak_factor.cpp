#include "classify/leak_factor.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>

#include <Eigen/Dense>

#include "sample/age_ring.h"

namespace edleak::classify {
namespace {

// The rule's thresholds; docs/classifier.md shows the corpus figures they were chosen from.
// The floor must rise by kMinRiseOverNoise times the noise, plus kShortSeriesRise / (n - 6)
// times more on short series: eight or twelve samples of noise or churn line up as a trend far
// more often than thirty do (as a t-test's critical value grows when degrees of freedom shrink).
constexpr double kMinRiseOverNoise = 6.0;
constexpr double kShortSeriesRise = 10.0;
constexpr double kMaxFloorFall = 0.15;          // share of the floor rise
// From kLongTrendPoints points a straight trend needs kLongTrendRelief noises less: the noise
// is measured on more points, and a line stands out of it sooner (as a slope's t grows with the
// square root of the points). Plain lines were called at 0.31 of the series without it, 0.29
// with it. It rests on the floor's level: one dip at the start (churn down to 0 once) counts
// as a rise of the whole level, and with that dip in, churn raised alarms.
constexpr std::size_t kLongTrendPoints = 32;
constexpr double kLongTrendRelief = 2.0;
// A trend's floor may also fall back by this many times the noise: the lows of its slices are
// noisy too, and on a long noisy line one low a noise below the one before is chance, not a
// sawtooth's drop (plain lines were called at 0.33 of the series, 0.31 with it, and caches
// beneath churn found in 97 % of runs instead of 94 %, with no new alarm). Not when it
// accelerates: sixteen samples of churn, flat and then up, fell back by 17 % and were called
// exponential with it.
constexpr double kFloorFallNoise = 1.0;
constexpr double kExponentialCurvature = 0.7;   // a / (a + b) at or above: accelerating
constexpr double kLogarithmicCurvature = -0.7;  // at or below: saturating, a cache
constexpr std::size_t kFloorSlices = 8;
// The lower envelope (the lows of eight slices, from kEnvelopeMinPoints points) must rise by
// kEnvelopeRise times the scatter of the lows around their line, and never fall back by more
// than kMaxFloorFall of it. The tracer judges every stack at every report, so a test that a
// user sees thousands of times must be wrong far less than once in a thousand: with eight lows
// (6 degrees of freedom) a slope's t-statistic of 7.4 (a rise of 8 scatters) is exceeded by
// chance once in 6,400 (the corpus's flat noise and churn raised 8 to 26 false alarms per
// seed at it). From kFineEnvelopeMinPoints points the envelope is also taken on sixteen slices
// (14 degrees of freedom), where the same t of 7.4 (a rise of 6 scatters) is exceeded once in
// 600,000; the eight-slice envelope then needs a rise of kEnvelopeRise scatters (t = 13, once
// in 170,000), kept for batches longer than a sixteenth of the series so far.
constexpr std::size_t kEnvelopeMinPoints = 16;
constexpr double kEnvelopeRise = 14.0;
constexpr double kShortEnvelopeRise = 8.0;  // below kFineEnvelopeMinPoints: the only envelope
constexpr std::size_t kFineSlices = 16;
constexpr std::size_t kFineEnvelopeMinPoints = 32;
constexpr double kFineEnvelopeRise = 6.0;
// The attach warm-up: a stack that frees at least kRecyclingShare of what it allocates over the
// second half of the series recycles its blocks; before it settled (below), its rise is a
// warm-up when it decelerates (curvature at or below kWarmupCurvature) instead of going on.
constexpr double kRecyclingShare = 0.8;
constexpr double kWarmupCurvature = -0.3;
constexpr double kClimbDip = 0.8;
// Turnovers before a stack is settled: attached, the blocks allocated before tracing must be
// gone (all but e^-6 of a pool replaced at random); from exec, only the pool's first fill.
constexpr double kAttachedTurnovers = 5.0;
constexpr double kExecTurnovers = 1.0;
constexpr double kManyBlocks = 16;  // a stack of fewer blocks has no level to warm up to
// Points after the settling point before a verdict: the level of a recycling stack wanders
// over a few lifetimes, and eight points of that wander line up as a trend too often.
constexpr std::size_t kSettledPoints = 16;
constexpr double kClimb = 2.0;  // blocks at the end of a climb, at least, over those at its start

// The old blocks of a recycling stack (sample::kOldAfterSamples samples old or more) climb
// from 0 to their share of its steady level as its first blocks age: judged once what is left
// of the climb is below this share of the stack's blocks.
constexpr double kAgeResidual = 0.02;
// Largest fall of the old blocks from one point to a later one, as a share of their rise: more
// than this and old blocks were freed in bulk (a flush, a job's end), which kept blocks are not.
constexpr double kAgeDrawdown = 0.5;
// The stack's blocks must rise by at least this share of the old blocks' rise (its floor).
constexpr double kAgeBlocksRise = 0.5;
// When the lifetime rests on the young blocks: the old blocks must rise by this share of the
// young blocks' swing (see classify_stack).
constexpr double kAgeOverSwing = 0.25;

// edLeak's thresholds, for the baseline.
constexpr double kEdleakCurvature = 0.2;

// The parabola through the points, in bytes over normalised time (x in [0, 1]), with the
// extremes found on the way.
struct Fit {
  double t0 = 0, inv_span = 0;  // x = (t - t0) * inv_span
  double offset = 0;            // the first sample's bytes, subtracted to keep sums small
  double a = 0, b = 0, c = 0;   // bytes = a*x^2 + b*x + c + offset
  double min_bytes = 0, max_bytes = 0;

  double x(const series::Point& p) const { return (p.t_s - t0) * inv_span; }
  double residual(const series::Point& p) const {
    const double x = this->x(p);
    return p.bytes - offset - ((a * x + b) * x + c);
  }
  // The coefficients after normalising bytes to [0, 1] as well (edLeak's coef).
  std::array<double, 3> normalised() const {
    const double range = max_bytes - min_bytes;
    return {a / range, b / range, (c + offset - min_bytes) / range};
  }
};

// Least squares by the normal equations: one pass of power sums (and the extremes) into a
// fixed-size 3x3 system, so nothing is allocated. Requires t_last > t_first.
//
// The tracer re-classifies every stack every interval, so the pass works on a point as one
// two-lane vector (t, bytes), which Eigen keeps in one SSE2 register: normalising both lanes
// at once gives (x, y), and multiplying by x three times gives (x^2, xy), (x^3, x^2 y) and
// (x^4, x^3 y). Summing those four vectors yields every sum the normal equations need (x^3 y
// is not needed) in about half the instructions of the scalar loop.
Fit fit_quadratic(std::span<const series::Point> points) {
  static_assert(sizeof(series::Point) == 2 * sizeof(double) && offsetof(series::Point, bytes) == sizeof(double),
                "a Point must be read as (t_s, bytes)");
  using Pair = Eigen::Array2d;
  Fit fit;
  fit.t0 = points.front().t_s;
  fit.inv_span = 1.0 / (points.back().t_s - fit.t0);
  fit.offset = points.front().bytes;
  const Pair origin(fit.t0, fit.offset), scale(fit.inv_span, 1.0);
  Pair low = Pair::Constant(fit.offset), high = low;
  Pair sum1 = Pair::Zero(), sum2 = Pair::Zero(), sum3 = Pair::Zero(), sum4 = Pair::Zero();
  for (const series::Point& p : points) {
    const Pair raw = Eigen::Map<const Pair>(&p.t_s);  // (t, bytes)
    low = low.min(raw);  // the bytes lane is the one read afterwards
    high = high.max(raw);
    const Pair xy = (raw - origin) * scale;  // (x, y)
    const Pair x = Pair::Constant(xy[0]);
    const Pair x2y = x * xy;   // (x^2, x y)
    const Pair x3y = x * x2y;  // (x^3, x^2 y)
    sum1 += xy;
    sum2 += x2y;
    sum3 += x3y;
    sum4 += x * x3y;  // (x^4, x^3 y)
  }
  fit.min_bytes = low[1];
  fit.max_bytes = high[1];
  const double s0 = static_cast<double>(points.size());
  const double s1 = sum1[0], s2 = sum2[0], s3 = sum3[0], s4 = sum4[0];  // sum of x^k
  const double sy = sum1[1], sxy = sum2[1], sx2y = sum3[1];              // sum of x^k * y
  Eigen::Matrix3d normal;
  normal << s4, s3, s2,  //
      s3, s2, s1,        //
      s2, s1, s0;
  // Fewer than three distinct times leave the system singular: LDLT still gives a least-squares
  // answer on the rank it has.
  const Eigen::Vector3d beta = normal.ldlt().solve(Eigen::Vector3d(sx2y, sxy, sy));
  fit.a = beta[0];
  fit.b = beta[1];
  fit.c = beta[2];
  return fit;
}

// The scatter of the points around the parabola from one sample to the next: the root mean
// square of successive residual differences, over sqrt(2) since the difference of two
// independent errors has twice their variance. A smooth misfit (an exponential or a cache the
// parabola follows badly) barely moves it. The largest step is left out: one jump (a cache
// filled between two samples, a block allocated once) is the signal, not noise.
//
// `lag` > 1 takes the differences `lag` points apart: the level of a stack that recycles its
// blocks sums the allocations of a lifetime of them and wanders over that time, so its noise
// is seen from one lifetime to the next, not from one sample to the next.
double point_to_point_noise(std::span<const series::Point> points, const Fit& fit, std::size_t lag = 1) {
  if (lag > 1) {
    double sum_sq = 0, largest_sq = 0;
    for (std::size_t i = lag; i < points.size(); ++i) {
      const double d = fit.residual(points[i]) - fit.residual(points[i - lag]);
      sum_sq += d * d;
      largest_sq = std::max(largest_sq, d * d);
    }
    return std::sqrt(std::max(sum_sq - largest_sq, 0.0) / (2.0 * static_cast<double>(points.size() - lag - 1)));
  }
  double previous = fit.residual(points.front()), sum_sq = 0, largest_sq = 0;
  for (const series::Point& p : points.subspan(1)) {
    const double r = fit.residual(p);
    const double sq = (r - previous) * (r - previous);
    sum_sq += sq;
    largest_sq = std::max(largest_sq, sq);
    previous = r;
  }
  return std::sqrt(std::max(sum_sq - largest_sq, 0.0) /
                   (2.0 * static_cast<double>(points.size() - 2)));
}

// Largest fall of the floor below its highest level so far, with the floor taken as the lowest
// bytes of each of up to kFloorSlices consecutive slices of the points.
// The lowest sample behind point i: Series::lows() when given, else the point itself.
struct Floor {
  std::span<const series::Point> points;
  std::span<const double> lows;  // empty or parallel to points
  double operator[](std::size_t i) const { return lows.empty() ? points[i].bytes : lows[i]; }
  std::size_t size() const { return points.size(); }
};

double largest_floor_fall(const Floor& points) {
  const std::size_t n = points.size();
  const std::size_t slices = std::min(kFloorSlices, n / 2);
  double highest = -std::numeric_limits<double>::infinity(), fall = 0;
  for (std::size_t k = 0; k < slices; ++k) {
    double floor = std::numeric_limits<double>::infinity();
    for (std::size_t i = k * n / slices; i < (k + 1) * n / slices; ++i)
      floor = std::min(floor, points[i]);
    fall = std::max(fall, highest - floor);
    highest = std::max(highest, floor);
  }
  return fall;
}

// The lower envelope: the lows of kFloorSlices consecutive slices, a least-squares line through
// them (slice index as time: the slices are of equal width), its rise from the first slice to
// the last and the scatter of the lows around it.
struct Envelope {
  double rise = 0, scatter = 0, fall = 0;
};

Envelope lower_envelope(const Floor& points, std::size_t k) {
  const std::size_t n = points.size();
  std::array<double, kFineSlices> low{};  // k <= kFineSlices
  double mean = 0;
  for (std::size_t s = 0; s < k; ++s) {
    low[s] = std::numeric_limits<double>::infinity();
    for (std::size_t i = s * n / k; i < (s + 1) * n / k; ++i)
      low[s] = std::min(low[s], points[i]);
    mean += low[s] / static_cast<double>(k);
  }
  const double centre = static_cast<double>(k - 1) / 2.0;
  double sxx = 0, sxy = 0;
  for (std::size_t s = 0; s < k; ++s) {
    const double dx = static_cast<double>(s) - centre;
    sxx += dx * dx;
    sxy += dx * (low[s] - mean);
  }
  const double slope = sxy / sxx;
  Envelope e;
  double sum_sq = 0, highest = -std::numeric_limits<double>::infinity();
  for (std::size_t s = 0; s < k; ++s) {
    const double r = low[s] - (mean + slope * (static_cast<double>(s) - centre));
    sum_sq += r * r;
    e.fall = std::max(e.fall, highest - low[s]);
    highest = std::max(highest, low[s]);
  }
  e.rise = slope * static_cast<double>(k - 1);
  e.scatter = std::sqrt(sum_sq / static_cast<double>(k - 2));
  return e;
}

// A staircase's plateau is not a cache's saturation unless it lasts longer than its steps'
// rhythm: a vector whose capacity doubles when full climbs by ever larger steps at ever longer
// gaps (each twice the one before), so the parabola through all its points bends down over the
// last plateau as if it saturated. When the points only rise, in at least kStaircaseSteps steps
// (a rise from one point to the next, or over two when a Series' bucket straddles it; three
// rising points in a row are a ramp, not a step), and the last plateau is no longer than twice
// the gap between the last two steps (a doubling's next gap), the curvature is that of the
// parabola through the steps' corners (where each step starts, the level it reaches), which
// follow the growth behind them.
// Returns false when the points are no such staircase.
constexpr std::size_t kStaircaseSteps = 3;
constexpr std::size_t kMaxCorners = 64;  // more steps than this is a ramp, not a staircase
bool staircase_curvature(std::span<const series::Point> points, double& curvature) {
  std::array<series::Point, kMaxCorners> corner{};
  std::array<std::size_t, kMaxCorners> start{};
  std::size_t steps = 0, last_end = 0;
  for (std::size_t i = 1; i < points.size(); ++i) {
    if (points[i].bytes < points[i - 1].bytes) return false;
    if (!(points[i].bytes > points[i - 1].bytes)) continue;
    if (steps > 0 && last_end == i - 1) {  // the same step, spread over two points (a bucket's mean)
      if (i - start[steps - 1] >= 2) return false;  // rising for three points: a ramp
      corner[steps - 1].bytes = points[i].bytes;
    } else {
      if (steps == kMaxCorners) return false;
      start[steps] = i;
      corner[steps] = {points[i].t_s, points[i].bytes};
      ++steps;
    }
    last_end = i;
  }
  if (steps < kStaircaseSteps) return false;
  const std::size_t plateau = points.size() - 1 - last_end;
  if (plateau > 2 * (start[steps - 1] - start[steps - 2])) return false;
  const Fit fit = fit_quadratic(std::span<const series::Point>(corner.data(), steps));
  const double rise = fit.a + fit.b;
  if (!(rise > 0)) return false;
  curvature = fit.a / rise;
  return true;
}

// Lowest bytes among points [from, to).
double lowest(const Floor& points, std::size_t from, std::size_t to) {
  double low = std::numeric_limits<double>::infinity();
  // One loop per source, so that each is a plain min over contiguous values: the tracer takes
  // these for four series of every stack at every report.
  if (points.lows.empty())
    for (std::size_t i = from; i < to; ++i) low = std::min(low, points.points[i].bytes);
  else
    for (std::size_t i = from; i < to; ++i) low = std::min(low, points.lows[i]);
  return low;
}

// The second lowest bytes among points [from, to) (the lowest when there is one point).
double second_lowest(const Floor& points, std::size_t from, std::size_t to) {
  double low = std::numeric_limits<double>::infinity(), second = low;
  for (std::size_t i = from; i < to; ++i) {
    second = std::min(second, std::max(low, points[i]));
    low = std::min(low, points[i]);
  }
  return to - from == 1 ? low : second;
}

bool has_time_span(std::span<const series::Point> points) {
  return points.size() >= 2 && points.back().t_s > points.front().t_s;
}

void set_extremes(std::span<const series::Point> points, LeakFactor& out) {
  if (points.empty()) return;
  double low = points.front().bytes, high = low;
  for (const series::Point& p : points) {
    low = std::min(low, p.bytes);
    high = std::max(high, p.bytes);
  }
  out.min_size = low;
  out.max_size = high;
}

// The parts of the leak factor every rule shares: class constant until proven otherwise,
// extremes, edLeak's coefficients and the growth rate. False when the bytes never change.
bool describe_fit(std::span<const series::Point> points, const Fit& fit, LeakFactor& out) {
  out.cls = LeakClass::constant;
  out.min_size = fit.min_bytes;
  out.max_size = fit.max_bytes;
  if (!(fit.max_bytes > fit.min_bytes)) return false;
  out.coef = fit.normalised();
  out.growth_bytes_per_s = (fit.a + fit.b) / (points.back().t_s - points.front().t_s);
  return true;
}

std::uint64_t leak_bytes(double bytes) {
  if (!(bytes > 0)) return 0;
  if (bytes >= 0x1.0p64) return std::numeric_limits<std::uint64_t>::max();
  return static_cast<std::uint64_t>(std::llround(bytes));
}

// The true extremes of the samples, when the points are means of them.
struct Extremes {
  double min_bytes, max_bytes;
};

// `lows`, when not empty, holds the lowest sample behind each point (Series::lows()).
// `lag`: the points over which the level wanders (see point_to_point_noise).
// Without `describe`, a series whose floor did not rise is called constant without the fit
// that would describe it (StackSeries::describe).
Assessment assess(std::span<const series::Point> points, std::optional<Extremes> samples,
                  std::span<const double> lows = {}, std::size_t lag = 1, bool describe = true) {
  Assessment result;
  LeakFactor& out = result.factor;
  if (points.size() < kMinPoints || !has_time_span(points)) {
    set_extremes(points, out);
    if (samples) {
      out.min_size = samples->min_bytes;
      out.max_size = samples->max_bytes;
    }
    return result;  // insufficient_data
  }
  TrendEvidence& evidence = result.evidence;
  const std::size_t n = points.size();
  const std::size_t quarter = n / 4;  // n >= kMinPoints, so at least 2
  const Floor floor{points, lows.size() == n ? lows : std::span<const double>{}};
  const double last_low = lowest(floor, n - quarter, n);
  const double floor_rise = last_low - lowest(floor, 0, quarter);
  evidence.floor_rise_bytes = floor_rise;
  if (!describe && !(floor_rise > 0)) {
    out.cls = LeakClass::constant;  // whatever the fit says: a leak raises the floor
    return result;
  }
  Fit fit = fit_quadratic(points);
  if (samples) {  // means lie within the extremes of their samples; min/max guard bad input
    fit.min_bytes = std::min(fit.min_bytes, samples->min_bytes);
    fit.max_bytes = std::max(fit.max_bytes, samples->max_bytes);
  }
  if (!describe_fit(points, fit, out)) return result;  // one level: nothing to fit
  const double rise = out.coef[0] + out.coef[1];  // f(1) - f(0), normalised

  evidence.relative_rise = out.max_size > 0 ? floor_rise / out.max_size : 0.0;
  evidence.curvature = rise != 0 ? out.coef[0] / rise : 0.0;
  const bool long_straight = n >= kLongTrendPoints && evidence.curvature > kLogarithmicCurvature &&
                             evidence.curvature < kExponentialCurvature;
  evidence.required_rise_over_noise = required_rise_over_noise(n) - (long_straight ? kLongTrendRelief : 0.0);
  out.leak_edleak = leak_size(out.coef, out.min_size, out.max_size);
  // The tracer re-classifies every stack every interval, and most stacks do not grow: the
  // measures below are only taken when the previous ones leave a leak possible.
  if (!(floor_rise > 0)) return result;
  evidence.noise_bytes = point_to_point_noise(points, fit, std::min(lag, n / 4));
  evidence.rise_over_noise = evidence.noise_bytes > 0 ? floor_rise / evidence.noise_bytes
                                                      : std::numeric_limits<double>::infinity();
  out.confidence = evidence.rise_over_noise / evidence.required_rise_over_noise;
  bool trend = evidence.rise_over_noise >= evidence.required_rise_over_noise;
  // A long straight trend needs less (see kLongTrendRelief), so long as its rise holds without
  // the first quarter's lowest point.
  if (trend && long_straight && evidence.rise_over_noise < evidence.required_rise_over_noise + kLongTrendRelief) {
    const double robust_rise = last_low - second_lowest(floor, 0, quarter);
    trend = robust_rise >= evidence.required_rise_over_noise * evidence.noise_bytes;
    // What the verdict rests on then: a confidence of 1 or more is a leak's.
    if (!trend) out.confidence = std::max(0.0, robust_rise / evidence.noise_bytes / evidence.required_rise_over_noise);
  }
  if (trend) {
    evidence.floor_fall = largest_floor_fall(floor) / floor_rise;
    const bool accelerating = evidence.curvature >= kExponentialCurvature;
    const double allowed_fall = kMaxFloorFall + (accelerating ? 0.0 : kFloorFallNoise / evidence.rise_over_noise);
    trend = evidence.floor_fall <= allowed_fall && out.leak_edleak > 0;
  }
  if (trend) {
    out.evidence = Evidence::trend;
  } else {
    // Beneath churn or a batch buffer, the bytes swing far more from sample to sample than the
    // leak adds: the trend drowns, but the lowest level of each stretch of the run still rises
    // by what was kept.
    if (n < kEnvelopeMinPoints) return result;
    // The envelope that stands out most over what it needs: eight slices and, from
    // kFineEnvelopeMinPoints, sixteen (see kEnvelopeRise).
    const bool fine = n >= kFineEnvelopeMinPoints;
    auto margin = [](const Envelope& e, double required) {
      if (!(e.rise > 0)) return 0.0;
      return e.scatter > 0 ? e.rise / e.scatter / required : std::numeric_limits<double>::infinity();
    };
    const double coarse_required = fine ? kEnvelopeRise : kShortEnvelopeRise;
    Envelope envelope = lower_envelope(floor, kFloorSlices);
    double required = coarse_required;
    if (fine) {
      const Envelope finer = lower_envelope(floor, kFineSlices);
      const bool coarse_holds = envelope.rise > 0 && envelope.fall <= kMaxFloorFall * envelope.rise;
      const bool finer_holds = finer.rise > 0 && finer.fall <= kMaxFloorFall * finer.rise;
      if ((finer_holds && !coarse_holds) ||
          (finer_holds == coarse_holds && margin(finer, kFineEnvelopeRise) > margin(envelope, coarse_required))) {
        envelope = finer;
        required = kFineEnvelopeRise;
      }
    }
    if (!(envelope.rise > 0)) return result;
    evidence.envelope_rise_bytes = envelope.rise;
    evidence.envelope_scatter_bytes = envelope.scatter;
    evidence.envelope_rise_over_scatter = envelope.scatter > 0 ? envelope.rise / envelope.scatter
                                                               : std::numeric_limits<double>::infinity();
    evidence.envelope_fall = envelope.fall / envelope.rise;
    out.confidence = std::max(out.confidence, margin(envelope, required));
    if (evidence.envelope_rise_over_scatter < required || evidence.envelope_fall > kMaxFloorFall)
      return result;
    out.evidence = Evidence::floor;
  }

  if (out.evidence == Evidence::trend && evidence.curvature <= kLogarithmicCurvature)
    staircase_curvature(points, evidence.curvature);  // a plateau within the steps' rhythm
  if (out.evidence == Evidence::floor)
    out.cls = LeakClass::linear;  // the parabola fits the swings, not the floor beneath them
  else if (evidence.curvature >= kExponentialCurvature)
    out.cls = LeakClass::exponential;
  else if (evidence.curvature <= kLogarithmicCurvature)
    out.cls = LeakClass::logarithmic;
  else
    out.cls = LeakClass::linear;
  // The size: edLeak's formula follows a steady trend; a cache holds what its floor rose by
  // (the parabola reports 5 % to 30 % of it for a cache filled early), and beneath swings the
  // floor's rise is what was kept.
  if (out.evidence == Evidence::floor)
    out.leak = leak_bytes(evidence.envelope_rise_bytes);
  else if (out.cls == LeakClass::logarithmic)
    out.leak = leak_bytes(floor_rise);
  else
    out.leak = out.leak_edleak;
  out.leak = std::min<std::uint64_t>(out.leak, leak_bytes(out.max_size));
  return result;
}

// Whether the stack's blocks and frees were sampled with its bytes (point for point): the
// settling point and the turnover need both.
bool has_block_counts(const StackSeries& s) {
  return s.blocks.size() == s.bytes.size() && s.frees.size() == s.bytes.size();
}

// The first point from which the stack has freed `turnovers` times as many traced blocks as it
// holds: by Little's law it has run for about turnovers + 1 lifetimes of its blocks, so the
// blocks it held when tracing began are gone (all of a ring's or a queue's after one, all but
// e^-6 of a pool replaced at random after five), and the climb from 0 that tracing a
// recycling stack begins with is over. Only a climb is cut (the blocks at least doubled) or the start of a stack of many
// blocks: a buffer realloc'ed in place of itself (one block, many frees) has none. 0 when the
// stack keeps its blocks (a leak, a cache), when there are no counts, and when the blocks fell
// back before (below kClimbDip of their highest so far): that is no climb but a cache flushed
// or a job that ended, evidence the verdict needs.
std::size_t settled_from(const StackSeries& s) {
  if (!has_block_counts(s)) return 0;
  if (s.settled_from) return *s.settled_from;
  SettlingScan scan;
  scan.advance(s);
  return scan.point();
}

// Whether a stack recycles its blocks (many blocks, most of what it allocates over the points
// from `from` freed again) and their mean lifetime in points then, by Little's law (blocks
// held over blocks freed per point).
struct Turnover {
  bool recycles = false;
  double life_points = 0;
};

Turnover turnover(const StackSeries& s, std::size_t from) {
  if (!has_block_counts(s) || s.bytes.size() < from + 2)
    return {};
  const double freed_per_point =
      (s.frees.back().bytes - s.frees[from].bytes) / static_cast<double>(s.frees.size() - 1 - from);
  const double allocated_per_point =
      freed_per_point + (s.blocks.back().bytes - s.blocks[from].bytes) / static_cast<double>(s.frees.size() - 1 - from);
  // Only a stack of many blocks that recycles them has a lifetime to speak of.
  if (!(freed_per_point > 0) || s.blocks.back().bytes < kManyBlocks ||
      freed_per_point < kRecyclingShare * allocated_per_point)
    return {};
  return {true, s.blocks.back().bytes / freed_per_point};
}

// The mean lifetime of the stack's blocks in whole points (turnover()): 1 without counts or
// frees, or when the stack does not recycle its blocks.
std::size_t lifetime_points(const StackSeries& s, std::size_t from) {
  const Turnover t = turnover(s, from);
  if (!t.recycles) return 1;
  return t.life_points >= static_cast<double>(s.bytes.size()) ? s.bytes.size() : std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(t.life_points)));
}

// The mean lifetime (points) of the blocks a recycling stack recycles, when it also keeps some:
// Little's law on all its blocks (lifetime_points) counts the kept ones as long-lived and
// overstates it, so that a cache beneath churn makes its old blocks wait for a climb that is not
// there. The young blocks (younger than `old_after` points) hold, of blocks living an
// exponential time of mean L, L (1 - e^(-old_after / L)) points of the rate freed: solved for L
// (a ring of lifetime L <= old_after gives a little more than L, on the safe side). The smaller
// of the two; `life` alone when the young blocks hold old_after points or more of frees.
double lifetime_of_recycled(const StackSeries& s, std::size_t life, std::size_t old_after) {
  const std::size_t n = s.bytes.size();
  const double freed_per_point = (s.frees.back().bytes - s.frees.front().bytes) / static_cast<double>(n - 1);
  const double young = s.blocks.back().bytes - s.old_blocks.back().bytes;
  const double a = static_cast<double>(old_after);
  if (!(freed_per_point > 0) || !(young >= 0)) return static_cast<double>(life);
  const double held = young / freed_per_point;  // L (1 - e^(-a / L)), below a
  if (!(held < 0.99 * a)) return static_cast<double>(life);
  if (!(held > 0)) return 0;  // no young block: the recycled ones die within a point
  // Newton's method from L = held (where L (1 - e^(-a / L)) < L = held): the function rises and
  // bends down, so each tangent meets `held` before the root and the steps climb to it without
  // overshooting, a few of them (the tracer solves this for every recycling stack at every
  // report; bisection took a tenth of a report at 100,000 stacks).
  double lifetime = held;
  for (int k = 0; k < 64; ++k) {
    const double x = a / lifetime, decay = std::exp(-x);
    const double value = lifetime * (1 - decay) - held;
    const double slope = 1 - decay - x * decay;
    if (!(slope > 0)) break;
    const double step = -value / slope;
    lifetime += step;
    if (!(step > 1e-9 * lifetime)) break;
  }
  return std::min(static_cast<double>(life), lifetime);
}

}  // namespace

std::string_view to_string(LeakClass c) {
  switch (c) {
    case LeakClass::insufficient_data: return "insufficient_data";
    case LeakClass::constant: return "constant";
    case LeakClass::linear: return "linear";
    case LeakClass::logarithmic: return "logarithmic";
    case LeakClass::exponential: return "exponential";
  }
  return "insufficient_data";
}

std::optional<LeakClass> leak_class_from_string(std::string_view s) {
  for (LeakClass c : {LeakClass::insufficient_data, LeakClass::constant, LeakClass::linear,
                      LeakClass::logarithmic, LeakClass::exponential})
    if (to_string(c) == s) return c;
  return std::nullopt;
}

std::uint64_t leak_size(const std::array<double, 3>& coef, double min_size, double max_size) {
  // f(1) - f(0) = a + b for f(x) = a*x^2 + b*x + c.
  return leak_bytes((coef[0] + coef[1]) * (max_size - min_size));  // 0 also for NaN
}

double required_rise_over_noise(std::size_t points) {
  const double n = static_cast<double>(std::max(points, kMinPoints));
  return kMinRiseOverNoise + kShortSeriesRise / (n - 6.0);
}

Assessment assess(std::span<const series::Point> points) { return assess(points, std::nullopt); }

LeakFactor compute_leak_factor(std::span<const series::Point> points) {
  return assess(points, std::nullopt).factor;
}

LeakFactor compute_leak_factor(std::span<const series::Point> points, double min_bytes,
                               double max_bytes) {
  return assess(points, Extremes{min_bytes, max_bytes}).factor;
}

std::string_view to_string(Evidence e) {
  switch (e) {
    case Evidence::none: return "none";
    case Evidence::trend: return "trend";
    case Evidence::floor: return "floor";
    case Evidence::blocks: return "blocks";
    case Evidence::warmup: return "warmup";
    case Evidence::noise_floor: return "noise_floor";
    case Evidence::age: return "age";
  }
  return "none";
}

namespace {

// classify_stack; without `describe`, see StackSeries::describe.
LeakFactor judge_stack(const StackSeries& s, bool describe) {
  // Judge what came after the climb a recycling stack starts with; the extremes of the samples
  // hold for the whole run only.
  const std::size_t from = settled_from(s);
  auto extremes = [from](const std::optional<std::pair<double, double>>& e) -> std::optional<Extremes> {
    if (!e || from > 0) return std::nullopt;
    return Extremes{e->first, e->second};
  };
  auto tail = [from](std::span<const double> lows) {
    return lows.size() > from ? lows.subspan(from) : std::span<const double>{};
  };
  const std::size_t lag = lifetime_points(s, from);
  const Assessment judged =
      assess(s.bytes.subspan(from), extremes(s.bytes_extremes), tail(s.bytes_lows), lag, describe);
  LeakFactor out = judged.factor;
  const bool settled_recently = from > 0 && s.bytes.size() - from < kSettledPoints;
  if (settled_recently) {
    // Settled too recently to judge what came after: no leak yet, the climb was a warm-up.
    out = LeakFactor{};
    out.cls = LeakClass::constant;
    out.evidence = Evidence::warmup;
    out.min_size = judged.factor.min_size;
    out.max_size = judged.factor.max_size;
  }
  const bool has_counts = s.blocks.size() == s.bytes.size() && !s.blocks.empty();
  std::optional<LeakFactor> blocks;
  double curvature = judged.evidence.curvature;  // of the series the verdict rests on
  // The tracer classifies every stack every interval and most do not grow: the blocks are only
  // assessed when their floor rose (the rule's first step, without the fit).
  auto floor_rose = [&](std::span<const series::Point> points, std::span<const double> lows) {
    const std::size_t n = points.size(), quarter = n / 4;
    if (quarter == 0) return false;
    const Floor floor{points, lows.size() == n ? lows : std::span<const double>{}};
    return lowest(floor, n - quarter, n) > lowest(floor, 0, quarter);
  };
  // Attached, the blocks after the settling point wander as the bytes do (the level a pool of
  // blocks replaced at random settles to): not judged before the bytes are.
  if (has_counts && out.cls != LeakClass::insufficient_data && !(settled_recently && s.attached) &&
      floor_rose(s.blocks.subspan(from), tail(s.blocks_lows))) {
    const Assessment blocks_judged =
        assess(s.blocks.subspan(from), extremes(s.blocks_extremes), tail(s.blocks_lows), lag);
    blocks = blocks_judged.factor;
    if (blocks->is_leak()) out.leak_blocks = blocks->leak;
    if (!out.is_leak() && blocks->is_leak()) {
      // The blocks rose out of their noise while the bytes did not: tiny or zero-byte blocks
      // (malloc(0)), or blocks whose sizes vary more than the leak adds. The bytes the leaked
      // blocks hold are estimated at the stack's current mean block size.
      const double blocks_now = s.current_blocks > 0 ? s.current_blocks : blocks->max_size;
      const double bytes_now = s.current_bytes >= 0 ? s.current_bytes : out.max_size;
      out.cls = blocks->cls;
      out.evidence = Evidence::blocks;
      curvature = blocks_judged.evidence.curvature;
      out.confidence = blocks->confidence;
      out.leak = blocks_now > 0 ? leak_bytes(static_cast<double>(blocks->leak) * bytes_now / blocks_now) : 0;
    }
  }
  // The age of the blocks: kept blocks grow old, recycled ones stay young, so the old blocks of a
  // recycling stack are its leak alone once the climb of its long-lived blocks is over (that
  // climb is the same from exec and from an attach: blocks allocated before tracing are in
  // neither). A leak beneath churn or beneath the warm-up rises there steadily while the bytes
  // swing; a steady stack's old blocks stay level.
  const bool has_age = has_counts && s.old_blocks.size() == s.bytes.size();
  const bool recycles = has_counts && turnover(s, 0).recycles;
  const std::size_t life = lifetime_points(s, 0);
  std::optional<Assessment> aged;
  bool age_judged = false;  // the old blocks had points enough after their climb
  bool dies_young = false;  // no recycled block lives to be old: old blocks are kept ones
  const std::size_t spp = std::max<std::size_t>(1, s.samples_per_point);
  const std::size_t old_after = (sample::kOldAfterSamples + spp - 1) / spp;  // points
  // Old blocks that never changed since any block could be old (most recycling stacks: their
  // blocks die young and none is kept) give no verdict: nothing below is worth its cost then,
  // unless the stack is attached and called a leak (what the old blocks did not do vetoes it).
  auto old_blocks_moved = [&] {
    if (!has_age || s.old_blocks.size() <= old_after) return false;
    if (s.old_blocks_unchanged_from) return *s.old_blocks_unchanged_from > old_after;
    const bool with_lows = s.old_blocks_lows.size() == s.old_blocks.size();
    const double first = s.old_blocks[old_after].bytes;
    for (std::size_t i = old_after; i < s.old_blocks.size(); ++i)
      if (s.old_blocks[i].bytes != first || (with_lows && s.old_blocks_lows[i] != first)) return true;
    return false;
  };
  if (has_age && recycles && out.cls != LeakClass::insufficient_data &&
      ((s.attached && out.is_leak()) || old_blocks_moved())) {
    const std::size_t n = s.bytes.size();
    // Blocks living an exponential time of mean `life` leave e^-(age / life) of themselves
    // old: the climb is over when what it has left to add is below kAgeResidual of the stack's
    // blocks, i.e. ln(1 / kAgeResidual) lifetimes after the blocks were born (nothing left to
    // wait for when they die young).
    const double age_life = lifetime_of_recycled(s, life, old_after);
    const double climb = std::max(0.0, std::log(1.0 / kAgeResidual) * age_life -
                                           static_cast<double>(old_after));
    dies_young = climb == 0;
    const std::size_t from_age = std::min(n, old_after + static_cast<std::size_t>(std::ceil(climb)));
    auto lows = [&](std::size_t from) {
      return s.old_blocks_lows.size() > from ? s.old_blocks_lows.subspan(from) : std::span<const double>{};
    };
    age_judged = n - from_age >= kMinPoints;
    if (age_judged && floor_rose(s.old_blocks.subspan(from_age), lows(from_age)))
      aged = assess(s.old_blocks.subspan(from_age), std::nullopt, lows(from_age),
                    std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(age_life))));
    // Kept blocks stay old: a fall of the old blocks anywhere since any could be old (a job
    // that ended, a cache flushed, a wave going down, a burst freed) is evidence against a
    // leak that the stretch judged may not hold.
    if (aged && aged->factor.is_leak()) {
      const std::size_t m = n - old_after;
      const Floor since_old{s.old_blocks.subspan(old_after), lows(old_after).size() == m ? lows(old_after)
                                                                                         : std::span<const double>{}};
      // A flush or a job's end empties the old blocks within a slice: seen point by point too.
      double highest = 0, drawdown = 0;
      for (std::size_t i = old_after; i < n; ++i) {
        const double low = s.old_blocks_lows.size() == n ? s.old_blocks_lows[i] : s.old_blocks[i].bytes;
        drawdown = std::max(drawdown, highest - low);
        highest = std::max(highest, s.old_blocks[i].bytes);
      }
      // Kept blocks add to the stack: old blocks rising while the stack's blocks do not are
      // blocks it held anyway growing old (long-lived churn, or a process stalled for longer
      // than the age: nothing freed, everything ages).
      // Since the stack settled (a fill from exec, a warm-up from -p, rise without keeping).
      const std::size_t since = std::min(from, n - kMinPoints);
      const Floor blocks_floor{s.blocks.subspan(since), s.blocks_lows.size() == n ? s.blocks_lows.subspan(since)
                                                                                : std::span<const double>{}};
      const std::size_t q = std::max<std::size_t>(1, (n - since) / 4);
      double blocks_rise = lowest(blocks_floor, n - since - q, n - since) - lowest(blocks_floor, 0, q);
      // The blocks that turned old over the stretch judged were born old_after points before it:
      // a cache that filled beneath churn before the stack settled rose then, and a leak beneath
      // a swinging ring shows there as well as later. Attached, a climb of the blocks then is the
      // warm-up, unless no recycled block lives to be old (the ring's blocks are replaced within
      // its first lifetime, skipped); a stall ages blocks born while the stack was steady, so it
      // still fails.
      const std::size_t warm = s.attached ? static_cast<std::size_t>(std::ceil(age_life)) : 0;
      const std::size_t born = std::max(from_age, old_after + warm) - old_after;
      if ((!s.attached || dies_young) && n >= born + old_after + 4) {
        const std::size_t m = n - old_after - born, bq = std::max<std::size_t>(1, m / 4);
        const Floor birth{s.blocks.subspan(born, m), s.blocks_lows.size() == n ? s.blocks_lows.subspan(born, m)
                                                                               : std::span<const double>{}};
        blocks_rise = std::max(blocks_rise, lowest(birth, m - bq, m) - lowest(birth, 0, bq));
      }
      // When the lifetime rests on the young blocks (the stack holds blocks it does not recycle),
      // what is not recycled may be a level the stack swings above, not kept blocks: a wave's
      // troughs, sampled a little earlier or later in each period, drift as its old blocks. Kept
      // blocks stand out of that swing: the old blocks must rise by at least the swing of the
      // young ones (blocks minus old blocks) over the stretch judged.
      double young_swing = 0;
      if (age_life < 0.9 * static_cast<double>(life)) {
        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        for (std::size_t i = from_age; i < n; ++i) {
          const double young = s.blocks[i].bytes - s.old_blocks[i].bytes;
          lo = std::min(lo, young);
          hi = std::max(hi, young);
        }
        young_swing = hi - lo;
      }
      if (largest_floor_fall(since_old) > kMaxFloorFall * aged->evidence.floor_rise_bytes ||
          drawdown > kAgeDrawdown * aged->evidence.floor_rise_bytes ||
          blocks_rise < kAgeBlocksRise * aged->evidence.floor_rise_bytes ||
          aged->evidence.floor_rise_bytes < kAgeOverSwing * young_swing)
        aged.reset();
    }
    if (aged && aged->factor.is_leak()) {
      // What was kept: the old blocks now over their lowest at the start of the judged stretch
      // (exact for blocks that stay old; the lowest sample, so a block allocated while the
      // sites were read and counted old until its free does not count).
      const std::size_t quarter = std::max<std::size_t>(1, (n - from_age) / 4);
      double start = std::numeric_limits<double>::infinity();
      for (std::size_t i = from_age; i < from_age + quarter; ++i)
        start = std::min(start, s.old_blocks_lows.size() == n ? s.old_blocks_lows[i] : s.old_blocks[i].bytes);
      const double now = s.old_blocks_lows.size() == n ? s.old_blocks_lows.back() : s.old_blocks.back().bytes;
      aged->factor.leak_blocks = leak_bytes(now - start);
    }
  }
  // Old blocks that accelerate are what is left of their climb (blocks born early in the run
  // growing old), not a leak: kept blocks of a recycling stack pile up at its rate. Where no
  // recycled block lives to be old there is no climb, and a leak that starts late is convex.
  const bool age_leak = aged && aged->factor.is_leak() && aged->factor.cls != LeakClass::exponential &&
                        aged->factor.leak_blocks > 0;
  // A saturating rise of old blocks is a cache, or the old blocks of an attach warm-up
  // replacing long-lived blocks: from -p the counts cannot tell them apart (see below).
  const bool age_steady_leak = age_leak && (aged->factor.cls != LeakClass::logarithmic || dies_young);
  // The count of what was kept, whichever evidence the verdict rests on: old blocks that rose
  // and never fell are kept blocks (a leak that started late reads as accelerating: counted).
  const bool age_counts = aged && aged->factor.is_leak() && aged->factor.leak_blocks > 0;
  auto old_bytes_of = [&](std::uint64_t blocks) {
    const double old_now = s.old_blocks.back().bytes;
    return s.current_old_bytes > 0 && old_now > 0
               ? leak_bytes(static_cast<double>(blocks) * s.current_old_bytes / old_now)
               : 0;
  };
  if (age_leak && (age_steady_leak || !s.attached || dies_young)) {
    // The old blocks are what a recycling stack kept: their shape is the leak's, whatever else
    // called it (its bytes swing with the churn, and a trend of a few noises in them, or in its
    // blocks, bends with the swings: a leak beneath churn was called exponential by them).
    const LeakFactor& a = aged->factor;
    if (!out.is_leak()) {
      out.evidence = Evidence::age;
      out.confidence = a.confidence;
      out.leak = old_bytes_of(a.leak_blocks);
    }
    out.cls = a.cls;
    curvature = aged->evidence.curvature;
  }
  if (age_counts && out.is_leak() && recycles) {
    out.leak_blocks = aged->factor.leak_blocks;
    if (const std::uint64_t bytes = old_bytes_of(out.leak_blocks); bytes > 0) out.leak = bytes;
  }
  // Attached, a recycling stack whose bytes rose while its blocks did not grow old is still
  // replacing the blocks allocated before tracing: its level wanders over a lifetime of its
  // blocks, and a stretch of that wander reads as a trend.
  if (s.attached && out.is_leak() && recycles && age_judged && !age_leak) {
    out.cls = LeakClass::constant;
    out.evidence = Evidence::warmup;
    out.leak = out.leak_blocks = 0;
  }
  // The attach warm-up, before the stack settled: a stack that recycles its blocks (over the
  // second half of the series it freed most of what it allocated) and whose rise slows down
  // is replacing blocks allocated before tracing: steady, not a cache. A cache keeps its
  // blocks; a leak that frees some of its blocks frees far fewer than it allocates. Once
  // settled, what is left of the warm-up is e^-4 of the level at most and the verdict on the
  // settled points stands.
  if (s.attached && out.is_leak() && has_counts && from == 0 && !age_steady_leak) {
    const std::size_t half = s.bytes.size() / 2;
    const double freed = s.frees.back().bytes - s.frees[half].bytes;
    const double allocated = freed + s.blocks.back().bytes - s.blocks[half].bytes;
    if (allocated > 0 && freed >= kRecyclingShare * allocated && curvature <= kWarmupCurvature) {
      out.cls = LeakClass::constant;
      out.evidence = Evidence::warmup;
      out.leak = out.leak_blocks = 0;
    }
  }
  if (s.current_bytes >= 0) out.leak = std::min(out.leak, leak_bytes(s.current_bytes));
  if (s.current_blocks >= 0) out.leak_blocks = std::min(out.leak_blocks, leak_bytes(s.current_blocks));
  return out;
}

}  // namespace

void SettlingScan::advance(const StackSeries& s) {
  if (settled || !has_block_counts(s)) return;
  const double turnovers = s.attached ? kAttachedTurnovers : kExecTurnovers;
  for (; next < s.frees.size(); ++next) {
    const std::size_t i = next;
    highest = std::max(highest, s.blocks[i].bytes);
    if (s.blocks[i].bytes < kClimbDip * highest) {
      settled = 0;
      return;
    }
    if (s.frees[i].bytes > 0 && s.frees[i].bytes >= turnovers * s.blocks[i].bytes) {
      // No more blocks than at the first point: nothing climbed (a cache flushed and refilled).
      const bool climbed = s.blocks[i].bytes > s.blocks.front().bytes &&
                           (s.blocks[i].bytes >= kClimb * s.blocks.front().bytes || s.blocks[i].bytes >= kManyBlocks);
      settled = climbed ? i : 0;
      return;
    }
  }
}

LeakFactor classify_stack(const StackSeries& s) {
  if (!s.describe) {
    // The verdict of the full judgement (the bytes' fit decides nothing once their floor did
    // not rise), without the description; a leak is described in full.
    LeakFactor verdict = judge_stack(s, false);
    if (verdict.is_leak()) return judge_stack(s, true);
    if (s.bytes_extremes) {
      verdict.min_size = s.bytes_extremes->first;
      verdict.max_size = s.bytes_extremes->second;
    }
    return verdict;
  }
  return judge_stack(s, true);
}

StackSeries stack_series(const series::Series& bytes, const series::Series* blocks, const series::Series* frees,
                         const series::Series* old_blocks, double old_bytes) {
  StackSeries s;
  s.bytes = bytes.points();
  s.bytes_extremes = std::pair{bytes.min_bytes(), bytes.max_bytes()};
  s.bytes_lows = bytes.lows();
  if (blocks && frees && blocks->size() == bytes.size() && frees->size() == bytes.size()) {
    s.blocks = blocks->points();
    s.blocks_extremes = std::pair{blocks->min_bytes(), blocks->max_bytes()};
    s.blocks_lows = blocks->lows();
    s.frees = frees->points();
    s.current_blocks = blocks->empty() ? -1 : blocks->last().bytes;
    if (old_blocks && old_blocks->size() == bytes.size()) {
      s.old_blocks = old_blocks->points();
      s.old_blocks_lows = old_blocks->lows();
      s.old_blocks_unchanged_from = old_blocks->unchanged_from();
      s.current_old_bytes = old_bytes;
    }
  }
  s.samples_per_point = static_cast<std::size_t>(bytes.samples_per_point());
  s.current_bytes = bytes.empty() ? -1 : bytes.last().bytes;
  return s;
}

LeakFactor classify_stack(const series::Series& bytes, const series::Series* blocks,
                          const series::Series* frees, bool attached, const series::Series* old_blocks,
                          double old_bytes) {
  StackSeries s = stack_series(bytes, blocks, frees, old_blocks, old_bytes);
  s.attached = attached;
  return classify_stack(s);
}

LeakFactor compute_leak_factor_edleak(std::span<const series::Point> points) {
  LeakFactor out;
  if (points.size() < 3 || !has_time_span(points)) {
    set_extremes(points, out);
    return out;
  }
  if (!describe_fit(points, fit_quadratic(points), out)) return out;
  out.leak = leak_size(out.coef, out.min_size, out.max_size);
  if (out.leak <= 1) {
    out.leak = 0;
    return out;
  }
  if (out.coef[0] < -kEdleakCurvature)
    out.cls = LeakClass::logarithmic;
  else if (out.coef[0] > kEdleakCurvature)
    out.cls = LeakClass::exponential;
  else
    out.cls = LeakClass::linear;
  return out;
}

}  // namespace edleak::classify
