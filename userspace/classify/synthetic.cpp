#include "classify/synthetic.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <random>
#include <stdexcept>

namespace edleak::classify::synthetic {
namespace {

constexpr std::array kShapes{
    Shape::linear,      Shape::slow_linear,   Shape::staircase,    Shape::exponential,
    Shape::quadratic,   Shape::logarithmic,   Shape::cache_filling, Shape::cache_filled,
    Shape::flat,        Shape::flat_noise,    Shape::spike,        Shape::sawtooth,
    Shape::churn,
};

// Portable draws over mt19937_64, whose output sequence the standard fixes.
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  std::size_t index(std::size_t lo, std::size_t hi) {  // [lo, hi]
    return lo + static_cast<std::size_t>(uniform() * static_cast<double>(hi - lo + 1));
  }
  double normal() {  // Box-Muller; one of the pair is enough here
    double u1 = 1.0 - uniform();  // (0, 1]
    double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  std::mt19937_64 engine_;
};

// Shape of the growth in [0, 1] at normalised time x in [0, 1].
struct Builder {
  Random& rng;
  std::size_t n;
  double scale;
  std::vector<double> bytes;

  double x(std::size_t i) const { return static_cast<double>(i) / static_cast<double>(n - 1); }
  void add_noise(double sigma) {
    for (double& b : bytes) b += sigma * rng.normal();
  }
};

void fill(Shape shape, Builder& s) {
  Random& rng = s.rng;
  const std::size_t n = s.n;
  const double scale = s.scale;
  auto base = [&](double lo, double hi) { return scale * rng.uniform(lo, hi); };
  auto growth = [&](auto&& curve) {
    double level = base(0, 4);
    for (std::size_t i = 0; i < n; ++i) s.bytes[i] = level + scale * curve(s.x(i));
  };
  switch (shape) {
    case Shape::linear:
      growth([](double x) { return x; });
      s.add_noise(scale * rng.uniform(0, 0.08));
      break;
    case Shape::slow_linear: {
      double level = base(20, 100);  // growth of 1 to 5 % of the level
      for (std::size_t i = 0; i < n; ++i) s.bytes[i] = level + scale * s.x(i);
      s.add_noise(scale * rng.uniform(0, 0.05));
      break;
    }
    case Shape::staircase: {
      std::size_t every = rng.index(1, std::max<std::size_t>(1, n / 6));
      std::size_t phase = rng.index(0, every - 1);
      double steps = static_cast<double>((n - 1 + phase) / every);
      double level = base(0, 4);
      for (std::size_t i = 0; i < n; ++i)
        s.bytes[i] = level + scale * static_cast<double>((i + phase) / every) / steps;
      break;
    }
    case Shape::exponential: {
      double rate = rng.uniform(2.5, 6);
      growth([rate](double x) { return std::expm1(rate * x) / std::expm1(rate); });
      s.add_noise(scale * rng.uniform(0, 0.03));
      break;
    }
    case Shape::quadratic:
      growth([](double x) { return x * x; });
      s.add_noise(scale * rng.uniform(0, 0.03));
      break;
    case Shape::logarithmic: {
      double k = std::exp(rng.uniform(std::log(10.0), std::log(1000.0)));
      growth([k](double x) { return std::log1p(k * x) / std::log1p(k); });
      s.add_noise(scale * rng.uniform(0, 0.03));
      break;
    }
    case Shape::cache_filling: {
      double tau = rng.uniform(0.05, 0.25);
      growth([tau](double x) { return -std::expm1(-x / tau); });
      s.add_noise(scale * rng.uniform(0, 0.03));
      break;
    }
    case Shape::cache_filled: {
      double until = rng.uniform(0.01, 0.08);
      growth([until](double x) { return std::min(1.0, x / until); });
      s.add_noise(scale * rng.uniform(0, 0.02));
      break;
    }
    case Shape::flat:
      std::fill(s.bytes.begin(), s.bytes.end(), base(0.1, 4));
      break;
    case Shape::flat_noise: {
      double level = base(1, 4);
      std::fill(s.bytes.begin(), s.bytes.end(), level);
      s.add_noise(level * rng.uniform(0.001, 0.05));
      break;
    }
    case Shape::spike: {
      // A block of 1 to 20 x scale on a small baseline, allocated and freed within the run and
      // freed before its last fifth (a block still live at the end is growth, not a spike). It
      // spans at least one sample: a spike between two samples is not in the series.
      double level = base(0.2, 2);
      double block = base(1, 20);
      const double last = static_cast<double>(n - 1);
      std::size_t from = static_cast<std::size_t>(std::ceil(rng.uniform(0.05, 0.6) * last));
      std::size_t to = static_cast<std::size_t>(std::ceil(rng.uniform(0.05, 0.4) * last)) + from;
      to = std::clamp<std::size_t>(to, from + 1, static_cast<std::size_t>(0.8 * last));
      for (std::size_t i = 0; i < n; ++i) s.bytes[i] = level + (i >= from && i < to ? block : 0);
      s.add_noise(level * rng.uniform(0, 0.01));
      break;
    }
    case Shape::sawtooth: {
      // Fills over `period` samples and is emptied: at least five batches per run.
      std::size_t period = rng.index(2, std::max<std::size_t>(2, n / 5));
      std::size_t phase = rng.index(0, period - 1);
      double level = base(0, 2);
      for (std::size_t i = 0; i < n; ++i)
        s.bytes[i] = level + scale * static_cast<double>((i + phase) % period) /
                                 static_cast<double>(period - 1);
      s.add_noise(scale * rng.uniform(0, 0.02));
      break;
    }
    case Shape::churn: {
      // Blocks of scale/16 allocated and freed: a count that wanders around its mean and is
      // pulled back to it (mean-reverting, like a pool of requests in flight).
      double block = scale / 16;
      double mean_blocks = std::round(rng.uniform(8, 64));
      double spread = std::round(rng.uniform(1, mean_blocks / 2));
      // 1: independent draws; lower: slower wandering. The count must be seen coming back to its
      // mean within the run (1 / pull, its memory in samples, at most a quarter of the run):
      // eight samples of a slow wander are eight samples of a trend, whatever made them.
      double pull = rng.uniform(std::clamp(4.0 / static_cast<double>(n), 0.3, 1.0), 1.0);
      double count = mean_blocks;
      for (std::size_t i = 0; i < n; ++i) {
        count += pull * (mean_blocks - count) + spread * std::sqrt(pull * (2 - pull)) * rng.normal();
        s.bytes[i] = block * std::max(0.0, std::round(count));
      }
      break;
    }
  }
}

}  // namespace

std::span<const Shape> all_shapes() { return kShapes; }

std::string_view to_string(Shape shape) {
  switch (shape) {
    case Shape::linear: return "linear";
    case Shape::slow_linear: return "slow_linear";
    case Shape::staircase: return "staircase";
    case Shape::exponential: return "exponential";
    case Shape::quadratic: return "quadratic";
    case Shape::logarithmic: return "logarithmic";
    case Shape::cache_filling: return "cache_filling";
    case Shape::cache_filled: return "cache_filled";
    case Shape::flat: return "flat";
    case Shape::flat_noise: return "flat_noise";
    case Shape::spike: return "spike";
    case Shape::sawtooth: return "sawtooth";
    case Shape::churn: return "churn";
  }
  return "?";
}

LeakClass expected_class(Shape shape) {
  switch (shape) {
    case Shape::linear:
    case Shape::slow_linear:
    case Shape::staircase:
      return LeakClass::linear;
    case Shape::exponential:
    case Shape::quadratic:
      return LeakClass::exponential;
    case Shape::logarithmic:
    case Shape::cache_filling:
    case Shape::cache_filled:
      return LeakClass::logarithmic;
    case Shape::flat:
    case Shape::flat_noise:
    case Shape::spike:
    case Shape::sawtooth:
    case Shape::churn:
      return LeakClass::constant;
  }
  return LeakClass::insufficient_data;
}

std::vector<series::Point> generate(Shape shape, std::size_t points, double scale_bytes,
                                    std::uint64_t seed, double t0_s, double interval_s) {
  if (points < 2) throw std::invalid_argument("synthetic::generate: needs at least 2 points");
  Random rng(seed);
  Builder builder{rng, points, scale_bytes, std::vector<double>(points, 0.0)};
  fill(shape, builder);
  std::vector<series::Point> out(points);
  for (std::size_t i = 0; i < points; ++i) {
    // Outstanding bytes are whole and never negative.
    out[i] = {t0_s + interval_s * static_cast<double>(i), std::max(0.0, std::round(builder.bytes[i]))};
  }
  return out;
}

std::vector<LabelledSeries> make_corpus(const CorpusSpec& spec) {
  std::vector<LabelledSeries> corpus;
  corpus.reserve(kShapes.size() * spec.point_counts.size() * spec.scales_bytes.size() *
                 spec.variants);
  std::mt19937_64 seeds(spec.seed);
  for (Shape shape : kShapes)
    for (std::size_t n : spec.point_counts)
      for (double scale : spec.scales_bytes)
        for (std::size_t v = 0; v < spec.variants; ++v) {
          std::uint64_t seed = seeds();
          // Time origin and interval vary too: the classifier must not depend on either.
          double t0 = static_cast<double>(seed % 100000);
          double interval = std::array{0.1, 1.0, 10.0}[seed % 3];
          corpus.push_back({shape, expected_class(shape), n, scale,
                            generate(shape, n, scale, seed, t0, interval)});
        }
  return corpus;
}

}  // namespace edleak::classify::synthetic
