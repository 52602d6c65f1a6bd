// Live test: a program's own anonymous mmaps (tests/testprogs/mmap_sites.c) are sites of their
// own, kind "mmap", sized in pages, split by a partial munmap and resized by mremap; glibc's own
// mmap for a large malloc is the malloc block only, never a second count.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "live.h"

namespace edleak::live {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;

constexpr int kIterations = 30;
constexpr std::uint64_t kPage = 4096;

TEST(Mmap, DirectMappingsAreSitesOfTheirOwn) {
  EDLEAK_REQUIRE_LIVE();
  const std::string program = testprog("mmap_sites_nofp");
  RunResult r = run({tracer_path(), "--interval", "100ms", "--format", "json", "--top", "50", "--", program,
                     std::to_string(kIterations), "60"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto& report = final_report(r);
  const auto* process = only_process(report);
  ASSERT_NE(process, nullptr) << r.out << r.err;
  EXPECT_EQ(report["stats"]["lost_allocs"], 0);
  EXPECT_EQ(report["stats"]["unknown_frees"], 0);

  struct Expected {
    const char* function;
    const char* kind;
    std::uint64_t bytes_per_call;
    int blocks_per_call;
  };
  const Expected sites[] = {
      {"leak_mapping", "mmap", 3 * kPage, 1},
      {"leak_split_mapping", "mmap", 5 * kPage, 2},  // 8 pages less 2 in the middle, less the first
      {"leak_remapped", "mmap", 6 * kPage, 1},       // 2 pages grown to 6
      {"leak_large_malloc", "malloc", 1 << 20, 1},   // glibc's mmap inside malloc: not a mapping site
  };
  std::uint64_t total = 0;
  for (const auto& site : sites) {
    SCOPED_TRACE(site.function);
    const auto* leaker = find_leaker(*process, site.function);
    ASSERT_NE(leaker, nullptr) << "sites: " << ::testing::PrintToString(site_symbols(*process));
    EXPECT_EQ((*leaker)["kind"], site.kind);
    EXPECT_EQ((*leaker)["outstanding_bytes"], site.bytes_per_call * kIterations);
    EXPECT_EQ((*leaker)["outstanding_allocs"], site.blocks_per_call * kIterations);
    EXPECT_EQ((*leaker)["leak_factor"]["class"], "linear");
    const auto& frame = (*leaker)["stack"][0];  // the caller of mmap, not libc's wrapper
    EXPECT_EQ(frame["module"], program);
    EXPECT_THAT(frame["file"].get<std::string>(), EndsWith("mmap_sites.c"));
    total += site.bytes_per_call * kIterations;
  }
  // Nothing else: churn_mapping unmapped all it mapped, and no mapping of malloc's is a site.
  EXPECT_EQ((*process)["outstanding_bytes"], total) << ::testing::PrintToString(site_symbols(*process));
  EXPECT_EQ((*process)["leakers"].size(), 4u) << ::testing::PrintToString(site_symbols(*process));

  RunResult text = run({tracer_path(), "--interval", "100ms", "--", program, "10", "60"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("[direct mmap]"));
}

}  // namespace
}  // namespace edleak::live
