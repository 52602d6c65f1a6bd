#include "symbolize/frame.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "symbolize/demangle.h"

namespace edleak::symbolize {
namespace {

using ::testing::ElementsAre;

Frame resolved_frame() {
  Frame frame;
  frame.addr = 0x7f0012345678;
  frame.symbol = "ns::grow(unsigned long)";
  frame.offset = 0x2a;
  frame.module = "/usr/bin/app";
  frame.file = "/src/app/grow.cpp";
  frame.line = 42;
  return frame;
}

TEST(FormatFrame, ShowsSymbolOffsetLocationAndModule) {
  EXPECT_EQ(format_frame(resolved_frame()),
            "ns::grow(unsigned long)+0x2a (/src/app/grow.cpp:42) [/usr/bin/app]");
}

TEST(FormatFrame, LeavesOutWhatIsUnknown) {
  Frame no_debug_info = resolved_frame();
  no_debug_info.file.clear();
  no_debug_info.line = 0;
  EXPECT_EQ(format_frame(no_debug_info), "ns::grow(unsigned long)+0x2a [/usr/bin/app]");

  Frame no_line = resolved_frame();
  no_line.line = 0;
  EXPECT_EQ(format_frame(no_line),
            "ns::grow(unsigned long)+0x2a (/src/app/grow.cpp) [/usr/bin/app]");

  Frame no_symbol;
  no_symbol.addr = 0x7f0012345678;
  no_symbol.module = "/usr/lib/libjit.so";
  EXPECT_EQ(format_frame(no_symbol), "0x7f0012345678 [/usr/lib/libjit.so]");

  // A stripped library: its own address, and the exported function before it when there is one.
  Frame stripped;
  stripped.addr = 0x7f0012345678;
  stripped.module = "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6";
  stripped.module_offset = 0x1f504;
  EXPECT_EQ(format_frame(stripped),
            "libsqlite3.so.0.8.6+0x1f504 [/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6]");
  stripped.nearest_symbol = "sqlite3_free";
  stripped.nearest_offset = 0x1a0;
  EXPECT_EQ(format_frame(stripped),
            "libsqlite3.so.0.8.6+0x1f504 (after sqlite3_free+0x1a0) "
            "[/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6]");

  Frame nothing;
  nothing.addr = 0x10;
  EXPECT_EQ(format_frame(nothing), "0x10");
}

TEST(FormatFrameWithInlined, GivesEachFunctionItsOwnLocation) {
  Frame frame = resolved_frame();
  frame.file = "/usr/include/c++/12/bits/new_allocator.h";
  frame.line = 137;
  frame.inlined = {
      {"std::__new_allocator<int>::allocate(unsigned long, void const*)",
       "/usr/include/c++/12/bits/alloc_traits.h", 464},
      {"std::allocator_traits<std::allocator<int> >::allocate(std::allocator<int>&, unsigned long)",
       "/src/app/grow.cpp", 42},
  };
  EXPECT_THAT(
      format_frame_with_inlined(frame),
      ElementsAre("std::__new_allocator<int>::allocate(unsigned long, void const*) "
                  "(/usr/include/c++/12/bits/new_allocator.h:137) [inlined]",
                  "std::allocator_traits<std::allocator<int> >::allocate(std::allocator<int>&, "
                  "unsigned long) (/usr/include/c++/12/bits/alloc_traits.h:464) [inlined]",
                  "ns::grow(unsigned long)+0x2a (/src/app/grow.cpp:42) [/usr/bin/app]"));
}

TEST(FormatFrameWithInlined, IsTheFrameAloneWithoutInlinedFunctions) {
  EXPECT_THAT(format_frame_with_inlined(resolved_frame()),
              ElementsAre(format_frame(resolved_frame())));
}

TEST(Demangle, DemanglesCxxNamesAndKeepsOthers) {
  EXPECT_EQ(demangle("_ZN2ns4growEm"), "ns::grow(unsigned long)");
  EXPECT_EQ(demangle("_ZN2ns4growEm.cold"), "ns::grow(unsigned long) [clone .cold]");
  EXPECT_EQ(demangle("malloc"), "malloc");
  EXPECT_EQ(demangle("f"), "f");  // a C name, not the type "float"
  EXPECT_EQ(demangle("_Znot_valid"), "_Znot_valid");
  EXPECT_EQ(demangle(""), "");
}

}  // namespace
}  // namespace edleak::symbolize
