#include "classify/synthetic.h"

#include "sample/age_ring.h"

#include <algorithm>
#include <array>
#include <deque>
#include <cmath>
#include <numbers>
#include <random>
#include <limits>
#include <stdexcept>

namespace edleak::classify::synthetic {
namespace {

constexpr std::array kShapes{
    Shape::linear,      Shape::slow_linear,   Shape::staircase,    Shape::exponential,
    Shape::quadratic,   Shape::logarithmic,   Shape::cache_filling, Shape::cache_filled,
    Shape::flat,        Shape::flat_noise,    Shape::spike,        Shape::sawtooth,
    Shape::churn,       Shape::churn_leak,    Shape::batch_leak,   Shape::vector_doubling,
    Shape::cache_churn, Shape::warmup_leak,   Shape::wave,         Shape::lru_flush,
    Shape::job,         Shape::burst,         Shape::resized,      Shape::warmup,
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
  double poisson(double mean) {  // Knuth's product of uniforms; a normal beyond 30
    if (mean > 30) return std::max(0.0, std::round(mean + std::sqrt(mean) * normal()));
    const double limit = std::exp(-mean);
    double k = 0, product = uniform();
    while (product > limit) {
      ++k;
      product *= uniform();
    }
    return k;
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
  std::size_t decidable_from;  // see Run

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
      s.decidable_from = std::max(s.decidable_from, to + 1);  // once it is freed
      s.add_noise(level * rng.uniform(0, 0.01));
      break;
    }
    case Shape::sawtooth: {
      // Fills over `period` samples and is emptied: at least five batches per run.
      std::size_t period = rng.index(2, std::max<std::size_t>(2, n / 5));
      std::size_t phase = rng.index(0, period - 1);
      double level = base(0, 2);
      s.decidable_from = std::max(s.decidable_from, 2 * period + 1);  // emptied twice
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
      s.decidable_from = 16;  // eight samples of churn line up as a trend now and then
      for (std::size_t i = 0; i < n; ++i) {
        count += pull * (mean_blocks - count) + spread * std::sqrt(pull * (2 - pull)) * rng.normal();
        s.bytes[i] = block * std::max(0.0, std::round(count));
      }
      break;
    }
    default:  // simulated block by block: see simulate()
      break;
  }
}

// The traced blocks of one stack, step by step: allocations with a lifetime (the step they
// are freed at) or kept, frees now. Blocks are counted in cohorts (the blocks of one step with
// one lifetime), so a step costs the same whatever the number of blocks. Each cohort keeps the
// step it was born at, so the pool also says how many of its blocks are old (born
// sample::kOldAfterSamples steps ago or more), as the capture's age ring does.
class Pool {
 public:
  explicit Pool(std::size_t steps) : due_(steps), alive_by_birth_(steps, 0.0) {}
  // `count` blocks of `bytes` in all, freed `life` steps later (infinite: kept until release()).
  void allocate(std::size_t step, double count, double bytes, double life) {
    if (!(count > 0)) return;
    blocks_ += count;
    bytes_ += bytes;
    alive_by_birth_[step] += count;
    if (!std::isfinite(life)) {
      kept_.push_back({step, count});
      return;
    }
    const std::size_t due = step + std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(life)));
    if (due < due_.size()) due_[due].push_back({step, count, bytes});
  }
  // Frees `count` of the kept blocks (`bytes` in all), the newest first, or the oldest first
  // with oldest_first.
  void release(double count, double bytes) {
    count = std::min(count, blocks_);
    blocks_ -= count;
    bytes_ = std::max(0.0, bytes_ - bytes);
    frees_ += count;
    while (count > 0 && !kept_.empty()) {
      Kept& k = oldest_first ? kept_.front() : kept_.back();
      const double n = std::min(count, k.count);
      forget(k.birth, n);
      k.count -= n;
      count -= n;
      if (k.count <= 0) {
        if (oldest_first)
          kept_.pop_front();
        else
          kept_.pop_back();
      }
    }
  }
  void release_due(std::size_t step) {
    for (const Due& d : due_[step]) {
      const double n = std::min(d.count, blocks_);
      blocks_ -= n;
      bytes_ = std::max(0.0, bytes_ - d.bytes);
      frees_ += n;
      forget(d.birth, n);
    }
  }
  // Ages the pool to `step` (steps only go forward): the cohorts born kOldAfterSamples steps
  // before it or earlier are old.
  void age_to(std::size_t step) {
    for (; step >= kOldAfter && aged_ + kOldAfter <= step; ++aged_) old_ += alive_by_birth_[aged_];
  }
  double blocks() const { return blocks_; }
  double bytes() const { return bytes_; }
  double frees() const { return frees_; }
  double old_blocks() const { return old_; }
  bool oldest_first = false;

 private:
  static constexpr std::size_t kOldAfter = sample::kOldAfterSamples;
  struct Due {
    std::size_t birth;
    double count, bytes;
  };
  struct Kept {
    std::size_t birth;
    double count;
  };
  void forget(std::size_t birth, double n) {
    alive_by_birth_[birth] -= n;
    if (birth < aged_) old_ = std::max(0.0, old_ - n);
  }
  std::vector<std::vector<Due>> due_;
  std::deque<Kept> kept_;
  std::vector<double> alive_by_birth_;
  std::size_t aged_ = 0;  // cohorts born before this step are counted in old_
  double blocks_ = 0, bytes_ = 0, frees_ = 0, old_ = 0;
};

