// The ELF reader on the system libc, on this test binary (whose code is also in memory, to
// check addresses against) and on broken files.
#include "probe/elf_symbols.h"

#include <elf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "temp_file.h"

// A function with a known body in .symtab (not exported, so not in .dynsym).
extern "C" __attribute__((noinline, used)) int edleak_probe_test_marker(int x) { return x * 7 + 3; }

namespace edleak::probe {
namespace {

using ::testing::HasSubstr;
using testing::read_whole_file;
using testing::TempFile;

constexpr const char* kLibc = "/lib/x86_64-linux-gnu/libc.so.6";

// The PT_LOAD headers, parsed here without libelf, as the reference for file_offset().
std::vector<Elf64_Phdr> load_segments(const std::vector<std::uint8_t>& image) {
  Elf64_Ehdr header;
  std::memcpy(&header, image.data(), sizeof header);
  std::vector<Elf64_Phdr> loads;
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr phdr;
    std::memcpy(&phdr, image.data() + header.e_phoff + i * header.e_phentsize, sizeof phdr);
    if (phdr.p_type == PT_LOAD) loads.push_back(phdr);
  }
  return loads;
}

void expect_offsets_match_program_headers(const std::string& path) {
  auto elf = ElfFile::open(path);
  ASSERT_TRUE(elf.ok()) << elf.error().message;
  const auto loads = load_segments(read_whole_file(path));
  ASSERT_FALSE(loads.empty());
  for (const auto& load : loads) {
    ASSERT_GT(load.p_filesz, 0u);
    for (const std::uint64_t into : {std::uint64_t{0}, load.p_filesz / 2, load.p_filesz - 1}) {
      auto offset = elf->file_offset(load.p_vaddr + into);
      ASSERT_TRUE(offset.ok()) << offset.error().message;
      EXPECT_EQ(*offset, load.p_offset + into) << path << " vaddr " << std::hex << load.p_vaddr + into;
    }
    if (load.p_memsz > load.p_filesz) {
      // .bss: mapped, but not from the file: no offset to attach at.
      EXPECT_FALSE(elf->file_offset(load.p_vaddr + load.p_filesz).ok());
    }
  }
}

TEST(ElfFile, LibcHasMallocInDynsym) {
  auto elf = ElfFile::open(kLibc);
  ASSERT_TRUE(elf.ok()) << elf.error().message;
  EXPECT_TRUE(elf->shared_object());
  const ElfFunction* malloc_symbol = elf->find_function("malloc");
  ASSERT_NE(malloc_symbol, nullptr);
  EXPECT_EQ(malloc_symbol->name, "malloc");
  EXPECT_EQ(malloc_symbol->table, SymbolTable::dynsym);
  EXPECT_FALSE(malloc_symbol->ifunc);
  EXPECT_FALSE(malloc_symbol->hidden_version);
  EXPECT_GT(malloc_symbol->size, 16u);
  const auto at_malloc = elf->functions_at(malloc_symbol->address);
  EXPECT_TRUE(std::any_of(at_malloc.begin(), at_malloc.end(), [](auto* f) { return f->name == "malloc"; }));
  EXPECT_EQ(elf->find_function("no_such_function_anywhere"), nullptr);
}

TEST(ElfFile, LibcCodeBytesAreTheFileBytesAtTheOffset) {
  auto elf = ElfFile::open(kLibc);
  ASSERT_TRUE(elf.ok()) << elf.error().message;
  const auto image = read_whole_file(kLibc);
  for (const char* name : {"malloc", "free", "calloc", "realloc"}) {
    const ElfFunction* function = elf->find_function(name);
    ASSERT_NE(function, nullptr) << name;
    auto offset = elf->file_offset(function->address);
    ASSERT_TRUE(offset.ok()) << offset.error().message;
    auto code = elf->code_at(function->address, 16);
    ASSERT_TRUE(code.ok()) << code.error().message;
    ASSERT_EQ(code->size(), 16u);
    ASSERT_LE(*offset + 16, image.size());
    EXPECT_TRUE(std::equal(code->begin(), code->end(), image.begin() + static_cast<std::ptrdiff_t>(*offset))) << name;
  }
}

TEST(ElfFile, OffsetsMatchProgramHeaders) {
  expect_offsets_match_program_headers(kLibc);
  // This test binary: a PIE whose data segment's address and offset differ.
  expect_offsets_match_program_headers("/proc/self/exe");
}

TEST(ElfFile, SymtabFunctionBytesMatchTheLoadedCode) {
  auto elf = ElfFile::open("/proc/self/exe");
  ASSERT_TRUE(elf.ok()) << elf.error().message;
  const ElfFunction* marker = elf->find_function("edleak_probe_test_marker");
  ASSERT_NE(marker, nullptr);
  EXPECT_EQ(marker->table, SymbolTable::symtab);
  ASSERT_GT(marker->size, 0u);
  auto code = elf->code_at(marker->address, marker->size);
  ASSERT_TRUE(code.ok()) << code.error().message;
  ASSERT_EQ(code->size(), marker->size);
  const auto* loaded = reinterpret_cast<const std::uint8_t*>(&edleak_probe_test_marker);
  EXPECT_TRUE(std::equal(code->begin(), code->end(), loaded));
  EXPECT_EQ(edleak_probe_test_marker(1), 10);
}

TEST(ElfFile, CodeStopsAtTheEndOfTheExecutableSegment) {
  auto elf = ElfFile::open(kLibc);
  ASSERT_TRUE(elf.ok());
  const auto image = read_whole_file(kLibc);
  for (const auto& load : load_segments(image)) {
    if ((load.p_flags & PF_X) == 0) {
      EXPECT_FALSE(elf->code_at(load.p_vaddr, 4).ok()) << "data is not code";
      continue;
    }
    auto tail = elf->code_at(load.p_vaddr + load.p_filesz - 3, 32);
    ASSERT_TRUE(tail.ok());
    EXPECT_EQ(tail->size(), 3u);
  }
}

TEST(ElfFile, DefaultVersionWinsOverOlderVersions) {
  auto elf = ElfFile::open(kLibc);
  ASSERT_TRUE(elf.ok());
  // glibc 2.36 has pthread_cond_init@GLIBC_2.2.5 before pthread_cond_init@@GLIBC_2.3.2, and
  // posix_spawn@@GLIBC_2.15 before posix_spawn@GLIBC_2.2.5, at different addresses.
  for (const char* name : {"pthread_cond_init", "posix_spawn"}) {
    const ElfFunction* function = elf->find_function(name);
    ASSERT_NE(function, nullptr) << name;
    EXPECT_FALSE(function->hidden_version) << name;
    const auto copies = std::count_if(elf->functions().begin(), elf->functions().end(), [&](const ElfFunction& f) {
      return f.name == name && f.table == SymbolTable::dynsym;
    });
    EXPECT_EQ(copies, 1) << name;
  }
  // cfree exists only as cfree@GLIBC_2.2.5: kept, marked as not the default version.
  const ElfFunction* cfree_symbol = elf->find_function("cfree");
  ASSERT_NE(cfree_symbol, nullptr);
  EXPECT_TRUE(cfree_symbol->hidden_version);
}

TEST(ElfFile, MissingFile) {
  auto elf = ElfFile::open("/nonexistent/libc.so.6");
  ASSERT_FALSE(elf.ok());
  EXPECT_EQ(elf.error().message, "/nonexistent/libc.so.6: cannot open: No such file or directory");
}

TEST(ElfFile, NotAnElfFile) {
  const std::string text = "#!/bin/sh\necho this is not an ELF file\n";
  TempFile file(std::vector<std::uint8_t>(text.begin(), text.end()));
  auto elf = ElfFile::open(file.path());
  ASSERT_FALSE(elf.ok());
  EXPECT_EQ(elf.error().message, file.path() + ": not an ELF file");

  TempFile empty(std::vector<std::uint8_t>{});
  EXPECT_FALSE(ElfFile::open(empty.path()).ok());
}

TEST(ElfFile, WrongMachineAndWrongType) {
  auto image = read_whole_file(kLibc);
  ASSERT_GT(image.size(), sizeof(Elf64_Ehdr));
  auto patched = image;
  const std::uint16_t aarch64 = EM_AARCH64;
  std::memcpy(patched.data() + offsetof(Elf64_Ehdr, e_machine), &aarch64, sizeof aarch64);
  TempFile arm(patched);
  auto elf = ElfFile::open(arm.path());
  ASSERT_FALSE(elf.ok());
  EXPECT_EQ(elf.error().message, arm.path() + ": not an x86-64 ELF file");

  patched = image;
  const std::uint16_t relocatable = ET_REL;
  std::memcpy(patched.data() + offsetof(Elf64_Ehdr, e_type), &relocatable, sizeof relocatable);
  TempFile object(patched);
  elf = ElfFile::open(object.path());
  ASSERT_FALSE(elf.ok());
  EXPECT_THAT(elf.error().message, HasSubstr("not an executable or shared object"));
}

TEST(ElfFile, TruncatedElf) {
  auto image = read_whole_file(kLibc);
  for (const std::size_t keep : {std::size_t{16}, sizeof(Elf64_Ehdr), std::size_t{4096}, image.size() / 2}) {
    TempFile truncated(std::vector<std::uint8_t>(image.begin(), image.begin() + static_cast<std::ptrdiff_t>(keep)));
    auto elf = ElfFile::open(truncated.path());
    ASSERT_FALSE(elf.ok()) << "kept " << keep << " bytes";
    EXPECT_THAT(elf.error().message, ::testing::StartsWith(truncated.path() + ": "));
  }
}

TEST(ElfFile, CorruptedTablesNeverCrash) {
  // Random bytes over the headers, the symbol tables and strings near the start, and the
  // section headers at the end: every open either fails with a message or yields a reader
  // whose lookups stay in bounds.
  const auto image = read_whole_file(kLibc);
  ASSERT_GT(image.size(), 0x20000u);
  std::mt19937 random(12345);
  for (int round = 0; round < 30; ++round) {
    auto broken = image;
    const std::size_t region_start = round % 3 == 2 ? image.size() - 0x1000 : 0;
    const std::size_t region_size = round % 3 == 0 ? 0x1000 : round % 3 == 1 ? 0x20000 : 0x1000;
    for (int i = 0; i < 64; ++i) {
      broken[region_start + random() % region_size] = static_cast<std::uint8_t>(random());
    }
    // Keep the magic so the damage reaches past the ELF check.
    std::copy(image.begin(), image.begin() + 4, broken.begin());
    TempFile file(broken);
    auto elf = ElfFile::open(file.path());
    if (!elf.ok()) {
      EXPECT_THAT(elf.error().message, ::testing::StartsWith(file.path() + ": "));
      continue;
    }
    for (const auto& function : elf->functions()) {
      auto code = elf->code_at(function.address, 32);
      if (code.ok()) {
        EXPECT_LE(code->size(), 32u);
      }
    }
  }
}

}  // namespace
}  // namespace edleak::probe
