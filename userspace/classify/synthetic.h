#pragma once
// Labelled synthetic series for calibration, tests and benchmarks: the memory shapes the
// classifier must tell apart, each with the class it should get. Deterministic on every
// platform (own distributions over std::mt19937_64; std:: distributions differ between
// standard libraries), so the accuracy figures in docs/classifier.md can be reproduced.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "classify/leak_factor.h"
#include "series/series.h"

namespace edleak::classify::synthetic {

enum class Shape {
  // leaks
  linear,           // steady growth plus noise
  slow_linear,      // growth of a few percent on top of a large level
  staircase,        // one block every few samples
  exponential,      // accelerating growth
  quadratic,        // growth proportional to elapsed time
  logarithmic,      // fast then ever slower growth
  cache_filling,    // fills and saturates during the run
  cache_filled,     // filled in the first few percent of the run, flat ever since
  // not leaks
  flat,             // one level, exactly (allocated before the run, never freed)
  flat_noise,       // one level plus small noise
  spike,            // a big block allocated and freed later during the run
  sawtooth,         // a batch buffer that fills and is emptied, several times
  churn,            // allocations and frees around a constant level
  // The shapes below are simulated block by block: bytes, outstanding blocks and cumulative
  // frees of traced blocks, as the capture counts them.
  // leaks
  churn_leak,       // hundreds of blocks recycled (a ring or a pool), 1 in 50 to 200 kept
  batch_leak,       // a batch buffer filled and emptied, a few blocks of each batch kept
  vector_doubling,  // one block realloc'ed to twice its capacity whenever it is full
  cache_churn,      // a cache filling beneath churn on the same stack
  warmup_leak,      // a leak beneath the attach warm-up of a recycling stack (-p)
  // not leaks
  wave,             // a level rising and falling periodically, at least three periods
  lru_flush,        // a cache that fills and is flushed periodically
  job,              // jobs that allocate as they run and free everything at their end
  burst,            // a burst of allocations over a flat level, freed after it
  resized,          // one buffer resized up and down through a few sizes
  warmup,           // the attach warm-up of a recycling stack: climbs from 0 to its steady level
};

std::span<const Shape> all_shapes();
std::string_view to_string(Shape shape);
LeakClass expected_class(Shape shape);

// One series: `points` samples, one every interval_s seconds from t0_s; `scale_bytes` is the
// size of the feature (the growth, the spike, the buffer), so 100 gives hundreds of bytes and
// 1e9 gigabytes. Random parameters (noise, rates, positions) are drawn from `seed`.
std::vector<series::Point> generate(Shape shape, std::size_t points, double scale_bytes,
                                    std::uint64_t seed, double t0_s = 0, double interval_s = 1);

// One stack as the capture sees it. blocks and frees are empty for the shapes made of bytes
// only (flat to churn); their Points hold counts in `bytes`.
struct Run {
  std::vector<series::Point> bytes;
  std::vector<series::Point> blocks;  // outstanding traced blocks
  std::vector<series::Point> frees;   // cumulative frees of traced blocks
  // Outstanding blocks born sample::kOldAfterSamples samples ago or more (the capture's age
  // ring); kept blocks are freed newest first unless the shape says otherwise.
  std::vector<series::Point> old_blocks;
  bool attached = false;              // traced from an attach (-p): blocks allocated before exist
  // Non-leaks: the number of samples from which the series holds the evidence against a leak
  // (after a wave's second period, a job's end, a burst's end, a warm-up's end...): from there
  // on, every prefix must be called no leak.
  std::size_t decidable_from = 0;
};

Run generate_run(Shape shape, std::size_t points, double scale_bytes, std::uint64_t seed,
                 double t0_s = 0, double interval_s = 1);

struct LabelledSeries {
  Shape shape;
  LeakClass expected;
  std::size_t points;
  double scale_bytes;
  std::vector<series::Point> samples;
  Run run;  // samples == run.bytes
};

struct CorpusSpec {
  std::vector<std::size_t> point_counts{8, 12, 16, 24, 32, 64, 128, 256, 1024};
  std::vector<double> scales_bytes{100, 1e4, 1e6, 1e9};
  std::size_t variants = 6;  // random draws per (shape, point count, scale)
  std::uint64_t seed = 20240601;
};

// The shapes simulated block by block (churn_leak and after).
bool has_counts(Shape shape);

// Every shape x point count x scale x variant, in a fixed order.
std::vector<LabelledSeries> make_corpus(const CorpusSpec& spec = {});

}  // namespace edleak::classify::synthetic
