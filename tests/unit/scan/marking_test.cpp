#include "scan/marking.h"

#include <gtest/gtest.h>

#include "fake_memory.h"

namespace edleak::scan {
namespace {

using test::FakeMemory;

constexpr std::uint64_t kGlobals = 0x1000;   // module data, 64 words
constexpr std::uint64_t kStack = 0x4000;     // a thread's stack, 64 words
constexpr std::uint64_t kTls = 0x6000;       // static TLS, 64 words
constexpr std::uint64_t kHeap = 0x100000;    // the heap: 8192 words
constexpr std::uint64_t kUnknown = 0x800000; // anonymous memory of unknown content, 64 words

class MarkingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    memory.add_region(kGlobals, 64);
    memory.add_region(kStack, 64);
    memory.add_region(kTls, 64);
    memory.add_region(kHeap, 8192);
    memory.add_region(kUnknown, 64);
    roots.ranges = {{kGlobals, kGlobals + 64 * 8, RootKind::module_data},
                    {kStack, kStack + 64 * 8, RootKind::stack},
                    {kTls, kTls + 64 * 8, RootKind::tls},
                    {kUnknown, kUnknown + 64 * 8, RootKind::unknown_memory}};
  }

  // A block of `size` bytes at kHeap + offset, allocated at stack `stack`.
  std::uint64_t block(std::uint64_t offset, std::uint64_t size, std::uint64_t stack = 1) {
    blocks.push_back({kHeap + offset, size, stack});
    return kHeap + offset;
  }

  MarkResult run(const MarkLimits& limits = {}) { return mark(blocks, roots, memory, limits); }

  static Category category_of(const MarkResult& r, std::uint64_t addr) {
    for (std::size_t i = 0; i < r.blocks.size(); ++i)
      if (r.blocks[i].addr == addr) return r.category.at(i);
    ADD_FAILURE() << "no block at " << addr;
    return Category::still_reachable;
  }

  FakeMemory memory;
  Roots roots;
  std::vector<Block> blocks;
};

TEST_F(MarkingTest, BlockWithoutPointerIsDefinitelyLost) {
  std::uint64_t a = block(0, 48);
  MarkResult r = run();
  ASSERT_FALSE(r.aborted);
  EXPECT_EQ(category_of(r, a), Category::definitely_lost);
  EXPECT_EQ(r.total[Category::definitely_lost], (Totals{48, 1}));
  EXPECT_EQ(r.per_stack.at(1)[Category::definitely_lost], (Totals{48, 1}));
}

TEST_F(MarkingTest, PointerInAGlobalKeepsABlockReachable) {
  std::uint64_t a = block(0, 48);
  memory.put(kGlobals + 8, a);
  EXPECT_EQ(category_of(run(), a), Category::still_reachable);
}

TEST_F(MarkingTest, PointerInARegisterKeepsABlockReachable) {
  std::uint64_t a = block(0, 48);
  roots.register_words = {0, 42, a};
  EXPECT_EQ(category_of(run(), a), Category::still_reachable);
}

TEST_F(MarkingTest, PointerOnAStackKeepsABlockReachable) {
  std::uint64_t a = block(0, 48);
  memory.put(kStack + 63 * 8, a);
  EXPECT_EQ(category_of(run(), a), Category::still_reachable);
}

TEST_F(MarkingTest, PointerInTlsKeepsABlockReachable) {
  std::uint64_t a = block(0, 48);
  memory.put(kTls, a);
  EXPECT_EQ(category_of(run(), a), Category::still_reachable);
}

TEST_F(MarkingTest, PointerInUnknownMemoryKeepsABlockReachable) {
  // Memory the capture knows nothing about (a block allocated before tracing, allocator data).
  std::uint64_t a = block(0, 48);
  memory.put(kUnknown + 16, a);
  EXPECT_EQ(category_of(run(), a), Category::still_reachable);
}

TEST_F(MarkingTest, ChildOfALostBlockIsIndirectlyLost) {
  std::uint64_t parent = block(0, 64, 10);
  std::uint64_t child = block(128, 48, 20);
  std::uint64_t grandchild = block(256, 32, 30);
  memory.put(parent + 8, child);
  memory.put(child, grandchild);
  MarkResult r = run();
  EXPECT_EQ(category_of(r, parent), Category::definitely_lost);
  EXPECT_EQ(category_of(r, child), Category::indirectly_lost);
  EXPECT_EQ(category_of(r, grandchild), Category::indirectly_lost);
  EXPECT_EQ(r.per_stack.at(10)[Category::definitely_lost], (Totals{64, 1}));
  EXPECT_EQ(r.per_stack.at(20)[Category::indirectly_lost], (Totals{48, 1}));
  EXPECT_EQ(r.total[Category::indirectly_lost], (Totals{80, 2}));
}

TEST_F(MarkingTest, ChildOfAReachableBlockIsReachable) {
  std::uint64_t parent = block(0, 64);
  std::uint64_t child = block(128, 48);
  memory.put(kGlobals, parent);
  memory.put(parent + 56, child);
  MarkResult r = run();
  EXPECT_EQ(category_of(r, parent), Category::still_reachable);
  EXPECT_EQ(category_of(r, child), Category::still_reachable);
}

