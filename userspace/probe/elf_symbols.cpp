#include "probe/elf_symbols.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

namespace edleak::probe {

namespace {

std::string elf_failure() {
  const char* message = elf_errmsg(-1);
  return message != nullptr ? message : "unknown libelf error";
}

// libelf refuses every call until the library version is set, once per process.
bool libelf_ready() {
  static const bool ready = elf_version(EV_CURRENT) != EV_NONE;
  return ready;
}

// .symtab may spell versions into the name ("memcpy@GLIBC_2.2.5"); .dynsym never does.
struct VersionedName {
  std::string_view name;
  bool hidden_version;
};
VersionedName split_version(std::string_view raw) {
  const auto at = raw.find('@');
  if (at == std::string_view::npos) return {raw, false};
  const bool default_version = raw.substr(at).starts_with("@@");
  return {raw.substr(0, at), !default_version};
}

// The Elf_Data of a section, or null when the section has none (SHT_NOBITS) or libelf cannot
// read it (its bytes lie outside the file).
Elf_Data* section_data(Elf_Scn* section) {
  Elf_Data* data = elf_getdata(section, nullptr);
  if (data == nullptr || data->d_buf == nullptr) return nullptr;
  return data;
}

std::size_t entry_count(const Elf_Data* data, std::size_t entry_size) {
  return data == nullptr ? 0 : data->d_size / entry_size;
}

}  // namespace

void ElfFile::ElfCloser::operator()(Elf* elf) const { elf_end(elf); }

ElfFile::FileDescriptor& ElfFile::FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

ElfFile::FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

int ElfFile::FileDescriptor::release() { return std::exchange(fd_, -1); }

ElfFile::ElfFile(ElfFile&&) noexcept = default;
ElfFile& ElfFile::operator=(ElfFile&&) noexcept = default;
ElfFile::~ElfFile() = default;

Result<ElfFile> ElfFile::open(const std::string& path) {
  if (!libelf_ready()) return make_error("{}: libelf initialisation failed: {}", path, elf_failure());
  ElfFile file;
  file.path_ = path;
  file.fd_ = FileDescriptor(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.fd_.get() < 0) return make_error("{}: cannot open: {}", path, std::strerror(errno));

  file.elf_.reset(elf_begin(file.fd_.get(), ELF_C_READ_MMAP, nullptr));
  if (!file.elf_) return make_error("{}: cannot read as ELF: {}", path, elf_failure());
  if (elf_kind(file.elf_.get()) != ELF_K_ELF) return make_error("{}: not an ELF file", path);

  std::size_t image_size = 0;
  const char* image = elf_rawfile(file.elf_.get(), &image_size);
  if (image == nullptr) return make_error("{}: cannot map the file: {}", path, elf_failure());
  file.image_ = {reinterpret_cast<const std::uint8_t*>(image), image_size};

  if (auto header = file.read_header(); !header) return header.error();
  if (auto segments = file.read_segments(); !segments) return segments.error();
  if (auto sections = file.read_sections(); !sections) return sections.error();
  return file;
}

Result<void> ElfFile::read_header() {
  GElf_Ehdr header;
  if (gelf_getehdr(elf_.get(), &header) == nullptr) {
    return make_error("{}: cannot read the ELF header: {}", path_, elf_failure());
  }
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_machine != EM_X86_64) {
    return make_error("{}: not an x86-64 ELF file", path_);
  }
  if (header.e_type != ET_DYN && header.e_type != ET_EXEC) {
    return make_error("{}: not an executable or shared object (ELF type {})", path_, header.e_type);
  }
  shared_object_ = header.e_type == ET_DYN;
  return {};
}

Result<void> ElfFile::read_segments() {
  std::size_t count = 0;
  if (elf_getphdrnum(elf_.get(), &count) != 0) {
    return make_error("{}: cannot read the program headers: {}", path_, elf_failure());
  }
  for (std::size_t i = 0; i < count; ++i) {
    GElf_Phdr header;
    if (gelf_getphdr(elf_.get(), static_cast<int>(i), &header) == nullptr) {
      return make_error("{}: cannot read program header {}: {}", path_, i, elf_failure());
    }
    if (header.p_type != PT_LOAD) continue;
    // Written without overflow: offset + size <= file size.
    if (header.p_offset > image_.size() || header.p_filesz > image_.size() - header.p_offset) {
      return make_error("{}: truncated: segment {} ends at byte {:#x}, the file has {:#x}", path_, i,
                        header.p_offset + header.p_filesz, image_.size());
    }
    if (header.p_filesz > UINT64_MAX - header.p_vaddr) {
      return make_error("{}: program header {} maps beyond the address space", path_, i);
    }
    segments_.push_back({header.p_vaddr, header.p_offset, header.p_filesz, (header.p_flags & PF_X) != 0});
  }
  if (segments_.empty()) return make_error("{}: no loadable segment", path_);
  return {};
}

