// Leak factor throughput: classify 100,000 series of 256 points, as the tracer does every
// interval for every stack. Prints the median of several runs (figures go to BENCHMARKS.md).
//   bench_classify [series] [points] [runs]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "classify/leak_factor.h"
#include "classify/synthetic.h"

namespace {

using edleak::classify::LeakClass;
namespace synthetic = edleak::classify::synthetic;

std::size_t arg_or(int argc, char** argv, int index, std::size_t fallback) {
  if (argc <= index) return fallback;
  char* end = nullptr;
  unsigned long long value = std::strtoull(argv[index], &end, 10);
  if (*end != '\0' || value == 0) {
    std::fprintf(stderr, "bench_classify: '%s' is not a positive count\n", argv[index]);
    std::exit(2);
  }
  return static_cast<std::size_t>(value);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t series_count = arg_or(argc, argv, 1, 100000);
  const std::size_t points = arg_or(argc, argv, 2, 256);
  const std::size_t runs = arg_or(argc, argv, 3, 7);

  // Every series distinct (all shapes in turn), in one block like the tracer's tables: the
  // classifier reads series_count * points * 16 bytes per run, as it would live.
  std::vector<edleak::series::Point> all;
  all.reserve(series_count * points);
  const auto shapes = synthetic::all_shapes();
  for (std::size_t i = 0; i < series_count; ++i) {
    auto s = synthetic::generate(shapes[i % shapes.size()], points, 1e6, 1000 + i);
    all.insert(all.end(), s.begin(), s.end());
  }

  std::vector<double> ms;
  std::size_t leaks = 0;
  for (std::size_t run = 0; run < runs; ++run) {
    leaks = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < series_count; ++i) {
      const std::span<const edleak::series::Point> one(all.data() + i * points, points);
      leaks += edleak::classify::compute_leak_factor(one).is_leak();
    }
    const auto stop = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  std::printf("leak factor: %zu series x %zu points, %zu runs\n", series_count, points, runs);
  std::printf("  median %.1f ms total, %.0f ns per series (min %.1f ms, max %.1f ms)\n", median,
              median * 1e6 / static_cast<double>(series_count), ms.front(), ms.back());
  std::printf("  %zu of %zu series called leaks (%zu of %zu shapes leak)\n", leaks, series_count,
              static_cast<std::size_t>(std::count_if(shapes.begin(), shapes.end(), [](auto s) {
                return synthetic::expected_class(s) != LeakClass::constant;
              })),
              shapes.size());
  return 0;
}
