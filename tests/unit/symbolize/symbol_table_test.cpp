#include "symbolize/symbol_table.h"

#include <gtest/gtest.h>

namespace edleak::symbolize {
namespace {

using Binding = SymbolTable::Binding;

std::string name_at(const SymbolTable& table, std::uint64_t addr) {
  const SymbolTable::Symbol* symbol = table.find(addr);
  return symbol == nullptr ? "<none>" : symbol->name;
}

TEST(SymbolTable, FindsTheSymbolContainingAnAddress) {
  SymbolTable table;
  table.add({"second", 0x2000, 0x100, Binding::global});  // added out of order
  table.add({"first", 0x1000, 0x80, Binding::local});
  table.finish();
  EXPECT_EQ(name_at(table, 0x0fff), "<none>");
  EXPECT_EQ(name_at(table, 0x1000), "first");
  EXPECT_EQ(name_at(table, 0x107f), "first");
  EXPECT_EQ(name_at(table, 0x1080), "<none>");  // past its size, before the next
  EXPECT_EQ(name_at(table, 0x2000), "second");
  EXPECT_EQ(name_at(table, 0x20ff), "second");
  EXPECT_EQ(name_at(table, 0x2100), "<none>");
  EXPECT_EQ(table.find(0x1010)->start, 0x1000u);
}

TEST(SymbolTable, NearestExportedSymbolSkipsLocalOnes) {
  SymbolTable table;
  table.add({"exported", 0x1000, 0x10, Binding::global});
  table.add({"static_helper", 0x1800, 0x10, Binding::local});
  table.add({"weak_one", 0x3000, 0x10, Binding::weak});
  table.finish();
  EXPECT_EQ(table.nearest_exported(0x0fff), nullptr);
  EXPECT_EQ(table.nearest_exported(0x2000)->name, "exported");  // past its size: still the hint
  EXPECT_EQ(table.nearest_exported(0x3500)->name, "weak_one");
}

TEST(SymbolTable, LetsASizelessSymbolReachTheNextOne) {
  SymbolTable table;
  table.add({"asm_routine", 0x1000, 0, Binding::global});
  table.add({"next", 0x3000, 0x10, Binding::global});
  table.finish();
  EXPECT_EQ(name_at(table, 0x2fff), "asm_routine");
  EXPECT_EQ(name_at(table, 0x3000), "next");
}

TEST(SymbolTable, PicksTheBestKnownAliasOfAnAddress) {
  // The aliases of malloc in glibc's symbol table, in its order.
  SymbolTable table;
  table.add({"__GI___libc_malloc", 0x98930, 791, Binding::local});
  table.add({"__malloc", 0x98930, 791, Binding::local});
  table.add({"__libc_malloc", 0x98930, 791, Binding::global});
  table.add({"malloc", 0x98930, 791, Binding::global});
  table.add({"weak_alias", 0x99000, 16, Binding::weak});
  table.add({"local_name", 0x99000, 16, Binding::local});
  table.add({"sizeless_global", 0x99100, 0, Binding::global});
  table.add({"sized_global", 0x99100, 8, Binding::global});
  table.finish();
  EXPECT_EQ(table.size(), 3u);  // one per address
  EXPECT_EQ(name_at(table, 0x98930 + 5), "malloc");
  EXPECT_EQ(name_at(table, 0x99000), "weak_alias");
  EXPECT_EQ(name_at(table, 0x99100), "sized_global");
}

TEST(SymbolTable, FindsNothingWhenEmpty) {
  SymbolTable table;
  table.finish();
  EXPECT_EQ(table.find(0), nullptr);
  EXPECT_EQ(table.find(UINT64_MAX), nullptr);
}

}  // namespace
}  // namespace edleak::symbolize
