#pragma once
// Which allocator a process really uses: the first definition of `malloc` in its symbol lookup
// order (the executable, LD_PRELOAD, then the libraries breadth-first by DT_NEEDED, as ld.so
// builds its global scope), and what that definition is (glibc, jemalloc, tcmalloc, mimalloc,
// in a library of its own or linked into the executable). Builds of jemalloc with a `je_`
// prefix do not replace malloc; a program calls je_malloc itself, so they are found as well.
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "probe/probe_plan.h"
#include "util/result.h"

namespace edleak::probe {

enum class AllocatorKind { glibc, jemalloc, tcmalloc, mimalloc, unknown };
std::string_view to_string(AllocatorKind kind);
// The probe table for an allocator; nullopt for one we cannot trace.
std::optional<LibraryKind> library_kind(AllocatorKind kind);

struct Allocator {
  AllocatorKind kind = AllocatorKind::unknown;
  std::string path;            // the file defining it, as the process names it
  std::string host_path;       // the same file as this process reaches it (/proc/PID/root/...)
  bool in_executable = false;  // linked into the executable
  std::string symbol_prefix;   // "je_" for a prefixed jemalloc; "" otherwise
  bool replaces_malloc = true; // the process's malloc (else only called by its prefixed names)

  bool traced() const { return library_kind(kind).has_value(); }
  // "jemalloc (/usr/lib/x86_64-linux-gnu/libjemalloc.so.2)", "jemalloc (linked into the
  // executable)", "jemalloc, je_ prefix (linked into the executable)".
  std::string describe() const;
};

// One file of the lookup order and the functions it defines where the dynamic linker looks:
// .dynsym for a library; .dynsym and .symtab for the executable (a static link).
struct ModuleFunctions {
  std::string path;
  std::string host_path;
  bool executable = false;
  std::function<bool(std::string_view)> defines;
};

// What allocator a module that defines malloc (or je_malloc) is, from its symbols and file name.
// Returns unknown, with the path, for anything else (libasan, a private allocator).
Allocator identify_allocator(const ModuleFunctions& module);

// The allocators of a process, from its modules in lookup order: first the one whose malloc the
// process calls (the first module defining malloc), then every prefixed jemalloc. Empty when no
// module defines malloc (not a C program we can read).
std::vector<Allocator> find_allocators(const std::vector<ModuleFunctions>& lookup_order);

// The dynamic linker's global scope order: `roots` (the executable, then LD_PRELOAD entries),
// then breadth-first the DT_NEEDED entries of each, resolved by `resolve(name, from)` (nullopt:
// not found, skipped) and read by `needed_of(path)`. Each path appears once.
std::vector<std::string> symbol_lookup_order(
    const std::vector<std::string>& roots,
    const std::function<std::vector<std::string>(const std::string& path)>& needed_of,
    const std::function<std::optional<std::string>(const std::string& name, const std::string& from)>& resolve);

// The allocators of running process `pid` (its executable, environ's LD_PRELOAD, its mapped
// libraries). Fails when the process is gone or its executable cannot be read.
Result<std::vector<Allocator>> discover_process_allocators(pid_t pid);

// For all-process mode, where a file's probes serve every process: the allocators running
// processes map, whichever one each process's malloc binds to (an allocator file no process
// calls costs nothing). Libraries are recognized by their file name (libjemalloc*, libtcmalloc*,
// libmimalloc*: ld.so's lookup order per process would read every file of every process at
// start-up), executables by their own symbols (an allocator linked in). Each file is read once,
// by identity (device, inode): most processes share theirs.
// The function every edleak-bpf executable defines (userspace/main.cpp): a file defining it is a
// tracer, whose allocator other tracers leave alone.
inline constexpr std::string_view kTracerMarker = "edleak_bpf_tracer_marker";
// Whether `path` is an edleak-bpf executable (false when it cannot be read).
bool is_tracer_executable(const std::string& path);

class MappedAllocators {
 public:
  // The allocators in the files process `pid` maps that no earlier call returned (glibc and
  // unknown ones included: the caller decides what it probes). Fails when the process is gone.
  Result<std::vector<Allocator>> new_in_process(pid_t pid);

 private:
  std::set<std::pair<std::uint64_t, std::uint64_t>> seen_;
};

// The allocators a command about to exec `program` (found through PATH like execvp) will use,
// with this process's environment (LD_PRELOAD, LD_LIBRARY_PATH), which it inherits.
Result<std::vector<Allocator>> discover_command_allocators(const std::string& program);

}  // namespace edleak::probe
