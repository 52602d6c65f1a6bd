#include "scan/roots.h"

#include <gtest/gtest.h>

namespace edleak::scan {
namespace {

std::vector<symbolize::Mapping> maps(std::string_view text) {
  auto parsed = symbolize::parse_proc_maps(text);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
  return parsed.ok() ? *parsed : std::vector<symbolize::Mapping>{};
}

bool has(const std::vector<RootRange>& ranges, std::uint64_t start, std::uint64_t end, RootKind kind) {
  for (const auto& r : ranges)
    if (r.start == start && r.end == end && r.kind == kind) return true;
  return false;
}

bool covers(const std::vector<RootRange>& ranges, std::uint64_t addr) {
  for (const auto& r : ranges)
    if (addr >= r.start && addr < r.end) return true;
  return false;
}

constexpr std::string_view kMaps =
    "555555554000-555555556000 r--p 00000000 08:01 100 /usr/bin/prog\n"
    "555555556000-555555557000 r-xp 00002000 08:01 100 /usr/bin/prog\n"
    "555555557000-555555558000 r--p 00003000 08:01 100 /usr/bin/prog\n"
    "555555558000-555555559000 rw-p 00004000 08:01 100 /usr/bin/prog\n"
    "555555559000-55555555a000 rw-p 00000000 00:00 0 \n"                          // .bss
    "55555555a000-55555557b000 rw-p 00000000 00:00 0 [heap]\n"
    "7ffff0000000-7ffff0021000 rw-p 00000000 00:00 0 \n"                          // a thread arena
    "7ffff7000000-7ffff7001000 ---p 00000000 00:00 0 \n"                          // guard
    "7ffff7001000-7ffff7801000 rw-p 00000000 00:00 0 \n"                          // live thread's stack
    "7ffff7801000-7ffff7802000 ---p 00000000 00:00 0 \n"                          // guard
    "7ffff7802000-7ffff8002000 rw-p 00000000 00:00 0 \n"                          // exited thread's stack
    "7ffff8002000-7ffff8003000 rw-s 00000000 00:05 7 /dev/shm/ring\n"
    "7ffff8003000-7ffff8004000 rw-s 00000000 08:01 9 /var/db/big.db\n"
    "7ffff8004000-7ffff8005000 rw-s 00000000 00:06 10 /dev/dri/card0\n"
    "7ffff8005000-7ffff8006000 rw-p 00000000 00:00 0 \n"                          // ld.so's TLS for main
    "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0 [stack]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n";

std::vector<ThreadRegisters> threads() {
  ThreadRegisters main_thread;
  main_thread.tid = 100;
  main_thread.sp = 0x7fffffffe000;
  main_thread.fs_base = 0x7ffff8005740;
  main_thread.general = {1, 2, 3};
  ThreadRegisters worker;
  worker.tid = 101;
  worker.sp = 0x7ffff7700000;
  worker.fs_base = 0x7ffff7800640;  // at the top of its own stack mapping
  worker.general = {4, 5};
  return {main_thread, worker};
}

TEST(RootRanges, ModuleDataBssAndHeapAreScannedWhole) {
  auto r = root_ranges(maps(kMaps), threads());
  EXPECT_TRUE(has(r, 0x555555558000, 0x555555559000, RootKind::module_data));
  EXPECT_TRUE(has(r, 0x555555559000, 0x55555555a000, RootKind::unknown_memory));
  EXPECT_TRUE(has(r, 0x55555555a000, 0x55555557b000, RootKind::unknown_memory));
  EXPECT_TRUE(has(r, 0x7ffff0000000, 0x7ffff0021000, RootKind::unknown_memory));
  EXPECT_FALSE(covers(r, 0x555555554000));  // read-only
  EXPECT_FALSE(covers(r, 0x555555556000));  // code
}

TEST(RootRanges, StacksFromTheStackPointerLessTheRedZone) {
  auto r = root_ranges(maps(kMaps), threads());
  EXPECT_TRUE(has(r, 0x7fffffffe000 - kRedZone, 0x7ffffffff000, RootKind::stack));
  EXPECT_TRUE(has(r, 0x7ffff7700000 - kRedZone, 0x7ffff7801000, RootKind::stack));
  EXPECT_FALSE(covers(r, 0x7ffff7001000));  // below the worker's stack pointer: dead frames
  EXPECT_TRUE(covers(r, 0x7ffff7800640));   // its thread descriptor and static TLS, above
}

TEST(RootRanges, ExitedThreadsCachedStackIsNotScanned) {
  auto r = root_ranges(maps(kMaps), threads());
  EXPECT_FALSE(covers(r, 0x7ffff7802000));
  EXPECT_FALSE(covers(r, 0x7ffff8001ff8));
}

TEST(RootRanges, MainThreadsTlsIsScanned) {
  auto r = root_ranges(maps(kMaps), threads());
  EXPECT_TRUE(has(r, 0x7ffff8005000, 0x7ffff8006000, RootKind::tls));
}

TEST(RootRanges, SharedMemoryYesSharedFilesAndDevicesNo) {
  auto r = root_ranges(maps(kMaps), threads());
  EXPECT_TRUE(covers(r, 0x7ffff8002000));
  EXPECT_FALSE(covers(r, 0x7ffff8003000));
  EXPECT_FALSE(covers(r, 0x7ffff8004000));
  EXPECT_FALSE(covers(r, 0xffffffffff600000));
}

TEST(RootRanges, StackNobodyRunsOnIsNotScanned) {
  auto only_worker = threads();
  only_worker.erase(only_worker.begin());
  auto r = root_ranges(maps(kMaps), only_worker);
  EXPECT_FALSE(covers(r, 0x7fffffffe000));
}

TEST(RootRanges, GuardedMappingHoldingAThreadPointerIsKept) {
  auto t = threads();
  t[1].sp = 0x7ffff7000800;        // (say) on an alternate signal stack elsewhere
  t[1].fs_base = 0x7ffff8001000;   // in the mapping that looks like a dead stack
  auto r = root_ranges(maps(kMaps), t);
  EXPECT_TRUE(has(r, 0x7ffff7802000, 0x7ffff8002000, RootKind::tls));
}

TEST(MakeRoots, EveryThreadsRegistersAreRoots) {
  Roots roots = make_roots(maps(kMaps), threads());
  EXPECT_EQ(roots.register_words, (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
}

}  // namespace
}  // namespace edleak::scan

#include "fake_memory.h"

namespace edleak::scan {
namespace {

TEST(ThreadDescriptor, DtvBlockStartsSixteenBytesBeforeTheDescriptorsPointer) {
  const std::uint64_t d = 0x7ffff7800640;
  const std::uint64_t words[] = {d, 0x5555555a0010, d};
  EXPECT_EQ(dtv_block(d, words), 0x5555555a0000u);
  const std::uint64_t not_one[] = {d, 0x5555555a0010, 0};
  EXPECT_FALSE(dtv_block(d, not_one));
}

TEST(ThreadDescriptor, FoundAtTheTopOfAnExitedThreadsStack) {
  const std::uint64_t base = 0x7ffff8000000;
  std::vector<std::uint64_t> words(512, 0);
  const std::uint64_t at = base + 400 * 8;  // 64-aligned
  words[400] = at;
  words[401] = 0x5555555a0010;
  words[402] = at;
  EXPECT_EQ(find_thread_descriptor(base, words), at);
  words[402] = 0;
  EXPECT_EQ(find_thread_descriptor(base, words), 0u);
}

TEST(MakeRoots, DtvOfLiveAndExitedThreadsAreRoots) {
  test::FakeMemory memory;
  // The worker's descriptor at its fs_base; an exited thread's at the top of its cached stack.
  memory.add_region(0x7ffff7800000, 0x1000 / 8);
  memory.put(0x7ffff7800640, 0x7ffff7800640);
  memory.put(0x7ffff7800648, 0x555555560010);
  memory.put(0x7ffff7800650, 0x7ffff7800640);
  memory.add_region(0x7ffff7ffc000, 0x6000 / 8);
  memory.put(0x7ffff8001700, 0x7ffff8001700);
  memory.put(0x7ffff8001708, 0x555555561010);
  memory.put(0x7ffff8001710, 0x7ffff8001700);
  Roots roots = make_roots(maps(kMaps), threads(), &memory);
  EXPECT_EQ(roots.register_words, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 0x555555560000, 0x555555561000}));
}

}  // namespace
}  // namespace edleak::scan
