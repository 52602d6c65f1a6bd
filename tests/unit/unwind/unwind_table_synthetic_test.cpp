// Tables of small ELF files built here with known CFI (assembly with .cfi directives, C built
// with and without frame pointers), and of broken ones: every kind of row, and no crash.
#include <dwarf.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "test_elf.h"
#include "unwind/unwind_table.h"

namespace edleak::unwind {
namespace {

using testing::find_symbol;
using testing::MemoryElf;
using testing::raw_section;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

// One function per kind of rule; each is NAME: ... NAME_end: so tests find its addresses.
// no_cfi has no FDE at all (a GAP between FDEs).
constexpr const char* kRulesAsm = R"(
  .text
  .macro FUNC name
  .globl \name
  .type \name, @function
  .p2align 4
\name:
  .endm

  FUNC rsp_rows            # CFA rsp+8, rsp+16 after the push, rbx saved: rbp untouched
  .cfi_startproc
  push %rbx
  .cfi_def_cfa_offset 16
  .cfi_offset %rbx, -16
  nop
  pop %rbx
  .cfi_def_cfa_offset 8
  ret
  .cfi_endproc

  FUNC fp_rows             # the frame-pointer prologue: rbp saved at CFA-16, CFA from rbp
  .cfi_startproc
  push %rbp
  .cfi_def_cfa_offset 16
  .cfi_offset %rbp, -16
  mov %rsp, %rbp
  .cfi_def_cfa_register %rbp
  nop
  nop
  pop %rbp
  .cfi_def_cfa %rsp, 8
  ret
  .cfi_endproc

  FUNC no_cfi
  nop
  ret

  FUNC end_rows            # like _start: the return address is undefined
  .cfi_startproc
  .cfi_undefined %rip
  xor %ebp, %ebp
  hlt
  .cfi_endproc

  FUNC other_register      # CFA from r10 (gcc's stack realignment): UNSUPPORTED
  .cfi_startproc
  nop
  .cfi_def_cfa %r10, 0
  nop
  .cfi_def_cfa %rsp, 8
  ret
  .cfi_endproc

  FUNC big_frame           # CFA offset beyond 16 bits: UNSUPPORTED
  .cfi_startproc
  sub $70000, %rsp
  .cfi_def_cfa_offset 70008
  add $70000, %rsp
  .cfi_def_cfa_offset 8
  ret
  .cfi_endproc

  FUNC deref_cfa           # CFA = *(rsp + 8): an expression that is not the PLT one
  .cfi_startproc
  nop
  .cfi_escape 0x0f, 0x03, 0x77, 0x08, 0x06
  nop
  ret
  .cfi_endproc

  FUNC ra_in_register      # return address in rdx: UNSUPPORTED
  .cfi_startproc
  nop
  .cfi_register %rip, %rdx
  nop
  ret
  .cfi_endproc

  FUNC rbp_rules           # rbp far from the CFA, in a register, undefined, back to same
  .cfi_startproc
  nop
  .cfi_offset %rbp, -2048
  nop
  .cfi_register %rbp, %r9
  nop
  .cfi_undefined %rbp
  nop
  .cfi_same_value %rbp
  nop
  .cfi_offset %rbp, -24
  ret
  .cfi_endproc

  FUNC plt_rows            # a PLT0 and two entries as GNU ld writes them (lit11), then lit10
  .cfi_startproc
  .cfi_def_cfa_offset 16
  .skip 6, 0x90
  .cfi_def_cfa_offset 24
  .skip 10, 0x90
  .cfi_escape 0x0f, 0x0b, 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22
  .skip 32, 0x90
  .cfi_escape 0x0f, 0x0b, 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3a, 0x2a, 0x33, 0x24, 0x22
  .skip 16, 0x90
  .cfi_endproc

  FUNC signal_rows         # a signal frame ('S' augmentation), like glibc's __restore_rt
  .cfi_startproc simple
  .cfi_signal_frame
  .cfi_def_cfa %rsp, 160
  mov $15, %rax
  syscall
  .cfi_endproc

