// The rule as a user sees it: every sample of every series of the extended corpus through the
// tracer's bounded Series (bytes, outstanding blocks, cumulative frees), the stack classified
// after each one. Prints, per shape and overall: exact class of the whole run, leak-detection
// F1, false alarms at decidable prefixes (non-leaks, from the sample on which the series holds
// the evidence against a leak) and the median detection latency (the share of the series seen
// before a leak is called and stays called). docs/classifier.md quotes the table, for the seed
// the rule was tuned on and for one it was not. To see what a rule change costs, set
// EDLEAK_DEBUG_ALARMS=1 (every false alarm, with its evidence) or
// EDLEAK_DEBUG_MISSES=1 (every leak not given its class on its whole run).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "classify/leak_factor.h"
#include "classify/synthetic.h"
#include "sample/site_table.h"
#include "series/series.h"

namespace edleak::classify {
namespace {

using synthetic::Shape;

struct ShapeScore {
  std::size_t series = 0, exact = 0;
  std::size_t true_leaks = 0, false_leaks = 0, missed = 0;  // final verdicts, leak or not
  std::size_t decidable_prefixes = 0, false_alarms = 0, series_with_alarm = 0;
  std::vector<double> latency;  // leaks: share of the series before the lasting call (1: never)
  double exact_share() const { return static_cast<double>(exact) / static_cast<double>(series); }
  double median_latency() const {
    if (latency.empty()) return 0;
    std::vector<double> sorted = latency;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t m = sorted.size();
    return m % 2 ? sorted[m / 2] : (sorted[m / 2 - 1] + sorted[m / 2]) / 2;
  }
};

double f1(std::size_t tp, std::size_t fp, std::size_t fn) {
  return tp == 0 ? 0.0 : 2.0 * static_cast<double>(tp) / static_cast<double>(2 * tp + fp + fn);
}

struct Scores {
  std::map<Shape, ShapeScore> shapes;
  ShapeScore all;
  double overall_f1 = 0;
  // Prefixes whose verdict as the tracer takes it (StackSeries::describe false) differs from
  // the described one in class, evidence or confidence.
  std::size_t undescribed_differ = 0;
};

// The lengths: from 16 samples (a verdict needs 8; the envelope 16) to 512, which the
// 64-point Series of the tracer holds as means of 8 samples.
Scores score(std::uint64_t seed, bool with_age = true) {
  synthetic::CorpusSpec spec;
  spec.point_counts = {16, 24, 32, 64, 128, 256, 512};
  spec.variants = 8;
  spec.seed = seed;
  Scores out;
  for (const synthetic::LabelledSeries& s : synthetic::make_corpus(spec)) {
    const synthetic::Run& run = s.run;
    const bool counts = !run.blocks.empty();
    series::Series bytes(sample::SiteTable::kSeriesCapacity), blocks(sample::SiteTable::kSeriesCapacity),
        frees(sample::SiteTable::kSeriesCapacity), old_blocks(sample::SiteTable::kSeriesCapacity);
    const bool ages = counts && with_age && !run.old_blocks.empty();
    const bool leak_expected = s.expected != LeakClass::constant;
    ShapeScore& t = out.shapes[s.shape];
    std::size_t last_not_leak = 0;  // prefix length (samples) of the last verdict that was no leak
    bool alarm = false;
    LeakFactor f;
    for (std::size_t i = 0; i < s.points; ++i) {
      bytes.append(run.bytes[i].t_s, run.bytes[i].bytes);
      if (counts) {
        blocks.append(run.blocks[i].t_s, run.blocks[i].bytes);
        frees.append(run.frees[i].t_s, run.frees[i].bytes);
        if (ages) old_blocks.append(run.old_blocks[i].t_s, run.old_blocks[i].bytes);
      }
      StackSeries stack = stack_series(bytes, counts ? &blocks : nullptr, counts ? &frees : nullptr,
                                       ages ? &old_blocks : nullptr);
      stack.attached = run.attached;
      f = classify_stack(stack);
      stack.describe = false;
      const LeakFactor verdict = classify_stack(stack);
      out.undescribed_differ +=
          verdict.cls != f.cls || verdict.evidence != f.evidence || verdict.confidence != f.confidence;
      // EDLEAK_DEBUG_DUMP=shape:points:scale:series prints that series sample by sample.
      if (const char* dump = std::getenv("EDLEAK_DEBUG_DUMP");
          dump && std::string(dump) == std::string(synthetic::to_string(s.shape)) + ":" + std::to_string(s.points) +
                                           ":" + std::to_string(static_cast<long long>(s.scale_bytes)) + ":" +
                                           std::to_string(t.series))
        std::printf("DUMP %zu bytes=%g blocks=%g frees=%g old=%g -> %s %s conf=%.2f leak=%llu blocks=%llu\n", i + 1,
                    run.bytes[i].bytes, counts ? run.blocks[i].bytes : 0.0, counts ? run.frees[i].bytes : 0.0,
                    ages ? run.old_blocks[i].bytes : 0.0, std::string(to_string(f.cls)).c_str(),
                    std::string(to_string(f.evidence)).c_str(), f.confidence,
                    static_cast<unsigned long long>(f.leak), static_cast<unsigned long long>(f.leak_blocks));
      if (!f.is_leak()) last_not_leak = i + 1;
      // Decidable once the sample holding the evidence is in the Series' points (the samples of
      // a bucket being filled wait outside them, as they do in the tracer).
      if (!leak_expected && bytes.samples_in_points() >= run.decidable_from) {
        ++t.decidable_prefixes;
        if (f.is_leak()) {
          if (std::getenv("EDLEAK_DEBUG_ALARMS"))
            std::printf("ALARM %s n=%zu scale=%g series=%zu at %zu/%zu cls=%s ev=%s conf=%.2f attached=%d\n",
                        std::string(synthetic::to_string(s.shape)).c_str(), s.points, s.scale_bytes, t.series, i + 1,
                        run.decidable_from, std::string(to_string(f.cls)).c_str(),
                        std::string(to_string(f.evidence)).c_str(), f.confidence, run.attached);
          ++t.false_alarms;
          alarm = true;
        }
      }
    }
    ++t.series;
    t.exact += f.cls == s.expected;
    if (leak_expected && f.cls != s.expected && std::getenv("EDLEAK_DEBUG_MISSES"))
      std::printf("MISS %s n=%zu scale=%g series=%zu cls=%s ev=%s conf=%.2f blocks=%g frees=%g old=%g\n",
                  std::string(synthetic::to_string(s.shape)).c_str(), s.points, s.scale_bytes, t.series - 1,
                  std::string(to_string(f.cls)).c_str(), std::string(to_string(f.evidence)).c_str(), f.confidence,
                  counts ? run.blocks.back().bytes : 0.0, counts ? run.frees.back().bytes : 0.0,
                  counts ? run.old_blocks.back().bytes : 0.0);
    // EDLEAK_DEBUG_LATENCY=1 prints each leak's latency (shape, points, scale, series number + 1).
    if (leak_expected && std::getenv("EDLEAK_DEBUG_LATENCY"))
      std::printf("LAT %s %zu %g %zu %.3f\n", std::string(synthetic::to_string(s.shape)).c_str(), s.points, s.scale_bytes, t.series,
                  f.is_leak() ? static_cast<double>(last_not_leak) / static_cast<double>(s.points) : 1.0);
    if (leak_expected) {
      if (f.is_leak())
        ++t.true_leaks;
      else
        ++t.missed;
      t.latency.push_back(f.is_leak() ? static_cast<double>(last_not_leak) / static_cast<double>(s.points) : 1.0);
    } else {
      t.false_leaks += f.is_leak();
      t.series_with_alarm += alarm;
    }
  }
  std::printf("seed %llu%s: %-16s %6s %7s %6s %11s %9s\n", static_cast<unsigned long long>(seed), with_age ? "" : " (no ages)", "shape", "series",
              "exact", "F1", "false alarms", "latency");
  for (Shape shape : synthetic::all_shapes()) {
    const ShapeScore& t = out.shapes[shape];
    out.all.series += t.series;
    out.all.exact += t.exact;
    out.all.true_leaks += t.true_leaks;
    out.all.false_leaks += t.false_leaks;
    out.all.missed += t.missed;
    out.all.decidable_prefixes += t.decidable_prefixes;
    out.all.false_alarms += t.false_alarms;
    out.all.series_with_alarm += t.series_with_alarm;
    out.all.latency.insert(out.all.latency.end(), t.latency.begin(), t.latency.end());
    const bool leak = synthetic::expected_class(shape) != LeakClass::constant;
    std::printf("  %-16s %6zu %6.1f%% %6s %5zu/%-6zu %9s\n", std::string(synthetic::to_string(shape)).c_str(), t.series,
                100 * t.exact_share(), leak ? std::to_string(f1(t.true_leaks, 0, t.missed)).substr(0, 5).c_str() : "-",
                t.false_alarms, t.decidable_prefixes,
                leak ? std::to_string(t.median_latency()).substr(0, 5).c_str() : "-");
  }
  out.overall_f1 = f1(out.all.true_leaks, out.all.false_leaks, out.all.missed);
  std::printf("  %-16s %6zu %6.2f%% %6.4f %5zu/%-6zu %9.3f\n", "overall", out.all.series, 100 * out.all.exact_share(),
              out.overall_f1, out.all.false_alarms, out.all.decidable_prefixes, out.all.median_latency());
  return out;
}

class PrefixCorpus : public ::testing::TestWithParam<std::uint64_t> {};

// What each shape must reach on the three seeds. The targets (exact class >= 0.95, no false
// alarm at a decidable prefix, median detection <= 0.30 for linear leaks, F1 >= 0.98) hold for
// most shapes; where the rule does not reach them yet the bound is what it reaches today, kept
// as a regression guard, and docs/classifier.md ("What is not reached yet") says why.
struct Expected {
  double exact = 0.95;
  std::size_t false_alarms = 0;
  double latency = 0.30;  // linear leaks only
  std::size_t false_leaks = 0;  // non-leaks called leaks on the whole run
};

Expected expected_for(Shape shape) {
  switch (shape) {
    case Shape::flat_noise: return {0.95, 3, 0.30};
    case Shape::churn: return {0.95, 2, 0.30};
    case Shape::wave: return {0.95, 0, 0.30, 2};
    case Shape::warmup: return {0.95, 4, 0.30};
    case Shape::churn_leak: return {0.95, 0, 0.39};
    case Shape::warmup_leak: return {0.95, 0, 0.60};
    default: return {};
  }
}

// 20240601: the seed the thresholds were chosen on; 777 and 4242: two they were not.
TEST_P(PrefixCorpus, EveryReportIsAVerdict) {
  const Scores scores = score(GetParam());
  EXPECT_GE(scores.all.exact_share(), 0.95);
  EXPECT_GE(scores.overall_f1, 0.98);
  EXPECT_LE(scores.all.false_alarms, 7u);
  EXPECT_EQ(scores.undescribed_differ, 0u);
  for (const auto& [shape, t] : scores.shapes) {
    const std::string name(synthetic::to_string(shape));
    const Expected want = expected_for(shape);
    EXPECT_GE(t.exact_share(), want.exact) << name;
    EXPECT_LE(t.false_alarms, want.false_alarms) << name;
    EXPECT_LE(t.false_leaks, want.false_leaks) << name;  // the verdict on the whole run
    if (synthetic::expected_class(shape) == LeakClass::linear) {
      EXPECT_LE(t.median_latency(), want.latency) << name;
    }
  }
}

// The capture's age ring is evidence the rule needs: the same corpus without the old-blocks
// series (as before the ring, or from a replay) finds fewer leaks and raises more alarms.
TEST_P(PrefixCorpus, OldBlocksAreEvidence) {
  const Scores with = score(GetParam());
  const Scores without = score(GetParam(), false);
  EXPECT_GE(with.overall_f1, without.overall_f1 + 0.01);
  EXPECT_LT(with.all.false_alarms, without.all.false_alarms);
  for (Shape shape : {Shape::churn_leak, Shape::warmup_leak, Shape::cache_churn})
    EXPECT_GT(with.shapes.at(shape).true_leaks, without.shapes.at(shape).true_leaks) << synthetic::to_string(shape);
}

INSTANTIATE_TEST_SUITE_P(Seeds, PrefixCorpus, ::testing::Values(20240601u, 777u, 4242u));

}  // namespace
}  // namespace edleak::classify
