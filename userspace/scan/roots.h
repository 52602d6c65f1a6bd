#pragma once
// The roots of a stopped process, from its mappings and its threads' registers. Pure: the live
// side reads /proc/PID/maps and the registers (freeze.h), tests pass them by hand.
//
// Every readable and writable private mapping is a root, scanned whole: module data and .bss
// (file-backed rw-p, and the anonymous mapping after it), [heap], anonymous memory (thread
// arenas, the main thread's TLS and DTV that ld.so allocated, blocks allocated before tracing,
// allocator metadata): memory the capture knows nothing about is scanned as roots and never
// reported (the known blocks inside it are skipped by the marking, see marking.h). Except:
//   - a thread's stack: from its stack pointer (less the x86-64 128-byte red zone) to the end of
//     the mapping holding it, which holds the static TLS and thread descriptor of a pthread too;
//   - the stack of an exited thread that glibc keeps for reuse (an anonymous rw mapping right
//     after a guard page, holding no thread's stack pointer nor thread pointer), and [stack] when
//     no thread runs on it: dead data, as valgrind sees it;
//   - devices (but /dev/zero) and shared mappings of regular files (databases, caches: reading
//     them could mean I/O; pointers to the heap do not live there); shared memory is scanned.
// Each thread's registers are roots too, and the mapping holding its thread pointer (fs_base: the
// static TLS of the main thread is in memory ld.so allocated) is kept even when it looks dead.
//
// glibc's dynamic thread vector (DTV, which points to each thread's dynamic TLS blocks) is a
// calloc'ed block that the thread descriptor points into (at its second 16-byte entry), never to
// its start: each descriptor's DTV pointer, less 16, is a root too, so that the DTV is reachable
// and not "possibly lost". An exited thread's descriptor stays in its cached stack and keeps its
// DTV until the stack is reused: that pointer alone is a root of a dead stack.
#include <cstdint>
#include <optional>
#include <utility>
#include <span>
#include <sys/types.h>
#include <vector>

#include "scan/marking.h"
#include "symbolize/proc_maps.h"

namespace edleak::scan {

struct ThreadRegisters {
  pid_t tid = 0;
  std::uint64_t sp = 0;
  std::uint64_t fs_base = 0;               // the thread pointer (TCB) on x86-64
  std::vector<std::uint64_t> general;      // rax..r15, every general-purpose register
};

inline constexpr std::uint64_t kRedZone = 128;

// glibc x86-64: a thread descriptor (the TCB, at fs_base) begins {tcb = itself, dtv, self = itself}.
// Given its first three words, the start of its DTV block (dtv - 16), if `descriptor` is one.
std::optional<std::uint64_t> dtv_block(std::uint64_t descriptor, std::span<const std::uint64_t> first_words);

// The descriptor at the top of an exited thread's cached stack: `words` read at `base` (the last
// few KiB of the mapping); 0 when there is none.
std::uint64_t find_thread_descriptor(std::uint64_t base, std::span<const std::uint64_t> words);

// The mappings that root_ranges() skips as exited threads' stacks, [start, end).
std::vector<std::pair<std::uint64_t, std::uint64_t>> exited_thread_stacks(std::span<const symbolize::Mapping> mappings,
                                                                          std::span<const ThreadRegisters> threads);

std::vector<RootRange> root_ranges(std::span<const symbolize::Mapping> mappings,
                                   std::span<const ThreadRegisters> threads);

// Registers and ranges; with `memory`, also the DTV blocks of the descriptors of live threads (at
// fs_base) and exited ones (found at the top of their cached stacks).
Roots make_roots(std::span<const symbolize::Mapping> mappings, std::span<const ThreadRegisters> threads,
                 MemoryReader* memory = nullptr);

}  // namespace edleak::scan