  FUNC last
  .cfi_startproc
  ret
  .cfi_endproc
  FUNC last_end
  nop
)";

// Functions whose CFI is only in .debug_frame (as in files built -fno-asynchronous-unwind-tables
// -g): the table takes them from there.
constexpr const char* kDebugFrameAsm = R"(
  .cfi_sections .debug_frame
  .text
  .globl debug_only
  .type debug_only, @function
  .p2align 4
debug_only:
  .cfi_startproc
  push %rbx
  .cfi_def_cfa_offset 16
  .cfi_offset %rbx, -16
  pop %rbx
  .cfi_def_cfa_offset 8
  ret
  .cfi_endproc
  .globl debug_only_end
debug_only_end:
  nop
)";

// The same function described in both sections (-g with unwind tables): .eh_frame is used.
constexpr const char* kBothAsm = R"(
  .cfi_sections .eh_frame, .debug_frame
  .text
  .globl both
  .type both, @function
  .p2align 4
both:
  .cfi_startproc
  push %rbp
  .cfi_def_cfa_offset 16
  .cfi_offset %rbp, -16
  pop %rbp
  .cfi_def_cfa_offset 8
  ret
  .cfi_endproc
)";

constexpr const char* kFunctionsC = R"(
  #include <stdlib.h>
  __attribute__((noinline)) int leaf(int x) { return x * 3; }
  __attribute__((noinline)) void* work(int n) {
    char* volatile p = malloc(n);
    for (int i = 0; i < n; ++i) p[i] = (char)leaf(i);
    return p;
  }
  int main(int argc, char** argv) { (void)argv; free(work(argc * 100)); return 0; }
)";

class Fixtures : public ::testing::Test {
 protected:
  // A shared object from assembly sources, without the C runtime.
  std::string assemble(const std::string& name, const std::vector<std::string>& sources) {
    std::vector<std::string> paths;
    for (std::size_t i = 0; i < sources.size(); ++i) {
      paths.push_back(dir_.file(name + std::to_string(i) + ".s"));
      write_file(paths.back(), sources[i]);
    }
    const std::string out = dir_.file(name + ".so");
    return testing::gcc(paths, out, "-shared -nostdlib -Wl,--build-id=none") ? out : "";
  }
  std::string compile_c(const std::string& name, const std::string& flags) {
    const std::string src = dir_.file(name + ".c");
    write_file(src, kFunctionsC);
    const std::string out = dir_.file(name);
    return testing::gcc({src}, out, flags) ? out : "";
  }
  UnwindTable table_of(const std::string& path) {
    auto table = build_unwind_table(path);
    EXPECT_TRUE(table) << table.error().message;
    if (!table) return {};
    testing::expect_well_formed(*table);
    return std::move(*table);
  }
  std::uint32_t symbol(const std::string& path, const std::string& name) {
    auto sym = find_symbol(path, name);
    EXPECT_TRUE(sym) << name;
    return sym ? static_cast<std::uint32_t>(sym->value) : 0;
  }

  TempDir dir_;
};

bool non_empty_section(const std::string& path, const std::string& name) {
  auto s = raw_section(read_file(path), name);
  return s && s->size > 0;
}

edleak_unwind_row row_at(const UnwindTable& t, std::uint32_t pc) {
  const auto* row = find_row(t.rows, pc);
  return row ? *row : edleak_unwind_row{0, 0xffff, 0xff, 0};
}

// ---- the rules ------------------------------------------------------------------------------

TEST_F(Fixtures, RspRows) {
  const std::string so = assemble("rules", {kRulesAsm});
  ASSERT_FALSE(so.empty());
  const auto t = table_of(so);
  const auto f = symbol(so, "rsp_rows");
  EXPECT_TRUE(t.stats.eh_frame);
  EXPECT_FALSE(t.stats.debug_frame);
  EXPECT_TRUE(t.stats.skipped.empty());
  auto r = row_at(t, f);
  EXPECT_EQ(cfa_kind(r), EDLEAK_CFA_RSP);
  EXPECT_EQ(r.cfa_offset, 8);
  EXPECT_EQ(rbp_kind(r), EDLEAK_RBP_SAME);
  r = row_at(t, f + 1);  // after push %rbx
  EXPECT_EQ(r.pc, f + 1);
  EXPECT_EQ(cfa_kind(r), EDLEAK_CFA_RSP);
  EXPECT_EQ(r.cfa_offset, 16);
  EXPECT_EQ(row_at(t, f + 2).pc, f + 1);      // the nop: same rule, merged
  EXPECT_EQ(row_at(t, f + 3).cfa_offset, 8);  // after pop %rbx, the ret
}

