#pragma once
// Where in a function's first instructions a uprobe is cheapest and still correct.
//
// The x86 kernel emulates a probed `push reg`, `call rel`, `jmp rel`, `jcc rel` and NOPs
// (~850 ns a hit here); it single-steps everything else (~11 µs: a debug trap). So the probe
// moves from +0 to the first emulated instruction that every relevant call reaches with the
// handler's argument registers and rsp still as they were at entry (a uretprobe hijacks the
// return address at *rsp, so nothing may have been pushed or subtracted yet).
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "util/result.h"

namespace edleak::probe {

struct PrologueQuery {
  std::span<const std::uint8_t> code;  // the function's first bytes (no more than the function)
  std::uint64_t address = 0;           // virtual address of code[0], for branch targets in messages
  unsigned argument_registers = 0;     // the handler reads the first N of rdi, rsi, rdx, rcx
  // The handler ignores NULL in rdi (free): the walk may go past `test %rdi,%rdi; je <forward>`
  // on the fall-through (non-NULL) path.
  bool skip_null_test = false;
  // How far the walk may go. glibc's entries need no more than 8 instructions / 32 bytes;
  // jemalloc's free computes its tcache slot for 10 instructions (48 bytes) before the first
  // branch, so its tables ask for more (see probe_plan.cpp).
  unsigned max_instructions = 8;
  unsigned max_bytes = 32;
  // The handler also has a variant that reads its arguments one register later (rsi, rdx, ...:
  // mimalloc's mi_malloc(size) moves size to rsi and its heap to rdi before its first branch, as
  // its mi_heap_malloc(heap, size) takes them). The walk then follows register-to-register moves
  // and may stop where every argument sits one register later (ProbePoint::arg_shift = 1).
  bool allow_shift = false;
};

// The function's entry path ends in an unconditional direct `jmp` before anything touches the
// stack: the target runs with the caller's return address still at *rsp.
struct TailJump {
  std::uint64_t jump_offset = 0;  // of the jmp, from the function's start
  std::uint64_t target = 0;       // virtual address the jmp goes to
  // Nothing but endbr64/NOPs before the jmp: the function is only a jump (operator new[] -> new).
  // Otherwise it computes arguments first (reallocarray: rsi = rsi * rdx, then jmp realloc).
  bool pure = false;
};

struct ProbePoint {
  std::uint64_t offset = 0;      // from the function's start
  bool emulated = false;         // the instruction there is one the kernel emulates
  std::string placement;         // why here: "push %r12 at +0", "after the NULL test: push %rbp at +9"
  unsigned arg_shift = 0;        // 1: argument i is in argument register i + 1 here (allow_shift)
  std::optional<TailJump> tail_jump;
};

// Walks at most query.max_instructions / max_bytes from +0. Fails only when the instruction at +0 cannot
// be decoded (a uprobe cannot go there either); otherwise falls back to +0 and says why.
Result<ProbePoint> choose_probe_point(const PrologueQuery& query);

// The GOT slot a PLT stub jumps through: `[endbr64;] [bnd] jmp *slot(%rip)` at `address`
// (.plt, .plt.sec and .plt.got entries). nullopt when `code` is not such a stub.
std::optional<std::uint64_t> plt_stub_slot(std::span<const std::uint8_t> code, std::uint64_t address);

}  // namespace edleak::probe
