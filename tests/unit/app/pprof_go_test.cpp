// The pprof profile read by its real consumer: Debian's go tool pprof (golang-go).
#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include "demo_record.h"
#include "external_tool.h"
#include "report/pprof_writer.h"

namespace edleak::app {
namespace {

TEST(PprofInGoTool, TopRawAndSampleTypes) {
  EDLEAK_REQUIRE_TOOL(go, "go", "golang-go");
  const auto recording = test::demo_recording();
  const auto dir = test::temp_dir("pprof_go");
  const auto path = (dir / "demo.pb.gz").string();
  ASSERT_TRUE(report::write_pprof_file(path, report::profile_stacks(recording), recording));
  const std::string env = "HOME=" + dir.string() + " GOCACHE=" + (dir / "cache").string() + " ";

  // inuse_space, the default: 433.5 KiB in cache_lookup, 250 KiB in open_session (as the report).
  const auto top = test::run_shell(env + go + " tool pprof -top " + path);
  ASSERT_EQ(top.status, 0) << top.out;
  EXPECT_NE(top.out.find("Type: inuse_space"), std::string::npos) << top.out;
  EXPECT_TRUE(std::regex_search(top.out, std::regex(R"(433\.50kB\s+\S+%\s+\S+%\s+433\.50kB\s+\S+%\s+cache_lookup)")))
      << top.out;
  EXPECT_TRUE(std::regex_search(top.out, std::regex(R"(250kB\s+\S+%\s+\S+%\s+250kB\s+\S+%\s+open_session)"))) << top.out;
  EXPECT_TRUE(std::regex_search(top.out, std::regex(R"(0\s+0%\s+100%\s+687\.50kB\s+100%\s+main)"))) << top.out;

  const auto objects = test::run_shell(env + go + " tool pprof -sample_index=inuse_objects -top " + path);
  ASSERT_EQ(objects.status, 0) << objects.out;
  EXPECT_TRUE(std::regex_search(objects.out, std::regex(R"(2000\s+\S+%\s+\S+%\s+2000\s+\S+%\s+open_session)")))
      << objects.out;

  const auto leaks = test::run_shell(env + go + " tool pprof -sample_index=leak_space -top " + path);
  ASSERT_EQ(leaks.status, 0) << leaks.out;
  EXPECT_NE(leaks.out.find("Type: leak_space"), std::string::npos) << leaks.out;
  EXPECT_NE(leaks.out.find("cache_lookup"), std::string::npos);

  // -raw lists the mappings with their build IDs and the locations with file:line.
  const auto raw = test::run_shell(env + go + " tool pprof -raw " + path);
  ASSERT_EQ(raw.status, 0) << raw.out;
  for (const auto& [module, id] : recording.build_ids) {
    EXPECT_NE(raw.out.find(id), std::string::npos) << module << " " << id << "\n" << raw.out;
  }
  EXPECT_GE(recording.build_ids.size(), 2u);  // the demo and libc
  EXPECT_NE(raw.out.find("cache_lookup /work/"), std::string::npos) << raw.out;
  EXPECT_NE(raw.out.find("edleak-demo.c:32"), std::string::npos) << raw.out;
}

}  // namespace
}  // namespace edleak::app
