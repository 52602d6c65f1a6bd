#include "app/targets.h"

#include <algorithm>
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
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

#include "lifecycle/proc_identity.h"
#include "symbolize/proc_maps.h"
#include "util/log.h"

namespace edleak::app {
namespace {

using lifecycle::process_comm;
using lifecycle::process_exists;

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

std::vector<ProbeTarget> allocator_targets(pid_t pid, const std::vector<probe::Allocator>& allocators) {
  std::vector<ProbeTarget> out;
  for (const auto& allocator : allocators) {
    auto kind = probe::library_kind(allocator.kind);
    // glibc is probed as libc already (libraries_of_process); unknown ones cannot be.
    if (!kind || *kind == probe::LibraryKind::libc) continue;
    out.push_back({.pid = pid, .host_path = allocator.host_path, .is_libc = false, .allocator = kind,
                   .symbol_prefix = allocator.symbol_prefix});
  }
  return out;
}

Result<std::vector<ProbeTarget>> libraries_of_process(pid_t pid, const std::string& libc_override) {
  if (!process_exists(pid)) return make_error("no process with pid {}", pid);
  std::vector<ProbeTarget> out;
  if (!libc_override.empty()) {
    auto libc = checked_file(libc_override, "--libc");
    if (!libc) return libc.error();
    out.push_back({.pid = pid, .host_path = *libc});
  } else {
    auto libc = symbolize::find_library(pid, kLibc);
    if (!libc) {
      if (!process_exists(pid)) return make_error("no process with pid {}", pid);
      return make_error("pid {} ({}) maps no libc: {} (a static or non-glibc program cannot be traced)",
                        pid, process_comm(pid), libc.error().message);
    }
    out.push_back({.pid = pid, .host_path = symbolize::process_root_path(pid, *libc)});
  }
  if (auto cxx = symbolize::find_library(pid, kLibstdcxx))
    out.push_back({.pid = pid, .host_path = symbolize::process_root_path(pid, *cxx), .is_libc = false});
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
  out.push_back({.pid = child, .host_path = libc});

  std::string cxx = find_in_library_path("libstdc++.so.6");
  if (cxx.empty()) cxx = own(kLibstdcxx);
  if (!cxx.empty()) out.push_back({.pid = child, .host_path = cxx, .is_libc = false});
  return out;
}

std::vector<ProbeTarget> new_allocator_targets(pid_t pid, probe::MappedAllocators& allocators,
                                               const std::string& libc_override) {
  if (!libc_override.empty()) {
    const FileId libc = file_id(libc_override);
    auto maps = symbolize::read_proc_maps(pid);
    if (!maps || std::none_of(maps->begin(), maps->end(), [&](const symbolize::Mapping& m) {
          return m.inode == libc.second && makedev(m.dev_major, m.dev_minor) == libc.first;
        }))
      return {};
  }
  auto found = allocators.new_in_process(pid);
  if (!found) {
    log::debug("{}", found.error().message);
    return {};
  }
  for (const auto& a : *found)
    if (!a.traced()) log::verbose("pid {} maps {}, which edleak-bpf cannot trace", pid, a.describe());
  return allocator_targets(-1, *found);
}

Result<std::vector<ProbeTarget>> libraries_of_all_processes(const std::string& libc_override,
                                                            probe::MappedAllocators& allocators) {
  std::vector<ProbeTarget> out;
  std::set<FileId> seen;
  auto add = [&](const std::string& path, bool is_libc) {
    auto id = file_id(path);
    if (id.second == 0 || !seen.insert(id).second) return;
    out.push_back({.pid = -1, .host_path = path, .is_libc = is_libc});
  };
  // --libc: that file is every process's libc, and no libstdc++ is probed.
  if (!libc_override.empty()) {
    auto libc = checked_file(libc_override, "--libc");
    if (!libc) return libc.error();
    add(*libc, true);
  } else {
    // Our own libc and libstdc++ first: the system's.
    if (auto libc = symbolize::find_library(getpid(), kLibc)) add(*libc, true);
    if (auto cxx = symbolize::find_library(getpid(), kLibstdcxx)) add(*cxx, false);
  }
  // Then every other copy that a running process maps (containers, private copies), and the
  // other allocators.
  DIR* proc = opendir("/proc");
  if (!proc) return make_error("cannot read /proc: {}", std::strerror(errno));
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == getpid()) continue;
    if (libc_override.empty()) {
      if (auto libc = symbolize::find_library(pid, kLibc)) add(symbolize::process_root_path(pid, *libc), true);
      if (auto cxx = symbolize::find_library(pid, kLibstdcxx)) add(symbolize::process_root_path(pid, *cxx), false);
    }
    for (auto& target : new_allocator_targets(static_cast<pid_t>(pid), allocators, libc_override))
      if (auto id = file_id(target.host_path); id.second != 0 && seen.insert(id).second) out.push_back(std::move(target));
  }
  closedir(proc);
  if (out.empty()) return make_error("found no libc to trace");
  return out;
}

}  // namespace edleak::app
