#pragma once
// A command we start and trace to its end, with its descendants when followed: this process is
// their ptrace tracer (PTRACE_SEIZE, so nothing changes for them but this):
// - the command is held before exec until release(), so probes are in place before it runs a
//   single instruction of its own;
// - every traced process stops at its exit while its memory map still exists (the tracer reads
//   and symbolizes its last stacks, scans it), and at a hold (bpf/: a SIGSTOP at its first
//   allocator call after fork and exec, so its unwind tables are loaded first);
// - fork and vfork children are traced from their first instruction (PTRACE_O_TRACEFORK/VFORK);
//   threads are not (no stop per thread).
// The state machine is driven by reap() after SIGCHLD; the system calls are behind TraceeOps so
// that it is unit-tested with scripted wait statuses.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <unordered_set>
#include <vector>

#include "util/result.h"

namespace edleak::lifecycle {

// waitpid() and ptrace() as the tree uses them.
class TraceeOps {
 public:
  virtual ~TraceeOps() = default;
  // waitpid(-1, &status, WNOHANG | __WALL): the pid (0: nothing more, -1: no child left).
  virtual pid_t wait_any(int& status) = 0;
  virtual void resume(pid_t pid, int signal) = 0;  // PTRACE_CONT
  virtual void listen(pid_t pid) = 0;              // PTRACE_LISTEN: stay in a group stop
};
std::unique_ptr<TraceeOps> system_tracee_ops();

// What happened to a traced process, for the caller to act on.
struct TreeEvent {
  enum class Kind {
    new_child,    // a new process of the tree, stopped before its first instruction: resume() it
                  // once its probes are in
    exit_stop,    // stopped at its exit (memory map still there): resume() it when done
    signal_stop,  // stopped by a signal for it (SIGSTOP may be a hold): resume() it, with the
                  // signal unless it was a hold
    exited,       // gone; status is the wait status
  } kind = Kind::exited;
  pid_t pid = 0;
  int status = 0;  // exited: wait status; signal_stop: the signal
};

class CommandTree {
 public:
  // Starts argv held before exec. follow: trace its children too.
  static Result<CommandTree> spawn(const std::vector<std::string>& argv, bool follow);
  // A tree over an already started process (tests).
  CommandTree(pid_t pid, bool seized, std::unique_ptr<TraceeOps> ops);
  CommandTree(CommandTree&& other) noexcept;
  CommandTree& operator=(CommandTree&&) = delete;
  ~CommandTree();

  pid_t pid() const { return pid_; }
  // Whether this process is the tracer (it sees the stops; else the command only runs).
  bool seized() const { return seized_; }
  // Lets the command exec; fails (and reaps it) when exec failed.
  Result<void> release();

  // After SIGCHLD: everything that happened to the traced processes. Fork events and group
  // stops are handled here; new children, exit stops and signal stops are returned with the
  // process left stopped.
  std::vector<TreeEvent> reap();
  void resume(pid_t pid, int signal = 0);

  // The command's exit status as a shell reports it (code, or 128 + signal) once it exited.
  std::optional<int> exit_code() const { return exit_code_; }
  // Processes of the tree not yet exited.
  std::size_t alive() const { return alive_.size(); }

 private:
  CommandTree(pid_t pid, int go_fd, int exec_error_fd, std::unique_ptr<TraceeOps> ops)
      : pid_(pid), go_fd_(go_fd), exec_error_fd_(exec_error_fd), ops_(std::move(ops)) {}
  void on_status(pid_t pid, int status, std::vector<TreeEvent>& out);

  pid_t pid_ = -1;
  int go_fd_ = -1;          // parent writes here to let the child exec
  int exec_error_fd_ = -1;  // child writes errno here if exec fails (close-on-exec otherwise)
  std::string program_;
  bool seized_ = false;
  std::unique_ptr<TraceeOps> ops_;
  std::unordered_set<pid_t> alive_;  // traced processes seen, not yet exited
  std::optional<int> exit_code_;
};

}  // namespace edleak::lifecycle
