#pragma once
// A stack's last verdict, kept between reports so that a stack whose series did not change is
// not judged again: the tracer classifies every stack at every report, but what a verdict reads
// of a Series (its points, lows and extremes) changes only when a bucket fills, once every
// samples_per_point samples in a long run, or when an extreme moves (BENCHMARKS.md).
#include <array>
#include <cstddef>
#include <cstdint>

#include "classify/leak_factor.h"
#include "series/series.h"

namespace edleak::classify {

// What a verdict on a stack's series was taken on: the revisions of their points
// (Series::revision()), the extremes of the bytes and blocks (which their assessments read; of
// the frees and old blocks only the points are read) and whether the stack was attached. Equal
// keys, equal verdicts: the series only append.
using Revisions = std::array<std::uint32_t, 4>;  // of the bytes, blocks, frees, old blocks

inline Revisions revisions_of(const series::Series& bytes, const series::Series& blocks,
                              const series::Series& frees, const series::Series& old_blocks) {
  return {bytes.revision(), blocks.revision(), frees.revision(), old_blocks.revision()};
}

struct VerdictKey {
  Revisions revisions{};
  std::array<double, 4> extremes{};          // bytes min and max, blocks min and max
  bool attached = false;
  friend bool operator==(const VerdictKey&, const VerdictKey&) = default;
};

VerdictKey verdict_key(const series::Series& bytes, const series::Series& blocks, const series::Series& frees,
                       const series::Series& old_blocks, bool attached);

// Only undescribed verdicts that are no leak are kept (StackSeries::describe): those of most
// stacks, and all a verdict of that kind holds is its class, evidence and confidence (the extremes
// are the series'). A leak is judged and described afresh at every report.
class RememberedVerdict {
 public:
  // classify_stack(stack), where `key` is what stack's series are at: the verdict kept from the
  // last call when it was given the same key. A described stack, or one without its bytes'
  // extremes (not built from Series), is judged afresh. An undescribed verdict that is no leak is returned
  // as it is kept (class, evidence, confidence, extremes; the rest as a default LeakFactor), so
  // that a verdict judged and one reused are the same.
  LeakFactor classify(const StackSeries& stack, const VerdictKey& key);
  // Whether a verdict is kept for series at these revisions (its extremes and attach flag
  // aside): when not, the next classify() judges the series, so they are worth prefetching.
  bool held_at(const Revisions& revisions) const { return held_ && key_.revisions == revisions; }

 private:
  VerdictKey key_;
  bool held_ = false;
  LeakClass cls_ = LeakClass::insufficient_data;
  Evidence evidence_ = Evidence::none;
  double confidence_ = 0;
};

// A stack's settling point (SettlingScan) kept between reports, so that the search reads only the
// points appended since the last report, and none once it stopped, where it read the first
// points of the blocks and frees of every stack at every report (a quarter of a report at 100,000
// stacks, BENCHMARKS.md). Searched again from the start when the points it read changed
// (Series::layout(): a halving merged them, or another series) or the attach flag did.
class RememberedSettling {
 public:
  // The settling point of `stack`, whose blocks and frees are Series at these layouts.
  std::size_t point(const StackSeries& stack, std::uint64_t blocks_layout, std::uint64_t frees_layout);

 private:
  std::uint64_t blocks_layout_ = 0, frees_layout_ = 0;  // 0: none yet (layouts start at 1)
  bool attached_ = false;
  SettlingScan scan_;
};

}  // namespace edleak::classify
