#include "report/format.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace edleak::report {
namespace {

TEST(FormatBytes, BelowOneKibIsExactBytes) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1), "1 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
}

TEST(FormatBytes, BinaryUnitsWithOneDecimal) {
  EXPECT_EQ(format_bytes(1024), "1.0 KiB");
  EXPECT_EQ(format_bytes(15009), "14.7 KiB");
  EXPECT_EQ(format_bytes(15360), "15.0 KiB");
  EXPECT_EQ(format_bytes(1258291), "1.2 MiB");
  EXPECT_EQ(format_bytes(std::uint64_t{5} << 30), "5.0 GiB");
  EXPECT_EQ(format_bytes(std::uint64_t{3} << 40), "3.0 TiB");
}

TEST(FormatBytes, PicksTheUnitAfterRounding) {
  EXPECT_EQ(format_bytes(1048575), "1.0 MiB");  // would be "1024.0 KiB"
  EXPECT_EQ(format_bytes(1048524), "1023.9 KiB");
}

TEST(FormatBytes, LargestValueInExbibytes) {
  EXPECT_EQ(format_bytes(std::numeric_limits<std::uint64_t>::max()), "16.0 EiB");
}

TEST(FormatRate, SignedWithUnitPerSecond) {
  EXPECT_EQ(format_rate(1250), "+1.2 KiB/s");
  EXPECT_EQ(format_rate(300), "+300.0 B/s");
  EXPECT_EQ(format_rate(-300), "-300.0 B/s");
  EXPECT_EQ(format_rate(-2.5 * 1024 * 1024), "-2.5 MiB/s");
  EXPECT_EQ(format_rate(0.25), "+0.2 B/s");
}

TEST(FormatRate, ZeroHasNoNegativeSign) {
  EXPECT_EQ(format_rate(0), "+0.0 B/s");
  EXPECT_EQ(format_rate(-0.01), "+0.0 B/s");
}

TEST(FormatRate, NotFiniteIsNotAvailable) {
  EXPECT_EQ(format_rate(std::nan("")), "n/a");
  EXPECT_EQ(format_rate(std::numeric_limits<double>::infinity()), "n/a");
}

TEST(Printable, EscapesControlBytesOnly) {
  EXPECT_EQ(printable("server"), "server");
  EXPECT_EQ(printable("a\x1b[31mb"), "a\\x1b[31mb");
  EXPECT_EQ(printable("tab\there\n"), "tab\\x09here\\x0a");
  EXPECT_EQ(printable("del\x7f"), "del\\x7f");
  EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 passes through
  EXPECT_EQ(printable(std::string_view("a\0b", 3)), "a\\x00b");
}

}  // namespace
}  // namespace edleak::report
