#pragma once
// Every thread of a process stopped, for as long as this object lives: PTRACE_SEIZE and
// PTRACE_INTERRUPT on each thread of /proc/PID/task (listed again until no new thread appears),
// registers read at the stop, and on destruction every thread detached and resumed, on every
// path. Nothing of the target is changed: a signal that arrived meanwhile is delivered on detach,
// a process that was stopped by job control stays stopped.
//
// If the tracer dies meanwhile, the kernel detaches its tracees and they run on (tested).
#include <chrono>
#include <memory>
#include <optional>
#include <sys/types.h>
#include <vector>

#include "scan/roots.h"
#include "util/result.h"

namespace edleak::scan {

class FrozenProcess {
 public:
  using Clock = std::chrono::steady_clock;

  // Stops every thread of `pid`. `held`: threads the caller already holds in a ptrace-stop (the
  // traced command at its exit stop): their registers are read, they are neither seized nor
  // detached here. Fails, with every thread already stopped released, when a thread cannot be
  // seized or does not stop before `deadline`.
  static Result<std::unique_ptr<FrozenProcess>> freeze(pid_t pid, const std::vector<pid_t>& held,
                                                       std::optional<Clock::time_point> deadline);
  ~FrozenProcess();
  FrozenProcess(const FrozenProcess&) = delete;
  FrozenProcess& operator=(const FrozenProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::vector<ThreadRegisters>& threads() const { return registers_; }
  // When the last thread stopped.
  Clock::time_point frozen_at() const { return frozen_at_; }

 private:
  struct Thread {
    pid_t tid = 0;
    bool ours = true;      // seized here (else held by the caller)
    bool stopped = false;  // in a ptrace-stop: can be read and detached
    bool gone = false;     // exited meanwhile
    int signal = 0;        // stopped at a signal's delivery: deliver it on detach
  };
  explicit FrozenProcess(pid_t pid) : pid_(pid) {}
  Result<void> seize_new_threads(bool& found_new);
  Result<void> wait_for_stops(std::optional<Clock::time_point> deadline);
  Result<void> read_registers();
  void release();

  pid_t pid_;
  std::vector<Thread> threads_;
  std::vector<ThreadRegisters> registers_;
  Clock::time_point frozen_at_{};
};

// Threads that had not stopped yet when their FrozenProcess went away cannot be detached before
// they stop (ptrace's rule): they are kept here and released by this call, which the tracer makes
// before each on-demand scan (and the kernel at the tracer's exit). Returns how many still wait.
std::size_t release_lingering_threads();

}  // namespace edleak::scan
