#include "unwind/unwind_table.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>

#include "symbolize/unique_fd.h"

namespace edleak::unwind {
namespace {

constexpr int kRbp = 6, kRsp = 7, kReturnAddress = 16;

struct Section {
  Elf_Data* data = nullptr;
  std::uint64_t addr = 0;  // sh_addr: where .eh_frame's pc-relative pointers are relative to
};

Section find_section(Elf* elf, std::string_view name) {
  std::size_t names = 0;
  if (elf_getshdrstrndx(elf, &names) != 0) return {};
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS) continue;
    const char* n = elf_strptr(elf, names, shdr.sh_name);
    if (!n || name != n) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data || !data->d_buf || data->d_size == 0) return {};
    return {data, shdr.sh_addr};
  }
  return {};
}

// A bounded reader over the bytes of a CFI section: every read checks the end.
class Reader {
 public:
  Reader(const std::uint8_t* p, const std::uint8_t* end) : p_(p), end_(end) {}
  const std::uint8_t* position() const { return p_; }
  bool u8(std::uint8_t& out) { return fixed(out); }
  bool uleb(std::uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return false;
      const std::uint8_t b = *p_++;
      out |= std::uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool sleb(std::int64_t& out) {
    std::uint64_t v = 0;
    int shift = 0;
    std::uint8_t b = 0x80;
    while (b & 0x80) {
      if (p_ >= end_ || shift >= 64) return false;
      b = *p_++;
      v |= std::uint64_t{b & 0x7fu} << shift;
      shift += 7;
    }
    if (shift < 64 && (b & 0x40)) v |= ~std::uint64_t{0} << shift;
    out = static_cast<std::int64_t>(v);
    return true;
  }
  template <typename T>
  bool fixed(T& out) {
    if (static_cast<std::size_t>(end_ - p_) < sizeof(T)) return false;
    std::memcpy(&out, p_, sizeof(T));
    p_ += sizeof(T);
    return true;
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

// A DW_EH_PE-encoded pointer; `field_addr` is the address of the field, for pc-relative ones.
// Encodings other than absolute and pc-relative (datarel, textrel, funcrel, indirect) are not
// used by x86-64 toolchains for FDE addresses: they fail, and the FDE is skipped.
bool read_encoded(Reader& r, std::uint8_t encoding, std::uint64_t field_addr, bool apply, std::uint64_t& out) {
  if (encoding == DW_EH_PE_omit) return false;
  std::uint64_t value = 0;
  switch (encoding & 0x0f) {
    case DW_EH_PE_absptr: {
      std::uint64_t v;
      if (!r.fixed(v)) return false;
      value = v;
      break;
    }
    case DW_EH_PE_uleb128:
      if (!r.uleb(value)) return false;
      break;
    case DW_EH_PE_udata2: {
      std::uint16_t v;
      if (!r.fixed(v)) return false;
      value = v;
      break;
    }
    case DW_EH_PE_udata4: {
      std::uint32_t v;
      if (!r.fixed(v)) return false;
      value = v;
      break;
    }
    case DW_EH_PE_udata8: {
      std::uint64_t v;
      if (!r.fixed(v)) return false;
      value = v;
      break;
    }
    case DW_EH_PE_sleb128: {
      std::int64_t v;
      if (!r.sleb(v)) return false;
      value = static_cast<std::uint64_t>(v);
      break;
    }
    case DW_EH_PE_sdata2: {
      std::int16_t v;
      if (!r.fixed(v)) return false;
      value = static_cast<std::uint64_t>(std::int64_t{v});
      break;
    }
    case DW_EH_PE_sdata4: {
      std::int32_t v;
      if (!r.fixed(v)) return false;
      value = static_cast<std::uint64_t>(std::int64_t{v});
      break;
    }
    case DW_EH_PE_sdata8: {
      std::int64_t v;
      if (!r.fixed(v)) return false;
      value = static_cast<std::uint64_t>(v);
      break;
    }
    default:
      return false;
  }
  if (!apply) {
    out = value;
    return true;
  }
  switch (encoding & 0x70) {
    case DW_EH_PE_absptr: out = value; return true;
    case DW_EH_PE_pcrel: out = field_addr + value; return true;
    default: return false;
  }
}

// The FDE pointer encoding of a CIE, from its augmentation ("zR", "zPLR"...).
bool fde_encoding(const Dwarf_CIE& cie, bool eh_frame, std::uint8_t& out) {
  out = eh_frame ? DW_EH_PE_absptr : DW_EH_PE_udata8;
  const char* aug = cie.augmentation ? cie.augmentation : "";
  if (aug[0] == '\0') return true;
  if (aug[0] != 'z') return false;  // data we cannot size: the FDE cannot be read
  if (!cie.augmentation_data) return true;
  Reader r(cie.augmentation_data, cie.augmentation_data + cie.augmentation_data_size);
  for (const char* c = aug + 1; *c; ++c) {
    std::uint8_t enc;
    switch (*c) {
      case 'R':
        return r.u8(out);
      case 'L':
        if (!r.u8(enc)) return false;
        break;
      case 'P': {
        std::uint64_t ignored;
        if (!r.u8(enc) || !read_encoded(r, enc & 0x0f, 0, false, ignored)) return false;
        break;
      }
      case 'S':
      case 'B':
      case 'G':
        break;
      default:
        return false;
    }
  }
  return true;
}

struct FdeRange {
  std::uint64_t lo, hi;
  Dwarf_CFI* cfi;
};

// Every FDE of a CFI section, with its address range, read with libdw's dwarf_next_cfi.
void collect_fdes(Elf* elf, const Section& section, bool eh_frame, Dwarf_CFI* cfi, std::vector<FdeRange>& out,
                  TableStats& stats) {
  const unsigned char* ident = reinterpret_cast<const unsigned char*>(elf_getident(elf, nullptr));
  if (!ident) return;
  const auto* base = static_cast<const std::uint8_t*>(section.data->d_buf);
  const auto* end = base + section.data->d_size;
  std::map<Dwarf_Off, std::pair<bool, std::uint8_t>> encodings;  // CIE offset -> (readable, encoding)
  Dwarf_Off offset = 0;
  // Each step moves forward (next > offset) or stops: a malformed length cannot loop.
  while (offset < section.data->d_size) {
    Dwarf_Off next = 0;
    Dwarf_CFI_Entry entry;
    const int rc = dwarf_next_cfi(ident, section.data, eh_frame, offset, &next, &entry);
    if (rc == 1) break;  // the end (a zero terminator)
    if (rc != 0 || next <= offset) {
      ++stats.skipped["malformed entry: rest of the section"];
      break;
    }
    if (entry.CIE_id == DW_CIE_ID_64) {
      std::uint8_t enc;
      bool ok = fde_encoding(entry.cie, eh_frame, enc);
      encodings[offset] = {ok, enc};
    } else {
      auto cie = encodings.find(entry.fde.CIE_pointer);
      if (cie == encodings.end()) {
        // CIEs normally come first; look it up through libdw otherwise.
        Dwarf_CFI_Entry cie_entry;
        Dwarf_Off cie_next;
        std::uint8_t enc = 0;
        bool ok = entry.fde.CIE_pointer < section.data->d_size &&
                  dwarf_next_cfi(ident, section.data, eh_frame, entry.fde.CIE_pointer, &cie_next, &cie_entry) == 0 &&
                  cie_entry.CIE_id == DW_CIE_ID_64 && fde_encoding(cie_entry.cie, eh_frame, enc);
        cie = encodings.emplace(entry.fde.CIE_pointer, std::make_pair(ok, enc)).first;
      }
      if (!cie->second.first) {
        ++stats.skipped["unreadable CIE augmentation"];
      } else if (entry.fde.start < base || entry.fde.start >= end) {
        ++stats.skipped["FDE outside its section"];
      } else {
        Reader r(entry.fde.start, std::min(entry.fde.end, end));
        const std::uint64_t field_addr = section.addr + static_cast<std::uint64_t>(entry.fde.start - base);
        std::uint64_t lo = 0, range = 0;
        const std::uint8_t enc = cie->second.second;
        if (!read_encoded(r, enc, field_addr, true, lo) || !read_encoded(r, enc & 0x0f, 0, false, range)) {
          ++stats.skipped["unreadable FDE address"];
        } else if (range == 0) {
          // An empty FDE (discarded by the linker): nothing to unwind.
        } else if (lo + range < lo || lo + range > (std::uint64_t{1} << 32)) {
          ++stats.skipped["FDE above 4 GiB"];
        } else {
          out.push_back({lo, lo + range, cfi});
        }
      }
    }
    offset = next;
  }
}

// A register-relative operation, DW_OP_bregN or DW_OP_bregx (libdw turns DW_CFA_def_cfa into
// the latter).
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

// CFA = rsp + 8, + 8 more past byte `threshold` of a 16-byte PLT entry: the expression the
// linkers emit for .plt (threshold 11) and for .plt.sec/.plt.got style entries (10).
bool is_plt_expression(const Dwarf_Op* ops, std::size_t n, std::uint16_t& threshold) {
  int reg0 = -1, reg1 = -1;
  std::int64_t off0 = 0, off1 = 0;
  if (n != 9 || !breg_of(ops[0], reg0, off0) || reg0 != kRsp || off0 != 8 || !breg_of(ops[1], reg1, off1) ||
      reg1 != kReturnAddress || off1 != 0 || ops[2].atom != DW_OP_lit15 || ops[3].atom != DW_OP_and || ops[5].atom != DW_OP_ge ||
      ops[6].atom != DW_OP_lit3 || ops[7].atom != DW_OP_shl || ops[8].atom != DW_OP_plus)
    return false;
  if (ops[4].atom < DW_OP_lit0 || ops[4].atom > DW_OP_lit31) return false;
  threshold = static_cast<std::uint16_t>(ops[4].atom - DW_OP_lit0);
  return true;
}

// A register saved at CFA + offset: libdw writes it as DW_OP_call_frame_cfa [DW_OP_plus_uconst N].
bool saved_at_cfa(const Dwarf_Op* ops, std::size_t n, std::int64_t& offset) {
  if (n == 0 || ops[0].atom != DW_OP_call_frame_cfa) return false;
  if (n == 1) {
    offset = 0;
    return true;
  }
  if (n == 2 && ops[1].atom == DW_OP_plus_uconst) {
    offset = static_cast<std::int64_t>(ops[1].number);
    return true;
  }
  if (n == 3 && ops[1].atom == DW_OP_consts && ops[2].atom == DW_OP_plus) {
    offset = static_cast<std::int64_t>(ops[1].number);
    return true;
  }
  return false;
}

std::uint8_t kinds(edleak_cfa_kind cfa, edleak_rbp_kind rbp) {
  return static_cast<std::uint8_t>(cfa | (rbp << 4));
}

// One row from libdw's frame state at an address.
edleak_unwind_row row_of(Dwarf_Frame* frame, std::uint64_t start, bool signal, TableStats& stats) {
  edleak_unwind_row row{static_cast<std::uint32_t>(start), 0, 0, 0};
  if (signal) {
    row.kinds = kinds(EDLEAK_CFA_SIGNAL, EDLEAK_RBP_SAME);
    return row;
  }
  Dwarf_Op ops_mem[3];
  Dwarf_Op* ops = nullptr;
  std::size_t nops = 0;
  // The return address first: undefined marks the outermost frame, whatever the CFA.
  if (dwarf_frame_register(frame, kReturnAddress, ops_mem, &ops, &nops) != 0) {
    ++stats.unsupported["return address rule unreadable"];
    row.kinds = kinds(EDLEAK_CFA_UNSUPPORTED, EDLEAK_RBP_SAME);
    return row;
  }
  if (nops == 0 && ops == ops_mem) {
    row.kinds = kinds(EDLEAK_CFA_END, EDLEAK_RBP_SAME);
    return row;
  }
  std::int64_t ra_offset = 0;
  if (!saved_at_cfa(ops, nops, ra_offset) || ra_offset != -8) {
    ++stats.unsupported["return address not at CFA-8"];
    row.kinds = kinds(EDLEAK_CFA_UNSUPPORTED, EDLEAK_RBP_SAME);
    return row;
  }

  edleak_cfa_kind cfa = EDLEAK_CFA_UNSUPPORTED;
  Dwarf_Op* cfa_ops = nullptr;
  std::size_t cfa_n = 0;
  std::int64_t cfa_offset = 0;
  if (dwarf_frame_cfa(frame, &cfa_ops, &cfa_n) != 0 || cfa_n == 0) {
    ++stats.unsupported["no CFA"];
  } else if (int reg = -1; cfa_n == 1 && breg_of(cfa_ops[0], reg, cfa_offset)) {
    if (reg != kRsp && reg != kRbp) {
      ++stats.unsupported["CFA from another register"];
    } else if (cfa_offset < 0 || cfa_offset > 0xffff) {
      ++stats.unsupported["CFA offset beyond 16 bits"];
    } else {
      cfa = reg == kRsp ? EDLEAK_CFA_RSP : EDLEAK_CFA_RBP;
      row.cfa_offset = static_cast<std::uint16_t>(cfa_offset);
    }
  } else if (std::uint16_t threshold = 0; is_plt_expression(cfa_ops, cfa_n, threshold)) {
    cfa = EDLEAK_CFA_PLT;
    row.cfa_offset = threshold;
  } else {
    ++stats.unsupported["CFA expression"];
  }

  edleak_rbp_kind rbp = EDLEAK_RBP_SAME;
  if (dwarf_frame_register(frame, kRbp, ops_mem, &ops, &nops) != 0) {
    rbp = EDLEAK_RBP_UNDEFINED;
  } else if (nops == 0) {
    rbp = ops == ops_mem ? EDLEAK_RBP_UNDEFINED : EDLEAK_RBP_SAME;
  } else if (std::int64_t offset = 0; saved_at_cfa(ops, nops, offset) && offset % 8 == 0 && offset / 8 >= -128 &&
                                      offset / 8 <= 127) {
    rbp = EDLEAK_RBP_AT_CFA;
    row.rbp_offset = static_cast<std::int8_t>(offset / 8);
  } else {
    ++stats.unsupported["rbp rule"];
    rbp = EDLEAK_RBP_UNDEFINED;
  }
  row.kinds = kinds(cfa, rbp);
  return row;
}

bool same_rule(const edleak_unwind_row& a, const edleak_unwind_row& b) {
  return a.cfa_offset == b.cfa_offset && a.kinds == b.kinds && a.rbp_offset == b.rbp_offset;
}

void append(std::vector<edleak_unwind_row>& rows, const edleak_unwind_row& row) {
  if (!rows.empty() && rows.back().pc == row.pc) {
    rows.back() = row;  // an empty range before: the later rule holds from this pc
    if (rows.size() >= 2 && same_rule(rows[rows.size() - 2], rows.back())) rows.pop_back();
    return;
  }
  if (!rows.empty() && same_rule(rows.back(), row)) return;
  rows.push_back(row);
}

// The rows of one FDE, walked with libdw: each frame state says the range it holds for.
void walk_fde(const FdeRange& fde, std::vector<edleak_unwind_row>& rows, TableStats& stats) {
  std::uint64_t addr = fde.lo;
  bool any = false;
  while (addr < fde.hi) {
    Dwarf_Frame* frame = nullptr;
    if (dwarf_cfi_addrframe(fde.cfi, addr, &frame) != 0 || !frame) {
      ++stats.skipped["CFI instructions libdw cannot evaluate"];
      break;
    }
    std::unique_ptr<Dwarf_Frame, decltype(&std::free)> owned(frame, &std::free);
    Dwarf_Addr start = 0, end = 0;
    bool signal = false;
    if (dwarf_frame_info(frame, &start, &end, &signal) < 0 || end <= addr || start > addr) {
      ++stats.skipped["CFI row without progress"];
      break;
    }
    append(rows, row_of(frame, addr, signal, stats));
    any = true;
    addr = std::min<std::uint64_t>(end, fde.hi);
  }
  if (any) ++stats.fdes;
  // What follows the FDE has no CFI until the next FDE says otherwise.
  append(rows, {static_cast<std::uint32_t>(addr), 0, kinds(EDLEAK_CFA_GAP, EDLEAK_RBP_SAME), 0});
}

struct DwarfDeleter {
  void operator()(Dwarf* d) const { dwarf_end(d); }
};

}  // namespace

Result<UnwindTable> build_unwind_table(Elf* elf) {
  UnwindTable table;
  if (!elf || elf_kind(elf) != ELF_K_ELF) return make_error("not an ELF file");
  if (gelf_getclass(elf) != ELFCLASS64) return make_error("not a 64-bit ELF file");
  std::vector<FdeRange> fdes;

  const Section eh = find_section(elf, ".eh_frame");
  Dwarf_CFI* eh_cfi = eh.data ? dwarf_getcfi_elf(elf) : nullptr;  // owned by us: dwarf_cfi_end
  std::unique_ptr<Dwarf_CFI, int (*)(Dwarf_CFI*)> eh_owner(eh_cfi, dwarf_cfi_end);
  if (eh_cfi) {
    table.stats.eh_frame = true;
    collect_fdes(elf, eh, true, eh_cfi, fdes, table.stats);
  }
  const Section debug = find_section(elf, ".debug_frame");
  std::unique_ptr<Dwarf, DwarfDeleter> dwarf;
  if (debug.data) {
    dwarf.reset(dwarf_begin_elf(elf, DWARF_C_READ, nullptr));
    // Owned by `dwarf` (see libdw.h).
    if (Dwarf_CFI* debug_cfi = dwarf ? dwarf_getcfi(dwarf.get()) : nullptr) {
      table.stats.debug_frame = true;
      collect_fdes(elf, debug, false, debug_cfi, fdes, table.stats);
    }
  }
  if (!table.stats.eh_frame && !table.stats.debug_frame) return make_error("no .eh_frame or .debug_frame");

  // By address; where two FDEs overlap (.eh_frame and .debug_frame describe the same code, or
  // broken CFI), the first one kept wins: .eh_frame's, which the program's own unwinder uses.
  std::stable_sort(fdes.begin(), fdes.end(), [](const FdeRange& a, const FdeRange& b) { return a.lo < b.lo; });
  std::uint64_t covered = 0;
  for (const FdeRange& fde : fdes) {
    if (fde.lo < covered) {
      if (fde.cfi != eh_cfi || fde.hi > covered) ++table.stats.skipped["overlapping FDE"];
      continue;
    }
    walk_fde(fde, table.rows, table.stats);
    covered = fde.hi;
  }
  table.rows.shrink_to_fit();
  table.stats.rows = table.rows.size();
  return table;
}

Result<UnwindTable> build_unwind_table(const std::string& path) {
  elf_version(EV_CURRENT);
  symbolize::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return make_error("{}: cannot open: {}", path, std::strerror(errno));
  Elf* elf = elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr);
  if (!elf) return make_error("{}: not an ELF file: {}", path, elf_errmsg(-1));
  auto table = build_unwind_table(elf);
  elf_end(elf);
  if (!table) return make_error("{}: {}", path, table.error().message);
  return table;
}

const edleak_unwind_row* find_row(const std::vector<edleak_unwind_row>& rows, std::uint32_t pc) {
  auto it = std::upper_bound(rows.begin(), rows.end(), pc,
                             [](std::uint32_t value, const edleak_unwind_row& row) { return value < row.pc; });
  if (it == rows.begin()) return nullptr;
  return &*std::prev(it);
}

}  // namespace edleak::unwind
