#pragma once
// The function symbols of an x86-64 ELF file (.dynsym and .symtab), and the translation from a
// virtual address to the file offset a uprobe attaches at. Built on libelf; every read from the
// file is bounds-checked, so a truncated or hostile file yields an Error, never a crash.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/result.h"

struct Elf;  // libelf's handle (libelf.h is kept out of this header)

namespace edleak::probe {

enum class SymbolTable { dynsym, symtab };

struct ElfFunction {
  std::string name;             // without version ("malloc", not "malloc@@GLIBC_2.2.5")
  std::uint64_t address = 0;    // st_value: virtual address of the first byte
  std::uint64_t size = 0;       // st_size; 0 when the symbol does not say
  bool ifunc = false;           // STT_GNU_IFUNC: `address` is the resolver, not the function
  bool hidden_version = false;  // a non-default version ("cfree@GLIBC_2.2.5", single @)
  SymbolTable table = SymbolTable::dynsym;
};

class ElfFile {
 public:
  // Opens `path`, checks it is an x86-64 executable or shared object, and reads its defined
  // function symbols, its PT_LOAD segments and its PLT/GOT relocations.
  static Result<ElfFile> open(const std::string& path);

  ElfFile(ElfFile&&) noexcept;
  ElfFile& operator=(ElfFile&&) noexcept;
  ~ElfFile();

  const std::string& path() const { return path_; }
  bool shared_object() const { return shared_object_; }  // ET_DYN (else ET_EXEC)

  // Every defined function, .dynsym first. One entry per (table, name): when a name has several
  // versions, the default version is kept.
  const std::vector<ElfFunction>& functions() const { return functions_; }
  // The function called `name` (unversioned), .dynsym preferred over .symtab.
  const ElfFunction* find_function(std::string_view name) const;
  // All functions whose address is `address` (aliases: malloc and __libc_malloc, ...).
  std::vector<const ElfFunction*> functions_at(std::uint64_t address) const;

  // The file offset of virtual address `address`, through the PT_LOAD segment that maps it from
  // the file. Fails for addresses outside every segment's file-backed part.
  Result<std::uint64_t> file_offset(std::uint64_t address) const;
  // Up to `max_bytes` of code at virtual address `address`: stops at the end of the executable
  // segment that holds it. Fails when no executable segment maps `address`.
  Result<std::span<const std::uint8_t>> code_at(std::uint64_t address, std::size_t max_bytes) const;

  // The symbol whose address the dynamic linker stores at GOT slot `slot_address`
  // (R_X86_64_JUMP_SLOT or R_X86_64_GLOB_DAT): what a PLT stub jumping through that slot calls.
  std::optional<std::string> got_slot_symbol(std::uint64_t slot_address) const;

  // DT_NEEDED entries in order (what the dynamic loader loads next, breadth-first), and the
  // DT_RUNPATH (or DT_RPATH) string, "" when none.
  const std::vector<std::string>& needed() const { return needed_; }
  const std::string& runpath() const { return runpath_; }

 private:
  struct LoadSegment {
    std::uint64_t vaddr;
    std::uint64_t offset;
    std::uint64_t file_size;
    bool executable;
  };
  struct ElfCloser {
    void operator()(Elf* elf) const;
  };
  // Owns the descriptor libelf reads from; closed after the Elf handle (member order).
  class FileDescriptor {
   public:
    explicit FileDescriptor(int fd = -1) : fd_(fd) {}
    FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
    FileDescriptor& operator=(FileDescriptor&& other) noexcept;
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    ~FileDescriptor();
    int get() const { return fd_; }
    int release();

   private:
    int fd_;
  };

  ElfFile() = default;
  Result<void> read_header();
  Result<void> read_segments();
  Result<void> read_sections();
  const LoadSegment* segment_for(std::uint64_t address) const;

  std::string path_;
  FileDescriptor fd_;
  std::unique_ptr<Elf, ElfCloser> elf_;
  std::span<const std::uint8_t> image_;  // the whole file, mapped by libelf
  // Code bytes read from the file itself (code_at): a mapping of the file is a mapping uprobes
  // write their breakpoints into (any tracer's probes on it, another edleak-bpf's included),
  // and a prologue decoded from it would start with int3. Kept until the file is closed.
  mutable std::deque<std::vector<std::uint8_t>> code_reads_;
  bool shared_object_ = false;
  std::vector<LoadSegment> segments_;
  std::vector<ElfFunction> functions_;
  std::unordered_map<std::uint64_t, std::string> got_slots_;
  std::vector<std::string> needed_;
  std::string runpath_;
};

}  // namespace edleak::probe
