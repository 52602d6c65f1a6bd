// Folded stacks, parsed as flamegraph.pl parses them (stackcollapse output): each line is
// "frame;frame;... COUNT", split at the last space, frames at ';', root first.
#include "report/folded_writer.h"

#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "../record/sample_recording.h"

namespace edleak::report {
namespace {

// flamegraph.pl's reading: /^(.*)\s+?(\d+(?:\.\d*)?)$/ per line.
std::map<std::vector<std::string>, std::uint64_t> parse_like_flamegraph(const std::string& text) {
  std::map<std::vector<std::string>, std::uint64_t> stacks;
  std::istringstream in(text);
  const std::regex line_re(R"(^(.*)\s+?(\d+(?:\.\d*)?)$)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    EXPECT_TRUE(std::regex_match(line, m, line_re)) << line;
    std::vector<std::string> frames;
    std::string frames_text = m[1];
    for (std::size_t start = 0, end; start <= frames_text.size(); start = end + 1) {
      end = frames_text.find(';', start);
      if (end == std::string::npos) end = frames_text.size();
      frames.push_back(frames_text.substr(start, end - start));
    }
    stacks[frames] += std::stoull(m[2]);
  }
  return stacks;
}

TEST(Folded, RootFirstWithInlinedFramesAndBytes) {
  const auto recording = record::test_data::sample_recording();
  std::ostringstream out;
  write_folded(profile_stacks(recording), FoldedValue::outstanding_bytes, out);
  const auto stacks = parse_like_flamegraph(out.str());
  ASSERT_EQ(stacks.size(), 2u) << out.str();
  // Root first: comm, then the outermost frame (a stripped libc frame named by module+offset),
  // main, then leak_here with push_item inlined into it, innermost last.
  const std::vector<std::string> leak{"server", "libc.so.6+0x27191", "main", "leak_here", "push_item"};
  ASSERT_TRUE(stacks.count(leak)) << out.str();
  EXPECT_EQ(stacks.at(leak), 2000u);
  EXPECT_EQ(stacks.at({"server", "main", "handle_request"}), 4096u);
}

TEST(Folded, LeakBytesLeaveNonLeakingStacksOut) {
  const auto recording = record::test_data::sample_recording();
  std::ostringstream out;
  write_folded(profile_stacks(recording), FoldedValue::leak_bytes, out);
  const auto stacks = parse_like_flamegraph(out.str());
  ASSERT_EQ(stacks.size(), 1u) << out.str();
  EXPECT_GT(stacks.begin()->second, 1500u);  // a linear leak of ~1900 bytes over the run
}

TEST(Folded, SeparatorsInNamesCannotSplitFrames) {
  auto recording = record::test_data::sample_recording();
  recording.sites[0].frames[0].symbol = "operator()<a;b> (x)";
  recording.processes[0].comm = "bad\ncomm";
  std::ostringstream out;
  write_folded(profile_stacks(recording), FoldedValue::outstanding_bytes, out);
  const auto stacks = parse_like_flamegraph(out.str());
  EXPECT_TRUE(stacks.count({"bad\\x0acomm", "libc.so.6+0x27191", "main", "operator()<a:b> (x)", "push_item"}))
      << out.str();
}

}  // namespace
}  // namespace edleak::report