TEST_F(MarkingTest, LostCycleHasItsFirstBlockDefinitelyLost) {
  // valgrind 3.19 on a 2-cycle: the lower block is the clump's leader (definitely lost), the
  // other indirectly lost.
  std::uint64_t a = block(0, 32);
  std::uint64_t b = block(64, 32);
  memory.put(a, b);
  memory.put(b, a);
  MarkResult r = run();
  EXPECT_EQ(category_of(r, a), Category::definitely_lost);
  EXPECT_EQ(category_of(r, b), Category::indirectly_lost);
}

TEST_F(MarkingTest, ReachableCycleIsReachable) {
  std::uint64_t a = block(0, 32);
  std::uint64_t b = block(64, 32);
  memory.put(a, b);
  memory.put(b, a);
  memory.put(kStack, b);
  MarkResult r = run();
  EXPECT_EQ(category_of(r, a), Category::still_reachable);
  EXPECT_EQ(category_of(r, b), Category::still_reachable);
}

TEST_F(MarkingTest, LeaderPointedToByALaterLostBlockJoinsItsClump) {
  // a <-> b, and c (after them) points to a: c leads, a and b are indirectly lost.
  std::uint64_t a = block(0, 32);
  std::uint64_t b = block(64, 32);
  std::uint64_t c = block(128, 32);
  memory.put(a, b);
  memory.put(b, a);
  memory.put(c + 8, a);
  MarkResult r = run();
  EXPECT_EQ(category_of(r, a), Category::indirectly_lost);
  EXPECT_EQ(category_of(r, b), Category::indirectly_lost);
  EXPECT_EQ(category_of(r, c), Category::definitely_lost);
}

TEST_F(MarkingTest, InteriorPointerOnlyIsPossiblyLost) {
  std::uint64_t a = block(0, 64);
  std::uint64_t child = block(128, 16);
  memory.put(kGlobals, a + 24);
  memory.put(a, child);
  MarkResult r = run();
  EXPECT_EQ(category_of(r, a), Category::possibly_lost);
  // Reached, even by its start, only through a possibly reachable block: possibly lost too.
  EXPECT_EQ(category_of(r, child), Category::possibly_lost);
}

TEST_F(MarkingTest, StartPointerFromARootWinsOverAnInteriorOne) {
  std::uint64_t a = block(0, 64);
  memory.put(kGlobals, a + 24);
  memory.put(kStack + 8, a);
  EXPECT_EQ(category_of(run(), a), Category::still_reachable);
}

TEST_F(MarkingTest, PossiblyReachableBlockUpgradedLaterRescansItsChildren) {
  // The global holds an interior pointer to a (possible), the TLS (scanned after) the start of
  // b, which points to a's start: a becomes reachable, and so does a's child.
  std::uint64_t a = block(0, 64);
  std::uint64_t child = block(128, 16);
  std::uint64_t b = block(256, 16);
  memory.put(kGlobals, a + 8);
  memory.put(a + 16, child);
  memory.put(kTls, b);
  memory.put(b, a);
  MarkResult r = run();
  EXPECT_EQ(category_of(r, a), Category::still_reachable);
  EXPECT_EQ(category_of(r, child), Category::still_reachable);
}

TEST_F(MarkingTest, KnownBlocksInsideARootRangeAreNotRoots) {
  // The whole heap is unknown-memory root (as [heap] is): words between blocks are roots, words
  // inside blocks only count once their block is reached.
  roots.ranges.push_back({kHeap, kHeap + 8192 * 8, RootKind::unknown_memory});
  std::uint64_t lost = block(0, 64);
  std::uint64_t child = block(128, 48);
  std::uint64_t kept = block(256, 32);
  memory.put(lost, child);
  memory.put(kHeap + 200, kept);  // between blocks: allocator data or a block from before tracing
  MarkResult r = run();
  EXPECT_EQ(category_of(r, lost), Category::definitely_lost);
  EXPECT_EQ(category_of(r, child), Category::indirectly_lost);
  EXPECT_EQ(category_of(r, kept), Category::still_reachable);
  EXPECT_EQ(r.root_bytes, (64 + 64 + 64 + 64) * 8 + (8192 * 8 - 64 - 48 - 32));
}

TEST_F(MarkingTest, ZeroSizedBlockIsPointedToByItsAddress) {
  std::uint64_t a = block(0, 0);
  memory.put(kGlobals, a);
  EXPECT_EQ(category_of(run(), a), Category::still_reachable);
}

TEST_F(MarkingTest, PointerPastTheEndIsNotAPointerToTheBlock) {
  std::uint64_t a = block(0, 48);
  memory.put(kGlobals, a + 48);
  EXPECT_EQ(category_of(run(), a), Category::definitely_lost);
}

TEST_F(MarkingTest, WordsPastAnUnalignedEndAreNotTheBlocks) {
  // A 13-byte block holds one whole word; the next word belongs to nobody.
  std::uint64_t a = block(0, 13);
  std::uint64_t b = block(64, 16);
  memory.put(kGlobals, a);
  memory.put(a + 8, b);
  EXPECT_EQ(category_of(run(), b), Category::definitely_lost);
}

