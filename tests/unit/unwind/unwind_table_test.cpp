// The tables of the machine's own libraries, proved row by row against libdw: at several
// addresses of every row, libdw's CFI (evaluated numerically at two made-up machine states)
// must give the CFA, return address and rbp the row gives, and GAP rows must have no CFI.
#include "unwind/unwind_table.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "symbolize/unique_fd.h"
#include "test_elf.h"

namespace edleak::unwind {
namespace {

using testing::find_symbol;
using testing::raw_section;
using testing::read_file;

// Where the machine's shared libraries are (Debian's multiarch path first), else ldconfig's.
std::string find_library(const std::string& name) {
  for (const char* dir :
       {"/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib"}) {
    const std::string path = std::string(dir) + "/" + name;
    if (::access(path.c_str(), R_OK) == 0) return path;
  }
  std::unique_ptr<FILE, int (*)(FILE*)> p(::popen("ldconfig -p", "r"), ::pclose);
  char line[4096];
  while (p && std::fgets(line, sizeof line, p.get())) {
    std::string l(line);
    if (l.find(name + " (") == std::string::npos || l.find("x86-64") == std::string::npos) continue;
    const auto arrow = l.find("=> ");
    if (arrow != std::string::npos)
      return l.substr(arrow + 3, l.find_last_not_of("\n") - arrow - 2);
  }
  return "";
}

std::string find_program(const std::string& path) {
  return ::access(path.c_str(), R_OK) == 0 ? path : "";
}

// ---- libdw as the oracle --------------------------------------------------------------------

// A made-up machine state at an address: CFI evaluated at two of them tells which register a
// rule depends on (a CFA of rsp + 16 moves with rsp, not with rbp).
struct Regs {
  std::uint64_t rsp, rbp, rip;
};

// Evaluates the DWARF operations x86-64 CFI uses for CFAs and register locations; nullopt for
// anything needing memory (DW_OP_deref), other registers or values (DW_OP_stack_value).
std::optional<std::uint64_t> evaluate(const Dwarf_Op* ops, std::size_t n, const Regs& regs,
                                      std::optional<std::uint64_t> cfa) {
  std::vector<std::uint64_t> stack;
  auto reg = [&](std::uint64_t r) -> std::optional<std::uint64_t> {
    if (r == 6) return regs.rbp;
    if (r == 7) return regs.rsp;
    if (r == 16) return regs.rip;
    return std::nullopt;
  };
  for (std::size_t i = 0; i < n; ++i) {
    const Dwarf_Op& op = ops[i];
    const bool binary = op.atom == DW_OP_plus || op.atom == DW_OP_minus || op.atom == DW_OP_and ||
                        op.atom == DW_OP_ge || op.atom == DW_OP_shl;
    if (binary && stack.size() < 2) return std::nullopt;
    if (op.atom >= DW_OP_breg0 && op.atom <= DW_OP_breg31) {
      auto v = reg(op.atom - DW_OP_breg0);
      if (!v) return std::nullopt;
      stack.push_back(*v + op.number);
    } else if (op.atom == DW_OP_bregx) {
      auto v = reg(op.number);
      if (!v) return std::nullopt;
      stack.push_back(*v + op.number2);
    } else if (op.atom >= DW_OP_lit0 && op.atom <= DW_OP_lit31) {
      stack.push_back(op.atom - DW_OP_lit0);
    } else if (op.atom == DW_OP_call_frame_cfa) {
      if (!cfa) return std::nullopt;
      stack.push_back(*cfa);
    } else if (op.atom == DW_OP_plus_uconst) {
      if (stack.empty()) return std::nullopt;
      stack.back() += op.number;
    } else if (binary) {
      const std::uint64_t b = stack.back();
      stack.pop_back();
      std::uint64_t& a = stack.back();
      if (op.atom == DW_OP_plus) a += b;
      if (op.atom == DW_OP_minus) a -= b;
      if (op.atom == DW_OP_and) a &= b;
      if (op.atom == DW_OP_ge) a = static_cast<std::int64_t>(a) >= static_cast<std::int64_t>(b);
      if (op.atom == DW_OP_shl) a = b < 64 ? a << b : 0;
    } else {
      return std::nullopt;
    }
  }
  if (stack.size() != 1) return std::nullopt;
  return stack.back();
}

// A register's rule per libdw.h: undefined, same value, or a location computed by `ops`.
struct RegisterRule {
  bool undefined = false;
  bool same_value = false;
  std::vector<Dwarf_Op> ops;
};

RegisterRule register_rule(Dwarf_Frame* frame, int regno) {
  Dwarf_Op ops_mem[3];
  Dwarf_Op* ops = nullptr;
  std::size_t n = 0;
  RegisterRule rule;
  if (dwarf_frame_register(frame, regno, ops_mem, &ops, &n) != 0) return rule;  // ops empty
  if (n == 0) {
    rule.undefined = ops == ops_mem;
    rule.same_value = ops == nullptr;
    return rule;
  }
  rule.ops.assign(ops, ops + n);
  return rule;
}

// The file's CFI opened independently of the table builder.
class Oracle {
 public:
  explicit Oracle(const std::string& path) {
    elf_version(EV_CURRENT);
    fd_ = symbolize::UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    elf_ = elf_begin(fd_.get(), ELF_C_READ_MMAP, nullptr);
    eh_ = elf_ ? dwarf_getcfi_elf(elf_) : nullptr;
    if (elf_ && raw_section(read_file(path), ".debug_frame")) {
      dwarf_ = dwarf_begin_elf(elf_, DWARF_C_READ, nullptr);
      debug_ = dwarf_ ? dwarf_getcfi(dwarf_) : nullptr;
    }
  }
  ~Oracle() {
    if (eh_) dwarf_cfi_end(eh_);
    if (dwarf_) dwarf_end(dwarf_);
    if (elf_) elf_end(elf_);
  }
  bool ok() const { return eh_ || debug_; }

