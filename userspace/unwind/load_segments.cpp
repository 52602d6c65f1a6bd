#include "unwind/load_segments.h"

#include <gelf.h>

namespace edleak::unwind {

Result<std::vector<LoadSegment>> read_load_segments(Elf* elf) {
  std::size_t count = 0;
  if (elf_getphdrnum(elf, &count) != 0) return make_error("no program headers: {}", elf_errmsg(-1));
  std::vector<LoadSegment> segments;
  for (std::size_t i = 0; i < count; ++i) {
    GElf_Phdr phdr;
    if (!gelf_getphdr(elf, static_cast<int>(i), &phdr) || phdr.p_type != PT_LOAD) continue;
    segments.push_back({phdr.p_offset, phdr.p_filesz, phdr.p_vaddr});
  }
  if (segments.empty()) return make_error("no PT_LOAD segment");
  return segments;
}

std::optional<std::uint64_t> mapping_bias(std::span<const LoadSegment> segments,
                                          std::uint64_t start, std::uint64_t file_offset) {
  for (const auto& s : segments) {
    // Mappings start at page-aligned offsets: the segment's first page may begin before it.
    const std::uint64_t page_start = s.file_offset & ~std::uint64_t{0xfff};
    if (file_offset < page_start || file_offset >= s.file_offset + s.file_size) continue;
    const std::uint64_t vaddr_at_offset = s.vaddr - (s.file_offset - file_offset);
    return start - vaddr_at_offset;
  }
  return std::nullopt;
}

}  // namespace edleak::unwind
