#include "symbolize/elf_module.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>
#include <unistd.h>

#include <cstdint>

#include "symbolize/demangle.h"

namespace edleak::symbolize {
namespace {

const char* dwfl_error_text() { return dwfl_errmsg(-1); }

// The demangled name of a function DIE, following DW_AT_abstract_origin (inlined instances) and
// DW_AT_specification (out-of-class definitions) to where the name is.
std::string function_name(Dwarf_Die* function) {
  Dwarf_Attribute attribute;
  for (int name : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name}) {
    if (const char* linkage = dwarf_formstring(dwarf_attr_integrate(function, name, &attribute))) {
      return demangle(linkage);
    }
  }
  const char* plain = dwarf_formstring(dwarf_attr_integrate(function, DW_AT_name, &attribute));
  return plain != nullptr ? plain : "";
}

std::optional<Dwarf_Word> unsigned_attribute(Dwarf_Die* die, unsigned int name) {
  Dwarf_Attribute attribute;
  Dwarf_Word value = 0;
  if (dwarf_formudata(dwarf_attr(die, name, &attribute), &value) != 0) return std::nullopt;
  return value;
}

// Where an inlined instance was inlined: its DW_AT_call_file (an index into the line table's
// file names, checked) and DW_AT_call_line.
InlinedFrame inlined_frame(Dwarf_Die* instance, Dwarf_Files* files, std::size_t file_count) {
  InlinedFrame frame;
  frame.symbol = function_name(instance);
  auto file_index = unsigned_attribute(instance, DW_AT_call_file);
  if (file_index && files != nullptr && *file_index < file_count) {
    if (const char* file = dwarf_filesrc(files, *file_index, nullptr, nullptr)) frame.file = file;
  }
  auto line = unsigned_attribute(instance, DW_AT_call_line);
  if (line && *line <= static_cast<Dwarf_Word>(INT32_MAX)) frame.line = static_cast<int>(*line);
  return frame;
}

}  // namespace

Result<std::unique_ptr<ElfModule>> ElfModule::open(const std::string& file_name, UniqueFd fd,
                                                   const std::vector<std::string>& debug_dirs) {
  std::unique_ptr<ElfModule> module(new ElfModule(file_name));
  // Debug files by name next to the file and in its .debug/, then by build ID or name in each
  // directory (see dwfl_standard_find_debuginfo).
  module->debuginfo_path_ = ":.debug";
  for (const std::string& dir : debug_dirs) module->debuginfo_path_ += ":" + dir;
  module->debuginfo_path_ptr_ = module->debuginfo_path_.data();
  module->callbacks_.find_elf = dwfl_build_id_find_elf;
  module->callbacks_.find_debuginfo = dwfl_standard_find_debuginfo;
  module->callbacks_.section_address = dwfl_offline_section_address;
  module->callbacks_.debuginfo_path = &module->debuginfo_path_ptr_;

  module->dwfl_.reset(dwfl_begin(&module->callbacks_));
  if (!module->dwfl_) return make_error("cannot start libdwfl: {}", dwfl_error_text());
  dwfl_report_begin(module->dwfl_.get());
  // Base 0 relative to p_vaddr: module addresses are the ELF's own virtual addresses, for
  // executables and shared libraries alike.
  module->module_ =
      dwfl_report_elf(module->dwfl_.get(), file_name.c_str(), file_name.c_str(), fd.get(), 0, true);
  if (module->module_ == nullptr) {
    return make_error("cannot read ELF file {}: {}", file_name, dwfl_error_text());
  }
  fd.release();  // libdwfl closes it from now on
  if (dwfl_report_end(module->dwfl_.get(), nullptr, nullptr) != 0) {
    return make_error("cannot load ELF file {}: {}", file_name, dwfl_error_text());
  }

  auto segments = module->read_segments();
  if (!segments) return segments.error();
  module->read_symbols();
  return module;
}

ElfModule::~ElfModule() = default;