  // "" when `row` says at `addr` what libdw says, else what differs.
  std::string check(const edleak_unwind_row& row, std::uint64_t addr) const {
    Dwarf_Frame* frame = nullptr;
    if (!(eh_ && dwarf_cfi_addrframe(eh_, addr, &frame) == 0) &&
        !(debug_ && dwarf_cfi_addrframe(debug_, addr, &frame) == 0))
      frame = nullptr;
    std::unique_ptr<Dwarf_Frame, void (*)(void*)> owned(frame, std::free);
    const auto kind = cfa_kind(row);
    if (!frame) return kind == EDLEAK_CFA_GAP ? "" : "libdw has no CFI here, the row does";
    if (kind == EDLEAK_CFA_GAP) return "libdw has CFI here, the row is GAP";
    Dwarf_Addr start, end;
    bool signal = false;
    dwarf_frame_info(frame, &start, &end, &signal);
    const bool stop =
        kind == EDLEAK_CFA_SIGNAL || kind == EDLEAK_CFA_END || kind == EDLEAK_CFA_UNSUPPORTED;
    if (stop && (row.cfa_offset != 0 || row.kinds >> 4 || row.rbp_offset != 0))
      return "a row that ends the walk carries offsets (it would not merge)";
    if (signal) return kind == EDLEAK_CFA_SIGNAL ? "" : "libdw: signal frame";
    if (kind == EDLEAK_CFA_SIGNAL) return "not a signal frame for libdw";
    const RegisterRule ra = register_rule(frame, 16);
    if (ra.undefined) return kind == EDLEAK_CFA_END ? "" : "libdw: return address undefined";
    if (kind == EDLEAK_CFA_END) return "libdw: return address defined";

    Dwarf_Op* cfa_ops = nullptr;
    std::size_t cfa_n = 0;
    if (dwarf_frame_cfa(frame, &cfa_ops, &cfa_n) != 0) cfa_n = 0;
    const Regs states[2] = {{0x7ffd0000, 0x7ff00000, addr}, {0x50001230, 0x60000008, addr}};
    std::optional<std::uint64_t> cfa[2], ra_at[2];
    for (int i = 0; i < 2; ++i) {
      cfa[i] = cfa_n ? evaluate(cfa_ops, cfa_n, states[i], std::nullopt) : std::nullopt;
      ra_at[i] = evaluate(ra.ops.data(), ra.ops.size(), states[i], cfa[i]);
    }
    const bool ra_ok = cfa[0] && cfa[1] && ra_at[0] == *cfa[0] - 8 && ra_at[1] == *cfa[1] - 8;
    if (kind == EDLEAK_CFA_UNSUPPORTED) {
      // Right when no row kind could say it: an offset from rsp or rbp in 16 bits, RA at CFA-8.
      auto fits = [&](std::uint64_t Regs::*r) {
        const std::uint64_t off = *cfa[0] - states[0].*r;
        return off == *cfa[1] - states[1].*r && off <= 0xffff;
      };
      const bool representable = ra_ok && (fits(&Regs::rsp) || fits(&Regs::rbp));
      return representable ? "libdw's rules fit a row, the row is UNSUPPORTED" : "";
    }
    if (!ra_ok) return "libdw: the return address is not at CFA-8";
    for (int i = 0; i < 2; ++i) {
      const Regs& s = states[i];
      std::uint64_t ours = 0;
      if (kind == EDLEAK_CFA_RSP) ours = s.rsp + row.cfa_offset;
      if (kind == EDLEAK_CFA_RBP) ours = s.rbp + row.cfa_offset;
      if (kind == EDLEAK_CFA_PLT) ours = s.rsp + 8 + ((s.rip & 15) >= row.cfa_offset ? 8 : 0);
      if (ours != *cfa[i]) return "CFA differs";
    }
    return check_rbp(row, register_rule(frame, 6), states, cfa);
  }

