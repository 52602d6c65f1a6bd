#include "classify/series_input.h"

#include <sstream>

#include <gtest/gtest.h>

namespace edleak::classify {
namespace {

Result<std::vector<series::Point>> read(const std::string& text) {
  std::istringstream in(text);
  return read_series(in, "data.txt");
}

std::string eight_lines_from(int first) {
  std::string text;
  for (int i = first; i < first + 8; ++i) text += std::to_string(i) + " " + std::to_string(100 * i) + "\n";
  return text;
}

TEST(ReadSeries, ReadsWhitespaceCommasAndComments) {
  auto points = read("# t bytes\n0 100\n1,200\n2 , 300 # inline\n\n  3\t400\r\n4 500\n5 6e2\n6 700.5\n7 800\n");
  ASSERT_TRUE(points.ok()) << points.error().message;
  ASSERT_EQ(points->size(), 8u);
  EXPECT_EQ((*points)[1].t_s, 1);
  EXPECT_EQ((*points)[1].bytes, 200);
  EXPECT_EQ((*points)[3].bytes, 400);
  EXPECT_EQ((*points)[5].bytes, 600);
  EXPECT_EQ((*points)[6].bytes, 700.5);
}

TEST(ReadSeries, AcceptsAnyTimeOrigin) {
  auto points = read(eight_lines_from(1700000000));
  ASSERT_TRUE(points.ok());
  EXPECT_EQ(points->front().t_s, 1700000000);
}

TEST(ReadSeries, NamesTheLineOfANonNumber) {
  auto points = read("0 100\n1 200\n2 abc\n");
  ASSERT_FALSE(points.ok());
  EXPECT_EQ(points.error().message, "data.txt:3: 'abc' is not a number");
}

TEST(ReadSeries, RejectsTrailingJunkInANumber) {
  auto points = read("0 100\n1 12kB\n");
  ASSERT_FALSE(points.ok());
  EXPECT_EQ(points.error().message, "data.txt:2: '12kB' is not a number");
}

TEST(ReadSeries, RejectsTheWrongNumberOfFields) {
  EXPECT_EQ(read("0 100\n1\n").error().message, "data.txt:2: expected 2 fields \"t bytes\", got 1");
  EXPECT_EQ(read("0 100 7\n").error().message, "data.txt:1: expected 2 fields \"t bytes\", got 3");
  EXPECT_EQ(read("0,,100\n").error().message, "data.txt:1: empty field before ','");
  EXPECT_EQ(read("0,100,\n").error().message, "data.txt:1: empty field after ','");
}

TEST(ReadSeries, RejectsNegativeAndNonFiniteValues) {
  EXPECT_EQ(read("0 100\n1 -5\n").error().message, "data.txt:2: bytes '-5' is negative");
  EXPECT_EQ(read("0 inf\n").error().message, "data.txt:1: bytes 'inf' is not a finite number");
  EXPECT_EQ(read("nan 1\n").error().message, "data.txt:1: time 'nan' is not a finite number");
  EXPECT_EQ(read("0 1e999\n").error().message, "data.txt:1: '1e999' is out of range");
}

TEST(ReadSeries, RejectsTimeGoingBackwards) {
  auto points = read("0 100\n5 200\n4 300\n");
  ASSERT_FALSE(points.ok());
  EXPECT_EQ(points.error().message, "data.txt:3: time 4 goes backwards (previous sample at 5)");
}

TEST(ReadSeries, NeedsTheMinimumNumberOfSamples) {
  auto points = read("# only three\n0 1\n1 2\n2 3\n");
  ASSERT_FALSE(points.ok());
  EXPECT_EQ(points.error().message, "data.txt: 3 samples, the leak factor needs at least 8");
  EXPECT_FALSE(read("").ok());
}

TEST(ReadSeries, NeedsTimeToPass) {
  auto points = read("5 1\n5 2\n5 3\n5 4\n5 5\n5 6\n5 7\n5 8\n");
  ASSERT_FALSE(points.ok());
  EXPECT_EQ(points.error().message, "data.txt: all 8 samples are at time 5: a trend needs time to pass");
}

TEST(ReadSeries, CutsLongGarbageInMessages) {
  auto points = read("0 " + std::string(500, 'x') + "\n");
  ASSERT_FALSE(points.ok());
  EXPECT_LT(points.error().message.size(), 80u);
}

}  // namespace
}  // namespace edleak::classify