Result<void> ElfFile::read_sections() {
  Elf* elf = elf_.get();
  // Position of each kept name in functions_, per table: a later default version replaces an
  // earlier hidden one.
  std::map<std::pair<SymbolTable, std::string>, std::size_t> kept;

  auto add_symbols = [&](Elf_Scn* section, const GElf_Shdr& header, SymbolTable table) {
    Elf_Data* symbols = section_data(section);
    // .gnu.version parallels .dynsym: entry i is the version of symbol i; bit 15 marks a
    // non-default version. Read only if it is this table's and has one entry per symbol.
    Elf_Data* versions = nullptr;
    if (table == SymbolTable::dynsym) {
      for (Elf_Scn* s = elf_nextscn(elf, nullptr); s != nullptr; s = elf_nextscn(elf, s)) {
        GElf_Shdr version_header;
        if (gelf_getshdr(s, &version_header) != nullptr && version_header.sh_type == SHT_GNU_versym &&
            version_header.sh_link == elf_ndxscn(section)) {
          versions = section_data(s);
        }
      }
    }
    const std::size_t count = entry_count(symbols, sizeof(Elf64_Sym));
    if (entry_count(versions, sizeof(GElf_Versym)) < count) versions = nullptr;
    for (std::size_t i = 0; i < count; ++i) {
      GElf_Sym symbol;
      if (gelf_getsym(symbols, static_cast<int>(i), &symbol) == nullptr) continue;
      const int type = GELF_ST_TYPE(symbol.st_info);
      if ((type != STT_FUNC && type != STT_GNU_IFUNC) || symbol.st_shndx == SHN_UNDEF) continue;
      const char* raw_name = elf_strptr(elf, header.sh_link, symbol.st_name);
      if (raw_name == nullptr || *raw_name == '\0') continue;
      auto [name, hidden] = split_version(raw_name);
      if (versions != nullptr) {
        GElf_Versym version;
        if (gelf_getversym(versions, static_cast<int>(i), &version) != nullptr) {
          hidden = hidden || (version & 0x8000) != 0;
        }
      }
      ElfFunction function{std::string(name), symbol.st_value, symbol.st_size, type == STT_GNU_IFUNC, hidden, table};
      auto [where, inserted] = kept.try_emplace({table, function.name}, functions_.size());
      if (inserted) {
        functions_.push_back(std::move(function));
      } else if (functions_[where->second].hidden_version && !hidden) {
        functions_[where->second] = std::move(function);
      }
    }
  };

  auto add_got_slots = [&](Elf_Scn* section, const GElf_Shdr& header) {
    Elf_Scn* symbol_section = elf_getscn(elf, header.sh_link);
    GElf_Shdr symbol_header;
    if (symbol_section == nullptr || gelf_getshdr(symbol_section, &symbol_header) == nullptr) return;
    Elf_Data* symbols = section_data(symbol_section);
    Elf_Data* relocations = section_data(section);
    const std::size_t count = entry_count(relocations, sizeof(Elf64_Rela));
    for (std::size_t i = 0; i < count; ++i) {
      GElf_Rela relocation;
      if (gelf_getrela(relocations, static_cast<int>(i), &relocation) == nullptr) continue;
      const auto type = GELF_R_TYPE(relocation.r_info);
      if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
      GElf_Sym symbol;
      if (gelf_getsym(symbols, static_cast<int>(GELF_R_SYM(relocation.r_info)), &symbol) == nullptr) continue;
      const char* name = elf_strptr(elf, symbol_header.sh_link, symbol.st_name);
      if (name == nullptr || *name == '\0') continue;
      got_slots_.emplace(relocation.r_offset, split_version(name).name);
    }
  };

  auto add_dynamic = [&](Elf_Scn* section, const GElf_Shdr& header) {
    Elf_Data* entries = section_data(section);
    const std::size_t count = entry_count(entries, sizeof(Elf64_Dyn));
    for (std::size_t i = 0; i < count; ++i) {
      GElf_Dyn entry;
      if (gelf_getdyn(entries, static_cast<int>(i), &entry) == nullptr || entry.d_tag == DT_NULL) break;
      if (entry.d_tag != DT_NEEDED && entry.d_tag != DT_RUNPATH && entry.d_tag != DT_RPATH) continue;
      const char* text = elf_strptr(elf, header.sh_link, entry.d_un.d_val);
      if (text == nullptr) continue;
      if (entry.d_tag == DT_NEEDED) needed_.emplace_back(text);
      else runpath_ = text;
    }
  };

  // .dynsym before .symtab, whatever their order in the file, so that functions() lists the
  // dynamic symbols first.
  for (const unsigned wanted : {SHT_DYNSYM, SHT_SYMTAB, SHT_RELA, SHT_DYNAMIC}) {
    for (Elf_Scn* section = elf_nextscn(elf, nullptr); section != nullptr; section = elf_nextscn(elf, section)) {
      GElf_Shdr header;
      if (gelf_getshdr(section, &header) == nullptr) {
        return make_error("{}: cannot read section header {}: {}", path_, elf_ndxscn(section), elf_failure());
      }
      if (header.sh_type != wanted) continue;
      if (wanted == SHT_DYNSYM) add_symbols(section, header, SymbolTable::dynsym);
      if (wanted == SHT_SYMTAB) add_symbols(section, header, SymbolTable::symtab);
      if (wanted == SHT_RELA) add_got_slots(section, header);
      if (wanted == SHT_DYNAMIC) add_dynamic(section, header);
    }
  }
  return {};
}