TEST_F(Fixtures, FramePointerRows) {
  const std::string so = assemble("rules", {kRulesAsm});
  ASSERT_FALSE(so.empty());
  const auto t = table_of(so);
  const auto f = symbol(so, "fp_rows");
  auto r = row_at(t, f + 1);  // after push %rbp
  EXPECT_EQ(cfa_kind(r), EDLEAK_CFA_RSP);
  EXPECT_EQ(r.cfa_offset, 16);
  EXPECT_EQ(rbp_kind(r), EDLEAK_RBP_AT_CFA);
  EXPECT_EQ(r.rbp_offset, -2);
  r = row_at(t, f + 4);  // after mov %rsp, %rbp
  EXPECT_EQ(cfa_kind(r), EDLEAK_CFA_RBP);
  EXPECT_EQ(r.cfa_offset, 16);
  EXPECT_EQ(rbp_kind(r), EDLEAK_RBP_AT_CFA);
  EXPECT_EQ(r.rbp_offset, -2);
  r = row_at(t, f + 7);  // after pop %rbp: rbp keeps the saved rule, as gcc leaves it
  EXPECT_EQ(cfa_kind(r), EDLEAK_CFA_RSP);
  EXPECT_EQ(r.cfa_offset, 8);
}

TEST_F(Fixtures, GapBetweenFdes) {
  const std::string so = assemble("rules", {kRulesAsm});
  ASSERT_FALSE(so.empty());
  const auto t = table_of(so);
  const auto gap = symbol(so, "no_cfi");
  EXPECT_EQ(cfa_kind(row_at(t, gap)), EDLEAK_CFA_GAP);
  EXPECT_EQ(cfa_kind(row_at(t, gap + 1)), EDLEAK_CFA_GAP);
  // The GAP starts where fp_rows's FDE ends (at its ret + 1), not at the padding's end.
  const auto* row = find_row(t.rows, gap);
  ASSERT_NE(row, nullptr);
  EXPECT_LT(row->pc, gap);
  EXPECT_EQ(cfa_kind(*(row - 1)), EDLEAK_CFA_RSP);
  // Before the first FDE there is nothing; after the last, a final GAP.
  EXPECT_EQ(find_row(t.rows, symbol(so, "rsp_rows") - 1), nullptr);
  EXPECT_EQ(t.rows.back().pc, symbol(so, "last") + 1);
  EXPECT_EQ(cfa_kind(row_at(t, symbol(so, "last_end"))), EDLEAK_CFA_GAP);
}

TEST_F(Fixtures, EndRows) {
  const std::string so = assemble("rules", {kRulesAsm});
  ASSERT_FALSE(so.empty());
  const auto t = table_of(so);
  const auto f = symbol(so, "end_rows");
  EXPECT_EQ(cfa_kind(row_at(t, f)), EDLEAK_CFA_END);
  EXPECT_EQ(cfa_kind(row_at(t, f + 2)), EDLEAK_CFA_END);
}

TEST_F(Fixtures, UnsupportedRowsAreCountedByReason) {
  const std::string so = assemble("rules", {kRulesAsm});
  ASSERT_FALSE(so.empty());
  const auto t = table_of(so);
  for (const char* name : {"other_register", "deref_cfa", "ra_in_register"}) {
    const auto f = symbol(so, name);
    EXPECT_EQ(cfa_kind(row_at(t, f)), EDLEAK_CFA_RSP) << name;
    const auto r = row_at(t, f + 1);
    EXPECT_EQ(cfa_kind(r), EDLEAK_CFA_UNSUPPORTED) << name;
    EXPECT_EQ(r.cfa_offset, 0) << name;
  }
  EXPECT_EQ(cfa_kind(row_at(t, symbol(so, "big_frame") + 7)), EDLEAK_CFA_UNSUPPORTED);
  const auto& u = t.stats.unsupported;
  EXPECT_EQ(u.at("CFA from a register other than rsp/rbp"), 1u);
  EXPECT_EQ(u.at("CFA expression (not the PLT one)"), 1u);
  EXPECT_EQ(u.at("return address not saved at CFA-8"), 1u);
  EXPECT_EQ(u.at("CFA offset outside 0..65535"), 1u);
}

