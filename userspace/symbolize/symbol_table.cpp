#include "symbolize/symbol_table.h"

#include <algorithm>
#include <tuple>

namespace edleak::symbolize {
namespace {

std::size_t leading_underscores(const std::string& name) {
  std::size_t count = name.find_first_not_of('_');
  return count == std::string::npos ? name.size() : count;
}

// Smaller is better known.
auto preference(const SymbolTable::Symbol& symbol) {
  return std::make_tuple(static_cast<int>(symbol.binding), symbol.size == 0,
                         leading_underscores(symbol.name), symbol.name.size(),
                         std::string_view(symbol.name));
}

}  // namespace

void SymbolTable::add(Symbol symbol) { symbols_.push_back(std::move(symbol)); }

void SymbolTable::finish() {
  std::sort(symbols_.begin(), symbols_.end(), [](const Symbol& a, const Symbol& b) {
    if (a.start != b.start) return a.start < b.start;
    return preference(a) < preference(b);
  });
  // The best alias of each address comes first: keep it alone.
  symbols_.erase(std::unique(symbols_.begin(), symbols_.end(),
                             [](const Symbol& a, const Symbol& b) { return a.start == b.start; }),
                 symbols_.end());
  symbols_.shrink_to_fit();
}

const SymbolTable::Symbol* SymbolTable::find(std::uint64_t addr) const {
  auto after = std::upper_bound(symbols_.begin(), symbols_.end(), addr,
                                [](std::uint64_t a, const Symbol& s) { return a < s.start; });
  if (after == symbols_.begin()) return nullptr;
  const Symbol& symbol = *std::prev(after);
  if (symbol.size != 0 && addr - symbol.start >= symbol.size) return nullptr;
  return &symbol;
}

const SymbolTable::Symbol* SymbolTable::nearest_exported(std::uint64_t addr) const {
  auto it = std::upper_bound(symbols_.begin(), symbols_.end(), addr,
                             [](std::uint64_t a, const Symbol& s) { return a < s.start; });
  while (it != symbols_.begin()) {
    --it;
    if (it->binding != Binding::local) return &*it;
  }
  return nullptr;
}

}  // namespace edleak::symbolize