// What the simulated shapes record at each step.
struct Counts {
  std::vector<double> bytes, blocks, frees, old_blocks;
  std::size_t decidable_from = 0;
  bool attached = false;
  // `step`: the pool's own step, when it ran before the first sample.
  void record(std::size_t i, Pool& pool, std::size_t step) {
    pool.age_to(step);
    bytes[i] = pool.bytes();
    blocks[i] = pool.blocks();
    frees[i] = pool.frees();
    old_blocks[i] = pool.old_blocks();
  }
  void record(std::size_t i, Pool& pool) { record(i, pool, i); }
};

// A recycling stack: `steady` blocks of `block` bytes live on the average, each living `life`
// steps (a ring or a queue) or an exponential time of that mean (a pool of keys replaced at
// random), allocated at a rate that varies by `rate_noise` from step to step;
// one allocation in 1/keep_share is kept for good.
struct Recycler {
  double steady, block, life, rate_noise, keep_share;
  bool fifo;
  void step(Random& rng, Pool& pool, std::size_t i) const {
    const double rate = std::max(0.0, steady / life * (1 + rate_noise * rng.normal()));
    // Sixteen cohorts a step for random lifetimes: fewer make the level wander far more than
    // the blocks they stand for would (each cohort is freed at once).
    const int kCohorts = fifo ? 1 : 16;
    double allocated = 0;
    for (int c = 0; c < kCohorts; ++c) {
      const double count = std::round(rate * (c + 1) / kCohorts) - std::round(rate * c / kCohorts);
      // Exponential lifetimes drawn by strata of the distribution, so that the cohorts spread
      // like the blocks they stand for.
      const double quantile = (c + rng.uniform()) / kCohorts;
      const double lifetime = fifo ? life : -life * std::log(1.0 - quantile);
      pool.allocate(i, count, count * block * rng.uniform(0.9, 1.1), lifetime);
      allocated += count;
    }
    const double kept = keep_share > 0 ? rng.poisson(allocated * keep_share) : 0;
    pool.allocate(i, kept, kept * block * rng.uniform(0.8, 1.2), std::numeric_limits<double>::infinity());
  }
};

Recycler make_recycler(Random& rng, std::size_t n, double scale, bool leaks) {
  Recycler r;
  r.steady = std::round(rng.uniform(100, 800));
  r.block = scale / 64 * rng.uniform(0.5, 2);
  r.life = static_cast<double>(rng.index(1, std::max<std::size_t>(1, n / 16)));
  r.fifo = rng.uniform() < 0.5;
  r.rate_noise = rng.uniform() < 0.25 ? 0.0 : rng.uniform(0, 0.1);
  r.keep_share = 0;
  if (leaks) {
    // 1 allocation in 50 to 200 kept; more when that would not stand out of the churn by the
    // end of the run: the level sums `life` steps of allocations (it swings by rate_noise *
    // steady / sqrt(life)) and random lifetimes add about 2 * sqrt(steady). A leak that the
    // churn hides for the whole run is not a labelled leak.
    const double swing = r.rate_noise * r.steady / std::sqrt(r.life) + (r.fifo ? 0.0 : 2 * std::sqrt(r.steady));
    const double allocations = r.steady / r.life * static_cast<double>(n);
    r.keep_share = std::max(1.0 / rng.uniform(50, 200), (6 * swing + 10) / allocations);
  }
  return r;
}

