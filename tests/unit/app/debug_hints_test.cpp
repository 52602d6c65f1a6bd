#include "app/debug_hints.h"

#include <gtest/gtest.h>

#include "external_tool.h"

namespace edleak::app {
namespace {

symbolize::Frame frame(std::string symbol, std::string module, int line) {
  symbolize::Frame f;
  f.symbol = std::move(symbol);
  f.module = std::move(module);
  f.line = line;
  return f;
}

report::Report report_with(std::vector<symbolize::Frame> stack) {
  report::Report r;
  r.processes.emplace_back();
  r.processes[0].leakers.emplace_back();
  r.processes[0].leakers[0].stack = std::move(stack);
  return r;
}

TEST(DebugHints, OncePerModuleWithoutAnyLine) {
  int lookups = 0;
  DebugHints hints([&](const std::string& path) {
    ++lookups;
    return path == "/lib/libc.so.6" ? "libc6" : path == "/usr/lib/libfoo.so.1" ? "libfoo1" : "";
  });
  // The program has a line in one frame (its _start has none: that is no reason for a hint).
  const auto r = report_with({frame("leak", "/usr/lib/libfoo.so.1", 0), frame("main", "/opt/app", 12),
                              frame("_start", "/opt/app", 0), frame("__libc_start_main", "/lib/libc.so.6", 0),
                              frame("", "/opt/stripped.so", 0)});
  const auto first = hints.take(r);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0], "no source lines (no debug info) for /usr/lib/libfoo.so.1: install libfoo1-dbgsym (Debian's "
                      "debian-debug archive: deb http://deb.debian.org/debian-debug bookworm-debug main)");
  EXPECT_EQ(first[1], "no source lines (no debug info) for /lib/libc.so.6: install libc6-dbg");
  EXPECT_EQ(first[2], "no symbols or source lines (stripped, no debug info) for /opt/stripped.so: rebuild it with -g "
                      "(or install its separate debug file under /usr/lib/debug)");
  EXPECT_TRUE(hints.take(r).empty());  // once per run
  EXPECT_EQ(lookups, 3);
}

// dpkg knows the system libc (under its /usr-merged or its own name); not our build tree.
TEST(DebugHints, DpkgOwnerOfLibc) {
  EDLEAK_REQUIRE_TOOL(dpkg, "dpkg-query", "dpkg");
  EXPECT_EQ(dpkg_package_of("/usr/lib/x86_64-linux-gnu/libc.so.6"), "libc6");
  EXPECT_EQ(dpkg_package_of("/nonexistent/edleak/file"), "");
  EXPECT_EQ(dpkg_package_of("relative"), "");
}

}  // namespace
}  // namespace edleak::app
