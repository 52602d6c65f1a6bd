#include "lifecycle/process_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace edleak::lifecycle {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ProcessTable, ChildrenEndOneByOneAndTheRunEndsWithTheLast) {
  ProcessTable t;
  t.add_named(ProcessKey(100, 1));
  t.on_fork(ProcessKey(101, 2), 100);
  t.on_fork(ProcessKey(102, 3), 100);
  EXPECT_FALSE(t.all_ended());
  t.on_exit(ProcessKey(101, 2), 0);
  EXPECT_THAT(t.ending(), ElementsAre(ProcessKey(101, 2)));
  // The child's final section was rendered: it goes (it was not named).
  EXPECT_THAT(t.finish_reported(t.ending()), ElementsAre(ProcessKey(101, 2)));
  EXPECT_EQ(t.find(ProcessKey(101, 2)), nullptr);
  EXPECT_THAT(t.ending(), IsEmpty());
  t.on_exit(ProcessKey(100, 1), 3 << 8);
  t.on_exit(ProcessKey(102, 3), 0);
  EXPECT_TRUE(t.all_ended());
  // The named root stays listed (as exited) after its final section; the child goes.
  EXPECT_THAT(t.finish_reported(t.ending()), ElementsAre(ProcessKey(102, 3)));
  ASSERT_NE(t.find(ProcessKey(100, 1)), nullptr);
  EXPECT_EQ(t.find(ProcessKey(100, 1))->exit_status, 3 << 8);
  EXPECT_THAT(t.ending(), IsEmpty());  // reported once
}

TEST(ProcessTable, ExecEndsOneHistoryAndStartsAnotherThatStaysNamed) {
  ProcessTable t;
  auto& before = t.add_named(ProcessKey(100, 1));
  before.comm = "sh";
  before.parent_pid = 1;
  auto& after = t.on_exec(100, 1, 5);
  EXPECT_TRUE(after.named);
  EXPECT_TRUE(after.comm.empty());  // read anew
  EXPECT_EQ(after.parent_pid, 1u);
  const ProcessRecord* old = t.find(ProcessKey(100, 1));
  ASSERT_NE(old, nullptr);
  EXPECT_TRUE(old->ended);
  EXPECT_TRUE(old->exec_ended);
  EXPECT_EQ(old->exec_incarnation, 5u);
  EXPECT_EQ(t.current(100)->key, ProcessKey(100, 5));
  // The old program's final section; then it goes although it was named.
  EXPECT_THAT(t.finish_reported(t.ending()), ElementsAre(ProcessKey(100, 1)));
  EXPECT_FALSE(t.all_ended());
}

TEST(ProcessTable, AReusedPidNeverInheritsTheOldHistory) {
  ProcessTable t;
  t.on_fork(ProcessKey(200, 4), 1);
  // pid 200 exits and is reused before its exit event was read: the new fork ends the old.
  t.on_fork(ProcessKey(200, 9), 1);
  EXPECT_TRUE(t.find(ProcessKey(200, 4))->ended);
  EXPECT_FALSE(t.find(ProcessKey(200, 9))->ended);
  EXPECT_EQ(t.current(200)->key, ProcessKey(200, 9));
  // The late exit event of the old history touches only it.
  t.on_exit(ProcessKey(200, 4), 0);
  EXPECT_FALSE(t.find(ProcessKey(200, 9))->ended);
  EXPECT_THAT(t.finish_reported(t.ending()), ElementsAre(ProcessKey(200, 4)));
}

// A process that allocated and exited between two samples: its exit event comes before the
// sample that shows its sites. It is ended when learnt, and goes after its final section.
TEST(ProcessTable, AProcessSeenAfterItsExitIsEndedAndGoes) {
  ProcessTable t;
  EXPECT_FALSE(t.all_ended());  // nothing tracked: not "all ended"
  t.on_exit(ProcessKey(300, 1), 0);
  EXPECT_TRUE(t.on_seen(ProcessKey(300, 1)).ended);
  EXPECT_THAT(t.finish_reported(t.ending()), ElementsAre(ProcessKey(300, 1)));
  EXPECT_EQ(t.size(), 0u);
}

