#pragma once
// The memory mappings of a process, from /proc/PID/maps, and the files behind them.
//
// The capture uses find_library() to attach probes to the libc/libstdc++ a process really maps
// (a container may ship its own), and process_root_path() to reach that file from the host.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace edleak::symbolize {

// One line of /proc/PID/maps: "start-end perms offset major:minor inode   path".
struct Mapping {
  std::uint64_t start = 0;  // first address
  std::uint64_t end = 0;    // one past the last address
  bool readable = false;
  bool writable = false;
  bool executable = false;
  bool shared = false;            // 's' (MAP_SHARED) rather than 'p' (private)
  std::uint64_t file_offset = 0;  // offset in the file of `start`
  std::uint32_t dev_major = 0;
  std::uint32_t dev_minor = 0;
  std::uint64_t inode = 0;  // 0 for anonymous and special mappings
  // As the process sees it (relative to its root): "/usr/lib/x86_64-linux-gnu/libc.so.6",
  // a special "[heap]", "[stack]", "[vdso]"..., or empty for anonymous memory.
  // A " (deleted)" suffix is removed and reported in `deleted`.
  std::string path;
  bool deleted = false;  // the file was unlinked or replaced after it was mapped

  bool contains(std::uint64_t addr) const { return addr >= start && addr < end; }
  // Backed by a file (not anonymous memory, not [heap]/[stack]/[vdso]...).
  bool is_file() const { return !path.empty() && path.front() == '/'; }
};

// Parses the text of /proc/PID/maps. Every line must be well formed and the mappings sorted
// and disjoint, as the kernel writes them; otherwise the error names the offending line.
Result<std::vector<Mapping>> parse_proc_maps(std::string_view text);

// Reads and parses /proc/PID/maps.
Result<std::vector<Mapping>> read_proc_maps(pid_t pid);

// The mapping containing addr in mappings sorted by address (as parse_proc_maps returns them),
// or nullptr.
const Mapping* find_mapping(std::span<const Mapping> mappings, std::uint64_t addr);

// Whether the file name `basename` is the library named by `name`: it is `name`, or starts with
// `name` followed by a version or suffix boundary, "." or "-<digit>" (unless `name` already
// ends with '.' or '-'). "libc" matches "libc.so.6" and "libc-2.31.so" but not "libcap.so.2",
// "libcrypt.so.1" or "libc++.so.1"; "libstdc++" matches "libstdc++.so.6".
bool is_library_named(std::string_view basename, std::string_view name);

// The first file mapping whose file name is the library `name` (see is_library_named), or
// nullptr. Pure: the capture and the tests pass parsed mappings.
const Mapping* find_library_mapping(std::span<const Mapping> mappings, std::string_view name);

// The path, as process `pid` sees it, of the library `name` it maps (e.g. "libc" gives
// "/usr/lib/x86_64-linux-gnu/libc.so.6"). Fails when the process is gone, maps no such library,
// or the mapped file was deleted since (a probe on its path would land in a different file).
Result<std::string> find_library(pid_t pid, std::string_view name);

// The host-visible path of `path` as process `pid` sees it: "/proc/PID/root" + path. Works for
// processes in other mount namespaces (containers) while the process is alive.
std::string process_root_path(pid_t pid, std::string_view path);

}  // namespace edleak::symbolize
