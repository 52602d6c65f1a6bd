#include "lifecycle/command_tree.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

#include "util/log.h"

namespace edleak::lifecycle {
namespace {

class SystemTraceeOps final : public TraceeOps {
 public:
  pid_t wait_any(int& status) override { return waitpid(-1, &status, WNOHANG | __WALL); }
  void resume(pid_t pid, int signal) override {
    ptrace(PTRACE_CONT, pid, nullptr, reinterpret_cast<void*>(static_cast<long>(signal)));
  }
  void listen(pid_t pid) override { ptrace(PTRACE_LISTEN, pid, nullptr, nullptr); }
};

}  // namespace

std::unique_ptr<TraceeOps> system_tracee_ops() { return std::make_unique<SystemTraceeOps>(); }

Result<CommandTree> CommandTree::spawn(const std::vector<std::string>& argv, bool follow) {
  if (argv.empty()) return make_error("no command to run");
  int go[2], exec_error[2];
  if (pipe2(go, O_CLOEXEC) != 0 || pipe2(exec_error, O_CLOEXEC) != 0)
    return make_error("cannot start '{}': {}", argv[0], std::strerror(errno));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) return make_error("cannot start '{}': {}", argv[0], std::strerror(errno));
  if (pid == 0) {
    // Child: wait for the probes, restore the signal mask the tracer changed, exec.
    close(go[1]);
    close(exec_error[0]);
    char byte = 0;  // stays 0 when the tracer died before releasing us: do not exec then
    while (read(go[0], &byte, 1) < 0 && errno == EINTR) {
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (byte == 'g') execvp(args[0], args.data());
    int err = errno;
    (void)!write(exec_error[1], &err, sizeof err);
    _exit(127);
  }
  close(go[0]);
  close(exec_error[1]);
  // Traced, not stopped: see the header. Without ptrace (say, under a debugger) it still runs;
  // only its last stacks may stay unresolved and its children untraced.
  long options = PTRACE_O_TRACEEXIT;
  if (follow) options |= PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK;
  const bool seized = ptrace(PTRACE_SEIZE, pid, nullptr, reinterpret_cast<void*>(options)) == 0;
  if (!seized) log::warn("cannot be the tracer of '{}': {}; its last stacks may stay unresolved", argv[0], std::strerror(errno));
  CommandTree tree(pid, go[1], exec_error[0], system_tracee_ops());
  tree.program_ = argv[0];
  tree.seized_ = seized;
  tree.alive_.insert(pid);
  return tree;
}

CommandTree::CommandTree(pid_t pid, bool seized, std::unique_ptr<TraceeOps> ops)
    : pid_(pid), seized_(seized), ops_(std::move(ops)) {
  alive_.insert(pid);
}

CommandTree::CommandTree(CommandTree&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      go_fd_(std::exchange(other.go_fd_, -1)),
      exec_error_fd_(std::exchange(other.exec_error_fd_, -1)),
      program_(std::move(other.program_)),
      seized_(other.seized_),
      ops_(std::move(other.ops_)),
      alive_(std::move(other.alive_)),
      exit_code_(other.exit_code_) {}

CommandTree::~CommandTree() {
  if (go_fd_ >= 0) {
    // Never released: let the child go away without running the command.
    (void)!write(go_fd_, "x", 1);
    close(go_fd_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  if (exec_error_fd_ >= 0) close(exec_error_fd_);
}

Result<void> CommandTree::release() {
  (void)!write(go_fd_, "g", 1);
  close(go_fd_);
  go_fd_ = -1;
  int err = 0;
  ssize_t n;
  while ((n = read(exec_error_fd_, &err, sizeof err)) < 0 && errno == EINTR) {
  }
  close(exec_error_fd_);
  exec_error_fd_ = -1;
  if (n == static_cast<ssize_t>(sizeof err)) {
    waitpid(pid_, nullptr, 0);
    alive_.erase(pid_);
    pid_ = -1;
    return make_error("cannot run '{}': {}", program_, std::strerror(err));
  }
  return {};
}

std::vector<TreeEvent> CommandTree::reap() {
  std::vector<TreeEvent> out;
  int status = 0;
  for (pid_t pid; (pid = ops_->wait_any(status)) > 0;) on_status(pid, status, out);
  return out;
}

void CommandTree::on_status(pid_t pid, int status, std::vector<TreeEvent>& out) {
  if (WIFEXITED(status) || WIFSIGNALED(status)) {
    alive_.erase(pid);
    if (pid == pid_) exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    out.push_back({TreeEvent::Kind::exited, pid, status});
    return;
  }
  if (!WIFSTOPPED(status)) return;
  // A process first seen here is a new child, auto-attached and stopped before its first
  // instruction (PTRACE_EVENT_STOP, or SIGSTOP on kernels that report it so).
  if (alive_.insert(pid).second) {
    out.push_back({TreeEvent::Kind::new_child, pid, 0});
    return;
  }
  switch (status >> 16) {
    case PTRACE_EVENT_EXIT:
      out.push_back({TreeEvent::Kind::exit_stop, pid, 0});
      return;
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
      ops_->resume(pid, 0);  // the parent, after fork: the child reports on its own
      return;
    case PTRACE_EVENT_STOP:
      ops_->listen(pid);  // a group stop (SIGSTOP sent to it): stay stopped, as untraced
      return;
    default:
      break;
  }
  out.push_back({TreeEvent::Kind::signal_stop, pid, WSTOPSIG(status)});
}

void CommandTree::resume(pid_t pid, int signal) { ops_->resume(pid, signal); }

}  // namespace edleak::lifecycle
