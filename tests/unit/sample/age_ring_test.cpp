// The age ring decoded as the kernel fills it: a model of bpf/edleak.bpf.c's note_age()
// (kernel_site.h) drives AgeDecoder reading by reading.
#include "sample/age_ring.h"

#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "sample/site_table.h"
#include "kernel_site.h"

namespace edleak::sample {
namespace {

TEST(AgeDecoder, KeptBlocksTurnOldAfterTheRingsWindow) {
  KernelSite k;
  AgeDecoder d;
  k.epoch = 1;
  EXPECT_EQ(read(k, d).blocks, 0);  // epoch 2 begins
  k.alloc(100);                     // born in epoch 2
  k.alloc(50);
  for (std::uint32_t r = 1; r <= kOldAfterSamples; ++r) EXPECT_EQ(read(k, d).blocks, 0) << "reading " << r;
  const OldHeld old = read(k, d);
  EXPECT_EQ(old.blocks, 2);
  EXPECT_EQ(old.bytes, 150);
  EXPECT_EQ(read(k, d).blocks, 2);  // and stay old
}

TEST(AgeDecoder, RecycledBlocksNeverCountAsOldAndOldOnesLeaveAtTheirFree) {
  KernelSite k;
  k.epoch = 1;
  AgeDecoder d;
  read(k, d);
  std::vector<KernelSite::Block> ring;
  std::vector<KernelSite::Block> long_lived;
  for (int r = 0; r < 40; ++r) {
    // A ring of 20 blocks, each freed within 3 epochs; one block a reading freed at age 12.
    for (int i = 0; i < 20; ++i) ring.push_back(k.alloc(64));
    while (ring.size() > 60) {
      k.free(ring.front());
      ring.erase(ring.begin());
    }
    long_lived.push_back(k.alloc(1000));
    if (long_lived.size() > 12) {
      k.free(long_lived.front());
      long_lived.erase(long_lived.begin());
    }
    const OldHeld old = read(k, d);
    // The long-lived blocks 8 readings old or more (from reading 8 on: 12 - 8 of the 12).
    const std::int64_t want = r < 8 ? 0 : std::min<std::int64_t>(r - 7, 4);
    EXPECT_EQ(old.blocks, want) << "reading " << r;
    EXPECT_EQ(old.bytes, want * 1000) << "reading " << r;
  }
}

TEST(AgeDecoder, SlotsWrapAround) {
  KernelSite k;
  k.ring.bytes.fill(std::numeric_limits<std::uint64_t>::max() - 10);
  k.ring.blocks.fill(std::numeric_limits<std::uint32_t>::max() - 1);
  AgeDecoder d;
  // A site whose slots hold earlier cohorts: the decoder sees it from an epoch on.
  k.epoch = 100;
  read(k, d);
  for (std::uint32_t e = 0; e < kAgeSlots; ++e) {
    k.alloc(20);
    k.alloc(20);
    read(k, d);
  }
  // Every cohort since the first reading wrapped its slot; the earliest of them is old now.
  const OldHeld old = read(k, d);
  EXPECT_EQ(old.blocks, 2);
  EXPECT_EQ(old.bytes, 40);
}

TEST(SiteTable, AppendsOldBlocksWhenTheSnapshotHasAges) {
  SiteTable table;
  KernelSite k;
  k.epoch = 1;
  for (int r = 0; r < 12; ++r) {
    if (r < 3) k.alloc(8);
    Snapshot snap;
    snap.t_s = r;
    snap.age_epoch = k.epoch;
    snap.sites.push_back(k.sample(1, 7));
    table.ingest(snap);
    ++k.epoch;
  }
  const Site* site = table.sites_of(1).at(0);
  ASSERT_EQ(site->old_blocks.size(), 12u);
  // Born before readings 0, 1 and 2: old 8 readings later.
  EXPECT_EQ(site->old_blocks.points()[7].bytes, 0);
  EXPECT_EQ(site->old_blocks.points()[8].bytes, 1);
  EXPECT_EQ(site->old_blocks.points()[9].bytes, 2);
  EXPECT_EQ(site->old_blocks.points()[11].bytes, 3);
  EXPECT_EQ(site->old_bytes, 24);
  // Without ages (a replay, a snapshot built by hand) there is no old-blocks series.
  SiteTable plain;
  Snapshot snap;
  snap.sites.push_back({});
  plain.ingest(snap);
  EXPECT_TRUE(plain.sites_of(0).at(0)->old_blocks.empty());
}

}  // namespace
}  // namespace edleak::sample