// The shapes with counts. Returns false for the others.
bool simulate(Shape shape, Random& rng, std::size_t n, double scale, Counts& out) {
  Pool pool(n);
  out.decidable_from = kMinPoints;
  const double inf = std::numeric_limits<double>::infinity();
  switch (shape) {
    case Shape::churn_leak:
    case Shape::warmup_leak:
    case Shape::warmup: {
      const Recycler r = make_recycler(rng, n, scale, shape != Shape::warmup);
      out.attached = shape != Shape::churn_leak;
      // Over once the blocks alive at the start (those allocated before tracing) are replaced:
      // the longest lifetime of a ring, five mean lifetimes of a pool replaced at random.
      out.decidable_from = static_cast<std::size_t>(std::ceil((r.fifo ? 2.6 : 6.0) * r.life)) + kMinPoints;
      for (std::size_t i = 0; i < n; ++i) {
        pool.release_due(i);
        r.step(rng, pool, i);
        out.record(i, pool);
      }
      return true;
    }
    case Shape::cache_churn: {
      Recycler r = make_recycler(rng, n, scale, false);
      const double capacity = std::round(r.steady * rng.uniform(0.5, 2));
      const double tau = rng.uniform(0.05, 0.2) * static_cast<double>(n);
      double cached = 0;
      for (std::size_t i = 0; i < n; ++i) {
        pool.release_due(i);
        r.step(rng, pool, i);
        const double target = std::round(capacity * -std::expm1(-static_cast<double>(i) / tau));
        pool.allocate(i, target - cached, (target - cached) * r.block, inf);
        cached = std::max(cached, target);
        out.record(i, pool);
      }
      return true;
    }
    case Shape::batch_leak: {
      // A batch of `fill` blocks a step, emptied every `period` steps but for `kept` blocks;
      // at least 32 batches a run (the rule sees a rising emptied level from eight batches).
      const std::size_t period = rng.index(2, std::max<std::size_t>(2, n / 32));
      const std::size_t phase = rng.index(0, period - 1);
      const double fill = std::round(rng.uniform(20, 200));
      const double block = scale / 64 * rng.uniform(0.5, 2);
      const double kept_share = 1.0 / rng.uniform(20, 200);
      double batch = 0;
      for (std::size_t i = 0; i < n; ++i) {
        if ((i + phase) % period == 0 && batch > 0) {
          const double kept = std::max(1.0, rng.poisson(batch * kept_share));
          pool.release(batch - kept, (batch - kept) * block);
          batch = 0;
        }
        pool.allocate(i, fill, fill * block, inf);
        batch += fill;
        out.record(i, pool);
      }
      return true;
    }
    case Shape::vector_doubling: {
      // Elements appended at a steady rate; capacity doubles when full (realloc frees the old
      // block). At least three doublings in the run.
      const double rate = rng.uniform(1, 100);
      const double element = std::max(1.0, std::round(scale / 1000 * rng.uniform(1, 16)));
      double size = rate * static_cast<double>(n) / rng.uniform(8, 64);
      double capacity = std::pow(2.0, std::ceil(std::log2(size)));
      pool.allocate(0, 1, capacity * element, inf);
      for (std::size_t i = 0; i < n; ++i) {
        size += rate;
        while (size > capacity) {
          pool.release(1, capacity * element);
          capacity *= 2;
          pool.allocate(i, 1, capacity * element, inf);
        }
        out.record(i, pool);
      }
      return true;
    }
    case Shape::wave: {
      // A level of `mean` blocks swinging by `depth` with a period of n/8 to n/3 steps.
      const double mean = std::round(rng.uniform(50, 500));
      const double depth = rng.uniform(0.2, 0.8);
      const double period = rng.uniform(0.125, 0.34) * static_cast<double>(n);
      const double phase = rng.uniform(0, 2 * std::numbers::pi);
      pool.oldest_first = phase > std::numbers::pi;  // half the waves free their oldest blocks first
      const double block = scale / 64 * rng.uniform(0.5, 2);
      for (std::size_t i = 0; i < n; ++i) {
        const double target = std::round(
            mean * (1 + depth * std::sin(2 * std::numbers::pi * static_cast<double>(i) / period + phase)));
        if (target > pool.blocks())
          pool.allocate(i, target - pool.blocks(), (target - pool.blocks()) * block, inf);
        else
          pool.release(pool.blocks() - target, (pool.blocks() - target) * block);
        out.record(i, pool);
      }
      // Sampled fewer than four times a period, a wave's troughs are missed by a sample offset
      // that slides by |period - round(period)| a cycle: the lows the samples show drift for the
      // beat, period / |period - round(period)| samples, which reads as a floor rising. The
      // evidence against a leak is then two beats, not two periods.
      double cycle = period;
      if (period < 4) {
        const double slide = std::abs(period - std::round(period));
        cycle = slide > 0 ? std::max(period, period / slide) : static_cast<double>(n);
      }
      out.decidable_from = static_cast<std::size_t>(std::ceil(2 * std::min(cycle, static_cast<double>(n)))) + 1;
      return true;
    }
    case Shape::lru_flush: {
      const double capacity = std::round(rng.uniform(50, 800));
      const double tau = rng.uniform(0.02, 0.1) * static_cast<double>(n);
      const std::size_t period = rng.index(std::max<std::size_t>(2, n / 6), std::max<std::size_t>(2, n / 3));
      const double block = scale / 64 * rng.uniform(0.5, 2);
      std::size_t since = 0;
      for (std::size_t i = 0; i < n; ++i, ++since) {
        if (since == period) {
          pool.release(pool.blocks(), pool.bytes());
          since = 0;
        }
        const double target = std::round(capacity * -std::expm1(-static_cast<double>(since + 1) / tau));
        pool.allocate(i, target - pool.blocks(), (target - pool.blocks()) * block, inf);
        out.record(i, pool);
      }
      out.decidable_from = period + 1;  // after the first flush
      return true;
    }
    case Shape::job: {
      // One to three jobs back to back, each allocating as it runs and freeing all at its end;
      // the last ends in the last fifth of the run. A small level of blocks stays throughout.
      const std::size_t jobs = rng.index(1, 3);
      const std::size_t end = static_cast<std::size_t>(rng.uniform(0.8, 0.95) * static_cast<double>(n));
      const double rate = std::round(rng.uniform(5, 100));
      const double block = scale / 64 * rng.uniform(0.5, 2);
      pool.allocate(0, 10, 10 * block, inf);
      const double base_blocks = 10, base_bytes = 10 * block;
      out.decidable_from = 0;
      for (std::size_t i = 0; i < n; ++i) {
        if (i > 0 && i <= end && i % std::max<std::size_t>(1, end / jobs) == 0) {
          pool.release(pool.blocks() - base_blocks, pool.bytes() - base_bytes);
          if (out.decidable_from == 0) out.decidable_from = i + 1;
        } else if (i < end) {
          pool.allocate(i, rate, rate * block * rng.uniform(0.9, 1.1), inf);
        }
        out.record(i, pool);
      }
      return true;
    }
    case Shape::burst: {
      // A steady level of recycled blocks (running for a while: the first sample is after
      // `burn` steps); a burst of allocations from `from` for `width` steps, freed over one to
      // three steps after it.
      Recycler r = make_recycler(rng, n, scale, false);
      r.rate_noise = rng.uniform(0, 0.05);
      const std::size_t burn = static_cast<std::size_t>(std::ceil(5 * r.life));
      Pool warm(n + burn);
      const std::size_t from = static_cast<std::size_t>(rng.uniform(0.1, 0.5) * static_cast<double>(n));
      const std::size_t width = std::max<std::size_t>(1, static_cast<std::size_t>(rng.uniform(0.05, 0.15) * static_cast<double>(n)));
      const std::size_t drain = rng.index(1, 3);
      const double per_step = std::round(r.steady * rng.uniform(0.1, 1));
      double burst = 0;
      for (std::size_t step = 0; step < n + burn; ++step) {
        warm.release_due(step);
        r.step(rng, warm, step);
        if (step < burn) continue;
        const std::size_t i = step - burn;
        if (i >= from && i < from + width) {
          warm.allocate(step, per_step, per_step * r.block, inf);
          burst += per_step;
        } else if (i >= from + width && burst > 0) {
          const double freed = std::min(burst, std::ceil(per_step * static_cast<double>(width) / static_cast<double>(drain)));
          warm.release(freed, freed * r.block);
          burst -= freed;
        }
        out.record(i, warm, step);
      }
      out.decidable_from = from + width + drain + 1;  // once the burst is freed
      return true;
    }
    case Shape::resized: {
      // One buffer cycling through 2 to 4 sizes in a random order, resized every `every` steps:
      // known as no leak once it went through its sizes twice.
      const std::size_t sizes = rng.index(2, 4);
      const std::size_t every = rng.index(1, std::max<std::size_t>(1, n * 3 / (20 * sizes)));
      std::array<double, 4> size{};
      for (double& v : size) v = std::round(scale * rng.uniform(0.2, 1));
      std::array<std::size_t, 4> order{0, 1, 2, 3};
      for (std::size_t k = sizes - 1; k > 0; --k) std::swap(order[k], order[rng.index(0, k)]);
      double current = size[order[0]];
      pool.allocate(0, 1, current, inf);
      for (std::size_t i = 0; i < n; ++i) {
        const double next = size[order[(i / every) % sizes]];
        if (next != current) {  // realloc: the old block freed, a new one allocated
          pool.release(1, current);
          pool.allocate(i, 1, next, inf);
          current = next;
        }
        out.record(i, pool);
      }
      out.decidable_from = 2 * sizes * every + 1;
      return true;
    }
    default:
      return false;
  }
}

}  // namespace

