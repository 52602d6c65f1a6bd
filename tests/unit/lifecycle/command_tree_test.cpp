#include "lifecycle/command_tree.h"

#include <csignal>
#include <deque>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace edleak::lifecycle {
namespace {

// Wait statuses as the kernel builds them.
int exited(int code) { return code << 8; }
int killed(int sig) { return sig; }
int stopped(int sig, int event = 0) { return 0x7f | (sig << 8) | (event << 16); }

// Scripted waitpid() results; records what the tree did with each stop.
class FakeOps final : public TraceeOps {
 public:
  struct Action {
    std::string what;
    pid_t pid;
    int signal;
    bool operator==(const Action&) const = default;
  };
  explicit FakeOps(std::deque<std::pair<pid_t, int>> statuses, std::vector<Action>& log)
      : statuses_(std::move(statuses)), log_(log) {}
  pid_t wait_any(int& status) override {
    if (statuses_.empty()) return 0;
    auto [pid, s] = statuses_.front();
    statuses_.pop_front();
    status = s;
    return pid;
  }
  void resume(pid_t pid, int signal) override { log_.push_back({"cont", pid, signal}); }
  void listen(pid_t pid) override { log_.push_back({"listen", pid, 0}); }

 private:
  std::deque<std::pair<pid_t, int>> statuses_;
  std::vector<Action>& log_;
};

using Kind = TreeEvent::Kind;

TEST(CommandTree, FollowsForksAndReportsEachExit) {
  std::vector<FakeOps::Action> log;
  CommandTree tree(100, true,
                   std::make_unique<FakeOps>(std::deque<std::pair<pid_t, int>>{
                                                 {100, stopped(SIGTRAP, PTRACE_EVENT_FORK)},  // root forks 101
                                                 {101, stopped(SIGTRAP, PTRACE_EVENT_STOP)},  // child's first stop
                                                 {101, stopped(SIGSTOP)},                     // a hold, or a signal
                                                 {101, stopped(SIGTRAP, PTRACE_EVENT_EXIT)},
                                                 {101, exited(0)},
                                             },
                                             log));
  EXPECT_EQ(tree.alive(), 1u);
  auto events = tree.reap();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].kind, Kind::new_child);
  EXPECT_EQ(events[0].pid, 101);
  EXPECT_EQ(events[1].kind, Kind::signal_stop);
  EXPECT_EQ(events[1].pid, 101);
  EXPECT_EQ(events[1].status, SIGSTOP);
  EXPECT_EQ(events[2].kind, Kind::exit_stop);
  EXPECT_EQ(events[3].kind, Kind::exited);
  EXPECT_EQ(events[3].pid, 101);
  // The fork stop is resumed here; the others are the caller's.
  EXPECT_THAT(log, ::testing::ElementsAre(FakeOps::Action{"cont", 100, 0}));
  EXPECT_EQ(tree.alive(), 1u);  // the root
  EXPECT_FALSE(tree.exit_code());
}

TEST(CommandTree, TheRootsStatusIsTheRunsStatus) {
  std::vector<FakeOps::Action> log;
  CommandTree tree(100, true,
                   std::make_unique<FakeOps>(std::deque<std::pair<pid_t, int>>{{100, killed(SIGSEGV)}}, log));
  auto events = tree.reap();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::exited);
  EXPECT_EQ(tree.exit_code(), 128 + SIGSEGV);
  EXPECT_EQ(tree.alive(), 0u);
}

TEST(CommandTree, AGroupStopStaysStopped) {
  std::vector<FakeOps::Action> log;
  CommandTree tree(100, true,
                   std::make_unique<FakeOps>(
                       std::deque<std::pair<pid_t, int>>{{100, stopped(SIGSTOP, PTRACE_EVENT_STOP)}}, log));
  EXPECT_TRUE(tree.reap().empty());
  EXPECT_THAT(log, ::testing::ElementsAre(FakeOps::Action{"listen", 100, 0}));
}

TEST(CommandTree, ARealCommandRunsAndItsStatusComesBack) {
  auto tree = CommandTree::spawn({"sh", "-c", "exit 7"}, true);
  ASSERT_TRUE(tree) << tree.error().message;
  ASSERT_TRUE(tree->release());
  for (int i = 0; i < 500 && tree->alive() > 0; ++i) {
    for (const auto& e : tree->reap())
      if (e.kind != Kind::exited) tree->resume(e.pid, e.kind == Kind::signal_stop ? e.status : 0);
    usleep(10000);
  }
  EXPECT_EQ(tree->exit_code(), 7);
}

TEST(CommandTree, ACommandThatCannotRunSaysWhy) {
  auto tree = CommandTree::spawn({"/nonexistent/edleak-test-program"}, false);
  ASSERT_TRUE(tree);
  auto released = tree->release();
  ASSERT_FALSE(released);
  EXPECT_THAT(released.error().message, ::testing::HasSubstr("No such file or directory"));
}

}  // namespace
}  // namespace edleak::lifecycle
