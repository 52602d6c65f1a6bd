// The registry decides what the BPF side holds: tests run it against a fake kernel side.
#include "unwind/unwind_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "unwind/row_space.h"

namespace edleak::unwind {
namespace {

using ::testing::ElementsAre;

struct FakeMaps final : UnwindMaps {
  std::uint32_t capacity = 100;
  std::map<std::uint32_t, edleak_unwind_row> rows;
  std::map<std::uint32_t, edleak_proc_mappings> mappings;
  std::uint32_t row_capacity() const override { return capacity; }
  Result<void> write_rows(std::uint32_t first, std::span<const edleak_unwind_row> r) override {
    for (std::size_t i = 0; i < r.size(); ++i) rows[first + static_cast<std::uint32_t>(i)] = r[i];
    return {};
  }
  Result<void> set_mappings(std::uint32_t tgid, const edleak_proc_mappings& m) override {
    mappings[tgid] = m;
    return {};
  }
  void remove_mappings(std::uint32_t tgid) override { mappings.erase(tgid); }
};

edleak_unwind_row row(std::uint32_t pc, edleak_cfa_kind kind, std::uint16_t offset = 8) {
  return {pc, offset, static_cast<std::uint8_t>(kind), 0};
}

// A file of `rows` rows, text at file offset 0x1000 = vaddr 0x1000.
FileTable table_of(std::size_t rows) {
  FileTable t;
  for (std::size_t i = 0; i < rows; ++i)
    t.table.rows.push_back(row(0x1000 + static_cast<std::uint32_t>(i) * 16, EDLEAK_CFA_RSP));
  t.segments = {{0, 0x800, 0}, {0x1000, 0x4000, 0x1000}};
  return t;
}

symbolize::Mapping exec_mapping(std::uint64_t start, std::uint64_t inode, std::uint64_t offset = 0x1000) {
  symbolize::Mapping m;
  m.start = start;
  m.end = start + 0x4000;
  m.readable = m.executable = true;
  m.file_offset = offset;
  m.dev_major = 8;
  m.dev_minor = 1;
  m.inode = inode;
  m.path = "/lib/file" + std::to_string(inode);
  return m;
}

struct Counting {
  std::map<std::string, int> builds;
  std::map<std::string, std::size_t> sizes;
  TableBuilder builder() {
    return [this](const std::string& path) {
      ++builds[path];
      return table_of(sizes.count(path) ? sizes[path] : 10);
    };
  }
};

auto path_of = [](const symbolize::Mapping& m) { return m.path; };

TEST(UnwindRegistry, SharesOneTablePerFileAcrossProcesses) {
  FakeMaps maps;
  Counting counting;
  UnwindRegistry registry(maps, counting.builder());
  std::vector<symbolize::Mapping> a = {exec_mapping(0x7f0000001000, 1), exec_mapping(0x7f0000101000, 2)};
  std::vector<symbolize::Mapping> b = {exec_mapping(0x7e0000001000, 1)};
  ASSERT_TRUE(registry.update_process(100, a, path_of));
  ASSERT_TRUE(registry.update_process(200, b, path_of));
  EXPECT_EQ(counting.builds["/lib/file1"], 1);
  EXPECT_EQ(maps.rows.size(), 20u);  // files 1 and 2, once each
  const auto& pa = maps.mappings.at(100);
  const auto& pb = maps.mappings.at(200);
  ASSERT_EQ(pa.count, 2u);
  ASSERT_EQ(pb.count, 1u);
  EXPECT_EQ(pa.mappings[0].first_row, pb.mappings[0].first_row);
  EXPECT_EQ(pa.mappings[0].row_count, 10u);
  // Runtime address - bias = file address: the mapping at file offset 0x1000 holds vaddr 0x1000.
  EXPECT_EQ(pa.mappings[0].bias, 0x7f0000001000u - 0x1000);
  EXPECT_EQ(pb.mappings[0].bias, 0x7e0000001000u - 0x1000);
  EXPECT_EQ(registry.stats().files, 2u);
}

TEST(UnwindRegistry, NonFileCodeIsListedWithoutRows) {
  FakeMaps maps;
  Counting counting;
  UnwindRegistry registry(maps, counting.builder());
  symbolize::Mapping vdso;
  vdso.start = 0x7fff0000;
  vdso.end = 0x7fff2000;
  vdso.executable = true;
  vdso.path = "[vdso]";
  symbolize::Mapping data = exec_mapping(0x500000, 3);
  data.executable = false;  // not code: not listed
  std::vector<symbolize::Mapping> m = {data, exec_mapping(0x600000, 4), vdso};
  ASSERT_TRUE(registry.update_process(1, m, path_of));
  const auto& p = maps.mappings.at(1);
  ASSERT_EQ(p.count, 2u);
  EXPECT_EQ(p.mappings[1].start, 0x7fff0000u);
  EXPECT_EQ(p.mappings[1].row_count, 0u);
  EXPECT_EQ(counting.builds.count("/lib/file3"), 0u);
}

TEST(UnwindRegistry, FileWithoutCfiUnwindsByFramePointers) {
  FakeMaps maps;
  UnwindRegistry registry(maps, [](const std::string&) {
    FileTable t;
    t.error = "no .eh_frame or .debug_frame";
    return t;
  });
  std::vector<symbolize::Mapping> m = {exec_mapping(0x600000, 4)};
  ASSERT_TRUE(registry.update_process(1, m, path_of));
  EXPECT_EQ(maps.mappings.at(1).mappings[0].row_count, 0u);
  EXPECT_EQ(registry.stats().files_without_cfi, 1u);
}

TEST(UnwindRegistry, IdleTablesGiveWayWhenTheRowsAreNeeded) {
  FakeMaps maps;
  maps.capacity = 25;
  Counting counting;
  UnwindRegistry registry(maps, counting.builder());
  std::vector<symbolize::Mapping> first = {exec_mapping(0x600000, 1), exec_mapping(0x700000, 2)};
  ASSERT_TRUE(registry.update_process(1, first, path_of));
  registry.forget_process(1);
  EXPECT_EQ(maps.mappings.count(1), 0u);
  EXPECT_EQ(registry.stats().idle_files, 2u);
  // The same file again: no rebuild, no new rows.
  std::vector<symbolize::Mapping> again = {exec_mapping(0x800000, 1)};
  ASSERT_TRUE(registry.update_process(2, again, path_of));
  EXPECT_EQ(counting.builds["/lib/file1"], 1);
  // A file that fits only once the idle one (file 2) leaves.
  counting.sizes["/lib/file5"] = 12;
  std::vector<symbolize::Mapping> bigger = {exec_mapping(0x800000, 1), exec_mapping(0x900000, 5)};
  ASSERT_TRUE(registry.update_process(2, bigger, path_of));
  const auto& p = maps.mappings.at(2);
  ASSERT_EQ(p.count, 2u);
  EXPECT_EQ(p.mappings[1].row_count, 12u);
  EXPECT_EQ(registry.stats().idle_files, 0u);
}

TEST(UnwindRegistry, FullRowArrayFallsBackToFramePointersAndSaysSo) {
  FakeMaps maps;
  maps.capacity = 15;
  Counting counting;
  UnwindRegistry registry(maps, counting.builder());
  std::vector<symbolize::Mapping> m = {exec_mapping(0x600000, 1), exec_mapping(0x700000, 2)};
  ASSERT_TRUE(registry.update_process(1, m, path_of));
  const auto& p = maps.mappings.at(1);
  EXPECT_EQ(p.mappings[0].row_count, 10u);
  EXPECT_EQ(p.mappings[1].row_count, 0u);
  EXPECT_EQ(registry.stats().files_not_placed, 1u);
}

TEST(UnwindRegistry, RemappingAProcessKeepsItsFilesAndBumpsTheGeneration) {
  FakeMaps maps;
  Counting counting;
  UnwindRegistry registry(maps, counting.builder());
  std::vector<symbolize::Mapping> m = {exec_mapping(0x600000, 1)};
  ASSERT_TRUE(registry.update_process(1, m, path_of));
  const auto generation = maps.mappings.at(1).generation;
  m.push_back(exec_mapping(0x700000, 2));  // dlopen()
  ASSERT_TRUE(registry.update_process(1, m, path_of));
  EXPECT_EQ(maps.mappings.at(1).count, 2u);
  EXPECT_GT(maps.mappings.at(1).generation, generation);
  EXPECT_EQ(counting.builds["/lib/file1"], 1);
  EXPECT_EQ(registry.stats().idle_files, 0u);
}

TEST(RowSpace, FirstFitAndMerging) {
  RowSpace space(100);
  auto a = space.allocate(30), b = space.allocate(30), c = space.allocate(30);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(b->first, 30u);
  EXPECT_FALSE(space.allocate(20));
  space.release(*a);
  space.release(*b);  // merges with a's range: 60 free at 0
  auto d = space.allocate(55);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->first, 0u);
  EXPECT_EQ(space.used(), 85u);
  space.release(*c);
  space.release(*d);
  EXPECT_EQ(space.used(), 0u);
  auto all = space.allocate(100);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->first, 0u);
}

TEST(LoadSegments, MappingOfAnUnalignedSegmentFromItsPage) {
  // A segment at file offset 0x1234 mapped from its page: vaddr 0x2234 at offset 0x1234.
  std::vector<symbolize::LoadSegment> segments = {{0, 0x1000, 0}, {0x1234, 0x5000, 0x2234}};
  auto at_page = symbolize::file_address(segments, 0x1000);
  ASSERT_TRUE(at_page);
  EXPECT_EQ(*at_page, 0x2000u);
  EXPECT_EQ(symbolize::file_address(segments, 0x1234), 0x2234u);
  EXPECT_FALSE(symbolize::file_address(segments, 0x9000));
}

}  // namespace
}  // namespace edleak::unwind
