#pragma once
// A file's unwind table: its CFI (.eh_frame, and .debug_frame where present) evaluated by libdw
// into the compact sorted rows the BPF side searches (bpf/edleak_abi.h, edleak_unwind_row).
#include <libelf.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "edleak_abi.h"
#include "util/result.h"

namespace edleak::unwind {

struct TableStats {
  std::size_t fdes = 0;  // FDEs (or the parts of .debug_frame FDEs .eh_frame lacks) in the rows
  std::size_t rows = 0;
  // reason -> FDEs skipped (or CFI sections given up on): their code is GAP in the table.
  std::map<std::string, std::size_t> skipped;
  // reason -> rows marked UNSUPPORTED, or whose rbp rule was turned into UNDEFINED: CFI the
  // BPF side cannot evaluate. Counted after merging, so per row of the table.
  std::map<std::string, std::size_t> unsupported;
  bool eh_frame = false;     // the file has CFI in .eh_frame
  bool debug_frame = false;  // ... and in .debug_frame
};

struct UnwindTable {
  std::vector<edleak_unwind_row> rows;  // sorted by pc; ends with a GAP row
  TableStats stats;
  std::size_t memory_bytes() const { return rows.capacity() * sizeof(edleak_unwind_row); }
};

// Builds the table of the x86-64 ELF file at `path`. Fails when the file cannot be read as such
// or has no CFI section at all; CFI that cannot be read is skipped and counted in stats, never
// trusted. Errors name the path: "/x/y: no .eh_frame or .debug_frame".
Result<UnwindTable> build_unwind_table(const std::string& path);
// The same from an ELF file opened by the caller (read only, not kept; errors without a path).
Result<UnwindTable> build_unwind_table(Elf* elf);

// The row in force at file address `pc`: the last row at or below it (the BPF side's search),
// nullptr below the first row.
const edleak_unwind_row* find_row(const std::vector<edleak_unwind_row>& rows, std::uint32_t pc);

inline edleak_cfa_kind cfa_kind(const edleak_unwind_row& row) {
  return static_cast<edleak_cfa_kind>(row.kinds & 0xf);
}
inline edleak_rbp_kind rbp_kind(const edleak_unwind_row& row) {
  return static_cast<edleak_rbp_kind>(row.kinds >> 4);
}

}  // namespace edleak::unwind
