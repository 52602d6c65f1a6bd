#include "unwind/unwind_table.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "symbolize/unique_fd.h"
#include "unwind/cfi_section.h"

namespace edleak::unwind {
namespace {

// DWARF register numbers of x86-64 (System V psABI, "DWARF Register Number Mapping").
constexpr int kRbp = 6;
constexpr int kRsp = 7;
constexpr int kReturnAddress = 16;
// libdw evaluates every row from its FDE's first instruction, so an FDE costs about its rows
// times its instruction bytes. The largest on Debian 12 (in gcc's cc1: 6677 rows, 20 KB) costs
// 1.3e8; past twice that, the rest of the FDE is left GAP, and past 2^32 for the whole file
// (a few seconds) the rest of the file: CFI made to stall the attach stalls it that long at most.
constexpr std::uint64_t kMaxFdeWork = std::uint64_t{1} << 28;
constexpr std::uint64_t kMaxTableWork = std::uint64_t{1} << 32;

struct ElfCloser {
  void operator()(Elf* elf) const { elf_end(elf); }
};
struct DwarfCloser {
  void operator()(Dwarf* dwarf) const { dwarf_end(dwarf); }
};
struct CfiCloser {
  void operator()(Dwarf_CFI* cfi) const { dwarf_cfi_end(cfi); }
};
struct FrameFree {  // libdw hands out frames from malloc, for the caller to free
  void operator()(Dwarf_Frame* frame) const { std::free(frame); }
};

// An address range to turn into rows, the CFI libdw evaluates it with, and what one row costs.
struct Range {
  std::uint64_t lo = 0, hi = 0;
  Dwarf_CFI* cfi = nullptr;
  std::uint64_t row_cost = 0;
};

// The ranges of a section's FDEs. When libdw may pick another FDE than the one listed for an
// address, a row costs what the section's largest FDE costs.
std::vector<Range> ranges_of(const FdeList& list, Dwarf_CFI* cfi) {
  std::vector<Range> out;
  for (const Fde& fde : list.fdes) {
    const std::uint64_t bytes = list.exact ? fde.instruction_bytes : list.max_instruction_bytes;
    out.push_back({fde.lo, fde.hi, cfi, bytes + 1});
  }
  return out;
}

// The parts of `extra` (sorted, disjoint) that `main` (the same) does not cover: .debug_frame
// fills what .eh_frame lacks; where both describe code, .eh_frame (what the program's own
// unwinder uses) wins.
std::vector<Range> uncovered(const std::vector<Range>& main, const std::vector<Range>& extra) {
  std::vector<Range> out;
  auto m = main.begin();
  for (Range piece : extra) {
    while (m != main.end() && m->hi <= piece.lo) ++m;
    for (auto it = m; it != main.end() && it->lo < piece.hi && piece.lo < piece.hi; ++it) {
      if (it->lo > piece.lo) {
        out.push_back(piece);
        out.back().hi = it->lo;
      }
      piece.lo = std::max(piece.lo, it->hi);
    }
    if (piece.lo < piece.hi) out.push_back(piece);
  }
  return out;
}

// A register-relative operation: DW_OP_bregN, or DW_OP_bregx (libdw's form of DW_CFA_def_cfa).
bool breg_of(const Dwarf_Op& op, int& reg, std::int64_t& offset) {
  if (op.atom >= DW_OP_breg0 && op.atom <= DW_OP_breg31) {
    reg = op.atom - DW_OP_breg0;
    offset = static_cast<std::int64_t>(op.number);
    return true;
  }
  if (op.atom == DW_OP_bregx) {
    reg = static_cast<int>(op.number);
    offset = static_cast<std::int64_t>(op.number2);
    return true;
  }
  return false;
}

// The PLT expression the linkers emit for lazy-binding .plt entries: CFA = rsp + 8, + 8 more
// from byte `threshold` of the 16-byte entry on (the push of the lazy-binding jump). GNU ld
// uses 11; 10 and other lit values are accepted so the BPF side can take the threshold from
// the row.
bool is_plt_expression(const Dwarf_Op* ops, std::size_t n, std::uint16_t& threshold) {
  int reg0 = -1, reg1 = -1;
  std::int64_t off0 = 0, off1 = 0;
  if (n != 9 || !breg_of(ops[0], reg0, off0) || !breg_of(ops[1], reg1, off1)) return false;
  if (reg0 != kRsp || off0 != 8 || reg1 != kReturnAddress || off1 != 0) return false;
  if (ops[2].atom != DW_OP_lit15 || ops[3].atom != DW_OP_and || ops[5].atom != DW_OP_ge ||
      ops[6].atom != DW_OP_lit3 || ops[7].atom != DW_OP_shl || ops[8].atom != DW_OP_plus)
    return false;
  if (ops[4].atom < DW_OP_lit1 || ops[4].atom > DW_OP_lit15) return false;
  threshold = static_cast<std::uint16_t>(ops[4].atom - DW_OP_lit0);
  return true;
}

// A register saved at CFA + offset: libdw writes DW_CFA_offset as DW_OP_call_frame_cfa
// [DW_OP_plus_uconst N] (N the signed offset, as an unsigned number). val_offset rules end in
// DW_OP_stack_value and do not match.
bool saved_at_cfa(const Dwarf_Op* ops, std::size_t n, std::int64_t& offset) {
  if (n == 0 || n > 2 || ops[0].atom != DW_OP_call_frame_cfa) return false;
  if (n == 2 && ops[1].atom != DW_OP_plus_uconst) return false;
  offset = n == 2 ? static_cast<std::int64_t>(ops[1].number) : 0;
  return true;
}

std::uint8_t kinds(edleak_cfa_kind cfa, edleak_rbp_kind rbp) {
  return static_cast<std::uint8_t>(cfa | (rbp << 4));
}

// A row and, when some of it is CFI the BPF side cannot follow, why.
struct Classified {
  edleak_unwind_row row{};
  const char* unsupported = nullptr;
};

Classified stop_row(edleak_cfa_kind kind, const char* why = nullptr) {
  return {{0, 0, kinds(kind, EDLEAK_RBP_SAME), 0}, why};
}

// How the CFA is found; `why` is set for UNSUPPORTED.
edleak_cfa_kind classify_cfa(Dwarf_Frame* frame, std::uint16_t& offset, const char*& why) {
  Dwarf_Op* ops = nullptr;
  std::size_t n = 0;
  if (dwarf_frame_cfa(frame, &ops, &n) != 0 || n == 0) {
    why = "no CFA rule";
    return EDLEAK_CFA_UNSUPPORTED;
  }
  int reg = -1;
  std::int64_t value = 0;
  if (n == 1 && breg_of(ops[0], reg, value)) {
    if (reg != kRsp && reg != kRbp) {
      why = "CFA from a register other than rsp/rbp";
      return EDLEAK_CFA_UNSUPPORTED;
    }
    if (value < 0 || value > 0xffff) {
      why = "CFA offset outside 0..65535";
      return EDLEAK_CFA_UNSUPPORTED;
    }
    offset = static_cast<std::uint16_t>(value);
    return reg == kRsp ? EDLEAK_CFA_RSP : EDLEAK_CFA_RBP;
  }
  if (is_plt_expression(ops, n, offset)) return EDLEAK_CFA_PLT;
  why = "CFA expression (not the PLT one)";
  return EDLEAK_CFA_UNSUPPORTED;
}

// Where the caller's rbp is; `why` is set when a rule exists that cannot be followed.
edleak_rbp_kind classify_rbp(Dwarf_Frame* frame, std::int8_t& offset, const char*& why) {
  Dwarf_Op ops_mem[3];
  Dwarf_Op* ops = nullptr;
  std::size_t n = 0;
  if (dwarf_frame_register(frame, kRbp, ops_mem, &ops, &n) != 0) {
    why = "rbp: rule unreadable";
    return EDLEAK_RBP_UNDEFINED;
  }
  // libdw.h: no operations and ops == ops_mem is "undefined", a null ops "same value".
  if (n == 0) return ops == ops_mem ? EDLEAK_RBP_UNDEFINED : EDLEAK_RBP_SAME;
  std::int64_t at = 0;
  if (saved_at_cfa(ops, n, at)) {
    if (at % 8 != 0 || at / 8 < INT8_MIN || at / 8 > INT8_MAX) {
      why = "rbp: saved at a CFA offset not a multiple of 8 or beyond -1024..1016";
      return EDLEAK_RBP_UNDEFINED;
    }
    offset = static_cast<std::int8_t>(at / 8);
    return EDLEAK_RBP_AT_CFA;
  }
  if (ops[0].atom == DW_OP_regx)
    why = "rbp: in another register";
  else if (ops[n - 1].atom == DW_OP_stack_value)
    why = "rbp: value rule (val_offset, val_expression)";
  else
    why = "rbp: expression";
  return EDLEAK_RBP_UNDEFINED;
}

// One row from libdw's frame state at an address (pc left 0).
Classified classify(Dwarf_Frame* frame, bool signal) {
  // __restore_rt: the interrupted registers are in the ucontext, whatever its CFI says.
  if (signal) return stop_row(EDLEAK_CFA_SIGNAL);
  Dwarf_Op ops_mem[3];
  Dwarf_Op* ops = nullptr;
  std::size_t n = 0;
  if (dwarf_frame_register(frame, kReturnAddress, ops_mem, &ops, &n) != 0)
    return stop_row(EDLEAK_CFA_UNSUPPORTED, "return address rule unreadable");
  // An undefined return address marks the outermost frame, whatever the CFA.
  if (n == 0 && ops == ops_mem) return stop_row(EDLEAK_CFA_END);

  Classified out;
  const char* why = nullptr;
  const edleak_cfa_kind cfa = classify_cfa(frame, out.row.cfa_offset, why);
  if (cfa == EDLEAK_CFA_UNSUPPORTED) return stop_row(cfa, why);
  std::int64_t ra_at = 0;
  if (!saved_at_cfa(ops, n, ra_at) || ra_at != -8)
    return stop_row(EDLEAK_CFA_UNSUPPORTED, "return address not saved at CFA-8");
  const edleak_rbp_kind rbp = classify_rbp(frame, out.row.rbp_offset, out.unsupported);
  out.row.kinds = kinds(cfa, rbp);
  return out;
}

bool same_rule(const edleak_unwind_row& a, const edleak_unwind_row& b) {
  return a.cfa_offset == b.cfa_offset && a.kinds == b.kinds && a.rbp_offset == b.rbp_offset;
}

// Adds a row in pc order, merged into its predecessor when the rules are the same. True when
// it stays a row of its own.
bool append(std::vector<edleak_unwind_row>& rows, const edleak_unwind_row& row) {
  if (!rows.empty() && rows.back().pc == row.pc) {
    rows.back() = row;  // the previous row held for no address (an FDE's end GAP)
    if (rows.size() >= 2 && same_rule(rows[rows.size() - 2], rows.back())) {
      rows.pop_back();
      return false;
    }
    return true;
  }
  if (!rows.empty() && same_rule(rows.back(), row)) return false;
  rows.push_back(row);
  return true;
}

// Turns ranges into rows with libdw, within the work budget.
class TableWalker {
 public:
  explicit TableWalker(UnwindTable& table) : rows_(table.rows), stats_(table.stats) {}

