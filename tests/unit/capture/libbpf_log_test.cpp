#include "capture/libbpf_log.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace edleak::capture {
namespace {

// libbpf 1.4's wording, as this machine's kernel made it print them (a verifier refusal of
// alloc_return, and a map the kernel would not create).
TEST(LibbpfLog, NamesTheProgramOrMapTheKernelRefused) {
  EXPECT_EQ(refused_object(without_libbpf_prefix("libbpf: prog 'alloc_return': failed to load: -7\n")),
            "program alloc_return");
  EXPECT_EQ(refused_object("map 'sites': failed to create: Invalid argument(-22)\n"), "map sites");
  // Other warnings, and the log that precedes the failure, name nothing.
  EXPECT_EQ(refused_object("prog 'alloc_return': BPF program load failed: Argument list too long\n"), std::nullopt);
  EXPECT_EQ(refused_object("prog 'alloc_return': -- BEGIN PROG LOAD LOG --\n"), std::nullopt);
  EXPECT_EQ(refused_object("failed to load object 'edleak_bpf'\n"), std::nullopt);
  EXPECT_EQ(refused_object("prog '': failed to load: -7"), std::nullopt);
  EXPECT_EQ(refused_object(""), std::nullopt);
}

TEST(LibbpfLog, OnlyItsOwnPrefixIsRemoved) {
  EXPECT_EQ(without_libbpf_prefix("libbpf: map 'x'"), "map 'x'");
  EXPECT_EQ(without_libbpf_prefix("processed 12 insns"), "processed 12 insns");
  EXPECT_EQ(without_libbpf_prefix("libbpf:"), "libbpf:");
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  for_each_line(text, [&](std::string_view line) { out.emplace_back(line); });
  return out;
}

// A verifier log is one message: every line of it, the last one (the reason) included.
TEST(LibbpfLog, AMessageIsSplitIntoEveryLine) {
  EXPECT_EQ(lines_of("0: (bf) r7 = r1\nBPF program is too large. Processed 1000001 insn\nprocessed 1000001 insns\n"),
            (std::vector<std::string>{"0: (bf) r7 = r1", "BPF program is too large. Processed 1000001 insn",
                                      "processed 1000001 insns"}));
  EXPECT_EQ(lines_of("no line break"), (std::vector<std::string>{"no line break"}));
  EXPECT_EQ(lines_of("a\n\nb"), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_TRUE(lines_of("").empty());
  const std::string big = std::string(5000, 'x') + "\nend\n";  // longer than the old 1 KiB buffer
  const auto lines = lines_of(big);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].size(), 5000u);
  EXPECT_EQ(lines[1], "end");
}

}  // namespace
}  // namespace edleak::capture