TEST_F(Fixtures, RbpRules) {
  const std::string so = assemble("rules", {kRulesAsm});
  ASSERT_FALSE(so.empty());
  const auto t = table_of(so);
  const auto f = symbol(so, "rbp_rules");
  EXPECT_EQ(rbp_kind(row_at(t, f)), EDLEAK_RBP_SAME);
  EXPECT_EQ(rbp_kind(row_at(t, f + 1)), EDLEAK_RBP_UNDEFINED);  // CFA-2048: beyond s8 slots
  EXPECT_EQ(rbp_kind(row_at(t, f + 2)), EDLEAK_RBP_UNDEFINED);  // in r9
  EXPECT_EQ(rbp_kind(row_at(t, f + 3)), EDLEAK_RBP_UNDEFINED);  // undefined
  EXPECT_EQ(rbp_kind(row_at(t, f + 4)), EDLEAK_RBP_SAME);
  const auto r = row_at(t, f + 5);
  EXPECT_EQ(rbp_kind(r), EDLEAK_RBP_AT_CFA);
  EXPECT_EQ(r.rbp_offset, -3);
  // The undefined rule is a plain rule; the other two are CFI the BPF side cannot follow. The
  // r9 row and the undefined one are the same row, merged.
  EXPECT_EQ(row_at(t, f + 3).pc, f + 1);
  EXPECT_EQ(t.stats.unsupported.at(
                "rbp: saved at a CFA offset not a multiple of 8 or beyond -1024..1016"),
            1u);
  EXPECT_EQ(t.stats.unsupported.count("rbp: in another register"), 0u);
}

TEST_F(Fixtures, PltRows) {
  const std::string so = assemble("rules", {kRulesAsm});
  ASSERT_FALSE(so.empty());
  const auto t = table_of(so);
  const auto f = symbol(so, "plt_rows");
  EXPECT_EQ(row_at(t, f).cfa_offset, 16);
  EXPECT_EQ(row_at(t, f + 6).cfa_offset, 24);
  auto r = row_at(t, f + 16);
  EXPECT_EQ(cfa_kind(r), EDLEAK_CFA_PLT);
  EXPECT_EQ(r.cfa_offset, 11);  // the threshold: CFA = rsp + 8, + 8 from byte 11 of an entry
  EXPECT_EQ(row_at(t, f + 47).pc, f + 16);
  r = row_at(t, f + 48);
  EXPECT_EQ(cfa_kind(r), EDLEAK_CFA_PLT);
  EXPECT_EQ(r.cfa_offset, 10);
}

TEST_F(Fixtures, SignalRows) {
  const std::string so = assemble("rules", {kRulesAsm});
  ASSERT_FALSE(so.empty());
  const auto t = table_of(so);
  const auto f = symbol(so, "signal_rows");
  EXPECT_EQ(cfa_kind(row_at(t, f)), EDLEAK_CFA_SIGNAL);
  EXPECT_EQ(cfa_kind(row_at(t, f + 7)), EDLEAK_CFA_SIGNAL);  // the syscall
}

// ---- .debug_frame ---------------------------------------------------------------------------

TEST_F(Fixtures, DebugFrameOnly) {
  const std::string so = assemble("debug", {kDebugFrameAsm});
  ASSERT_FALSE(so.empty());
  ASSERT_FALSE(non_empty_section(so, ".eh_frame"));  // ld leaves an empty one
  const auto t = table_of(so);
  EXPECT_FALSE(t.stats.eh_frame);
  EXPECT_TRUE(t.stats.debug_frame);
  EXPECT_TRUE(t.stats.skipped.empty());
  const auto f = symbol(so, "debug_only");
  EXPECT_EQ(row_at(t, f).cfa_offset, 8);
  EXPECT_EQ(row_at(t, f + 1).cfa_offset, 16);
  EXPECT_EQ(row_at(t, f + 2).cfa_offset, 8);  // the ret
  EXPECT_EQ(cfa_kind(row_at(t, symbol(so, "debug_only_end"))), EDLEAK_CFA_GAP);
}

