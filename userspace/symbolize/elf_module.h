#pragma once
// One ELF file (executable or shared library) opened with libdwfl, answering "what function and
// source line is at this address" for every process that maps it.
#include <elfutils/libdwfl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "symbolize/cu_scopes.h"
#include "symbolize/frame.h"
#include "symbolize/load_segments.h"
#include "symbolize/proc_maps.h"
#include "symbolize/symbol_table.h"
#include "symbolize/unique_fd.h"
#include "util/result.h"

namespace edleak::symbolize {

// What a module address resolves to, independently of the process and the load address.
struct ModuleAddressInfo {
  std::string symbol;                // demangled; empty when unknown
  std::uint64_t symbol_address = 0;  // module address of the symbol's start, when there is one
  // Without a symbol: the closest exported one before the address (see SymbolTable).
  std::string nearest_symbol;
  std::uint64_t nearest_address = 0;
  std::string file;                  // innermost source file; empty without line information
  int line = 0;
  std::vector<InlinedFrame> inlined;  // innermost first, call sites (see InlinedFrame)
};

class ElfModule {
 public:
  // Opens the ELF file `fd` (consumed), named `file_name` for messages and for finding its
  // .gnu_debuglink file next to it. Separate debug files are searched by build ID and by name
  // under `debug_dirs` (absolute, e.g. "/usr/lib/debug"), in that order.
  static Result<std::unique_ptr<ElfModule>> open(const std::string& file_name, UniqueFd fd,
                                                 const std::vector<std::string>& debug_dirs);
  ~ElfModule();
  ElfModule(const ElfModule&) = delete;
  ElfModule& operator=(const ElfModule&) = delete;

  // The module address (link-time virtual address, as in the ELF symbols and DWARF) of runtime
  // address `addr` inside `mapping` of this file, using the mapping's file offset and the
  // PT_LOAD segments; nullopt when no segment holds that part of the file.
  std::optional<std::uint64_t> module_address(const Mapping& mapping, std::uint64_t addr) const;

  // Function, source line and inlined functions at a module address; cached, so each address
  // is looked up once.
  const ModuleAddressInfo& resolve(std::uint64_t module_addr);

  const std::string& file_name() const { return file_name_; }

 private:
  struct DwflDeleter {
    void operator()(Dwfl* dwfl) const { dwfl_end(dwfl); }
  };

  explicit ElfModule(std::string file_name) : file_name_(std::move(file_name)) {}
  Result<void> read_segments();
  void read_symbols();
  ModuleAddressInfo lookup(std::uint64_t module_addr);

  std::string file_name_;
  // libdwfl keeps pointers to the callbacks and to the search path: they live as long as it.
  std::string debuginfo_path_;
  char* debuginfo_path_ptr_ = nullptr;
  Dwfl_Callbacks callbacks_{};
  std::unique_ptr<Dwfl, DwflDeleter> dwfl_;
  Dwfl_Module* module_ = nullptr;  // owned by dwfl_
  std::uint64_t bias_ = 0;         // dwfl address = module address + bias_
  std::vector<LoadSegment> segments_;
  SymbolTable symbols_;  // functions, by module address
  std::unordered_map<Dwarf_Off, std::unique_ptr<CuScopes>> cu_scopes_;  // by CU DIE offset
  std::unordered_map<std::uint64_t, ModuleAddressInfo> resolved_;
};

}  // namespace edleak::symbolize
