#pragma once
// The leak factor of one allocation point (after edLeak): normalise the series, fit
// a*x^2 + b*x + c by least squares, classify, size the leak in bytes.
// How the class is decided, and the accuracy it reaches, is in docs/classifier.md.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "series/series.h"

namespace edleak::classify {

enum class LeakClass {
  insufficient_data,  // too few points to say anything
  constant,           // no leak: flat, noise, churn, spikes, batch buffers
  linear,             // leaks regularly
  logarithmic,        // grows and saturates: a cache filling up
  exponential,        // accelerating growth: critical
};

std::string_view to_string(LeakClass c);                 // "constant", "linear", ...
std::optional<LeakClass> leak_class_from_string(std::string_view s);

struct LeakFactor {
  LeakClass cls = LeakClass::insufficient_data;
  std::array<double, 3> coef{0, 0, 0};  // a, b, c of the fit on normalised data
  std::uint64_t leak = 0;               // bytes; 0 when cls is constant or insufficient_data
  double min_size = 0;                  // bytes
  double max_size = 0;                  // bytes
  double growth_bytes_per_s = 0;        // slope of the trend over the run, for the report

  bool is_leak() const { return leak > 0; }
};

// edLeak's size estimate: (f(1) - f(0)) * (max_size - min_size), rounded, clamped at 0.
std::uint64_t leak_size(const std::array<double, 3>& coef, double min_size, double max_size);

// Minimum number of points for a verdict other than insufficient_data.
inline constexpr std::size_t kMinPoints = 8;

// Points must be in time order (as Series and read_series give them). Allocates nothing.
LeakFactor compute_leak_factor(std::span<const series::Point> points);
// The same on points that are means (a Series' buckets), with the true extremes of the samples
// behind them: min_size and max_size report those, and bytes are normalised by them.
LeakFactor compute_leak_factor(std::span<const series::Point> points, double min_bytes,
                               double max_bytes);
inline LeakFactor compute_leak_factor(const series::Series& s) {
  return compute_leak_factor(std::span<const series::Point>(s.points()), s.min_bytes(),
                             s.max_bytes());
}

// What the verdict rests on (see docs/classifier.md), for calibration, tests and diagnostics.
// The measures are taken in this order and each only when the ones before still allow a leak
// (the tracer re-classifies every stack every interval): a measure not taken stays 0.
struct TrendEvidence {
  // Lowest bytes over the last quarter of the points minus lowest over the first quarter:
  // a leak raises the floor; a spike, a batch buffer or churn comes back down to it.
  double floor_rise_bytes = 0;
  double relative_rise = 0;             // floor_rise_bytes / max_size
  double curvature = 0;                 // a / (a + b): 0 straight, > 0 accelerating, < 0 saturating
  double required_rise_over_noise = 0;  // the threshold for this number of points
  // Scatter of the points around the fitted parabola from one sample to the next (root mean
  // square of successive residual differences, over sqrt(2), the largest one left out): a
  // curve the parabola follows badly (an exponential, a cache) or one jump (a cache filled
  // between two samples) is not noise, only what jumps from sample to sample.
  double noise_bytes = 0;
  double rise_over_noise = 0;  // floor_rise_bytes / noise_bytes; infinite when noise is 0
  // Largest fall of the floor (the lowest bytes of each of up to eight consecutive slices of
  // the series) below its highest level so far, as a share of floor_rise_bytes: a leak's
  // floor only goes up, wandering churn goes up and down.
  double floor_fall = 0;
};

struct Assessment {
  LeakFactor factor;
  TrendEvidence evidence;
};

Assessment assess(std::span<const series::Point> points);

// The rise over noise a series of `points` points needs to be called a leak: more on short
// series, where noise lines up as a trend more easily.
double required_rise_over_noise(std::size_t points);

// edLeak's published rule on the same fit (leak <= 1 constant, a < -0.2 logarithmic,
// a > 0.2 exponential, else linear), kept as the baseline our rule is measured against.
LeakFactor compute_leak_factor_edleak(std::span<const series::Point> points);

}  // namespace edleak::classify