const ElfFunction* ElfFile::find_function(std::string_view name) const {
  // functions_ lists .dynsym first, so the first match is the preferred one.
  for (const auto& function : functions_) {
    if (function.name == name) return &function;
  }
  return nullptr;
}

std::vector<const ElfFunction*> ElfFile::functions_at(std::uint64_t address) const {
  std::vector<const ElfFunction*> found;
  for (const auto& function : functions_) {
    if (function.address == address) found.push_back(&function);
  }
  return found;
}

const ElfFile::LoadSegment* ElfFile::segment_for(std::uint64_t address) const {
  for (const auto& segment : segments_) {
    if (address >= segment.vaddr && address - segment.vaddr < segment.file_size) return &segment;
  }
  return nullptr;
}

Result<std::uint64_t> ElfFile::file_offset(std::uint64_t address) const {
  const LoadSegment* segment = segment_for(address);
  if (segment == nullptr) {
    return make_error("{}: address {:#x} is not in any loadable segment of the file", path_, address);
  }
  return address - segment->vaddr + segment->offset;
}

Result<std::span<const std::uint8_t>> ElfFile::code_at(std::uint64_t address, std::size_t max_bytes) const {
  const LoadSegment* segment = segment_for(address);
  if (segment == nullptr || !segment->executable) {
    return make_error("{}: address {:#x} is not in an executable segment", path_, address);
  }
  // read_segments() checked that the whole segment lies inside image_.
  const std::uint64_t into_segment = address - segment->vaddr;
  const std::uint64_t available = segment->file_size - into_segment;
  const std::size_t length = available < max_bytes ? static_cast<std::size_t>(available) : max_bytes;
  std::vector<std::uint8_t>& bytes = code_reads_.emplace_back(length);
  const auto offset = static_cast<off_t>(segment->offset + into_segment);
  const ssize_t got = ::pread(fd_.get(), bytes.data(), length, offset);
  if (got != static_cast<ssize_t>(length)) {
    const std::string why = got < 0 ? std::strerror(errno) : fmt::format("{} of {} bytes", got, length);
    code_reads_.pop_back();
    return make_error("{}: cannot read the code at {:#x}: {}", path_, address, why);
  }
  return std::span<const std::uint8_t>(bytes);
}

std::optional<std::string> ElfFile::got_slot_symbol(std::uint64_t slot_address) const {
  const auto found = got_slots_.find(slot_address);
  if (found == got_slots_.end()) return std::nullopt;
  return found->second;
}

}  // namespace edleak::probe
