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
  std::size_t fdes = 0;  // FDEs turned into rows
  std::size_t rows = 0;
  std::map<std::string, std::size_t> skipped;      // reason -> FDEs (or sections) skipped
  std::map<std::string, std::size_t> unsupported;  // reason -> rows marked UNSUPPORTED
  bool eh_frame = false;
  bool debug_frame = false;
};

struct UnwindTable {
  std::vector<edleak_unwind_row> rows;  // sorted by pc; ends with a GAP row
  TableStats stats;
  std::size_t memory_bytes() const { return rows.capacity() * sizeof(edleak_unwind_row); }
};

// Builds the table of the ELF file at `path`. Fails when the file cannot be read as ELF or has
// no CFI at all; CFI that cannot be read is skipped and counted in stats, never trusted.
Result<UnwindTable> build_unwind_table(const std::string& path);
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