bool has_counts(Shape shape) { return static_cast<int>(shape) >= static_cast<int>(Shape::churn_leak); }

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
    case Shape::churn_leak: return "churn_leak";
    case Shape::batch_leak: return "batch_leak";
    case Shape::vector_doubling: return "vector_doubling";
    case Shape::cache_churn: return "cache_churn";
    case Shape::warmup_leak: return "warmup_leak";
    case Shape::wave: return "wave";
    case Shape::lru_flush: return "lru_flush";
    case Shape::job: return "job";
    case Shape::burst: return "burst";
    case Shape::resized: return "resized";
    case Shape::warmup: return "warmup";
  }
  return "?";
}

LeakClass expected_class(Shape shape) {
  switch (shape) {
    case Shape::linear:
    case Shape::slow_linear:
    case Shape::staircase:
    case Shape::churn_leak:
    case Shape::batch_leak:
    case Shape::vector_doubling:
    case Shape::warmup_leak:
      return LeakClass::linear;
    case Shape::exponential:
    case Shape::quadratic:
      return LeakClass::exponential;
    case Shape::logarithmic:
    case Shape::cache_filling:
    case Shape::cache_filled:
    case Shape::cache_churn:
      return LeakClass::logarithmic;
    case Shape::flat:
    case Shape::flat_noise:
    case Shape::spike:
    case Shape::sawtooth:
    case Shape::churn:
    case Shape::wave:
    case Shape::lru_flush:
    case Shape::job:
    case Shape::burst:
    case Shape::resized:
    case Shape::warmup:
      return LeakClass::constant;
  }
  return LeakClass::insufficient_data;
}