 private:
  static std::string check_rbp(const edleak_unwind_row& row, const RegisterRule& rule,
                               const Regs (&states)[2],
                               const std::optional<std::uint64_t> (&cfa)[2]) {
    const auto kind = rbp_kind(row);
    if (rule.same_value) return kind == EDLEAK_RBP_SAME ? "" : "libdw: rbp same value";
    std::optional<std::int64_t> slot;  // rbp saved at CFA + 8 * slot, for libdw
    if (!rule.undefined && !rule.ops.empty()) {
      auto a = evaluate(rule.ops.data(), rule.ops.size(), states[0], cfa[0]);
      auto b = evaluate(rule.ops.data(), rule.ops.size(), states[1], cfa[1]);
      if (a && b && *a - *cfa[0] == *b - *cfa[1]) {
        const auto off = static_cast<std::int64_t>(*a - *cfa[0]);
        if (off % 8 == 0 && off / 8 >= -128 && off / 8 <= 127) slot = off / 8;
      }
    }
    if (slot) {
      if (kind != EDLEAK_RBP_AT_CFA || row.rbp_offset != *slot) return "rbp slot differs";
      return "";
    }
    return kind == EDLEAK_RBP_UNDEFINED ? "" : "libdw: rbp lost (or not a CFA slot)";
  }