// Every rule read from .debug_frame as from .eh_frame (the CIEs differ: no 'z' augmentation,
// absolute addresses, a bare "S" for the signal frame).
TEST_F(Fixtures, DebugFrameRulesAsEhFrame) {
  const std::string eh = assemble("rules", {kRulesAsm});
  const std::string debug =
      assemble("rules-debug", {std::string("  .cfi_sections .debug_frame\n") + kRulesAsm});
  ASSERT_FALSE(eh.empty());
  ASSERT_FALSE(debug.empty());
  ASSERT_EQ(symbol(eh, "rsp_rows"), symbol(debug, "rsp_rows"));
  const auto a = table_of(eh), b = table_of(debug);
  EXPECT_TRUE(b.stats.skipped.empty());
  ASSERT_EQ(a.rows.size(), b.rows.size());
  for (std::size_t i = 0; i < a.rows.size(); ++i) {
    EXPECT_EQ(a.rows[i].pc, b.rows[i].pc) << i;
    EXPECT_EQ(a.rows[i].kinds, b.rows[i].kinds) << i;
    EXPECT_EQ(a.rows[i].cfa_offset, b.rows[i].cfa_offset) << i;
    EXPECT_EQ(a.rows[i].rbp_offset, b.rows[i].rbp_offset) << i;
  }
  EXPECT_EQ(a.stats.unsupported, b.stats.unsupported);
  EXPECT_EQ(cfa_kind(row_at(b, symbol(debug, "signal_rows"))), EDLEAK_CFA_SIGNAL);
}

// Separate debug files usually compress .debug_frame (SHF_COMPRESSED).
TEST_F(Fixtures, CompressedDebugFrame) {
  const std::string so =
      assemble("rules-debug", {std::string("  .cfi_sections .debug_frame\n") + kRulesAsm});
  ASSERT_FALSE(so.empty());
  const std::string z = so + ".z";
  const std::string command =
      "objcopy --compress-debug-sections=zlib '" + so + "' '" + z + "' 2>/dev/null";
  if (std::system(command.c_str()) != 0) GTEST_SKIP() << "objcopy cannot compress";
  ASSERT_TRUE(raw_section(read_file(z), ".debug_frame")->flags & SHF_COMPRESSED);
  const auto plain = table_of(so), compressed = table_of(z);
  EXPECT_TRUE(compressed.stats.debug_frame);
  EXPECT_TRUE(compressed.stats.skipped.empty());
  ASSERT_EQ(compressed.rows.size(), plain.rows.size());
  for (std::size_t i = 0; i < plain.rows.size(); ++i) {
    EXPECT_EQ(compressed.rows[i].pc, plain.rows[i].pc);
    EXPECT_EQ(compressed.rows[i].kinds, plain.rows[i].kinds);
    EXPECT_EQ(compressed.rows[i].cfa_offset, plain.rows[i].cfa_offset);
  }
}

// .debug_frame fills what .eh_frame lacks; code both describe comes from .eh_frame only.
TEST_F(Fixtures, DebugFrameFillsEhFrameGaps) {
  const std::string so = assemble("mixed", {kRulesAsm, kDebugFrameAsm, kBothAsm});
  ASSERT_FALSE(so.empty());
  const auto t = table_of(so);
  EXPECT_TRUE(t.stats.eh_frame);
  EXPECT_TRUE(t.stats.debug_frame);
  EXPECT_TRUE(t.stats.skipped.empty());
  EXPECT_EQ(row_at(t, symbol(so, "debug_only") + 1).cfa_offset, 16);
  const auto both = symbol(so, "both");
  EXPECT_EQ(row_at(t, both + 1).rbp_offset, -2);
  EXPECT_EQ(find_row(t.rows, both + 1)->pc, both + 1);
  EXPECT_EQ(cfa_kind(row_at(t, symbol(so, "fp_rows") + 4)), EDLEAK_CFA_RBP);
}

// ---- C built by gcc -------------------------------------------------------------------------

TEST_F(Fixtures, StartIsEndAndPltIsPlt) {
  const std::string exe = compile_c("prog", "-O2 -fomit-frame-pointer");
  ASSERT_FALSE(exe.empty());
  const auto t = table_of(exe);
  EXPECT_EQ(cfa_kind(row_at(t, symbol(exe, "_start") + 4)), EDLEAK_CFA_END);
  const auto plt = raw_section(read_file(exe), ".plt");
  ASSERT_TRUE(plt);
  EXPECT_EQ(row_at(t, static_cast<std::uint32_t>(plt->addr)).cfa_offset, 16);  // PLT0
  const auto r = row_at(t, static_cast<std::uint32_t>(plt->addr) + 16);
  EXPECT_EQ(cfa_kind(r), EDLEAK_CFA_PLT);
  EXPECT_EQ(r.cfa_offset, 11);
  // Without frame pointers, no row uses rbp.
  const auto work = symbol(exe, "work");
  for (std::uint32_t pc = work; pc < work + find_symbol(exe, "work")->size; ++pc)
    EXPECT_NE(cfa_kind(row_at(t, pc)), EDLEAK_CFA_RBP) << std::hex << pc;
}

