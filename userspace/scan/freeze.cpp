#include "scan/freeze.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <mutex>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <thread>

#include "util/log.h"

namespace edleak::scan {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Threads of a process, from /proc/PID/task.
Result<std::vector<pid_t>> list_threads(pid_t pid) {
  std::vector<pid_t> tids;
  std::string path = fmt::format("/proc/{}/task", pid);
  DIR* dir = opendir(path.c_str());
  if (!dir) {
    if (errno == ENOENT) return make_error("the process has exited");
    return make_error("cannot list its threads ({}): {}", path, errno_text(errno));
  }
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    long tid = std::strtol(entry->d_name, &end, 10);
    if (*end == '\0' && tid > 0) tids.push_back(static_cast<pid_t>(tid));
  }
  closedir(dir);
  std::sort(tids.begin(), tids.end());
  return tids;
}

// Threads seized but not stopped when their FrozenProcess was destroyed (see the header).
std::mutex lingering_mutex;
std::vector<pid_t> lingering;

// Waits (without blocking) for a seized thread's stop and detaches it; true when it is done
// with (detached or gone).
bool try_release(pid_t tid) {
  int status = 0;
  pid_t r = waitpid(tid, &status, __WALL | WNOHANG);
  if (r == 0) return false;
  if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status)) return true;
  int signal = (status >> 16) == 0 && WIFSTOPPED(status) ? WSTOPSIG(status) : 0;
  ptrace(PTRACE_DETACH, tid, nullptr, reinterpret_cast<void*>(static_cast<long>(signal)));
  return true;
}

}  // namespace

Result<std::unique_ptr<FrozenProcess>> FrozenProcess::freeze(pid_t pid, const std::vector<pid_t>& held,
                                                             std::optional<Clock::time_point> deadline) {
  std::unique_ptr<FrozenProcess> frozen(new FrozenProcess(pid));
  for (pid_t tid : held) frozen->threads_.push_back({tid, false, true, false, 0});
  // Seize what is listed, wait for the stops, list again: a thread created before its creator
  // stopped appears in the second listing. Stable once a listing finds nothing new.
  for (int round = 0;; ++round) {
    bool found_new = false;
    if (auto r = frozen->seize_new_threads(found_new); !r) return r.error();  // destructor releases
    if (auto r = frozen->wait_for_stops(deadline); !r) return r.error();
    if (!found_new) break;
    if (round > 1000) return make_error("its threads keep multiplying: gave up stopping them");
  }
  frozen->frozen_at_ = Clock::now();
  if (auto r = frozen->read_registers(); !r) return r.error();
  return frozen;
}

Result<void> FrozenProcess::seize_new_threads(bool& found_new) {
  auto tids = list_threads(pid_);
  if (!tids) return tids.error();
  for (pid_t tid : *tids) {
    if (std::any_of(threads_.begin(), threads_.end(), [&](const Thread& t) { return t.tid == tid; })) continue;
    found_new = true;
    if (ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) {
      if (errno == ESRCH) continue;  // exited since the listing
      int err = errno;
      if (err == EPERM)
        return make_error("cannot stop thread {}: {} (is it traced by a debugger already?)", tid, errno_text(err));
      return make_error("cannot stop thread {}: {}", tid, errno_text(err));
    }
    threads_.push_back({tid, true, false, false, 0});
    if (ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0 && errno != ESRCH)
      return make_error("cannot stop thread {}: PTRACE_INTERRUPT: {}", tid, errno_text(errno));
  }
  return {};
}

Result<void> FrozenProcess::wait_for_stops(std::optional<Clock::time_point> deadline) {
  // Even an unbounded scan does not wait forever for a thread stuck in the kernel (a dying one
  // in an uninterruptible sleep, say).
  constexpr auto kLongestStop = std::chrono::seconds(5);
  if (!deadline) deadline = Clock::now() + kLongestStop;
  auto pause = std::chrono::microseconds(20);
  while (true) {
    bool all = true;
    for (Thread& t : threads_) {
      if (t.stopped || t.gone) continue;
      int status = 0;
      pid_t r = waitpid(t.tid, &status, __WALL | WNOHANG);
      if (r == 0) {
        all = false;
        continue;
      }
      if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status)) {
        t.gone = true;  // exited: nothing to detach
        continue;
      }
      if (!WIFSTOPPED(status)) {
        all = false;
        continue;
      }
      t.stopped = true;
      // Our interrupt, or a group stop (PTRACE_EVENT_STOP): nothing to pass on. Otherwise a
      // signal was about to be delivered: it is delivered on detach.
      if ((status >> 16) == 0) t.signal = WSTOPSIG(status);
    }
    if (all) return {};
    if (Clock::now() >= *deadline) {
      for (const Thread& t : threads_)
        if (!t.stopped && !t.gone) return make_error("thread {} did not stop in time", t.tid);
      return {};
    }
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(1));
  }
}

Result<void> FrozenProcess::read_registers() {
  for (const Thread& t : threads_) {
    if (!t.stopped) continue;
    user_regs_struct regs{};
    if (ptrace(PTRACE_GETREGS, t.tid, nullptr, &regs) != 0) {
      if (errno == ESRCH) continue;  // killed meanwhile (a fatal signal ends even a stopped thread)
      return make_error("cannot read the registers of thread {}: {}", t.tid, errno_text(errno));
    }
    ThreadRegisters out;
    out.tid = t.tid;
    out.sp = regs.rsp;
    out.fs_base = regs.fs_base;
    out.general = {regs.rax, regs.rbx, regs.rcx, regs.rdx, regs.rsi, regs.rdi, regs.rbp, regs.rsp,
                   regs.r8,  regs.r9,  regs.r10, regs.r11, regs.r12, regs.r13, regs.r14, regs.r15};
    registers_.push_back(std::move(out));
  }
  return {};
}

void FrozenProcess::release() {
  for (Thread& t : threads_) {
    if (!t.ours || t.gone) continue;
    if (t.stopped) {
      if (ptrace(PTRACE_DETACH, t.tid, nullptr, reinterpret_cast<void*>(static_cast<long>(t.signal))) != 0 &&
          errno != ESRCH)
        log::warn("cannot release thread {} of pid {}: {}", t.tid, pid_, errno_text(errno));
      continue;
    }
    // Seized, interrupted, not stopped yet: it stops soon (then it can be detached), unless it is
    // in an uninterruptible sleep. Wait a little, then leave it to release_lingering_threads().
    bool done = false;
    for (int i = 0; i < 100 && !done; ++i) {
      done = try_release(t.tid);
      if (!done) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    if (!done) {
      std::lock_guard<std::mutex> lock(lingering_mutex);
      lingering.push_back(t.tid);
    }
  }
  threads_.clear();
}

FrozenProcess::~FrozenProcess() { release(); }

std::size_t release_lingering_threads() {
  std::lock_guard<std::mutex> lock(lingering_mutex);
  lingering.erase(std::remove_if(lingering.begin(), lingering.end(), try_release), lingering.end());
  return lingering.size();
}

}  // namespace edleak::scan
