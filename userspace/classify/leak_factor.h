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

// Which evidence a verdict rests on (docs/classifier.md, "Our rule").
enum class Evidence {
  none,        // no leak: nothing rose out of the noise
  trend,       // the bytes' fit and floor rose out of the noise (edLeak's fit, our test)
  floor,       // the lower envelope (the lowest bytes of each slice) rose steadily: a leak
               // beneath churn or beneath a batch buffer
  blocks,      // the outstanding blocks rose (a leak of tiny or zero-byte blocks)
  warmup,      // the rise is an attach warm-up: a recycling stack replacing the blocks
               // allocated before tracing, steady since (with -p only)
  noise_floor, // a leak smaller than the noise floor (--min-leak-bytes, --min-leak-share)
  age,         // the blocks older than a few samples rose: kept blocks grow old while
               // recycled ones stay young (the capture's age ring), a leak beneath churn or
               // beneath the attach warm-up
};

struct LeakFactor {
  LeakClass cls = LeakClass::insufficient_data;
  std::array<double, 3> coef{0, 0, 0};  // a, b, c of the fit on normalised data
  // Bytes the stack leaks; 0 unless the class is a leak. Linear and exponential: edLeak's
  // formula (leak_edleak); logarithmic: what the cache holds (the floor rise); a leak found
  // beneath churn or a batch buffer: the rise of the floor. Never more than the stack holds.
  std::uint64_t leak = 0;
  double min_size = 0;                  // bytes
  double max_size = 0;                  // bytes
  double growth_bytes_per_s = 0;        // slope of the trend over the run, for the report
  std::uint64_t leak_edleak = 0;        // edLeak's (f(1) - f(0)) * (max - min), whatever the class
  std::uint64_t leak_blocks = 0;        // rise of the outstanding blocks, when they leak
  Evidence evidence = Evidence::none;
  // How far the strongest evidence stands out of the noise, as a multiple of what the rule
  // requires: >= 1 for a leak, < 1 when nothing rose enough (0 when nothing rose at all).
  double confidence = 0;

  bool is_leak() const {
    return cls == LeakClass::linear || cls == LeakClass::logarithmic || cls == LeakClass::exponential;
  }
};

std::string_view to_string(Evidence e);

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

// One stack as the capture sees it: the bytes series and, when the capture has them, the
// outstanding blocks and the cumulative frees of traced blocks (Points whose `bytes` holds the
// count), sampled at the same times. Extremes, when given, are those of the samples behind
// the points (a Series' means).
struct StackSeries {
  std::span<const series::Point> bytes;
  std::optional<std::pair<double, double>> bytes_extremes;  // min, max
  std::span<const double> bytes_lows;  // lowest sample behind each point (Series::lows()), or empty
  std::span<const series::Point> blocks;                     // empty: unknown
  std::optional<std::pair<double, double>> blocks_extremes;
  std::span<const double> blocks_lows;
  std::span<const series::Point> frees;                      // empty: unknown
  // Outstanding blocks allocated sample::kOldAfterSamples samples ago or more (the capture's
  // age ring), sampled at the same times; empty: unknown. `samples_per_point`: samples behind
  // each point (a Series' resolution), to turn that age into points.
  std::span<const series::Point> old_blocks;
  std::span<const double> old_blocks_lows;
  // The first point from which every old-blocks sample is the same (Series::unchanged_from());
  // unknown: found from the points and lows.
  std::optional<std::size_t> old_blocks_unchanged_from;
  // The point a recycling stack settled at, after the climb it starts with (see
  // SettlingScan); unknown: found from the blocks and frees.
  std::optional<std::size_t> settled_from;
  std::size_t samples_per_point = 1;
  double current_old_bytes = -1;  // bytes those old blocks hold now; negative: unknown
  // Blocks allocated before tracing may exist (-p, system-wide): a recycling stack's
  // outstanding bytes then climb from 0 to their steady level as the old blocks are replaced.
  bool attached = false;
  // What the stack holds now (bytes, blocks): no leak is sized above it. Negative: unknown.
  double current_bytes = -1;
  double current_blocks = -1;
  // False: a verdict, not a description, for a stack nobody will read unless it leaks (the
  // tracer lists leaks only, unless -a). A stack that is not a leak then gets its class,
  // evidence and confidence, with min_size and max_size those of the whole run; the fit that
  // describes its bytes (coef, growth_bytes_per_s, leak_edleak) is skipped when their floor did
  // not rise, which decides the verdict without it. A leak is described in full.
  bool describe = true;
};

// The search for the point a recycling stack settled at (its blocks allocated before tracing
// replaced, or its first fill done): the first point where the frees so far reach the blocks
// held times the turnovers asked, unless the blocks dipped before (a cache flushed: no climb
// to wait for). It stops at that point, so it reads only points appended since the last call
// until then: the tracer keeps one per stack between reports (classify::RememberedSettling).
struct SettlingScan {
  std::size_t next = 0;  // points read
  double highest = 0;    // blocks, over those points
  std::optional<std::size_t> settled;  // once stopped: the point (0: nothing climbed)
  // Reads the points of `stack` from `next` on; its blocks and frees must be the same series
  // (points [0, next) unchanged) as at the last call.
  void advance(const StackSeries& stack);
  // The settling point: 0 until the scan stopped, or when the stack has no counts.
  std::size_t point() const { return settled.value_or(0); }
};

// The verdict on every evidence the stack has (bytes, blocks, frees): see docs/classifier.md.
LeakFactor classify_stack(const StackSeries& stack);
// A stack's series as the capture's Series hold them (blocks, frees and old blocks may be
// null or of other lengths: unknown then), not attached, described.
StackSeries stack_series(const series::Series& bytes, const series::Series* blocks, const series::Series* frees,
                         const series::Series* old_blocks = nullptr, double old_bytes = -1);
// Series of the same times: bytes, outstanding blocks, cumulative frees and, when known, the
// old blocks (with the bytes they hold now, negative when unknown).
LeakFactor classify_stack(const series::Series& bytes, const series::Series* blocks,
                          const series::Series* frees, bool attached,
                          const series::Series* old_blocks = nullptr, double old_bytes = -1);

// What the verdict rests on (see docs/classifier.md), for calibration, tests and diagnostics.
// The measures are taken in this order and each only when the ones before still allow a leak
// (the tracer re-classifies every stack every interval): a measure not taken stays 0.
struct TrendEvidence {
  // Lowest bytes over the last quarter of the points minus lowest over the first quarter:
  // a leak raises the floor; a spike, a batch buffer or churn comes back down to it.
  double floor_rise_bytes = 0;
  double relative_rise = 0;             // floor_rise_bytes / max_size
  double curvature = 0;                 // a / (a + b): 0 straight, > 0 accelerating, < 0 saturating
  double required_rise_over_noise = 0;  // the threshold for this number of points (and curvature)
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
  // The lower envelope: the lowest bytes of each of eight consecutive slices (from 16 points;
  // sixteen slices from 32 points when those stand out more), a line fitted through them. Its
  // rise from the first slice to the last, the scatter of the slices' lows around the line (root
  // mean square, slices - 2 degrees of freedom) and their ratio: a batch buffer emptied to a
  // rising level, or churn over a few kept blocks, raise it steadily.
  double envelope_rise_bytes = 0;
  double envelope_scatter_bytes = 0;
  double envelope_rise_over_scatter = 0;
  double envelope_fall = 0;  // largest fall of a slice's low below the highest before, / rise
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
