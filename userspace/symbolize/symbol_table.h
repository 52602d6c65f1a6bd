#pragma once
// The function symbols of one ELF file, sorted for lookups by address. libdwfl's own
// dwfl_module_addrinfo scans every symbol on each call, too slow for tens of thousands of stacks.
#include <cstdint>
#include <string>
#include <vector>

namespace edleak::symbolize {

class SymbolTable {
 public:
  enum class Binding { global, weak, local };

  struct Symbol {
    std::string name;  // as in the file (mangled)
    std::uint64_t start = 0;
    std::uint64_t size = 0;  // 0 when the file does not say
    Binding binding = Binding::global;
  };

  // Adds a symbol; call finish() before find().
  void add(Symbol symbol);
  // Sorts and keeps one symbol per address, the name people know best among aliases: global
  // before weak before local, sized before sizeless, fewer leading underscores, shorter name
  // ("malloc" rather than __libc_malloc, __malloc or __GI___libc_malloc).
  void finish();

  // The symbol containing addr: the closest one starting at or before it, if addr is within
  // its size (a sizeless symbol extends to the next one). nullptr when there is none.
  const Symbol* find(std::uint64_t addr) const;
  // The closest global or weak symbol starting at or before addr, whatever its size: for
  // addresses in unnamed code (static functions of a stripped file), "after which exported
  // function" is the best hint there is.
  const Symbol* nearest_exported(std::uint64_t addr) const;

  std::size_t size() const { return symbols_.size(); }

 private:
  std::vector<Symbol> symbols_;
};

}  // namespace edleak::symbolize
