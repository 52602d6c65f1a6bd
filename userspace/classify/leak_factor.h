#pragma once
// The leak factor of one allocation point (after edLeak): normalise the series, fit
// a*x^2 + b*x + c by least squares, classify, size the leak in bytes.
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

LeakFactor compute_leak_factor(std::span<const series::Point> points);
inline LeakFactor compute_leak_factor(const series::Series& s) {
  return compute_leak_factor(std::span<const series::Point>(s.points()));
}

}  // namespace edleak::classify
