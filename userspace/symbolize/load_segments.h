#pragma once
// The PT_LOAD segments of an ELF file: how the file's offsets relate to its own virtual
// addresses (those of its symbols, DWARF and CFI), for mappings of the file at any offset.
#include <libelf.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "util/result.h"

namespace edleak::symbolize {

struct LoadSegment {
  std::uint64_t file_offset = 0;
  std::uint64_t file_size = 0;
  std::uint64_t vaddr = 0;
};

Result<std::vector<LoadSegment>> read_load_segments(Elf* elf);

// The file's virtual address of the byte at `file_offset`: in the segment holding it, or
// before a segment's first byte on the page it is mapped with (segments need not start on a
// page). nullopt when no segment holds that part of the file.
std::optional<std::uint64_t> file_address(std::span<const LoadSegment> segments, std::uint64_t file_offset);

}  // namespace edleak::symbolize
