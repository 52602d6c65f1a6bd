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
  // (Initialized here, so that a target named with some fields leaves the others defaulted.)
  std::optional<probe::LibraryKind> allocator{};
  std::string symbol_prefix{};  // "je_" for a prefixed jemalloc
};

// The files to probe for the allocators of `pid` beside its libc and libstdc++ (jemalloc,
// tcmalloc, mimalloc, in a library or linked into the executable).
std::vector<ProbeTarget> allocator_targets(pid_t pid, const std::vector<probe::Allocator>& allocators);

// A file's identity (device, inode), whatever path reaches it; {0, 0} when it cannot be read.
using FileId = std::pair<dev_t, ino_t>;
FileId file_id(const std::string& path);


// libc and (when mapped) libstdc++ of a running process. Fails when the process does not
// exist or maps no libc.
Result<std::vector<ProbeTarget>> libraries_of_process(pid_t pid, const std::string& libc_override);

// The libraries a command we are about to exec will load: --libc if given, else the first
// libc.so.6 / libstdc++.so.6 found in LD_LIBRARY_PATH, else the ones this process maps.
Result<std::vector<ProbeTarget>> libraries_for_command(pid_t child, const std::string& libc_override);

// For all-process mode: the system libc and libstdc++ and any other copy that a running
// process maps (deduplicated by file; with --libc, that file alone), and every other allocator
// file they map (`allocators` remembers which files were looked at), each for every process.
Result<std::vector<ProbeTarget>> libraries_of_all_processes(const std::string& libc_override,
                                                            probe::MappedAllocators& allocators);

// All-process mode: the allocator files (jemalloc, tcmalloc, mimalloc, in a library or linked
// into the executable) that process `pid` maps and `allocators` has not seen, for every process.
// With --libc (`libc_override` not empty), only a process that maps that file is looked at: the
// run traces the processes using it (tests and soaks keep to their private copy that way).
std::vector<ProbeTarget> new_allocator_targets(pid_t pid, probe::MappedAllocators& allocators,
                                               const std::string& libc_override);

}  // namespace edleak::app
