#pragma once
// Test fixtures for unwind tables: ELF files built at test time with gcc (from C or assembly
// with known CFI), raw section access for corrupting them, and the invariants every table keeps.
#include <elf.h>
#include <gelf.h>
#include <gtest/gtest.h>
#include <libelf.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "unwind/unwind_table.h"

namespace edleak::unwind::testing {

// A directory in $TMPDIR, removed with everything in it when the object goes away.
class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp ? tmp : "/tmp") + "/edleak_unwind_test.XXXXXX";
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::string& path, const void* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}

inline void write_file(const std::string& path, const std::string& text) {
  write_file(path, text.data(), text.size());
}

// Compiles (and links) `sources` with gcc into `output`; fails the test with gcc's output when
// that fails.
inline bool gcc(const std::vector<std::string>& sources, const std::string& output,
                const std::string& flags) {
  std::string command = "gcc " + flags + " -o '" + output + "'";
  for (const auto& s : sources) command += " '" + s + "'";
  command += " > '" + output + ".log' 2>&1";
  if (std::system(command.c_str()) != 0) {
    const auto log = read_file(output + ".log");
    ADD_FAILURE() << command << "\n" << std::string(log.begin(), log.end());
    return false;
  }
  return true;
}

// Section headers read straight from the bytes of a 64-bit ELF file (for corrupting them).
struct RawSection {
  std::uint64_t header_offset = 0;  // of its Elf64_Shdr in the file
  std::uint64_t offset = 0, size = 0, addr = 0, flags = 0;
};

inline std::optional<RawSection> raw_section(const std::vector<std::uint8_t>& file,
                                             const std::string& name) {
  if (file.size() < sizeof(Elf64_Ehdr)) return std::nullopt;
  Elf64_Ehdr eh;
  std::memcpy(&eh, file.data(), sizeof eh);
  auto shdr = [&](std::size_t i) {
    Elf64_Shdr s{};
    const std::uint64_t at = eh.e_shoff + i * sizeof(Elf64_Shdr);
    if (at + sizeof s <= file.size()) std::memcpy(&s, file.data() + at, sizeof s);
    return s;
  };
  const Elf64_Shdr names = shdr(eh.e_shstrndx);
  for (std::size_t i = 0; i < eh.e_shnum; ++i) {
    const Elf64_Shdr s = shdr(i);
    if (names.sh_offset + s.sh_name >= file.size()) continue;
    const char* n = reinterpret_cast<const char*>(file.data() + names.sh_offset + s.sh_name);
    if (name == n)
      return RawSection{eh.e_shoff + i * sizeof(Elf64_Shdr), s.sh_offset, s.sh_size, s.sh_addr,
                        s.sh_flags};
  }
  return std::nullopt;
}

// An in-memory ELF (libelf's elf_memory over a copy of `bytes`), for corrupted files.
class MemoryElf {
 public:
  explicit MemoryElf(std::vector<std::uint8_t> bytes) : bytes_(std::move(bytes)) {
    elf_version(EV_CURRENT);
    elf_ = elf_memory(reinterpret_cast<char*>(bytes_.data()), bytes_.size());
  }
  MemoryElf(const MemoryElf&) = delete;
  MemoryElf& operator=(const MemoryElf&) = delete;
  ~MemoryElf() {
    if (elf_) elf_end(elf_);
  }
  Elf* get() const { return elf_; }

 private:
  std::vector<std::uint8_t> bytes_;
  Elf* elf_ = nullptr;
};

// The value of a symbol (.symtab, then .dynsym) and its size.
struct SymbolInfo {
  std::uint64_t value = 0, size = 0;
};
inline std::optional<SymbolInfo> find_symbol(const std::string& path, const std::string& name) {
  const auto bytes = read_file(path);
  MemoryElf elf(bytes);
  std::optional<SymbolInfo> found;
  for (Elf_Scn* scn = elf_nextscn(elf.get(), nullptr); scn && !found;
       scn = elf_nextscn(elf.get(), scn)) {
    GElf_Shdr shdr;
    if (!gelf_getshdr(scn, &shdr) || (shdr.sh_type != SHT_SYMTAB && shdr.sh_type != SHT_DYNSYM))
      continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    const std::size_t count = shdr.sh_entsize ? shdr.sh_size / shdr.sh_entsize : 0;
    for (std::size_t i = 0; data && i < count; ++i) {
      GElf_Sym sym;
      if (!gelf_getsym(data, static_cast<int>(i), &sym)) continue;
      const char* n = elf_strptr(elf.get(), shdr.sh_link, sym.st_name);
      if (n && name == n && sym.st_value) found = SymbolInfo{sym.st_value, sym.st_size};
    }
  }
  return found;
}

// What every table keeps, whatever the input: rows strictly by pc, no row repeating its
// predecessor's rule, known kinds, a GAP row last.
inline void expect_well_formed(const UnwindTable& table) {
  const auto& rows = table.rows;
  EXPECT_EQ(table.stats.rows, rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_LE(rows[i].kinds & 0xf, EDLEAK_CFA_UNSUPPORTED) << "row " << i;
    EXPECT_LE(rows[i].kinds >> 4, EDLEAK_RBP_UNDEFINED) << "row " << i;
    if (i == 0) continue;
    EXPECT_LT(rows[i - 1].pc, rows[i].pc) << "row " << i;
    const bool same = rows[i - 1].kinds == rows[i].kinds &&
                      rows[i - 1].cfa_offset == rows[i].cfa_offset &&
                      rows[i - 1].rbp_offset == rows[i].rbp_offset;
    EXPECT_FALSE(same) << "row " << i << " repeats row " << i - 1;
  }
  if (!rows.empty()) {
    EXPECT_EQ(cfa_kind(rows.back()), EDLEAK_CFA_GAP);
  }
}

}  // namespace edleak::unwind::testing
