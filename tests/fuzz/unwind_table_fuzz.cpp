// libFuzzer target for the unwind table builder: each input is an ELF file, read in memory.
// The custom mutator mostly mutates the bytes of the CFI sections (.eh_frame, .eh_frame_hdr,
// .debug_frame) in place and leaves the ELF structure alone, so that most inputs reach the CFI
// code instead of failing in libelf; now and then it mutates the whole file.
#include <elf.h>
#include <libelf.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

#include "unwind/unwind_table.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

struct Region {
  std::size_t offset, size;
};

// The file ranges of the CFI sections, from the raw section headers (checked against the size).
std::vector<Region> cfi_regions(const std::uint8_t* data, std::size_t size) {
  std::vector<Region> out;
  Elf64_Ehdr eh;
  if (size < sizeof eh || std::memcmp(data, ELFMAG, SELFMAG) != 0) return out;
  std::memcpy(&eh, data, sizeof eh);
  auto shdr = [&](std::size_t i, Elf64_Shdr& s) {
    const std::uint64_t at = eh.e_shoff + i * sizeof s;
    if (eh.e_shoff > size || at > size - sizeof s || i > size) return false;
    std::memcpy(&s, data + at, sizeof s);
    return true;
  };
  Elf64_Shdr names;
  if (!shdr(eh.e_shstrndx, names) || names.sh_offset >= size) return out;
  for (std::size_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr s;
    if (!shdr(i, s) || s.sh_type == SHT_NOBITS || s.sh_offset >= size || s.sh_size == 0 ||
        s.sh_size > size - s.sh_offset || s.sh_name >= size - names.sh_offset)
      continue;
    const char* name = reinterpret_cast<const char*>(data + names.sh_offset + s.sh_name);
    const std::size_t max = size - names.sh_offset - s.sh_name;
    const std::string_view n(name, strnlen(name, max));
    if (n == ".eh_frame" || n == ".eh_frame_hdr" || n == ".debug_frame")
      out.push_back({static_cast<std::size_t>(s.sh_offset), static_cast<std::size_t>(s.sh_size)});
  }
  return out;
}

// What every table keeps (see tests/unit/unwind/test_elf.h): a violation is a finding.
void check(const edleak::unwind::UnwindTable& table) {
  const auto& rows = table.rows;
  if (table.stats.rows != rows.size()) __builtin_trap();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if ((rows[i].kinds & 0xf) > EDLEAK_CFA_UNSUPPORTED ||
        (rows[i].kinds >> 4) > EDLEAK_RBP_UNDEFINED)
      __builtin_trap();
    if (i > 0 && rows[i - 1].pc >= rows[i].pc) __builtin_trap();
    if (i > 0 && rows[i - 1].kinds == rows[i].kinds &&
        rows[i - 1].cfa_offset == rows[i].cfa_offset &&
        rows[i - 1].rbp_offset == rows[i].rbp_offset)
      __builtin_trap();
    if (edleak::unwind::find_row(rows, rows[i].pc) != &rows[i]) __builtin_trap();
  }
  if (!rows.empty() && edleak::unwind::cfa_kind(rows.back()) != EDLEAK_CFA_GAP) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  elf_version(EV_CURRENT);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // libelf takes a writable image; the input must stay as it is.
  std::vector<char> image(data, data + size);
  Elf* elf = elf_memory(image.data(), image.size());
  if (!elf) return 0;
  auto table = edleak::unwind::build_unwind_table(elf);
  if (table) check(*table);
  elf_end(elf);
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(std::uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  std::minstd_rand random(seed);
  const auto regions = cfi_regions(data, size);
  if (regions.empty() || random() % 8 == 0) return LLVMFuzzerMutate(data, size, max_size);
  const Region r = regions[random() % regions.size()];
  // In place, keeping the section's size: what the mutation cuts off becomes zeros (for
  // .eh_frame, a terminator).
  const std::size_t n = LLVMFuzzerMutate(data + r.offset, r.size, r.size);
  if (n < r.size) std::memset(data + r.offset + n, 0, r.size - n);
  return size;
}
