#pragma once
// The functions of one DWARF compilation unit by address: for any pc, the chain of concrete
// inlined instances down from the function that holds it. Built with one walk of the unit; then
// each lookup is a binary search. (dwarf_getscopes walks the unit again for every address, which
// costs milliseconds per address in large C++ units.)
#include <elfutils/libdw.h>

#include <cstdint>
#include <vector>

namespace edleak::symbolize {

class CuScopes {
 public:
  // Indexes the DW_TAG_subprogram and DW_TAG_inlined_subroutine DIEs of the unit with a pc range.
  explicit CuScopes(Dwarf_Die* cu);

  // The function DIEs containing pc (a DWARF address), innermost first: the inlined instances,
  // then the subprogram they were inlined into. Empty when no function of the unit holds pc.
  // The DIEs stay valid as long as the Dwarf they come from.
  std::vector<Dwarf_Die> functions_at(Dwarf_Addr pc) const;

  std::size_t function_count() const { return functions_.size(); }

 private:
  struct Function {
    Dwarf_Die die;
    int parent;  // index in functions_, -1 for the outermost
  };
  // A stretch of addresses whose innermost function is `function`.
  struct Segment {
    Dwarf_Addr low;
    Dwarf_Addr high;  // exclusive
    int function;
  };
  struct Range {
    Dwarf_Addr low;
    Dwarf_Addr high;
    int function;
    int depth;
  };

  void collect(Dwarf_Die* scope, int parent, int depth, std::vector<Range>& ranges);
  void build_segments(std::vector<Range>& ranges);

  std::vector<Function> functions_;
  std::vector<Segment> segments_;  // sorted, disjoint
};

}  // namespace edleak::symbolize
