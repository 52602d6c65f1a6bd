#include "watch/heap_reader.h"

#include <algorithm>
#include <gtest/gtest.h>
#include <unistd.h>
#include <vector>

namespace edleak::watch {
namespace {

TEST(ParseStatm, AnonymousIsResidentMinusShared) {
  auto r = parse_statm("5000 1200 200 10 0 3000 0\n", 4096);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->anon_bytes, 1000u * 4096);
  EXPECT_EQ(r->data_bytes, 3000u * 4096);
}

TEST(ParseStatm, KernelThreadHasNoHeap) { EXPECT_FALSE(parse_statm("0 0 0 0 0 0 0\n", 4096)); }

TEST(ParseStatm, RejectsWhatIsNotStatm) {
  EXPECT_FALSE(parse_statm("", 4096));
  EXPECT_FALSE(parse_statm("12 34", 4096));
  EXPECT_FALSE(parse_statm("a b c d e f g", 4096));
  // More shared than resident cannot be, but must not wrap around.
  auto r = parse_statm("10 1 5 0 0 1 0", 4096);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->anon_bytes, 0u);
}

TEST(ReadHeap, OwnProcessHasAHeapAndIsListed) {
  std::vector<char> touched(8 << 20, 1);  // 8 MiB written: resident and anonymous
  auto r = read_heap(getpid());
  ASSERT_TRUE(r);
  EXPECT_GE(r->anon_bytes, 8u << 20);
  auto pids = list_processes();
  EXPECT_NE(std::find(pids.begin(), pids.end(), getpid()), pids.end());
  EXPECT_EQ(std::find(pids.begin(), pids.end(), 0), pids.end());
  EXPECT_GT(touched[touched.size() - 1], 0);
}

TEST(ReadHeap, GoneProcessHasNone) { EXPECT_FALSE(read_heap(0x3fffff)); }

}  // namespace
}  // namespace edleak::watch
