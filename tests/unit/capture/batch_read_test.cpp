#include "capture/batch_read.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <numeric>

namespace edleak::capture {
namespace {

using ::testing::ElementsAreArray;

// A hash map as bpf_map_lookup_batch shows it: buckets of keys, read whole from a bucket index.
struct FakeMap {
  std::vector<std::vector<int>> buckets;
  int calls = 0;

  int lookup(int* in, int* out, int* keys, int* values, std::uint32_t* count) {
    ++calls;
    std::size_t bucket = in ? static_cast<std::size_t>(*in) : 0;
    std::uint32_t copied = 0;
    for (; bucket < buckets.size(); ++bucket) {
      const auto& b = buckets[bucket];
      if (b.size() > *count - copied) {
        *count = copied;
        *out = static_cast<int>(bucket);
        if (copied == 0) {
          errno = ENOSPC;
          return -1;
        }
        return 0;
      }
      for (int k : b) {
        keys[copied] = k;
        values[copied] = -k;
        ++copied;
      }
    }
    *count = copied;
    errno = ENOENT;
    return -1;
  }
  std::vector<int> all() const {
    std::vector<int> out;
    for (const auto& b : buckets) out.insert(out.end(), b.begin(), b.end());
    return out;
  }
};

std::vector<int> read(FakeMap& map, std::uint32_t max_entries) {
  std::vector<int> keys, values;
  auto r = read_batches([&](int* in, int* out, int* k, int* v, std::uint32_t* c) { return map.lookup(in, out, k, v, c); },
                        max_entries, keys, values);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  EXPECT_EQ(keys.size(), values.size());
  for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(values[i], -keys[i]);
  return keys;
}

// A map with per-CPU element counters overshoots max_entries a little under concurrent inserts.
// Reading it asked the last call for what remained of max_entries (here 2), which the next
// bucket (3 entries) did not fit: ENOSPC, and the run ended.
TEST(BatchRead, AMapHoldingMoreThanItsMaximumIsReadWhole) {
  FakeMap map;
  int next = 1;
  for (int b = 0; b < 9000; ++b) map.buckets.push_back({next++});  // 9,000 entries...
  map.buckets.push_back({next++, next++, next++});              // ...and a bucket of 3 after them
  EXPECT_THAT(read(map, 9001), ElementsAreArray(map.all()));
}

TEST(BatchRead, ABucketBiggerThanAChunkIsReadWithABiggerOne) {
  FakeMap map;
  std::vector<int> big(10000);
  std::iota(big.begin(), big.end(), 1);
  map.buckets = {{-1}, big, {-2}};
  EXPECT_THAT(read(map, 20000), ElementsAreArray(map.all()));
}

TEST(BatchRead, AnEmptyMapReadsNothingInOneCall) {
  FakeMap map;
  map.buckets.resize(64);
  EXPECT_TRUE(read(map, 64).empty());
  EXPECT_EQ(map.calls, 1);
}

TEST(BatchRead, AnotherErrorIsReported) {
  std::vector<int> keys, values;
  auto r = read_batches(
      [](int*, int*, int*, int*, std::uint32_t* c) {
        *c = 0;
        errno = EPERM;
        return -1;
      },
      16, keys, values);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("Operation not permitted"));
}

}  // namespace
}  // namespace edleak::capture
