#!/bin/sh
# Regenerates the seed inputs of unwind_table_fuzz (small ELF files with CFI of every kind) in
# tests/fuzz/corpus/unwind_table. Inputs the fuzzer found (crash-*, slow-*) stay there as
# regression tests; this only rewrites the seed-* files.
set -eu
out=$(cd "$(dirname "$0")" && pwd)/corpus/unwind_table
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
# Small files: no build ID, no separate code pages.
link="-Wl,--build-id=none -Wl,-z,noseparate-code -Wl,-z,max-page-size=0x1000"

# Every rule the table builder knows, hand-written.
cat > "$tmp/rules.s" <<'ASM'
  .text
  .globl f_rsp, f_fp, f_end, f_drap, f_big, f_deref, f_ra, f_rbp, f_plt, f_signal
f_rsp:
  .cfi_startproc
  push %rbx
  .cfi_def_cfa_offset 16
  .cfi_offset %rbx, -16
  pop %rbx
  .cfi_def_cfa_offset 8
  ret
  .cfi_endproc
f_fp:
  .cfi_startproc
  push %rbp
  .cfi_def_cfa_offset 16
  .cfi_offset %rbp, -16
  mov %rsp, %rbp
  .cfi_def_cfa_register %rbp
  .cfi_remember_state
  leave
  .cfi_def_cfa %rsp, 8
  ret
  .cfi_restore_state
  ret
  .cfi_endproc
  nop
f_end:
  .cfi_startproc
  .cfi_undefined %rip
  hlt
  .cfi_endproc
f_drap:
  .cfi_startproc
  lea 8(%rsp), %r10
  .cfi_def_cfa %r10, 0
  and $-32, %rsp
  push -8(%r10)
  push %rbp
  mov %rsp, %rbp
  .cfi_escape 0x10, 0x06, 0x02, 0x76, 0x00
  .cfi_escape 0x0f, 0x03, 0x76, 0x78, 0x06
  leave
  ret
  .cfi_endproc
f_big:
  .cfi_startproc
  sub $70000, %rsp
  .cfi_def_cfa_offset 70008
  add $70000, %rsp
  .cfi_def_cfa_offset 8
  ret
  .cfi_endproc
f_ra:
  .cfi_startproc
  nop
  .cfi_register %rip, %rdx
  .cfi_val_offset %rbp, -16
  ret
  .cfi_endproc
f_rbp:
  .cfi_startproc
  nop
  .cfi_offset %rbp, -2048
  nop
  .cfi_register %rbp, %r9
  nop
  .cfi_undefined %rbp
  nop
  .cfi_same_value %rbp
  ret
  .cfi_endproc
f_plt:
  .cfi_startproc
  .cfi_def_cfa_offset 16
  .skip 6, 0x90
  .cfi_def_cfa_offset 24
  .skip 10, 0x90
  .cfi_escape 0x0f, 0x0b, 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22
  .skip 16, 0x90
  .cfi_escape 0x0f, 0x0b, 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3a, 0x2a, 0x33, 0x24, 0x22
  .skip 16, 0x90
  .cfi_endproc
f_signal:
  .cfi_startproc simple
  .cfi_signal_frame
  .cfi_def_cfa %rsp, 160
  mov $15, %rax
  syscall
  .cfi_endproc
ASM
gcc -shared -nostdlib $link -o "$tmp/seed-rules.so" "$tmp/rules.s"

# CFI in .debug_frame only, and in both sections.
sed 's/^  .text/  .cfi_sections .debug_frame\n  .text/' "$tmp/rules.s" > "$tmp/debug.s"
gcc -shared -nostdlib $link -o "$tmp/seed-debug-frame.so" "$tmp/debug.s"
sed 's/^  .text/  .cfi_sections .eh_frame, .debug_frame\n  .text/' "$tmp/rules.s" > "$tmp/both.s"
gcc -shared -nostdlib $link -o "$tmp/seed-both-frames.so" "$tmp/both.s"

# gcc's own CFI: a program (_start, PLT), frame pointers, C++ with exceptions ("zPLR" CIEs).
cat > "$tmp/prog.c" <<'C'
#include <stdlib.h>
__attribute__((noinline)) int leaf(int x) { return x * 3; }
__attribute__((noinline)) void* work(int n) {
  char* volatile p = malloc(n);
  for (int i = 0; i < n; ++i) p[i] = (char)leaf(i);
  return p;
}
int main(int argc, char** argv) { (void)argv; free(work(argc * 100)); return 0; }
C
gcc -Os $link -s -o "$tmp/seed-prog" "$tmp/prog.c"
gcc -O2 -fno-omit-frame-pointer -shared -fPIC $link -s -o "$tmp/seed-fp.so" "$tmp/prog.c"
cat > "$tmp/eh.cpp" <<'CXX'
#include <stdexcept>
#include <string>
__attribute__((noinline)) int thrower(int x) {
  if (x > 3) throw std::runtime_error("x");
  return x;
}
int catcher(int x) {
  try { return thrower(x); } catch (const std::exception& e) { return -1; }
}
CXX
g++ -O2 -shared -fPIC $link -s -o "$tmp/seed-eh.so" "$tmp/eh.cpp"

cp "$tmp"/seed-* "$out"/
ls -l "$out"
