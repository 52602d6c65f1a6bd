#pragma once
// The processes a run traces and the allocator libraries their probes go into.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <sys/types.h>
#include <vector>

#include "probe/allocator.h"
#include "util/result.h"

namespace edleak::app {

// A library file to probe, as this process reaches it, and for which process (-1: all).
struct ProbeTarget {
  pid_t pid = -1;
  std::string host_path;  // e.g. /proc/123/root/usr/lib/x86_64-linux-gnu/libc.so.6
  bool is_libc = true;    // libc, or libstdc++
  // Another allocator (probe/allocator.h): its own table instead of libc's or libstdc++'s.
  std::optional<probe::LibraryKind> allocator;
  std::string symbol_prefix;  // "je_" for a prefixed jemalloc
};

// The files to probe for the allocators of `pid` beside its libc and libstdc++ (jemalloc,
// tcmalloc, mimalloc, in a library or linked into the executable).
std::vector<ProbeTarget> allocator_targets(pid_t pid, const std::vector<probe::Allocator>& allocators);

// A file's identity (device, inode), whatever path reaches it; {0, 0} when it cannot be read.
using FileId = std::pair<dev_t, ino_t>;
FileId file_id(const std::string& path);

bool process_exists(pid_t pid);
std::string process_comm(pid_t pid);  // "" when gone

// libc and (when mapped) libstdc++ of a running process. Fails when the process does not
// exist or maps no libc.
Result<std::vector<ProbeTarget>> libraries_of_process(pid_t pid, const std::string& libc_override);

// The libraries a command we are about to exec will load: --libc if given, else the first
// libc.so.6 / libstdc++.so.6 found in LD_LIBRARY_PATH, else the ones this process maps.
Result<std::vector<ProbeTarget>> libraries_for_command(pid_t child, const std::string& libc_override);

// For all-process mode: the system libc and libstdc++ and any other copy that a running
// process maps (deduplicated by file), each for every process.
Result<std::vector<ProbeTarget>> libraries_of_all_processes(const std::string& libc_override);

// A started command, held before exec until release() so probes are in place before it runs
// a single instruction of its own.
class HeldCommand {
 public:
  static Result<HeldCommand> spawn(const std::vector<std::string>& argv);
  HeldCommand(HeldCommand&& other) noexcept;
  HeldCommand& operator=(HeldCommand&&) = delete;
  ~HeldCommand();

  pid_t pid() const { return pid_; }
  // Whether this process is its ptrace tracer (it sees the command's stops and exit stop).
  bool seized() const { return seized_; }
  // Lets the child exec; fails (and reaps it) when exec failed.
  Result<void> release();

 private:
  HeldCommand(pid_t pid, int go_fd, int exec_error_fd) : pid_(pid), go_fd_(go_fd), exec_error_fd_(exec_error_fd) {}
  pid_t pid_ = -1;
  int go_fd_ = -1;          // parent writes here to let the child exec
  int exec_error_fd_ = -1;  // child writes errno here if exec fails (close-on-exec otherwise)
  std::string program_;
  bool seized_ = false;
};

}  // namespace edleak::app
