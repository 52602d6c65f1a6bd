#include "symbolize/load_segments.h"

#include <gelf.h>
#include <unistd.h>

namespace edleak::symbolize {

Result<std::vector<LoadSegment>> read_load_segments(Elf* elf) {
  std::size_t count = 0;
  if (elf_getphdrnum(elf, &count) != 0) return make_error("cannot read the program headers: {}", elf_errmsg(-1));
  std::vector<LoadSegment> segments;
  for (std::size_t i = 0; i < count; ++i) {
    GElf_Phdr header;
    if (gelf_getphdr(elf, static_cast<int>(i), &header) == nullptr)
      return make_error("cannot read program header {}: {}", i, elf_errmsg(-1));
    if (header.p_type == PT_LOAD) segments.push_back({header.p_offset, header.p_filesz, header.p_vaddr});
  }
  if (segments.empty()) return make_error("no loadable segment");
  return segments;
}

std::optional<std::uint64_t> file_address(std::span<const LoadSegment> segments, std::uint64_t file_offset) {
  // The segment holding that byte of the file...
  for (const LoadSegment& segment : segments) {
    if (file_offset >= segment.file_offset && file_offset - segment.file_offset < segment.file_size)
      return segment.vaddr + (file_offset - segment.file_offset);
  }
  // ...or, before its first byte, the page it is mapped with.
  static const std::uint64_t page_mask = ~static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE) - 1);
  for (const LoadSegment& segment : segments) {
    if (file_offset >= (segment.file_offset & page_mask) && file_offset < segment.file_offset &&
        segment.vaddr >= segment.file_offset - file_offset)
      return segment.vaddr - (segment.file_offset - file_offset);
  }
  return std::nullopt;
}

}  // namespace edleak::symbolize