TEST_F(Fixtures, FramePointerFunctionHasRbpRows) {
  const std::string so = compile_c("fp.so", "-O2 -fno-omit-frame-pointer -shared -fPIC");
  ASSERT_FALSE(so.empty());
  const auto t = table_of(so);
  const auto work = find_symbol(so, "work");
  ASSERT_TRUE(work);
  std::size_t rbp_rows = 0;
  for (const auto& r : t.rows) {
    if (r.pc < work->value || r.pc >= work->value + work->size) continue;
    if (cfa_kind(r) == EDLEAK_CFA_RBP) {
      ++rbp_rows;
      EXPECT_EQ(rbp_kind(r), EDLEAK_RBP_AT_CFA);
      EXPECT_EQ(r.rbp_offset, -2);
      EXPECT_EQ(r.cfa_offset, 16);
    }
  }
  EXPECT_GE(rbp_rows, 1u);
}

// ---- broken input ---------------------------------------------------------------------------

TEST(UnwindTableErrors, MissingFile) {
  auto t = build_unwind_table("/nonexistent/edleak/libx.so");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message,
            "/nonexistent/edleak/libx.so: cannot open: No such file or directory");
}

TEST(UnwindTableErrors, NotElf) {
  TempDir dir;
  const std::string path = dir.file("text");
  write_file(path, "#!/bin/sh\necho this is not an ELF file\n");
  auto t = build_unwind_table(path);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message, path + ": not an ELF file");
  write_file(path, "");
  EXPECT_FALSE(build_unwind_table(path));
  EXPECT_FALSE(build_unwind_table(static_cast<Elf*>(nullptr)));
}

TEST_F(Fixtures, NoCfi) {
  const std::string so = compile_c(
      "nocfi.so", "-O2 -shared -fPIC -nostdlib -fno-asynchronous-unwind-tables -fno-unwind-tables");
  ASSERT_FALSE(so.empty());
  ASSERT_FALSE(non_empty_section(so, ".eh_frame"));
  auto t = build_unwind_table(so);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message, so + ": no .eh_frame or .debug_frame");
}

TEST_F(Fixtures, OtherMachine) {
  const std::string so = assemble("rules", {kRulesAsm});
  ASSERT_FALSE(so.empty());
  auto bytes = read_file(so);
  bytes[offsetof(Elf64_Ehdr, e_machine)] = EM_AARCH64;
  MemoryElf elf(bytes);
  auto t = build_unwind_table(elf.get());
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message, "not an x86-64 ELF file");
}

// The .eh_frame bytes of a fixture, to corrupt.
struct EhFrame {
  std::vector<std::uint8_t> file;
  testing::RawSection section;
  std::uint8_t* at(std::uint64_t offset) { return file.data() + section.offset + offset; }
  // Offsets of the FDEs (as written by GNU as: 4-byte lengths, pcrel sdata4 addresses), or of
  // the CIEs.
  std::vector<std::uint64_t> fdes(bool cies = false) const {
    std::vector<std::uint64_t> out;
    for (std::uint64_t off = 0; off + 8 <= section.size;) {
      std::uint32_t length, id;
      std::memcpy(&length, file.data() + section.offset + off, 4);
      std::memcpy(&id, file.data() + section.offset + off + 4, 4);
      if (length == 0) break;
      if ((id == 0) == cies) out.push_back(off);
      off += 4 + length;
    }
    return out;
  }
};

EhFrame eh_frame_of(const std::string& path) {
  EhFrame e{read_file(path), {}};
  auto s = raw_section(e.file, ".eh_frame");
  EXPECT_TRUE(s);
  if (s) e.section = *s;
  return e;
}

