#pragma once
// The FDEs of a CFI section (.eh_frame or .debug_frame), read and checked before libdw evaluates
// any of them: libdw trusts CFI more than a tool reading any file it is handed should (a corrupt
// register number makes it allocate gigabytes), and it has no call that lists FDEs.
#include <elfutils/libdw.h>
#include <libelf.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace edleak::unwind {

// A section's bytes and load address (what .eh_frame's pc-relative pointers are relative to).
struct CfiSection {
  bool present = false;      // the file has a non-empty section of that name
  Elf_Data* data = nullptr;  // null when present but unreadable
  std::uint64_t addr = 0;
  bool several = false;  // more than one: libdw might not read the one read here
};

// The first section named `name`, as libdw picks it: .eh_frame's raw bytes, .debug_frame's
// decompressed ones (separate debug files compress it; libdw then reads the decompressed data).
CfiSection find_cfi_section(Elf* elf, std::string_view name);

// An FDE whose address range could be read: [lo, hi) in the file's addresses, below 4 GiB.
struct Fde {
  std::uint64_t lo = 0, hi = 0;
  std::uint64_t instruction_bytes = 0;  // of its CFA instructions (libdw keeps its CIE's state)
};

struct FdeList {
  std::vector<Fde> fdes;  // by address, disjoint: of overlapping FDEs the first one is kept
  // What libdw runs at most to evaluate one row of any FDE of the section.
  std::uint64_t max_instruction_bytes = 0;
  // libdw looks FDEs up by address itself. When the section has no overlapping or skipped FDEs,
  // it finds exactly the FDE listed for an address; otherwise it may pick another of them.
  bool exact = true;
  // Why libdw must not evaluate this section at all (nullptr: it may).
  const char* unsafe = nullptr;
};

// Reads every entry of `section` (.eh_frame when `eh_frame`, else .debug_frame) the way libdw
// walks it, checks every CIE and FDE libdw might run, and for .eh_frame also the lookup table
// of `eh_frame_hdr` (libdw runs whatever FDE the table points to). FDEs that cannot be used
// are counted in `skipped` by reason.
FdeList read_fdes(Elf* elf, const CfiSection& section, bool eh_frame,
                  const CfiSection& eh_frame_hdr, std::map<std::string, std::size_t>& skipped);

}  // namespace edleak::unwind
