#pragma once
// The process histories a run traces, and what became of them: the one owner of process
// lifecycle state. Fed with events (a process named, forked, exec'd, exited, seen allocating),
// it tells the loop which histories get their final section in the next report, which may then
// be forgotten, and when a run tracing named processes is over. Pure: no system calls, so the
// lifecycle is unit-tested with scripted events.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sample/snapshot.h"

namespace edleak::lifecycle {

using sample::ProcessKey;

struct ProcessRecord {
  ProcessKey key;
  std::uint32_t parent_pid = 0;  // 0: not known (started before tracing, or named)
  std::string comm;              // the kernel's name (/proc/PID/comm), read when first seen
  std::string command;           // its command line, read when first seen ("" when not read)
  std::uint32_t ns_pid = 0;      // its pid inside its own pid namespace, when it differs
  std::string cgroup;            // its cgroup v2 path, "" for the root cgroup
  bool named = false;            // -p PID or the command: listed even without stacks
  bool root = false;             // named, or the command: its end may end the run
  bool ended = false;            // exited, or exec'd into a new history
  bool exec_ended = false;       // ended by exec (a new history of the same pid follows)
  bool released = false;         // ended by the tracer letting it go (watch mode): it runs on
  std::optional<int> exit_status;  // wait status, when it exited and it was known
  bool final_reported = false;   // its final section has been rendered
  std::uint32_t exec_incarnation = 0;  // exec_ended: the history that followed
};

class ProcessTable {
 public:
  // A process the user named (-p), or the command; `root`: the run ends once every root and
  // (when followed) every descendant has ended.
  ProcessRecord& add_named(const ProcessKey& key, bool root = true);
  // A new process whose parent is traced (or any process, in all-process mode).
  ProcessRecord& on_fork(const ProcessKey& child, std::uint32_t parent_pid);
  // A fork of a process not tracked yet (all-process mode learns processes lazily, when seen
  // allocating): only its parent is kept, for its record if it allocates; it follows the
  // process through exec and goes with its exit.
  void note_fork(const ProcessKey& child, std::uint32_t parent_pid);
  // pid exec'd: the history old_incarnation ends, new_incarnation begins (named stays named).
  // The old history is recorded as ended even when it was not tracked: its sites may be read
  // after this event, and a history learnt then must know it has ended (no exit event of its
  // key will come: the exit carries the new history's).
  ProcessRecord& on_exec(std::uint32_t pid, std::uint32_t old_incarnation, std::uint32_t new_incarnation);
  // The history ended with its process's exit (known or not yet: see the definition).
  void on_exit(const ProcessKey& key, std::optional<int> status);
  // The tracer stops tracing a history whose process runs on (watch mode's window ended): it
  // ends here, gets its final section and is forgotten, named or not.
  void on_released(const ProcessKey& key);
  // A history seen allocating (all-process mode learns processes this way); returns its record,
  // created if new.
  ProcessRecord& on_seen(const ProcessKey& key);

  // The current history of pid: the newest one not ended, else the newest.
  const ProcessRecord* current(std::uint32_t pid) const;
  const ProcessRecord* find(const ProcessKey& key) const;
  ProcessRecord* find(const ProcessKey& key);

  // Histories that ended and whose final section has not been rendered yet.
  std::vector<ProcessKey> ending() const;
  // After a report: the histories of `ending` are final-reported; unnamed ones and those ended
  // by exec are dropped and returned (the caller forgets them everywhere). Named ones that
  // exited stay listed, as ended, until the run ends.
  std::vector<ProcessKey> finish_reported(const std::vector<ProcessKey>& reported);

  // Whether every process the run follows has ended (false when nothing is tracked).
  bool all_ended() const;
  // Histories tracked now, ordered by (pid, incarnation).
  const std::map<ProcessKey, ProcessRecord>& records() const { return records_; }
  std::size_t size() const { return records_.size(); }
  // Parents of processes forked but not tracked (note_fork): as many as live processes.
  std::size_t untracked_parents() const { return parents_.size(); }

 private:
  ProcessRecord& get(const ProcessKey& key);
  std::map<ProcessKey, ProcessRecord> records_;
  std::map<ProcessKey, std::uint32_t> parents_;  // note_fork: parent pid of untracked histories
};

}  // namespace edleak::lifecycle