  // The rows of one range: each frame state libdw returns says the range it holds for. Ends
  // with a GAP row at the range's end, or where libdw (or the budget) gave up on it.
  void walk(const Range& range) {
    std::uint64_t addr = range.lo;
    for (std::uint64_t work = 0; addr < range.hi; work += range.row_cost) {
      if (work > kMaxFdeWork || total_ > kMaxTableWork) {
        ++stats_.skipped[total_ > kMaxTableWork ? "CFI too costly to evaluate (the rest is GAP)"
                                                : "FDE too costly to evaluate (the rest is GAP)"];
        break;
      }
      total_ += range.row_cost;
      Dwarf_Frame* raw = nullptr;
      if (dwarf_cfi_addrframe(range.cfi, addr, &raw) != 0 || !raw) {
        ++stats_.skipped["CFI libdw cannot evaluate (the rest of the FDE is GAP)"];
        break;
      }
      std::unique_ptr<Dwarf_Frame, FrameFree> frame(raw);
      Dwarf_Addr start = 0, end = 0;
      bool signal = false;
      if (dwarf_frame_info(frame.get(), &start, &end, &signal) < 0 || start > addr || end <= addr) {
        ++stats_.skipped["CFI row without progress (the rest of the FDE is GAP)"];
        break;
      }
      Classified c = classify(frame.get(), signal);
      c.row.pc = static_cast<std::uint32_t>(addr);
      if (append(rows_, c.row) && c.unsupported) ++stats_.unsupported[c.unsupported];
      addr = std::min<std::uint64_t>(end, range.hi);
    }
    if (addr > range.lo) ++stats_.fdes;
    append(rows_, {static_cast<std::uint32_t>(addr), 0, kinds(EDLEAK_CFA_GAP, EDLEAK_RBP_SAME), 0});
  }

