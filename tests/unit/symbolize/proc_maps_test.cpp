#include "symbolize/proc_maps.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <string>

namespace edleak::symbolize {
namespace {

using ::testing::HasSubstr;

// As a 6.x kernel writes it: note the padding before paths and the trailing space of anonymous
// mappings.
constexpr std::string_view kTypicalMaps =
    "55d0c8a00000-55d0c8a02000 r--p 00000000 fd:01 1573412                    /usr/bin/cat\n"
    "55d0c8a02000-55d0c8a07000 r-xp 00002000 fd:01 1573412                    /usr/bin/cat\n"
    "55d0c9d1e000-55d0c9d3f000 rw-p 00000000 00:00 0                          [heap]\n"
    "7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0 \n"
    "7f3a1c228000-7f3a1c3bd000 r-xp 00028000 103:02 2753088                   "
    "/usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "7ffd5f8e4000-7ffd5f905000 rw-p 00000000 00:00 0                          [stack]\n"
    "7ffd5f9d6000-7ffd5f9d8000 r-xp 00000000 00:00 0                          [vdso]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

TEST(ParseProcMaps, ReadsEveryFieldOfKernelOutput) {
  auto mappings = parse_proc_maps(kTypicalMaps);
  ASSERT_TRUE(mappings.ok()) << mappings.error().message;
  ASSERT_EQ(mappings->size(), 8u);

  const Mapping& text = (*mappings)[1];
  EXPECT_EQ(text.start, 0x55d0c8a02000u);
  EXPECT_EQ(text.end, 0x55d0c8a07000u);
  EXPECT_TRUE(text.readable);
  EXPECT_FALSE(text.writable);
  EXPECT_TRUE(text.executable);
  EXPECT_FALSE(text.shared);
  EXPECT_EQ(text.file_offset, 0x2000u);
  EXPECT_EQ(text.dev_major, 0xfdu);
  EXPECT_EQ(text.dev_minor, 0x01u);
  EXPECT_EQ(text.inode, 1573412u);
  EXPECT_EQ(text.path, "/usr/bin/cat");
  EXPECT_FALSE(text.deleted);
  EXPECT_TRUE(text.is_file());

  const Mapping& libc = (*mappings)[4];
  EXPECT_EQ(libc.dev_major, 0x103u);  // majors above 0xff have three digits
  EXPECT_EQ(libc.dev_minor, 0x02u);
  EXPECT_EQ(libc.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");

  EXPECT_EQ((*mappings)[2].path, "[heap]");
  EXPECT_FALSE((*mappings)[2].is_file());
  EXPECT_EQ((*mappings)[3].path, "");  // anonymous, trailing space only
  EXPECT_FALSE((*mappings)[3].is_file());
  EXPECT_EQ((*mappings)[6].path, "[vdso]");
  EXPECT_EQ((*mappings)[7].start, 0xffffffffff600000u);
  EXPECT_FALSE((*mappings)[7].readable);
}

TEST(ParseProcMaps, KeepsSpacesInPathsAndFlagsDeletedFiles) {
  auto mappings = parse_proc_maps(
      "1000-2000 r-xp 00000000 08:01 42    /opt/my app/lib foo.so\n"
      "2000-3000 r-xs 00001000 08:01 43    /tmp/jit code (deleted)\n"
      "3000-4000 rw-s 00000000 00:01 1024  /memfd:arena (deleted)\n");
  ASSERT_TRUE(mappings.ok()) << mappings.error().message;
  ASSERT_EQ(mappings->size(), 3u);
  EXPECT_EQ((*mappings)[0].path, "/opt/my app/lib foo.so");
  EXPECT_FALSE((*mappings)[0].deleted);
  EXPECT_EQ((*mappings)[1].path, "/tmp/jit code");
  EXPECT_TRUE((*mappings)[1].deleted);
  EXPECT_TRUE((*mappings)[1].shared);
  EXPECT_EQ((*mappings)[2].path, "/memfd:arena");
  EXPECT_TRUE((*mappings)[2].deleted);
}

TEST(ParseProcMaps, AcceptsEmptyTextAndMissingFinalNewline) {
  auto empty = parse_proc_maps("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  auto unterminated = parse_proc_maps("1000-2000 r--p 00000000 00:00 0");
  ASSERT_TRUE(unterminated.ok()) << unterminated.error().message;
  ASSERT_EQ(unterminated->size(), 1u);
  EXPECT_EQ((*unterminated)[0].path, "");
}

struct MalformedCase {
  std::string text;
  std::string expected_message_part;

  friend void PrintTo(const MalformedCase& c, std::ostream* out) {
    *out << "text of " << c.text.size() << " bytes expecting \"" << c.expected_message_part << '"';
  }
};

class ParseProcMapsRejects : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(ParseProcMapsRejects, MalformedInputWithTheReason) {
  auto mappings = parse_proc_maps(GetParam().text);
  ASSERT_FALSE(mappings.ok()) << "accepted: " << GetParam().text;
  EXPECT_THAT(mappings.error().message, HasSubstr(GetParam().expected_message_part));
  EXPECT_THAT(mappings.error().message, HasSubstr("malformed maps line"));
}

INSTANTIATE_TEST_SUITE_P(
    HostileInput, ParseProcMapsRejects,
    ::testing::Values(
        MalformedCase{"1000 r-xp 0 08:01 1 /x\n", "has no '-'"},
        MalformedCase{"zz-2000 r-xp 0 08:01 1 /x\n", "not two hexadecimal numbers"},
        MalformedCase{"1000-+2000 r-xp 0 08:01 1 /x\n", "not two hexadecimal numbers"},
        MalformedCase{"1000-0x2000 r-xp 0 08:01 1 /x\n", "not two hexadecimal numbers"},
        MalformedCase{"10000000000000000-10000000000000001 r-xp 0 08:01 1 /x\n",
                      "not two hexadecimal numbers"},  // overflows 64 bits
        MalformedCase{"2000-1000 r-xp 0 08:01 1 /x\n", "empty or reversed"},
        MalformedCase{"1000-1000 r-xp 0 08:01 1 /x\n", "empty or reversed"},
        MalformedCase{"1000-2000 rwx 0 08:01 1 /x\n", "permissions 'rwx'"},
        MalformedCase{"1000-2000 xwrp 0 08:01 1 /x\n", "permissions 'xwrp'"},
        MalformedCase{"1000-2000 r-xq 0 08:01 1 /x\n", "permissions 'r-xq'"},
        MalformedCase{"1000-2000 r-xp -1 08:01 1 /x\n", "file offset '-1'"},
        MalformedCase{"1000-2000 r-xp 0 0801 1 /x\n", "has no ':'"},
        MalformedCase{"1000-2000 r-xp 0 08:1g 1 /x\n", "major:minor"},
        MalformedCase{"1000-2000 r-xp 0 100000000:01 1 /x\n", "major:minor"},  // > 32 bits
        MalformedCase{"1000-2000 r-xp 0 08:01 12a /x\n", "inode '12a'"},
        MalformedCase{"1000-2000 r-xp 0 08:01\n", "inode ''"},
        MalformedCase{"1000-2000 r-xp\n", "file offset ''"}, MalformedCase{"\n", "has no '-'"},
        MalformedCase{std::string("1000-2000 r-xp 0 08:01 1 /a\0b\n", 30), "NUL"},
        MalformedCase{"\x7f"
                      "ELF\x02\x01\x01\xff\xfe garbage",
                      "has no '-'"},
        MalformedCase{std::string(100000, 'f'), "has no '-'"}));

TEST(ParseProcMaps, QuotesHostileLinesShortAndPrintable) {
  auto huge = parse_proc_maps(std::string(100000, 'f'));
  ASSERT_FALSE(huge.ok());
  EXPECT_LT(huge.error().message.size(), 300u);
  EXPECT_THAT(huge.error().message, HasSubstr("fff..."));

  auto binary = parse_proc_maps("\x1b[31m-\x01 r-xp 0 08:01 1 /x\n");
  ASSERT_FALSE(binary.ok());
  EXPECT_THAT(binary.error().message, HasSubstr("\\x1b[31m-\\x01"));
  EXPECT_EQ(binary.error().message.find('\x1b'), std::string::npos);
}

TEST(ParseProcMaps, NamesTheOffendingLine) {
  auto mappings = parse_proc_maps(
      "1000-2000 r-xp 00000000 08:01 1 /a\n"
      "3000-4000 r-xp 00000000 08:01 1 /a\n"
      "5000-6000 r-xp 0000000g 08:01 1 /a\n");
  ASSERT_FALSE(mappings.ok());
  EXPECT_THAT(mappings.error().message, HasSubstr("line 3"));
  EXPECT_THAT(mappings.error().message, HasSubstr("'0000000g'"));
}

TEST(ParseProcMaps, RejectsOverlappingOrUnsortedMappings) {
  auto overlapping = parse_proc_maps(
      "1000-3000 r-xp 00000000 08:01 1 /a\n"
      "2000-4000 r-xp 00000000 08:01 1 /b\n");
  ASSERT_FALSE(overlapping.ok());
  EXPECT_THAT(overlapping.error().message, HasSubstr("line 2"));
  EXPECT_THAT(overlapping.error().message, HasSubstr("overlaps or precedes"));

  auto unsorted = parse_proc_maps(
      "5000-6000 r-xp 00000000 08:01 1 /a\n"
      "1000-2000 r-xp 00000000 08:01 1 /b\n");
  EXPECT_FALSE(unsorted.ok());

  auto adjacent = parse_proc_maps(
      "1000-2000 r-xp 00000000 08:01 1 /a\n"
      "2000-3000 r-xp 00001000 08:01 1 /a\n");
  EXPECT_TRUE(adjacent.ok());
}

TEST(FindMapping, FindsTheMappingContainingAnAddress) {
  auto mappings = parse_proc_maps(
      "1000-2000 r--p 00000000 08:01 1 /a\n"
      "2000-3000 r-xp 00001000 08:01 1 /a\n"
      "5000-6000 rw-p 00000000 00:00 0 \n");
  ASSERT_TRUE(mappings.ok());
  EXPECT_EQ(find_mapping(*mappings, 0x1000), &(*mappings)[0]);  // start is inside
  EXPECT_EQ(find_mapping(*mappings, 0x1fff), &(*mappings)[0]);
  EXPECT_EQ(find_mapping(*mappings, 0x2000), &(*mappings)[1]);  // end is not
  EXPECT_EQ(find_mapping(*mappings, 0x5abc), &(*mappings)[2]);
  EXPECT_EQ(find_mapping(*mappings, 0x0fff), nullptr);
  EXPECT_EQ(find_mapping(*mappings, 0x3000), nullptr);  // in the gap
  EXPECT_EQ(find_mapping(*mappings, 0x4fff), nullptr);
  EXPECT_EQ(find_mapping(*mappings, 0x6000), nullptr);
  EXPECT_EQ(find_mapping(*mappings, UINT64_MAX), nullptr);
  EXPECT_EQ(find_mapping({}, 0x1000), nullptr);
}

TEST(IsLibraryNamed, MatchesTheLibraryAndNotItsNamesakes) {
  EXPECT_TRUE(is_library_named("libc.so.6", "libc"));
  EXPECT_TRUE(is_library_named("libc-2.31.so", "libc"));
  EXPECT_TRUE(is_library_named("libc.so.6", "libc.so"));
  EXPECT_TRUE(is_library_named("libc-2.31.so", "libc-"));
  EXPECT_TRUE(is_library_named("libc.so", "libc.so"));
  EXPECT_TRUE(is_library_named("libstdc++.so.6.0.30", "libstdc++"));
  EXPECT_FALSE(is_library_named("libcap.so.2", "libc"));
  EXPECT_FALSE(is_library_named("libcrypt.so.1", "libc"));
  EXPECT_FALSE(is_library_named("libc++.so.1", "libc"));
  EXPECT_FALSE(is_library_named("libc-client.so.2007", "libc"));
  EXPECT_FALSE(is_library_named("libcap.so.2", "libc.so"));
  EXPECT_FALSE(is_library_named("libcrypt-1.so", "libc-"));  // "libc-" is not a prefix of it
  EXPECT_FALSE(is_library_named("glibc.so", "libc"));
  EXPECT_FALSE(is_library_named("libc.so.6", ""));
}

constexpr std::string_view kContainerMaps =
    "1000-2000 r--p 00000000 00:20 11 /usr/lib/libcap.so.2.66\n"
    "2000-3000 r--p 00000000 00:20 12 /usr/lib/libcrypt.so.1\n"
    "3000-4000 rw-p 00000000 00:00 0  [libc]\n"
    "4000-5000 r--p 00000000 00:20 13 /lib/x86_64-linux-gnu/libc-2.31.so\n"
    "5000-6000 r-xp 00001000 00:20 13 /lib/x86_64-linux-gnu/libc-2.31.so\n"
    "6000-7000 r-xp 00000000 00:20 14 /usr/lib/libstdc++.so.6.0.28\n";

TEST(FindLibraryMapping, PicksTheFirstMappingOfTheLibrary) {
  auto mappings = parse_proc_maps(kContainerMaps);
  ASSERT_TRUE(mappings.ok()) << mappings.error().message;

  const Mapping* libc = find_library_mapping(*mappings, "libc");
  ASSERT_NE(libc, nullptr);
  EXPECT_EQ(libc, &(*mappings)[3]);
  EXPECT_EQ(libc->path, "/lib/x86_64-linux-gnu/libc-2.31.so");

  const Mapping* libstdcxx = find_library_mapping(*mappings, "libstdc++");
  ASSERT_NE(libstdcxx, nullptr);
  EXPECT_EQ(libstdcxx->path, "/usr/lib/libstdc++.so.6.0.28");

  EXPECT_EQ(find_library_mapping(*mappings, "libc.so"), nullptr);  // this libc is libc-2.31.so
  EXPECT_EQ(find_library_mapping(*mappings, "libpthread"), nullptr);
}

TEST(FindLibrary, FindsTheLibcThisProcessMaps) {
  auto libc = find_library(getpid(), "libc");
  ASSERT_TRUE(libc.ok()) << libc.error().message;
  EXPECT_EQ(libc->front(), '/');
  EXPECT_THAT(*libc, HasSubstr("libc.so"));
  EXPECT_EQ(access(process_root_path(getpid(), *libc).c_str(), R_OK), 0);

  auto missing = find_library(getpid(), "libdoesnotexist");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("does not map a libdoesnotexist library"));
}

TEST(FindLibrary, ReportsAProcessThatDoesNotExist) {
  auto libc = find_library(INT_MAX, "libc");
  ASSERT_FALSE(libc.ok());
  EXPECT_THAT(libc.error().message, HasSubstr("/proc/2147483647/maps"));
}

TEST(ProcessRootPath, PrefixesTheProcessRoot) {
  EXPECT_EQ(process_root_path(1234, "/usr/lib/libc.so.6"), "/proc/1234/root/usr/lib/libc.so.6");
}

TEST(ReadProcMaps, ReadsThisProcess) {
  auto mappings = read_proc_maps(getpid());
  ASSERT_TRUE(mappings.ok()) << mappings.error().message;
  auto here = reinterpret_cast<std::uint64_t>(&read_proc_maps);
  const Mapping* mapping = find_mapping(*mappings, here);
  ASSERT_NE(mapping, nullptr);
  EXPECT_TRUE(mapping->executable);
  EXPECT_TRUE(mapping->is_file());
  char exe[PATH_MAX] = {};
  ASSERT_GT(readlink("/proc/self/exe", exe, sizeof exe - 1), 0);
  EXPECT_EQ(mapping->path, exe);
}

}  // namespace
}  // namespace edleak::symbolize
