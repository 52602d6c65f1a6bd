#include "classify/remembered_verdict.h"

#include <cstdint>
#include <random>

#include <gtest/gtest.h>

namespace edleak::classify {
namespace {

// A stack's four series as the site table keeps them, appended at the same times.
struct Stack {
  series::Series bytes{64}, blocks{64}, frees{64}, old_blocks{64};
  void append(double t, double b, double n, double freed, double old) {
    bytes.append(t, b);
    blocks.append(t, n);
    frees.append(t, freed);
    old_blocks.append(t, old);
  }
  StackSeries undescribed() const {
    StackSeries s = stack_series(bytes, &blocks, &frees, &old_blocks, 0);
    s.describe = false;
    return s;
  }
  VerdictKey key(bool attached = false) const { return verdict_key(bytes, blocks, frees, old_blocks, attached); }
};

// Churn at a level: no leak.
Stack churn(int samples) {
  Stack s;
  for (int t = 0; t < samples; ++t) s.append(t, 4096 + 64 * (t % 3), 64, 10.0 * t, 0);
  return s;
}

// 1000 bytes kept a sample.
Stack leak(int samples) {
  Stack s;
  for (int t = 0; t < samples; ++t) s.append(t, 1000.0 * (t + 1), t + 1, 0, t > 3 ? t - 3 : 0);
  return s;
}

void expect_same(const LeakFactor& a, const LeakFactor& b) {
  EXPECT_EQ(a.cls, b.cls);
  EXPECT_EQ(a.evidence, b.evidence);
  EXPECT_EQ(a.confidence, b.confidence);
  EXPECT_EQ(a.min_size, b.min_size);
  EXPECT_EQ(a.max_size, b.max_size);
  EXPECT_EQ(a.leak, b.leak);
  EXPECT_EQ(a.leak_blocks, b.leak_blocks);
}

TEST(RememberedVerdict, AStackThatIsNoLeakIsNotJudgedAgainAtTheSameKey) {
  const Stack steady = churn(40), leaking = leak(40);
  RememberedVerdict kept;
  const LeakFactor first = kept.classify(steady.undescribed(), steady.key());
  EXPECT_EQ(first.cls, LeakClass::constant);
  expect_same(first, classify_stack(steady.undescribed()));
  // Given a leak's series under the steady stack's key, it answers from what it kept: it did not
  // judge them (the key says what the series are at; the site table never lies about it).
  LeakFactor again = kept.classify(leaking.undescribed(), steady.key());
  EXPECT_EQ(again.cls, LeakClass::constant);
  // Under the leak's own key, judged.
  EXPECT_EQ(kept.classify(leaking.undescribed(), leaking.key()).cls, LeakClass::linear);
}

TEST(RememberedVerdict, TheKeyMovesWithANewPointOrABytesExtremeNotWithAPendingSample) {
  Stack s = churn(101);  // 64 points, halved once: two samples a point, the last one pending
  ASSERT_EQ(s.bytes.samples_per_point(), 2u);
  ASSERT_LT(s.bytes.samples_in_points(), s.bytes.samples_seen());
  VerdictKey at = s.key();
  s.append(101, 4096 + 64, 64, 1010, 0);  // fills the bucket
  EXPECT_NE(s.key(), at);
  at = s.key();
  // Pending, within the bytes' and blocks' extremes: the frees, cumulative, reach a new maximum
  // at every sample, but only their points are read.
  s.append(102, 4096, 64, 1020, 0);
  EXPECT_EQ(s.key(), at);
  s.append(103, 4096, 64, 1030, 0);
  EXPECT_NE(s.key(), at);
  at = s.key();
  s.append(104, 9000, 64, 1040, 0);  // pending, a new maximum of the bytes
  EXPECT_NE(s.key(), at);
  at = s.key();
  s.append(105, 4096, 64, 1050, 0);
  at = s.key();
  s.append(106, 4096, 65, 1060, 0);  // pending, a new maximum of the blocks
  EXPECT_NE(s.key(), at);
}

TEST(RememberedVerdict, ALeakIsJudgedAtEveryCall) {
  const Stack leaking = leak(40), steady = churn(40);
  RememberedVerdict kept;
  const LeakFactor first = kept.classify(leaking.undescribed(), leaking.key());
  ASSERT_TRUE(first.is_leak());
  EXPECT_GT(first.leak, 0u);
  // Nothing kept of a leak: the same key with the steady series judges those.
  expect_same(kept.classify(steady.undescribed(), leaking.key()), classify_stack(steady.undescribed()));
}

TEST(RememberedVerdict, DescribedOrAttachedElsewhereIsJudgedAfresh) {
  const Stack steady = churn(40), leaking = leak(40);
  RememberedVerdict kept;
  kept.classify(steady.undescribed(), steady.key());
  StackSeries described = leaking.undescribed();
  described.describe = true;
  EXPECT_EQ(kept.classify(described, steady.key()).cls, LeakClass::linear);
  // The attach flag is part of the key.
  StackSeries attached = leaking.undescribed();
  attached.attached = true;
  EXPECT_TRUE(kept.classify(attached, steady.key(true)).is_leak());
}

// The settling point of a ring of 40 blocks that climbs from 0 (one block a sample) while it
// frees from sample 10 on: from exec it settles once it freed as many blocks as it holds, attached
// once it freed five times as many; a stack whose blocks fell back below 80 % of their highest
// first has no climb to cut (0).
TEST(SettlingScan, StopsWhereTheFreesReachTheTurnoversAsked) {
  Stack ring;
  for (int t = 0; t < 60; ++t) {
    const double held = std::min(40, t + 1);
    const double freed = t < 10 ? 0 : 4.0 * (t - 9);
    ring.append(t, 64 * held, held, freed, 0);
  }
  StackSeries exec = ring.undescribed();
  SettlingScan from_exec;
  from_exec.advance(exec);
  // Sample 13: 16 freed, 14 held (at 12: 12 freed, 13 held).
  ASSERT_TRUE(from_exec.settled);
  EXPECT_EQ(from_exec.point(), 13u);
  StackSeries attached = exec;
  attached.attached = true;
  SettlingScan from_attach;
  from_attach.advance(attached);
  // 5 x 40 = 200 freed: 4 (t - 9) >= 200 at t = 59.
  EXPECT_EQ(from_attach.point(), 59u);

  Stack flushed;
  for (int t = 0; t < 40; ++t) flushed.append(t, 64, t == 20 ? 10 : 20 + t, t < 30 ? 0 : 100, 0);
  SettlingScan dipped;
  dipped.advance(flushed.undescribed());
  ASSERT_TRUE(dipped.settled);
  EXPECT_EQ(dipped.point(), 0u);
}

// Kept between reports, it gives at every sample what a search from the start gives, through
// halvings (series of 8 points) and a change of the attach flag.
TEST(RememberedSettling, EveryReportFindsWhatAFreshSearchFinds) {
  std::mt19937 rng(7);
  int runs_settled = 0, moved_by_halving = 0;  // what the test exercises
  for (int run = 0; run < 200; ++run) {
    Stack stack;
    stack.bytes = series::Series(8);
    stack.blocks = series::Series(8);
    stack.frees = series::Series(8);
    stack.old_blocks = series::Series(8);
    RememberedSettling kept;
    std::uniform_int_distribution<int> climb(4, 40), rate(1, 6), dip(0, 150);
    const int top = climb(rng), per_sample = rate(rng), dip_at = dip(rng);
    double freed = 0;
    std::size_t last = 0;
    for (int t = 0; t < 120; ++t) {
      const double held = t == dip_at ? top / 2.0 : std::min(top, t + 1);
      if (t >= 3) freed += per_sample;
      stack.append(t, 64 * held, held, freed, 0);
      StackSeries s = stack.undescribed();
      s.attached = t >= 70 && run % 2 == 0;
      SettlingScan fresh;
      fresh.advance(s);
      EXPECT_EQ(kept.point(s, stack.blocks.layout(), stack.frees.layout()), fresh.point())
          << "run " << run << " sample " << t;
      moved_by_halving += last > 0 && fresh.point() > 0 && fresh.point() != last;
      last = fresh.point();
    }
    runs_settled += last > 0;
  }
  EXPECT_GT(runs_settled, 40);
  EXPECT_GT(moved_by_halving, 40);
}

}  // namespace
}  // namespace edleak::classify
