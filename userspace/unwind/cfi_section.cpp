#include "unwind/cfi_section.h"

#include <dwarf.h>
#include <gelf.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <type_traits>

namespace edleak::unwind {
namespace {

constexpr std::uint64_t kReturnAddress = 16;  // the DWARF number of rip on x86-64
// Rows hold 32-bit file addresses, the GAP row at an FDE's end included.
constexpr std::uint64_t kMaxAddress = 0xffffffff;
// libdw grows a frame's register array to the largest register number an instruction names (up
// to 2^27), so one corrupt number costs gigabytes; x86-64's numbers end at 130 (k7 is 125).
constexpr std::uint64_t kMaxRegister = 255;
// libdw copies the whole frame state at every DW_CFA_remember_state until its restore;
// compilers nest them one or two deep.
constexpr int kMaxRememberDepth = 32;

// A bounded reader over CFI bytes: every read checks the end.
class Reader {
 public:
  Reader(const std::uint8_t* p, const std::uint8_t* end) : p_(p), end_(end) {}

  bool at_end() const { return p_ >= end_; }
  const std::uint8_t* position() const { return p_; }
  bool skip(std::uint64_t n) {
    if (n > static_cast<std::uint64_t>(end_ - p_)) return false;
    p_ += n;
    return true;
  }
  template <typename T>
  std::optional<std::uint64_t> fixed() {
    if (static_cast<std::size_t>(end_ - p_) < sizeof(T)) return std::nullopt;
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    if constexpr (std::is_signed_v<T>) return static_cast<std::uint64_t>(std::int64_t{v});
    return static_cast<std::uint64_t>(v);
  }
  std::optional<std::uint64_t> leb128(bool is_signed) {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      const std::uint8_t b = *p_++;
      v |= std::uint64_t{b & 0x7fu} << shift;
      if (b & 0x80) continue;
      if (is_signed && shift + 7 < 64 && (b & 0x40)) v |= ~std::uint64_t{0} << (shift + 7);
      return v;
    }
    return std::nullopt;
  }
  bool block() {  // a ULEB128 length and that many bytes
    auto length = leb128(false);
    return length && skip(*length);
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

// The value of a DW_EH_PE format (the low 4 bits of an encoding), sign-extended.
std::optional<std::uint64_t> read_value(Reader& r, std::uint8_t format) {
  switch (format) {
    case DW_EH_PE_absptr:
      return r.fixed<std::uint64_t>();  // 64-bit files only
    case DW_EH_PE_uleb128:
      return r.leb128(false);
    case DW_EH_PE_udata2:
      return r.fixed<std::uint16_t>();
    case DW_EH_PE_udata4:
      return r.fixed<std::uint32_t>();
    case DW_EH_PE_udata8:
      return r.fixed<std::uint64_t>();
    case DW_EH_PE_sleb128:
      return r.leb128(true);
    case DW_EH_PE_sdata2:
      return r.fixed<std::int16_t>();
    case DW_EH_PE_sdata4:
      return r.fixed<std::int32_t>();
    case DW_EH_PE_sdata8:
      return r.fixed<std::int64_t>();
    default:
      return std::nullopt;
  }
}

bool known_format(std::uint8_t encoding) {
  if (encoding == DW_EH_PE_omit) return false;
  const std::uint8_t format = encoding & 0x0f;
  return format <= DW_EH_PE_udata8 || (format >= DW_EH_PE_sleb128 && format <= DW_EH_PE_sdata8);
}

// A DW_EH_PE pointer with its base applied: absolute, pc-relative (`field_addr`, where the
// field is) or data-relative (`datarel`); nullopt for other bases and indirect pointers.
std::optional<std::uint64_t> read_pointer(Reader& r, std::uint8_t encoding,
                                          std::uint64_t field_addr, std::uint64_t datarel) {
  if (!known_format(encoding) || (encoding & DW_EH_PE_indirect)) return std::nullopt;
  auto v = read_value(r, encoding & 0x0f);
  if (!v) return std::nullopt;
  switch (encoding & 0x70) {
    case DW_EH_PE_absptr:
      return v;
    case DW_EH_PE_pcrel:
      return *v + field_addr;
    case DW_EH_PE_datarel:
      return *v + datarel;
    default:
      return std::nullopt;
  }
}

// The FDE pointer encoding of a CIE: its 'R' augmentation ("zR", "zPLR"...), else absolute.
// nullopt when the augmentation cannot be read (an unknown letter before 'R').
std::optional<std::uint8_t> fde_encoding(const Dwarf_CIE& cie) {
  const std::string_view aug = cie.augmentation ? cie.augmentation : "";
  // Without 'z' only letters without data can be understood: GNU as marks signal frames in
  // .debug_frame with a bare "S".
  if (aug.find_first_not_of('S') == std::string_view::npos) return DW_EH_PE_absptr;
  if (aug[0] != 'z') return std::nullopt;
  Reader r(cie.augmentation_data, cie.augmentation_data + cie.augmentation_data_size);
  for (const char c : aug.substr(1)) {
    switch (c) {
      case 'R': {
        auto enc = r.fixed<std::uint8_t>();
        if (!enc) return std::nullopt;
        return static_cast<std::uint8_t>(*enc);
      }
      case 'L':  // the LSDA encoding
        if (!r.fixed<std::uint8_t>()) return std::nullopt;
        break;
      case 'P': {  // the personality routine: its encoding, then the pointer
        auto enc = r.fixed<std::uint8_t>();
        if (!enc || !read_value(r, *enc & 0x0f)) return std::nullopt;
        break;
      }
      case 'S':  // signal frame
        break;
      default:
        return std::nullopt;
    }
  }
  return DW_EH_PE_absptr;
}

// What libdw would do with a sequence of CFA instructions, judged from their operands.
enum class Program {
  kFine,
  kUnknownInstruction,  // libdw stops with an error there: nothing after it runs
  kTruncated,           // an operand cut short: libdw stops, or reads a harmless value
  kUnsafe,              // a register number beyond kMaxRegister, or remember_state too deep
};

Program check_program(const std::uint8_t* p, const std::uint8_t* end, std::uint8_t encoding) {
  Reader r(p, end);
  bool unsafe = false;
  int depth = 0;
  // libdw reads a register operand cut short as far as it goes, so that is unsafe too.
  auto reg = [&] {
    auto v = r.leb128(false);
    unsafe = unsafe || !v || *v > kMaxRegister;
    return !unsafe;
  };
  auto operand = [&](bool is_signed) { return r.leb128(is_signed).has_value(); };
  while (!r.at_end()) {
    const auto op = static_cast<std::uint8_t>(*r.fixed<std::uint8_t>());
    bool ok = true;
    switch (op & 0xc0) {
      case DW_CFA_advance_loc:
        break;
      case DW_CFA_offset:
        ok = operand(false);
        break;  // the register is in the low 6 bits
      case DW_CFA_restore:
        break;
      default:
        switch (op) {
          case DW_CFA_nop:
          case DW_CFA_GNU_window_save:
            break;
          case DW_CFA_remember_state:
            unsafe = ++depth > kMaxRememberDepth;
            break;
          case DW_CFA_restore_state:
            depth = std::max(depth - 1, 0);
            break;
          case DW_CFA_set_loc:
            ok = read_value(r, encoding & 0x0f).has_value();
            break;
          case DW_CFA_advance_loc1:
            ok = r.skip(1);
            break;
          case DW_CFA_advance_loc2:
            ok = r.skip(2);
            break;
          case DW_CFA_advance_loc4:
            ok = r.skip(4);
            break;
          case DW_CFA_MIPS_advance_loc8:
            ok = r.skip(8);
            break;
          case DW_CFA_def_cfa_offset:
          case DW_CFA_GNU_args_size:
            ok = operand(false);
            break;
          case DW_CFA_def_cfa_offset_sf:
            ok = operand(true);
            break;
          case DW_CFA_restore_extended:
          case DW_CFA_undefined:
          case DW_CFA_same_value:
          case DW_CFA_def_cfa_register:
            ok = reg();
            break;
          case DW_CFA_register:
            ok = reg() && reg();
            break;
          case DW_CFA_offset_extended:
          case DW_CFA_def_cfa:
          case DW_CFA_val_offset:
          case DW_CFA_GNU_negative_offset_extended:
            ok = reg() && operand(false);
            break;
          case DW_CFA_offset_extended_sf:
          case DW_CFA_def_cfa_sf:
          case DW_CFA_val_offset_sf:
            ok = reg() && operand(true);
            break;
          case DW_CFA_def_cfa_expression:
            ok = r.block();
            break;
          case DW_CFA_expression:
          case DW_CFA_val_expression:
            ok = reg() && r.block();
            break;
          default:
            return Program::kUnknownInstruction;
        }
    }
    if (unsafe) return Program::kUnsafe;
    if (!ok) return Program::kTruncated;
  }
  return Program::kFine;
}

constexpr const char* kUnsafeProgram =
    "CFA instructions naming a register beyond 255 or nesting remember_state beyond 32";

// What the FDEs of one CIE need.
struct CieInfo {
  const char* problem = nullptr;  // why its FDEs cannot be used (they are counted)
  const char* unsafe = nullptr;   // why libdw must not run this section at all
  bool runs = false;              // libdw may run its FDEs' instructions: they must be checked
  std::uint8_t encoding = DW_EH_PE_absptr;  // of FDE addresses
  bool sized_augmentation = false;          // "z...": FDEs have augmentation data too
};

// Walks the entries of a CFI section the way libdw does (dwarf_next_cfi from offset 0, past
// entries it cannot read when it knows where they end).
class SectionReader {
 public:
  SectionReader(Elf* elf, const CfiSection& section, bool eh_frame,
                std::map<std::string, std::size_t>& skipped)
      : ident_(reinterpret_cast<const unsigned char*>(elf_getident(elf, nullptr))),
        section_(section),
        eh_frame_(eh_frame),
        skipped_(skipped) {}

  FdeList read() {
    Elf_Data* data = section_.data;
    Dwarf_Off offset = 0;
    // Each step moves forward (libdw: next >= offset + 9) or stops, so no input loops.
    while (offset < data->d_size && !list_.unsafe) {
      Dwarf_Off next = 0;
      Dwarf_CFI_Entry entry;
      const int rc = dwarf_next_cfi(ident_, data, eh_frame_, offset, &next, &entry);
      if (rc == 1) break;  // the end, or a zero terminator
      if (rc != 0) unreadable_.insert(offset);
      if (rc != 0 && next <= offset) {
        skip("malformed CFI entry (the rest of the section)");
        break;
      }
      if (rc != 0)
        skip("malformed CFI entry");
      else if (entry.CIE_id != DW_CIE_ID_64)
        read_fde(offset, entry.fde);
      offset = next;
    }
    return std::move(list_);
  }

  // Whether libdw, asked for the FDE at `offset` (by .eh_frame_hdr), would get one checked
  // here or none at all.
  bool checked(Dwarf_Off offset) const {
    return fde_offsets_.count(offset) || unreadable_.count(offset) ||
           offset >= section_.data->d_size || section_.data->d_size - offset <= 4;
  }

 private:
  void skip(const char* why) {
    ++skipped_[why];
    list_.exact = false;
  }

  const CieInfo& cie(Dwarf_Off offset) {
    auto it = cies_.find(offset);
    if (it != cies_.end()) return it->second;
    CieInfo info;
    Dwarf_Off next = 0;
    Dwarf_CFI_Entry entry;
    if (offset >= section_.data->d_size ||
        dwarf_next_cfi(ident_, section_.data, eh_frame_, offset, &next, &entry) != 0 ||
        entry.CIE_id != DW_CIE_ID_64) {
      info.problem = "FDE without a CIE";  // libdw cannot use it either
      return cies_.emplace(offset, info).first->second;
    }
    const auto enc = fde_encoding(entry.cie);
    const Program program = enc ? check_program(entry.cie.initial_instructions,
                                                entry.cie.initial_instructions_end, *enc)
                                : Program::kFine;
    if (!enc) {
      // libdw may read it some other way and run instructions not checked here.
      info.unsafe = "CIE augmentation that cannot be read";
    } else if (program == Program::kUnsafe) {
      info.unsafe = kUnsafeProgram;
    } else if (!known_format(*enc)) {
      info.problem = "unsupported FDE pointer encoding";  // libdw cannot read its FDEs
    } else if (program != Program::kFine) {
      info.problem = "CIE instructions libdw cannot run";  // nor any of its FDEs then
    } else {
      info.runs = true;
      info.encoding = *enc;
      info.sized_augmentation = entry.cie.augmentation && entry.cie.augmentation[0] == 'z';
      const std::uint8_t base = *enc & 0x70;
      if (entry.cie.return_address_register != kReturnAddress)
        info.problem = "CIE with a return address column other than 16 (rip)";
      else if ((base != DW_EH_PE_absptr && base != DW_EH_PE_pcrel) || (*enc & DW_EH_PE_indirect))
        info.problem = "unsupported FDE pointer encoding";  // datarel, textrel...: no base here
    }
    return cies_.emplace(offset, info).first->second;
  }

  // Checks an FDE's instructions wherever its CIE lets them be found (libdw may run any FDE of
  // the section), and lists it when it is usable.
  void read_fde(Dwarf_Off offset, const Dwarf_FDE& fde) {
    fde_offsets_.insert(offset);
    const CieInfo& info = cie(fde.CIE_pointer);
    if (info.unsafe) {
      list_.unsafe = info.unsafe;
      return;
    }
    Reader r(fde.start, fde.end);
    const auto* base = static_cast<const std::uint8_t*>(section_.data->d_buf);
    const std::uint64_t field_addr = section_.addr + static_cast<std::uint64_t>(fde.start - base);
    if (!info.runs) return skip(info.problem);
    auto lo = read_value(r, info.encoding & 0x0f);
    auto size = read_value(r, info.encoding & 0x0f);
    if (!lo || !size || (info.sized_augmentation && !r.block())) return skip("truncated FDE");
    const Program program = check_program(r.position(), fde.end, info.encoding);
    if (program == Program::kUnsafe) {
      list_.unsafe = kUnsafeProgram;
      return;
    }
    if (info.problem) return skip(info.problem);
    if (program == Program::kUnknownInstruction) return skip("unknown CFA instruction");
    if (program == Program::kTruncated) return skip("truncated CFA instruction");
    if ((info.encoding & 0x70) == DW_EH_PE_pcrel) *lo += field_addr;
    if (*size == 0) return;  // the FDE of code the linker discarded: libdw never matches it
    if (*lo > kMaxAddress || *size > kMaxAddress - *lo) return skip("FDE above 4 GiB");
    const auto bytes = static_cast<std::uint64_t>(fde.end - r.position());
    list_.fdes.push_back({*lo, *lo + *size, bytes});
    list_.max_instruction_bytes = std::max(list_.max_instruction_bytes, bytes);
  }

  const unsigned char* ident_;
  const CfiSection& section_;
  bool eh_frame_;
  std::map<std::string, std::size_t>& skipped_;
  std::map<Dwarf_Off, CieInfo> cies_;  // by section offset
  std::set<Dwarf_Off> fde_offsets_;    // of every FDE entry read
  std::set<Dwarf_Off> unreadable_;     // where dwarf_next_cfi failed (for libdw too)
  FdeList list_;
};

// libdw looks FDEs up in .eh_frame_hdr's table when the file has one (and the table's
// eh_frame_ptr is .eh_frame's address), and runs the FDE at whatever offset an entry gives.
// Every entry libdw may follow must lead to an FDE checked here (or to none). Returns why
// not, or nullptr.
const char* check_eh_frame_hdr(const CfiSection& hdr, const CfiSection& eh,
                               const SectionReader& reader) {
  if (!hdr.present) return nullptr;  // libdw scans .eh_frame entry by entry, as done here
  if (hdr.several) return "several .eh_frame_hdr sections";
  if (!hdr.data) return nullptr;  // libdw finds no table either
  const auto* begin = static_cast<const std::uint8_t*>(hdr.data->d_buf);
  Reader r(begin, begin + hdr.data->d_size);
  const auto version = r.fixed<std::uint8_t>(), ptr_enc = r.fixed<std::uint8_t>(),
             count_enc = r.fixed<std::uint8_t>(), table_enc = r.fixed<std::uint8_t>();
  // libdw rejects the whole CFI for a bad header, and uses no table without a count.
  if (!table_enc || *version != 1 || *ptr_enc == DW_EH_PE_omit) return nullptr;
  if (*count_enc == DW_EH_PE_omit) return nullptr;
  auto field = [&] { return hdr.addr + static_cast<std::uint64_t>(r.position() - begin); };
  const auto eh_frame_ptr = read_pointer(r, static_cast<std::uint8_t>(*ptr_enc), field(), hdr.addr);
  const auto count = read_pointer(r, static_cast<std::uint8_t>(*count_enc), field(), hdr.addr);
  if (!eh_frame_ptr || !count) return "an .eh_frame_hdr that cannot be read";
  if (*count == 0 || *table_enc == DW_EH_PE_omit ||
      (*table_enc & ~DW_EH_PE_signed) == DW_EH_PE_uleb128)
    return nullptr;                              // libdw uses no table
  if (*eh_frame_ptr != eh.addr) return nullptr;  // libdw ignores a table for another .eh_frame
  if (*table_enc != (DW_EH_PE_datarel | DW_EH_PE_sdata4))
    return "an .eh_frame_hdr table with an unusual encoding";
  const std::uint64_t room = static_cast<std::uint64_t>(begin + hdr.data->d_size - r.position());
  if (*count > room / 8) return nullptr;  // libdw rejects the whole CFI
  for (std::uint64_t i = 0; i < *count; ++i) {
    r.skip(4);  // the initial location
    const std::uint64_t fde_addr = hdr.addr + *r.fixed<std::int32_t>();
    if (!reader.checked(fde_addr - eh.addr)) return "an .eh_frame_hdr entry leading to no FDE";
  }
  return nullptr;
}

// Sorts by address and drops FDEs overlapping an earlier one (bad CFI: which one is right is
// unknown, so the first one wins).
void drop_overlaps(FdeList& list, std::map<std::string, std::size_t>& skipped) {
  auto& fdes = list.fdes;
  std::stable_sort(fdes.begin(), fdes.end(),
                   [](const Fde& a, const Fde& b) { return a.lo < b.lo; });
  std::uint64_t covered = 0;
  auto kept = fdes.begin();
  for (const Fde& fde : fdes) {
    if (fde.lo < covered) {
      ++skipped["overlapping FDE"];
      list.exact = false;
      continue;
    }
    covered = fde.hi;
    *kept++ = fde;
  }
  fdes.erase(kept, fdes.end());
}

}  // namespace

CfiSection find_cfi_section(Elf* elf, std::string_view name) {
  std::size_t names = 0;
  if (elf_getshdrstrndx(elf, &names) != 0) return {};
  const bool debug = name == ".debug_frame";
  CfiSection found;
  Elf_Scn* scn_found = nullptr;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS) continue;
    const char* n = elf_strptr(elf, names, shdr.sh_name);
    // libdw reads .zdebug_frame (GNU-compressed) as .debug_frame.
    if (!n || (name != n && !(debug && std::string_view(n) == ".zdebug_frame"))) continue;
    // libdw and this reader may pick different ones of several: use none.
    if (scn_found) return {true, nullptr, 0, true};
    scn_found = scn;
    found = {true, nullptr, shdr.sh_addr, false};
    if (std::string_view(n) == ".zdebug_frame") continue;  // not read here: never used
    if (debug && (shdr.sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0) continue;
    Elf_Data* data = debug ? elf_getdata(scn, nullptr) : elf_rawdata(scn, nullptr);
    if (data && data->d_size == 0) return {};  // as good as none (Free Pascal leaves it empty)
    if (data && data->d_buf) found.data = data;
  }
  return found;
}

FdeList read_fdes(Elf* elf, const CfiSection& section, bool eh_frame,
                  const CfiSection& eh_frame_hdr, std::map<std::string, std::size_t>& skipped) {
  SectionReader reader(elf, section, eh_frame, skipped);
  FdeList list = reader.read();
  if (!list.unsafe && eh_frame) list.unsafe = check_eh_frame_hdr(eh_frame_hdr, section, reader);
  if (list.unsafe) {
    ++skipped[std::string(list.unsafe) + " (the whole section)"];
    list.fdes.clear();
    return list;
  }
  drop_overlaps(list, skipped);
  return list;
}

}  // namespace edleak::unwind
