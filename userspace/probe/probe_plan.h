#pragma once
// Where to put the probes in an allocator library: symbols resolved to file offsets from the ELF,
// one probe per address (aliases share one), each moved to the first instruction the kernel
// emulates when the prologue allows (see prologue.h).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace edleak::probe {

// What the BPF side does at a probe; each value maps to one entry program (capture/).
enum class Handler {
  malloc,          // size in arg0 (malloc, valloc, operator new, new[], nothrow new, aligned new)
  calloc,          // arg0 * arg1
  memalign,        // size in arg1 (memalign, aligned_alloc)
  pvalloc,         // arg0 rounded up to a page
  posix_memalign,  // *arg0 receives the block, size in arg2, returns 0 on success
  realloc,         // arg0 old block, arg1 new size
  reallocarray,    // arg0 old block, arg1 * arg2
  free,            // arg0 (free, cfree, operator delete when it does not just jump to free)
  // Allocators other than glibc (allocator.h) release blocks without their public free: their
  // realloc(p, 0) frees p internally, and where a realloc does call its own free (mimalloc's
  // mi_realloc -> mi_free), that free is nested in the realloc and the realloc accounts for it.
  realloc_owned,   // arg0 old block, arg1 new size; the old block leaves at entry, whatever the size
  free_outer,      // arg0, unless nested in an allocator call (sdallocx, dallocx, sized delete too)
  xallocx,         // jemalloc's in-place resize: arg0 block, arg1 size, arg2 extra; returns the new size
  // Probed where the arguments have moved one register on (mimalloc: mi_realloc(p, n) puts its
  // heap in rdi and jumps to mi_heap_realloc(heap, p, n)); malloc's is memalign (size in arg1).
  heap_realloc_owned,  // arg1 old block, arg2 new size (realloc_owned's semantics)
  heap_calloc,         // arg1 * arg2
  expand,              // mimalloc mi_expand: arg0 block resized in place to arg1 when it returns arg0
  heap_string,         // mi_heap_strdup/strndup(heap, s, ...): sized at return by the string copied
  heap_realpath,       // mi_heap_realpath(heap, name, resolved): heap_string's, a block only when arg2 is NULL
};
std::string_view to_string(Handler h);

// Which argument registers (System V: rdi, rsi, rdx, rcx) a handler reads at its probe.
unsigned handler_arg_count(Handler h);
// Whether the handler needs the return value (a uretprobe) as well as the entry.
bool handler_needs_return(Handler h);
// Whether the handler releases a block at entry (free, free_outer): attached before the others.
bool is_free_handler(Handler h);

// What a file is to the probes: glibc, libstdc++ (operator new), or another allocator that
// replaces malloc and free (in its own library, or linked into the executable).
enum class LibraryKind { libc, libstdcxx, jemalloc, tcmalloc, mimalloc };
std::string_view to_string(LibraryKind kind);

struct ProbeSite {
  std::string symbol;                 // the name the probe is attached under (first in the table)
  std::vector<std::string> aliases;   // other names at the same address
  Handler handler;
  std::uint64_t function_offset = 0;  // file offset of the function's first byte
  std::uint64_t probe_offset = 0;     // file offset where the probe goes (>= function_offset)
  bool emulated = false;              // the instruction at probe_offset is one the kernel emulates
  std::string placement;              // why here, for -v: "push %r12 at +0", "after NULL test: +9", ...
};

// A function left without a probe, and why (a pure tail jump to another probed function, or an
// optional symbol the library does not have).
struct SkippedSymbol {
  std::string symbol;
  std::string reason;
};

struct ProbePlan {
  std::string library_path;
  LibraryKind kind;
  std::vector<ProbeSite> sites;
  std::vector<SkippedSymbol> skipped;
};

// Reads the library at `path` (as this process can open it, e.g. /proc/PID/root/usr/lib/...).
// Fails when a required symbol (malloc, free, ... for libc) is missing, or the file is not an
// x86-64 ELF executable or shared object. `symbol_prefix` ("je_" for a jemalloc built with
// --with-jemalloc-prefix) is put before every name of the allocator's table.
Result<ProbePlan> plan_probes(const std::string& path, LibraryKind kind, std::string_view symbol_prefix = {});

}  // namespace edleak::probe
