#include "app/targets.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <set>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

#include "symbolize/proc_maps.h"
#include "util/log.h"

namespace edleak::app {
namespace {

constexpr std::string_view kLibc = "libc";
constexpr std::string_view kLibstdcxx = "libstdc++";

Result<std::string> checked_file(const std::string& path, std::string_view what) {
  if (access(path.c_str(), R_OK) != 0)
    return make_error("cannot use {} '{}': {}", what, path, std::strerror(errno));
  return path;
}

// The first LD_LIBRARY_PATH directory holding `file`, as the dynamic loader would search it.
std::string find_in_library_path(std::string_view file) {
  const char* env = std::getenv("LD_LIBRARY_PATH");
  if (!env) return {};
  std::string_view dirs(env);
  while (!dirs.empty()) {
    auto colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + std::string(file);
    if (access(candidate.c_str(), R_OK) == 0) return candidate;
  }
  return {};
}

}  // namespace

FileId file_id(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return {0, 0};
  return {st.st_dev, st.st_ino};
}

bool process_exists(pid_t pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) return false;
  // A zombie has exited: its parent just has not reaped it yet.
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto close_paren = line.rfind(')');  // comm may hold spaces and parentheses
  if (close_paren == std::string::npos || close_paren + 2 >= line.size()) return false;
  char state = line[close_paren + 2];
  return state != 'Z' && state != 'X';
}

std::string process_comm(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/comm", pid));
  std::string comm;
  std::getline(in, comm);
  return comm;
}

std::vector<ProbeTarget> allocator_targets(pid_t pid, const std::vector<probe::Allocator>& allocators) {
  std::vector<ProbeTarget> out;
  for (const auto& allocator : allocators) {
    auto kind = probe::library_kind(allocator.kind);
    // glibc is probed as libc already (libraries_of_process); unknown ones cannot be.
    if (!kind || *kind == probe::LibraryKind::libc) continue;
    ProbeTarget target{pid, allocator.host_path, false, kind, allocator.symbol_prefix};
    out.push_back(std::move(target));
  }
  return out;
}

Result<std::vector<ProbeTarget>> libraries_of_process(pid_t pid, const std::string& libc_override) {
  if (!process_exists(pid)) return make_error("no process with pid {}", pid);
  std::vector<ProbeTarget> out;
  if (!libc_override.empty()) {
    auto libc = checked_file(libc_override, "--libc");
    if (!libc) return libc.error();
    out.push_back({pid, *libc, true});
  } else {
    auto libc = symbolize::find_library(pid, kLibc);
    if (!libc) {
      if (!process_exists(pid)) return make_error("no process with pid {}", pid);
      return make_error("pid {} ({}) maps no libc: {} (a static or non-glibc program cannot be traced)",
                        pid, process_comm(pid), libc.error().message);
    }
    out.push_back({pid, symbolize::process_root_path(pid, *libc), true});
  }
  if (auto cxx = symbolize::find_library(pid, kLibstdcxx))
    out.push_back({pid, symbolize::process_root_path(pid, *cxx), false});
  return out;
}

Result<std::vector<ProbeTarget>> libraries_for_command(pid_t child, const std::string& libc_override) {
  std::vector<ProbeTarget> out;
  auto own = [](std::string_view name) -> std::string {
    auto path = symbolize::find_library(getpid(), name);
    return path ? *path : std::string();
  };
  std::string libc = libc_override;
  if (libc.empty()) libc = find_in_library_path("libc.so.6");
  if (libc.empty()) libc = own(kLibc);
  if (libc.empty()) return make_error("cannot find the libc the command will use; name it with --libc");
  auto checked = checked_file(libc, "libc");
  if (!checked) return checked.error();
  out.push_back({child, libc, true});

  std::string cxx = find_in_library_path("libstdc++.so.6");
  if (cxx.empty()) cxx = own(kLibstdcxx);
  if (!cxx.empty()) out.push_back({child, cxx, false});
  return out;
}

Result<std::vector<ProbeTarget>> libraries_of_all_processes(const std::string& libc_override) {
  std::vector<ProbeTarget> out;
  std::set<FileId> seen;
  auto add = [&](const std::string& path, bool is_libc) {
    auto id = file_id(path);
    if (id.second == 0 || !seen.insert(id).second) return;
    out.push_back({-1, path, is_libc});
  };
  if (!libc_override.empty()) {
    auto libc = checked_file(libc_override, "--libc");
    if (!libc) return libc.error();
    add(*libc, true);
    return out;
  }
  // Our own libc and libstdc++ first: the system's.
  if (auto libc = symbolize::find_library(getpid(), kLibc)) add(*libc, true);
  if (auto cxx = symbolize::find_library(getpid(), kLibstdcxx)) add(*cxx, false);
  // Then every other copy that a running process maps (containers, private copies).
  DIR* proc = opendir("/proc");
  if (!proc) return make_error("cannot read /proc: {}", std::strerror(errno));
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == getpid()) continue;
    if (auto libc = symbolize::find_library(pid, kLibc))
      add(symbolize::process_root_path(pid, *libc), true);
    if (auto cxx = symbolize::find_library(pid, kLibstdcxx))
      add(symbolize::process_root_path(pid, *cxx), false);
  }
  closedir(proc);
  if (out.empty()) return make_error("found no libc to trace");
  return out;
}

// ---- HeldCommand ---------------------------------------------------------------------------

Result<HeldCommand> HeldCommand::spawn(const std::vector<std::string>& argv) {
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
  // Traced (not stopped) so that its exit stops it while its memory map still exists: the
  // tracer then symbolizes the stacks it has not seen yet. Without ptrace (say, under a
  // debugger) it still runs; only those last stacks may stay unresolved.
  const bool seized = ptrace(PTRACE_SEIZE, pid, nullptr, PTRACE_O_TRACEEXIT) == 0;
  if (!seized) log::verbose("cannot follow '{}' to its exit: {}", argv[0], std::strerror(errno));
  HeldCommand held(pid, go[1], exec_error[0]);
  held.program_ = argv[0];
  held.seized_ = seized;
  return held;
}

HeldCommand::HeldCommand(HeldCommand&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      go_fd_(std::exchange(other.go_fd_, -1)),
      exec_error_fd_(std::exchange(other.exec_error_fd_, -1)),
      program_(std::move(other.program_)),
      seized_(other.seized_) {}

HeldCommand::~HeldCommand() {
  if (go_fd_ >= 0) {
    // Never released: let the child go away without running the command.
    (void)!write(go_fd_, "x", 1);
    close(go_fd_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  if (exec_error_fd_ >= 0) close(exec_error_fd_);
}

Result<void> HeldCommand::release() {
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
    pid_ = -1;
    return make_error("cannot run '{}': {}", program_, std::strerror(err));
  }
  return {};
}

}  // namespace edleak::app
