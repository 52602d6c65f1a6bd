#pragma once
// The PT_LOAD segments of an ELF file: how a mapping of the file at some offset relates to the
// file's own virtual addresses (those of its symbols, DWARF and CFI).
#include <libelf.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "util/result.h"

namespace edleak::unwind {

struct LoadSegment {
  std::uint64_t file_offset = 0;
  std::uint64_t file_size = 0;
  std::uint64_t vaddr = 0;
};

Result<std::vector<LoadSegment>> read_load_segments(Elf* elf);

// start - (the file virtual address mapped at start) for a mapping of the file at
// `file_offset`: runtime address - bias = file address. nullopt when no segment holds that
// part of the file.
std::optional<std::uint64_t> mapping_bias(std::span<const LoadSegment> segments,
                                          std::uint64_t start, std::uint64_t file_offset);

}  // namespace edleak::unwind