TEST_F(MarkingTest, UnreadableMemoryIsSkipped) {
  std::uint64_t a = block(0, 48);
  roots.ranges.push_back({0x900000, 0x902000, RootKind::unknown_memory});  // unmapped
  memory.put(kGlobals, a);
  MarkResult r = run();
  EXPECT_EQ(category_of(r, a), Category::still_reachable);
  EXPECT_EQ(r.unreadable_bytes, 0x2000u);
}

TEST_F(MarkingTest, BlocksSpanningReadWindowsKeepTheirPointers) {
  std::uint64_t big = block(0, 40000);
  std::uint64_t child = block(40960, 16);
  memory.put(big + 39992, child);
  MarkLimits limits;
  limits.window_bytes = 4096;
  MarkResult r = run(limits);
  EXPECT_EQ(category_of(r, big), Category::definitely_lost);
  EXPECT_EQ(category_of(r, child), Category::indirectly_lost);
  EXPECT_GT(memory.reads, 10u);
}

TEST_F(MarkingTest, LaterRecordOfOneAddressWins) {
  blocks.push_back({kHeap, 16, 1});
  blocks.push_back({kHeap, 32, 2});
  MarkResult r = run();
  ASSERT_EQ(r.blocks.size(), 1u);
  EXPECT_EQ(r.blocks[0].stack_id, 2u);
  EXPECT_EQ(r.blocks[0].size, 32u);
}

TEST_F(MarkingTest, OverlappingRecordIsCutAtTheNextBlock) {
  std::uint64_t stale = block(0, 256);
  std::uint64_t inner = block(64, 32);
  memory.put(kGlobals, inner);
  MarkResult r = run();
  EXPECT_EQ(category_of(r, stale), Category::definitely_lost);
  EXPECT_EQ(category_of(r, inner), Category::still_reachable);
}

TEST_F(MarkingTest, PerStackTotalsAddUpByCategory) {
  std::uint64_t a = block(0, 100, 7);
  block(128, 200, 7);
  std::uint64_t c = block(512, 50, 8);
  memory.put(kGlobals, a);
  memory.put(kGlobals + 8, c + 8);
  MarkResult r = run();
  EXPECT_EQ(r.per_stack.at(7)[Category::still_reachable], (Totals{100, 1}));
  EXPECT_EQ(r.per_stack.at(7)[Category::definitely_lost], (Totals{200, 1}));
  EXPECT_EQ(r.per_stack.at(8)[Category::possibly_lost], (Totals{50, 1}));
  EXPECT_EQ(r.pointers, 2u);
}

TEST_F(MarkingTest, PassedDeadlineAborts) {
  block(0, 48);
  MarkLimits limits;
  limits.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  MarkResult r = run(limits);
  EXPECT_TRUE(r.aborted);
  EXPECT_TRUE(r.per_stack.empty());
}

TEST_F(MarkingTest, NoBlocksNothingToReport) {
  MarkResult r = run();
  EXPECT_FALSE(r.aborted);
  EXPECT_TRUE(r.blocks.empty());
  EXPECT_EQ(r.root_bytes, 4u * 64 * 8);
}

TEST(CategoryNames, AreValgrinds) {
  EXPECT_STREQ(to_string(Category::definitely_lost), "definitely lost");
  EXPECT_STREQ(to_string(Category::indirectly_lost), "indirectly lost");
  EXPECT_STREQ(to_string(Category::possibly_lost), "possibly lost");
  EXPECT_STREQ(to_string(Category::still_reachable), "still reachable");
}

}  // namespace
}  // namespace edleak::scan

namespace edleak::scan {
namespace {

TEST(GlibcNextChunk, InsideOnlyWhenTheBlockUsesTheNextChunksFirstWord) {
  EXPECT_EQ(glibc_next_chunk_offset(136), 128u);  // chunk of 144: next one at +128
  EXPECT_EQ(glibc_next_chunk_offset(129), 128u);
  EXPECT_EQ(glibc_next_chunk_offset(128), 0u);    // chunk of 144: next one at +128, past the end
  EXPECT_EQ(glibc_next_chunk_offset(24), 16u);    // chunk of 32
  EXPECT_EQ(glibc_next_chunk_offset(16), 0u);
  EXPECT_EQ(glibc_next_chunk_offset(0), 0u);
}

TEST_F(MarkingTest, AllocatorsPointerToTheNextChunkIsNotAnInteriorPointer) {
  std::uint64_t a = block(0, 136);
  memory.put(kGlobals, a + 128);  // the arena's top chunk, right after a
  MarkLimits limits;
  EXPECT_EQ(category_of(run(limits), a), Category::possibly_lost);
  limits.glibc_chunk_headers = true;
  EXPECT_EQ(category_of(run(limits), a), Category::definitely_lost);
  memory.put(kGlobals + 8, a + 120);  // any other interior pointer still counts
  EXPECT_EQ(category_of(run(limits), a), Category::possibly_lost);
}

}  // namespace
}  // namespace edleak::scan