TEST(ProcessTable, SeenProcessesAreLearntOnce) {
  ProcessTable t;
  t.on_seen(ProcessKey(400, 0)).comm = "perl";
  EXPECT_EQ(t.on_seen(ProcessKey(400, 0)).comm, "perl");
  EXPECT_EQ(t.size(), 1u);
  EXPECT_FALSE(t.find(ProcessKey(400, 0))->named);
}

// Watch mode lets a zoomed process go while it runs: its history ends, gets one final section and
// is dropped although named; a release after it ended changes nothing.
TEST(ProcessTable, ReleasedHistoryIsReportedOnceThenDropped) {
  ProcessTable t;
  t.add_named(ProcessKey(300, 0), /*root=*/false);
  t.on_released(ProcessKey(300, 0));
  const ProcessRecord* r = t.find(ProcessKey(300, 0));
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->ended);
  EXPECT_TRUE(r->released);
  EXPECT_FALSE(r->exit_status);
  auto ending = t.ending();
  ASSERT_EQ(ending, std::vector<ProcessKey>{ProcessKey(300, 0)});
  EXPECT_EQ(t.finish_reported(ending), ending);
  EXPECT_EQ(t.find(ProcessKey(300, 0)), nullptr);
  // Zoomed again later: a new record under the same key.
  t.add_named(ProcessKey(300, 0), false);
  t.on_exit(ProcessKey(300, 0), 0);
  t.on_released(ProcessKey(300, 0));
  EXPECT_FALSE(t.find(ProcessKey(300, 0))->released);
}

// All-process mode: a fork is noted, not tracked; the child allocates, execs before it was
// learnt, and its first history's sites are read after the exec. That history must be known
// as ended (its exit event never comes: the exit carries the exec'd history's key), or it stays
// for the whole run.
TEST(ProcessTable, AnUntrackedHistoryEndedByExecIsEndedWhenLearnt) {
  ProcessTable t;
  t.note_fork(ProcessKey(500, 7), 42);
  EXPECT_EQ(t.size(), 0u);  // noted, not tracked
  t.on_exec(500, 7, 8);
  EXPECT_TRUE(t.on_seen(ProcessKey(500, 7)).ended);
  const ProcessRecord* old = t.find(ProcessKey(500, 7));
  ASSERT_NE(old, nullptr);
  EXPECT_TRUE(old->exec_ended);
  EXPECT_EQ(old->parent_pid, 42u);
  EXPECT_EQ(t.find(ProcessKey(500, 8))->parent_pid, 42u);  // the exec'd program's parent too
  EXPECT_THAT(t.finish_reported(t.ending()), ElementsAre(ProcessKey(500, 7)));
  t.on_exit(ProcessKey(500, 8), 0);
  EXPECT_THAT(t.finish_reported(t.ending()), ElementsAre(ProcessKey(500, 8)));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.untracked_parents(), 0u);
}

// Noted parents follow the live processes: a noted child that exits without allocating leaves
// nothing behind once its (empty) final report is made.
TEST(ProcessTable, NotedForksGoWithTheirExit) {
  ProcessTable t;
  for (std::uint32_t pid = 600; pid < 700; ++pid) t.note_fork(ProcessKey(pid, pid * 2), 1);
  EXPECT_EQ(t.untracked_parents(), 100u);
  for (std::uint32_t pid = 600; pid < 700; ++pid) t.on_exit(ProcessKey(pid, pid * 2), 0);
  EXPECT_EQ(t.untracked_parents(), 0u);
  EXPECT_EQ(t.finish_reported(t.ending()).size(), 100u);
  EXPECT_EQ(t.size(), 0u);
}

}  // namespace
}  // namespace edleak::lifecycle