 private:
  std::vector<edleak_unwind_row>& rows_;
  TableStats& stats_;
  std::uint64_t total_ = 0;
};

Result<void> check_elf(Elf* elf) {
  GElf_Ehdr ehdr;
  if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr))
    return make_error("not an ELF file");
  if (ehdr.e_ident[EI_CLASS] != ELFCLASS64 || ehdr.e_machine != EM_X86_64)
    return make_error("not an x86-64 ELF file");
  return {};
}

const char* unusable(const CfiSection& section) {
  return section.several ? "several sections of that name" : "unreadable";
}

}  // namespace

Result<UnwindTable> build_unwind_table(Elf* elf) {
  if (auto ok = check_elf(elf); !ok) return ok.error();
  const CfiSection eh = find_cfi_section(elf, ".eh_frame");
  const CfiSection debug = find_cfi_section(elf, ".debug_frame");
  if (!eh.present && !debug.present) return make_error("no .eh_frame or .debug_frame");

  UnwindTable table;
  TableStats& stats = table.stats;
  std::vector<Range> eh_ranges, debug_ranges;
  // Only an .eh_frame read here may reach libdw: dwarf_getcfi_elf reads the same section.
  std::unique_ptr<Dwarf_CFI, CfiCloser> eh_cfi(eh.data ? dwarf_getcfi_elf(elf) : nullptr);
  if (eh.present && !eh_cfi) ++stats.skipped[std::string(".eh_frame ") + unusable(eh)];
  if (eh_cfi) {
    stats.eh_frame = true;
    const FdeList list =
        read_fdes(elf, eh, true, find_cfi_section(elf, ".eh_frame_hdr"), stats.skipped);
    eh_ranges = ranges_of(list, eh_cfi.get());
  }
  // The CFI of .debug_frame belongs to (and is freed with) the Dwarf handle.
  std::unique_ptr<Dwarf, DwarfCloser> dwarf(debug.data ? dwarf_begin_elf(elf, DWARF_C_READ, nullptr)
                                                       : nullptr);
  Dwarf_CFI* debug_cfi = dwarf ? dwarf_getcfi(dwarf.get()) : nullptr;
  if (debug.present && !debug_cfi) ++stats.skipped[std::string(".debug_frame ") + unusable(debug)];
  if (debug_cfi) {
    stats.debug_frame = true;
    const FdeList list = read_fdes(elf, debug, false, {}, stats.skipped);
    debug_ranges = ranges_of(list, debug_cfi);
  }

  std::vector<Range> ranges = uncovered(eh_ranges, debug_ranges);
  ranges.insert(ranges.end(), eh_ranges.begin(), eh_ranges.end());
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.lo < b.lo; });
  TableWalker walker(table);
  for (const Range& range : ranges) walker.walk(range);
  table.rows.shrink_to_fit();
  stats.rows = table.rows.size();
  return table;
}

Result<UnwindTable> build_unwind_table(const std::string& path) {
  elf_version(EV_CURRENT);
  symbolize::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return make_error("{}: cannot open: {}", path, std::strerror(errno));
  std::unique_ptr<Elf, ElfCloser> elf(elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr));
  if (!elf) return make_error("{}: cannot read: {}", path, elf_errmsg(-1));
  auto table = build_unwind_table(elf.get());
  if (!table) return make_error("{}: {}", path, table.error().message);
  return table;
}

const edleak_unwind_row* find_row(const std::vector<edleak_unwind_row>& rows, std::uint32_t pc) {
  auto it = std::upper_bound(
      rows.begin(), rows.end(), pc,
      [](std::uint32_t value, const edleak_unwind_row& row) { return value < row.pc; });
  return it == rows.begin() ? nullptr : &*std::prev(it);
}

}  // namespace edleak::unwind