  symbolize::UniqueFd fd_;
  Elf* elf_ = nullptr;
  Dwarf* dwarf_ = nullptr;
  Dwarf_CFI* eh_ = nullptr;
  Dwarf_CFI* debug_ = nullptr;
};

// Checks the first, middle and last byte of every row against libdw.
void expect_agrees_with_libdw(const std::string& path) {
  auto table = build_unwind_table(path);
  ASSERT_TRUE(table) << table.error().message;
  testing::expect_well_formed(*table);
  ASSERT_GT(table->rows.size(), 100u) << path;
  Oracle oracle(path);
  ASSERT_TRUE(oracle.ok()) << path;
  const auto& rows = table->rows;
  std::size_t checked = 0, mismatches = 0;
  std::ostringstream first;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::uint64_t lo = rows[i].pc;
    const std::uint64_t hi = i + 1 < rows.size() ? rows[i + 1].pc : lo + 1;
    for (std::uint64_t addr : {lo, lo + (hi - lo) / 2, hi - 1}) {
      ++checked;
      EXPECT_EQ(find_row(rows, static_cast<std::uint32_t>(addr)), &rows[i]);
      const std::string why = oracle.check(rows[i], addr);
      if (why.empty()) continue;
      if (++mismatches <= 20)
        first << std::hex << "  0x" << addr << " (row 0x" << lo << " kinds 0x" << int{rows[i].kinds}
              << std::dec << " cfa+" << rows[i].cfa_offset << " rbp " << int{rows[i].rbp_offset}
              << "): " << why << "\n";
    }
  }
  EXPECT_EQ(mismatches, 0u) << path << ": " << mismatches << " of " << checked
                            << " addresses differ from libdw, first ones:\n"
                            << first.str();
  std::cout << path << ": " << rows.size() << " rows, " << checked << " addresses agree\n";
}

TEST(UnwindTableLibdw, LibcAgreesRowByRow) {
  const std::string libc = find_library("libc.so.6");
  ASSERT_FALSE(libc.empty()) << "libc.so.6 not found";
  expect_agrees_with_libdw(libc);
}

TEST(UnwindTableLibdw, LibstdcxxAgreesRowByRow) {
  const std::string lib = find_library("libstdc++.so.6");
  ASSERT_FALSE(lib.empty()) << "libstdc++.so.6 not found";
  expect_agrees_with_libdw(lib);
}

// More of the machine's CFI, where installed: other compilers' options and hand-written
// assembly (libm's, sqlite's, the interpreters').
TEST(UnwindTableLibdw, OtherSystemFilesAgreeRowByRow) {
  std::size_t found = 0;
  for (const std::string& path :
       {find_library("libm.so.6"), find_library("libgcc_s.so.1"), find_library("libsqlite3.so.0"),
        find_program("/usr/bin/perl"), find_program("/usr/bin/python3.11")}) {
    if (path.empty()) continue;
    ++found;
    SCOPED_TRACE(path);
    expect_agrees_with_libdw(path);
  }
  if (!found) GTEST_SKIP() << "none installed";
}

// The oracle itself: a row made wrong in any field must be caught.
TEST(UnwindTableLibdw, OracleCatchesWrongRows) {
  const std::string libc = find_library("libc.so.6");
  ASSERT_FALSE(libc.empty());
  auto table = build_unwind_table(libc);
  ASSERT_TRUE(table);
  Oracle oracle(libc);
  auto kinds = [](edleak_cfa_kind cfa, edleak_rbp_kind rbp) {
    return static_cast<std::uint8_t>(cfa | rbp << 4);
  };
  std::map<int, std::size_t> caught;  // by the kind of the row made wrong
  const auto& rows = table->rows;
  for (std::size_t i = 0; i + 1 < rows.size(); ++i) {
    const edleak_unwind_row& good = rows[i];
    std::vector<edleak_unwind_row> wrong;
    if (cfa_kind(good) == EDLEAK_CFA_RSP || cfa_kind(good) == EDLEAK_CFA_RBP) {
      wrong.push_back(good);
      wrong.back().cfa_offset += 8;
      wrong.push_back(good);
      wrong.back().kinds ^= EDLEAK_CFA_RSP ^ EDLEAK_CFA_RBP;  // the other register
    }
    if (rbp_kind(good) == EDLEAK_RBP_AT_CFA) {
      wrong.push_back(good);
      wrong.back().rbp_offset -= 1;
      wrong.push_back(good);
      wrong.back().kinds = kinds(cfa_kind(good), EDLEAK_RBP_SAME);
    }
    if (cfa_kind(good) == EDLEAK_CFA_RSP && rbp_kind(good) == EDLEAK_RBP_SAME) {
      wrong.push_back(good);
      wrong.back().kinds = kinds(EDLEAK_CFA_RSP, EDLEAK_RBP_UNDEFINED);
      wrong.push_back(good);
      wrong.back().kinds = kinds(EDLEAK_CFA_UNSUPPORTED, EDLEAK_RBP_SAME);
      wrong.back().cfa_offset = 0;
    }
    if (cfa_kind(good) != EDLEAK_CFA_RSP) wrong.push_back({good.pc, 8, EDLEAK_CFA_RSP, 0});
    // Two addresses: a PLT row is CFA = rsp + 8 at its first byte, like an RSP row.
    const std::uint64_t later = std::min<std::uint64_t>(good.pc + 12, rows[i + 1].pc - 1);
    for (const auto& w : wrong) {
      const bool differs = oracle.check(w, good.pc) != "" || oracle.check(w, later) != "";
      EXPECT_TRUE(differs) << std::hex << good.pc << " kinds " << int{w.kinds};
      ++caught[cfa_kind(good)];
    }
  }
  for (int kind : {EDLEAK_CFA_GAP, EDLEAK_CFA_RSP, EDLEAK_CFA_RBP, EDLEAK_CFA_PLT,
                   EDLEAK_CFA_SIGNAL, EDLEAK_CFA_END, EDLEAK_CFA_UNSUPPORTED})
    EXPECT_GT(caught[kind], 0u) << "no row of kind " << kind << " in libc to check with";
}

// ---- what the BPF side relies on in libc ----------------------------------------------------

// The signal return trampoline: "mov $15, %rax; syscall" (rt_sigreturn), found by its bytes as
// libc does not export it.
TEST(UnwindTableLibc, RestoreRtIsASignalFrame) {
  const std::string libc = find_library("libc.so.6");
  ASSERT_FALSE(libc.empty());
  const auto bytes = read_file(libc);
  const auto text = raw_section(bytes, ".text");
  ASSERT_TRUE(text);
  const std::uint8_t sigreturn[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
  const auto begin = bytes.begin() + static_cast<std::ptrdiff_t>(text->offset);
  const auto at = std::search(begin, begin + static_cast<std::ptrdiff_t>(text->size),
                              std::begin(sigreturn), std::end(sigreturn));
  ASSERT_NE(at, begin + static_cast<std::ptrdiff_t>(text->size)) << "no rt_sigreturn in .text";
  const auto restore_rt = static_cast<std::uint32_t>(text->addr + (at - begin));
  auto table = build_unwind_table(libc);
  ASSERT_TRUE(table);
  const auto* row = find_row(table->rows, restore_rt);
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(cfa_kind(*row), EDLEAK_CFA_SIGNAL);
  EXPECT_EQ(cfa_kind(*find_row(table->rows, restore_rt + 8)), EDLEAK_CFA_SIGNAL);
}

TEST(UnwindTableLibc, MallocStartsWithCfaRspPlus8) {
  const std::string libc = find_library("libc.so.6");
  auto malloc_sym = find_symbol(libc, "malloc");
  ASSERT_TRUE(malloc_sym);
  auto table = build_unwind_table(libc);
  ASSERT_TRUE(table);
  const auto* row = find_row(table->rows, static_cast<std::uint32_t>(malloc_sym->value));
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(cfa_kind(*row), EDLEAK_CFA_RSP);
  EXPECT_EQ(row->cfa_offset, 8);
  EXPECT_EQ(rbp_kind(*row), EDLEAK_RBP_SAME);
}

// ---- speed and size -------------------------------------------------------------------------

double build_ms(const std::string& path, UnwindTable* out) {
  const auto t0 = std::chrono::steady_clock::now();
  auto table = build_unwind_table(path);
  const auto t1 = std::chrono::steady_clock::now();
  if (table && out) *out = std::move(*table);
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

// Tables are built at attach time for every mapped file: libc's must take well under 100 ms.
TEST(UnwindTableSpeed, LibcBuildsQuickly) {
  const std::string libc = find_library("libc.so.6");
  ASSERT_FALSE(libc.empty());
  double best = 1e9;
  for (int i = 0; i < 5; ++i) best = std::min(best, build_ms(libc, nullptr));
  std::cout << libc << ": built in " << best << " ms (best of 5)\n";
  EXPECT_LT(best, 100.0);
}

// Prints the figures of the files the BPF side will see most (not a pass/fail measure).
TEST(UnwindTableSpeed, PrintsSystemFigures) {
  for (const std::string& path :
       {find_library("libc.so.6"), find_library("libstdc++.so.6"), find_library("libm.so.6"),
        find_program("/usr/bin/perl"), find_program("/usr/bin/python3.11"),
        find_library("libsqlite3.so.0")}) {
    if (path.empty()) continue;
    UnwindTable table;
    const double ms = build_ms(path, &table);
    std::size_t by_kind[7] = {};
    for (const auto& r : table.rows) ++by_kind[std::min<int>(cfa_kind(r), 6)];
    std::cout << path << ": " << ms << " ms, " << table.stats.fdes << " FDEs, " << table.rows.size()
              << " rows, " << table.memory_bytes() << " bytes; rows gap " << by_kind[0] << " rsp "
              << by_kind[1] << " rbp " << by_kind[2] << " plt " << by_kind[3] << " signal "
              << by_kind[4] << " end " << by_kind[5] << " unsupported " << by_kind[6] << "\n";
    for (const auto& [why, n] : table.stats.unsupported)
      std::cout << "    unsupported: " << why << ": " << n << " rows\n";
    for (const auto& [why, n] : table.stats.skipped)
      std::cout << "    skipped: " << why << ": " << n << "\n";
  }
}

// ---- find_row -------------------------------------------------------------------------------

TEST(FindRow, LastRowAtOrBelow) {
  const std::vector<edleak_unwind_row> rows = {
      {0x100, 8, EDLEAK_CFA_RSP, 0}, {0x104, 16, EDLEAK_CFA_RSP, 0}, {0x110, 0, EDLEAK_CFA_GAP, 0}};
  EXPECT_EQ(find_row(rows, 0), nullptr);
  EXPECT_EQ(find_row(rows, 0xff), nullptr);
  EXPECT_EQ(find_row(rows, 0x100), &rows[0]);
  EXPECT_EQ(find_row(rows, 0x103), &rows[0]);
  EXPECT_EQ(find_row(rows, 0x104), &rows[1]);
  EXPECT_EQ(find_row(rows, 0x10f), &rows[1]);
  EXPECT_EQ(find_row(rows, 0x110), &rows[2]);
  EXPECT_EQ(find_row(rows, 0xffffffff), &rows[2]);
  EXPECT_EQ(find_row({}, 0x100), nullptr);
}

}  // namespace
}  // namespace edleak::unwind