TEST_F(Fixtures, TruncatedEhFrame) {
  const std::string so = assemble("rules", {kRulesAsm});
  ASSERT_FALSE(so.empty());
  EhFrame e = eh_frame_of(so);
  const auto fdes = e.fdes();
  ASSERT_GE(fdes.size(), 5u);
  // The section ends in the middle of the fifth FDE.
  const std::uint64_t size = fdes[4] + 10;
  std::memcpy(e.file.data() + e.section.header_offset + offsetof(Elf64_Shdr, sh_size), &size, 8);
  MemoryElf elf(e.file);
  auto t = build_unwind_table(elf.get());
  ASSERT_TRUE(t) << t.error().message;
  testing::expect_well_formed(*t);
  EXPECT_EQ(t->stats.skipped.at("malformed CFI entry (the rest of the section)"), 1u);
  EXPECT_EQ(t->stats.fdes, 4u);
  EXPECT_EQ(cfa_kind(row_at(*t, symbol(so, "fp_rows") + 4)), EDLEAK_CFA_RBP);

  // The file itself cut in the middle of .eh_frame: whatever libelf makes of it, no crash.
  for (std::uint64_t cut : {e.section.offset + 3, e.section.offset + e.section.size / 2}) {
    std::vector<std::uint8_t> head(e.file.begin(), e.file.begin() + static_cast<long>(cut));
    MemoryElf cut_elf(head);
    auto r = build_unwind_table(cut_elf.get());
    if (r) testing::expect_well_formed(*r);
  }
}

TEST_F(Fixtures, FdeAbove4GiB) {
  const std::string so = assemble("rules", {kRulesAsm});
  ASSERT_FALSE(so.empty());
  EhFrame e = eh_frame_of(so);
  const auto fdes = e.fdes();
  const std::uint32_t huge = 0xfffffff0;  // the second FDE's address range
  std::memcpy(e.at(fdes[1] + 12), &huge, 4);
  MemoryElf elf(e.file);
  auto t = build_unwind_table(elf.get());
  ASSERT_TRUE(t);
  testing::expect_well_formed(*t);
  EXPECT_EQ(t->stats.skipped.at("FDE above 4 GiB"), 1u);
  EXPECT_EQ(cfa_kind(row_at(*t, symbol(so, "fp_rows") + 4)), EDLEAK_CFA_GAP);
}

TEST_F(Fixtures, OverlappingFdes) {
  const std::string so = assemble("rules", {kRulesAsm});
  ASSERT_FALSE(so.empty());
  EhFrame e = eh_frame_of(so);
  const auto fdes = e.fdes();
  // The second FDE's pc-relative start moved back onto the first function.
  std::int32_t start;
  std::memcpy(&start, e.at(fdes[1] + 8), 4);
  start -= 14;  // fp_rows is 16 bytes after rsp_rows, 4 bytes long
  std::memcpy(e.at(fdes[1] + 8), &start, 4);
  MemoryElf elf(e.file);
  auto t = build_unwind_table(elf.get());
  ASSERT_TRUE(t);
  testing::expect_well_formed(*t);
  EXPECT_EQ(t->stats.skipped.at("overlapping FDE"), 1u);
}

TEST_F(Fixtures, UnsupportedPointerEncoding) {
  const std::string so = assemble("rules", {kRulesAsm});
  ASSERT_FALSE(so.empty());
  EhFrame e = eh_frame_of(so);
  // Each CIE's 'R' byte (after "zR" or "zRS", the code and data alignment, the RA register and
  // the augmentation data length, one byte each): datarel.
  for (std::uint64_t cie : e.fdes(true)) {
    const auto* aug = reinterpret_cast<const char*>(e.at(cie + 9));
    ASSERT_EQ(std::string(aug).rfind("zR", 0), 0u) << aug;
    std::uint8_t* r = e.at(cie + 9 + std::strlen(aug) + 1 + 3 + 1);
    ASSERT_EQ(*r, DW_EH_PE_pcrel | DW_EH_PE_sdata4);
    *r = DW_EH_PE_datarel | DW_EH_PE_sdata4;
  }
  MemoryElf elf(e.file);
  auto t = build_unwind_table(elf.get());
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->rows.empty());
  EXPECT_EQ(t->stats.skipped.at("unsupported FDE pointer encoding"), e.fdes().size());
}