Run generate_run(Shape shape, std::size_t points, double scale_bytes, std::uint64_t seed,
                 double t0_s, double interval_s) {
  if (points < 2) throw std::invalid_argument("synthetic::generate: needs at least 2 points");
  Random rng(seed);
  Run run;
  auto time = [&](std::size_t i) { return t0_s + interval_s * static_cast<double>(i); };
  // Outstanding bytes and counts are whole and never negative.
  auto whole = [](double v) { return std::max(0.0, std::round(v)); };
  run.bytes.resize(points);
  Counts counts{std::vector<double>(points), std::vector<double>(points), std::vector<double>(points),
                std::vector<double>(points)};
  if (simulate(shape, rng, points, scale_bytes, counts)) {
    run.blocks.resize(points);
    run.frees.resize(points);
    run.old_blocks.resize(points);
    for (std::size_t i = 0; i < points; ++i) {
      run.bytes[i] = {time(i), whole(counts.bytes[i])};
      run.blocks[i] = {time(i), whole(counts.blocks[i])};
      run.frees[i] = {time(i), whole(counts.frees[i])};
      run.old_blocks[i] = {time(i), whole(counts.old_blocks[i])};
    }
    run.attached = counts.attached;
    run.decidable_from = counts.decidable_from;
    return run;
  }
  Builder builder{rng, points, scale_bytes, std::vector<double>(points, 0.0), kMinPoints};
  fill(shape, builder);
  for (std::size_t i = 0; i < points; ++i) run.bytes[i] = {time(i), whole(builder.bytes[i])};
  run.decidable_from = builder.decidable_from;
  return run;
}

std::vector<series::Point> generate(Shape shape, std::size_t points, double scale_bytes,
                                    std::uint64_t seed, double t0_s, double interval_s) {
  return generate_run(shape, points, scale_bytes, seed, t0_s, interval_s).bytes;
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
          Run run = generate_run(shape, n, scale, seed, t0, interval);
          std::vector<series::Point> samples = run.bytes;
          corpus.push_back({shape, expected_class(shape), n, scale, std::move(samples), std::move(run)});
        }
  return corpus;
}

}  // namespace edleak::classify::synthetic
