// The fuzzer's corpus (tests/fuzz/corpus/unwind_table: seeds, and inputs that once crashed or
// stalled the builder) as a regression test of the normal build.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "test_elf.h"
#include "unwind/unwind_table.h"

namespace edleak::unwind {
namespace {

TEST(UnwindTableCorpus, EveryInputBuildsOrFailsCleanly) {
  const std::filesystem::path dir =
      (std::filesystem::path(EDLEAK_TEST_DATA_DIR) / ".." / "fuzz" / "corpus" / "unwind_table")
          .lexically_normal();
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  std::size_t inputs = 0, tables = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    ++inputs;
    SCOPED_TRACE(entry.path().string());
    // As the fuzzer runs it (in memory), and from the file.
    testing::MemoryElf elf(testing::read_file(entry.path()));
    auto in_memory = build_unwind_table(elf.get());
    auto from_file = build_unwind_table(entry.path().string());
    EXPECT_EQ(in_memory.ok(), from_file.ok());
    if (!from_file) {
      EXPECT_EQ(from_file.error().message.rfind(entry.path().string() + ": ", 0), 0u);
      continue;
    }
    ++tables;
    testing::expect_well_formed(*from_file);
    EXPECT_EQ(from_file->rows.size(), in_memory ? in_memory->rows.size() : 0);
  }
  EXPECT_GE(inputs, 3u);
  EXPECT_GE(tables, 1u);
}

}  // namespace
}  // namespace edleak::unwind