Result<void> ElfModule::read_segments() {
  Dwarf_Addr bias = 0;
  Elf* elf = dwfl_module_getelf(module_, &bias);
  if (elf == nullptr) return make_error("cannot read {}: {}", file_name_, dwfl_error_text());
  bias_ = bias;
  auto segments = read_load_segments(elf);
  if (!segments) return make_error("{}: {}", file_name_, segments.error().message);
  segments_ = std::move(*segments);
  return {};
}

void ElfModule::read_symbols() {
  // libdwfl picks the fullest table: .symtab of the file or of its debug file, else .dynsym
  // (plus the MiniDebugInfo one).
  int count = dwfl_module_getsymtab(module_);
  for (int i = 1; i < count; ++i) {
    GElf_Sym symbol;
    GElf_Addr address = 0;
    GElf_Word section = 0;
    const char* name =
        dwfl_module_getsym_info(module_, i, &symbol, &address, &section, nullptr, nullptr);
    int type = GELF_ST_TYPE(symbol.st_info);
    if (name == nullptr || *name == '\0' || section == SHN_UNDEF ||
        (type != STT_FUNC && type != STT_GNU_IFUNC)) {
      continue;
    }
    SymbolTable::Binding binding = SymbolTable::Binding::local;
    switch (GELF_ST_BIND(symbol.st_info)) {
      case STB_GLOBAL:
      case STB_GNU_UNIQUE:
        binding = SymbolTable::Binding::global;
        break;
      case STB_WEAK:
        binding = SymbolTable::Binding::weak;
        break;
      default:
        break;
    }
    symbols_.add({name, address - bias_, symbol.st_size, binding});
  }
  symbols_.finish();
}

std::optional<std::uint64_t> ElfModule::module_address(const Mapping& mapping,
                                                       std::uint64_t addr) const {
  if (!mapping.contains(addr)) return std::nullopt;
  return file_address(segments_, addr - mapping.start + mapping.file_offset);
}

const ModuleAddressInfo& ElfModule::resolve(std::uint64_t module_addr) {
  auto it = resolved_.find(module_addr);
  if (it == resolved_.end()) it = resolved_.emplace(module_addr, lookup(module_addr)).first;
  return it->second;
}

ModuleAddressInfo ElfModule::lookup(std::uint64_t module_addr) {
  ModuleAddressInfo info;
  const Dwarf_Addr addr = module_addr + bias_;

  if (const SymbolTable::Symbol* symbol = symbols_.find(module_addr)) {
    info.symbol = demangle(symbol->name);
    info.symbol_address = symbol->start;
  } else if (const SymbolTable::Symbol* nearest = symbols_.nearest_exported(module_addr)) {
    info.nearest_symbol = demangle(nearest->name);
    info.nearest_address = nearest->start;
  }

  if (Dwfl_Line* line = dwfl_module_getsrc(module_, addr)) {
    int line_number = 0;
    if (const char* file = dwfl_lineinfo(line, nullptr, &line_number, nullptr, nullptr, nullptr)) {
      info.file = file;
      info.line = line_number;
    }
  }

  Dwarf_Addr cu_bias = 0;
  Dwarf_Die* cu = dwfl_module_addrdie(module_, addr, &cu_bias);
  if (cu == nullptr) return info;
  std::unique_ptr<CuScopes>& scopes = cu_scopes_[dwarf_dieoffset(cu)];
  if (!scopes) scopes = std::make_unique<CuScopes>(cu);
  Dwarf_Files* files = nullptr;
  std::size_t file_count = 0;
  if (dwarf_getsrcfiles(cu, &files, &file_count) != 0) files = nullptr;
  for (Dwarf_Die& function : scopes->functions_at(addr - cu_bias)) {
    if (dwarf_tag(&function) == DW_TAG_inlined_subroutine) {
      info.inlined.push_back(inlined_frame(&function, files, file_count));
      continue;
    }
    // The function the inlined ones are in. Without an ELF symbol (e.g. a stripped file with
    // separate DWARF), it names the frame.
    Dwarf_Addr entry = 0;
    if (info.symbol.empty() && dwarf_entrypc(&function, &entry) == 0) {
      info.symbol = function_name(&function);
      if (!info.symbol.empty()) info.symbol_address = entry + cu_bias - bias_;
    }
    break;
  }
  return info;
}

}  // namespace edleak::symbolize
