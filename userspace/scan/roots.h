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
#include <cstdint>
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

std::vector<RootRange> root_ranges(std::span<const symbolize::Mapping> mappings,
                                   std::span<const ThreadRegisters> threads);

Roots make_roots(std::span<const symbolize::Mapping> mappings, std::span<const ThreadRegisters> threads);

}  // namespace edleak::scan
