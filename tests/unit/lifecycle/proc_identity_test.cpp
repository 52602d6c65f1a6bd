#include "lifecycle/proc_identity.h"

#include <unistd.h>

#include <gtest/gtest.h>

namespace edleak::lifecycle {
namespace {

TEST(ProcIdentity, ParsesCommandLines) {
  using namespace std::string_literals;
  EXPECT_EQ(parse_cmdline("sh\0-c\0echo hi\0"s), "sh -c echo hi");
  EXPECT_EQ(parse_cmdline(""), "");
}

TEST(ProcIdentity, PidInsideItsNamespaceOnlyWhenItDiffers) {
  EXPECT_EQ(parse_ns_pid("\nName:\tnginx\nNSpid:\t4242\t7\nNSpgid:\t1\n"), 7u);
  EXPECT_EQ(parse_ns_pid("\nName:\tnginx\nNSpid:\t4242\n"), 0u);
  EXPECT_EQ(parse_ns_pid("\nName:\tx\n"), 0u);
  EXPECT_EQ(parse_ns_pid("\nNSpid:\tgarbage\n"), 0u);
}

TEST(ProcIdentity, CgroupV2PathOrNothingForTheRoot) {
  EXPECT_EQ(parse_cgroup("0::/system.slice/docker-abc.scope\n"), "/system.slice/docker-abc.scope");
  EXPECT_EQ(parse_cgroup("0::/\n"), "");
  EXPECT_EQ(parse_cgroup("12:memory:/x\n"), "");
}

TEST(ProcIdentity, ReadsThisProcess) {
  ProcessIdentity id = read_identity(getpid());
  EXPECT_FALSE(id.comm.empty());
  EXPECT_NE(id.command.find("lifecycle"), std::string::npos) << id.command;
  EXPECT_EQ(id.parent_pid, static_cast<std::uint32_t>(getppid()));
  EXPECT_TRUE(process_exists(getpid()));
  EXPECT_FALSE(process_exists(0));
}

}  // namespace
}  // namespace edleak::lifecycle