// CFI libdw would choke on: a register number it would allocate 4 GiB for, remember_state
// nested 40 deep. libdw may pick any FDE of a section for an address, so the whole section goes.
TEST_F(Fixtures, CfiLibdwMustNotRun) {
  const std::string fine = R"(
    .text
    .globl fine
  fine:
    .cfi_startproc
    push %rbx
    .cfi_def_cfa_offset 16
    pop %rbx
    .cfi_def_cfa_offset 8
    ret
    .cfi_endproc
  )";
  const std::string huge_register = fine + R"(
  bomb:
    .cfi_startproc
    nop
    .cfi_escape 0x07, 0xf3, 0xff, 0xff, 0x7f  # DW_CFA_undefined r268435443
    ret
    .cfi_endproc
  )";
  std::string deep = fine + "deep:\n  .cfi_startproc\n";
  for (int i = 0; i < 40; ++i) deep += "  .cfi_remember_state\n";
  deep += "  ret\n  .cfi_endproc\n";
  for (const std::string& source : {huge_register, deep}) {
    const std::string so = assemble("bomb", {source});
    ASSERT_FALSE(so.empty());
    const auto t = table_of(so);
    EXPECT_TRUE(t.rows.empty());
    EXPECT_EQ(t.stats.skipped.at("CFA instructions naming a register beyond 255 or nesting "
                                 "remember_state beyond 32 (the whole section)"),
              1u);
  }
}

// An unknown CFA instruction makes libdw fail at it: that FDE goes, the others stay.
TEST_F(Fixtures, UnknownCfaInstruction) {
  const std::string so = assemble("unknown", {std::string(kRulesAsm) + R"(
  unknown_op:
    .cfi_startproc
    nop
    .cfi_escape 0x3f
    ret
    .cfi_endproc
  )"});
  ASSERT_FALSE(so.empty());
  const auto t = table_of(so);
  EXPECT_EQ(t.stats.skipped.at("unknown CFA instruction"), 1u);
  EXPECT_EQ(cfa_kind(row_at(t, symbol(so, "fp_rows") + 4)), EDLEAK_CFA_RBP);
}

// libdw runs whatever FDE .eh_frame_hdr's table points to: an entry pointing into the middle
// of an FDE would have it run bytes never checked.
TEST_F(Fixtures, EhFrameHdrPointingNowhere) {
  const std::string so = assemble("rules", {kRulesAsm});
  ASSERT_FALSE(so.empty());
  EhFrame e = eh_frame_of(so);
  const auto hdr = raw_section(e.file, ".eh_frame_hdr");
  ASSERT_TRUE(hdr);
  // version, 3 encodings, eh_frame_ptr, fde_count, then (initial location, FDE) pairs.
  ASSERT_EQ(e.file[hdr->offset + 3], DW_EH_PE_datarel | DW_EH_PE_sdata4);
  std::int32_t fde;
  std::uint8_t* entry = e.file.data() + hdr->offset + 12 + 8 * 2;  // the third entry
  std::memcpy(&fde, entry + 4, 4);
  fde += 12;
  std::memcpy(entry + 4, &fde, 4);
  MemoryElf elf(e.file);
  auto t = build_unwind_table(elf.get());
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->rows.empty());
  EXPECT_EQ(t->stats.skipped.at("an .eh_frame_hdr entry leading to no FDE (the whole section)"),
            1u);
}

// Random bytes over .eh_frame (and its index, .eh_frame_hdr): counted reasons, never a crash.
TEST_F(Fixtures, GarbageCfi) {
  const std::string so = assemble("rules", {kRulesAsm});
  ASSERT_FALSE(so.empty());
  const EhFrame clean = eh_frame_of(so);
  const auto hdr = raw_section(clean.file, ".eh_frame_hdr");
  std::mt19937 rng(12345);
  for (int round = 0; round < 300; ++round) {
    EhFrame e = clean;
    const int flips = 1 + round % 40;
    for (int i = 0; i < flips; ++i) {
      const bool in_hdr = hdr && rng() % 4 == 0;
      const std::uint64_t base = in_hdr ? hdr->offset : e.section.offset;
      const std::uint64_t size = in_hdr ? hdr->size : e.section.size;
      e.file[base + rng() % size] = static_cast<std::uint8_t>(rng());
    }
    if (round % 10 == 0)  // all of it garbage
      for (std::uint64_t i = 0; i < e.section.size; ++i)
        *e.at(i) = static_cast<std::uint8_t>(rng());
    MemoryElf elf(e.file);
    auto t = build_unwind_table(elf.get());
    ASSERT_TRUE(t) << "round " << round << ": " << t.error().message;
    testing::expect_well_formed(*t);
  }
}

}  // namespace
}  // namespace edleak::unwind
