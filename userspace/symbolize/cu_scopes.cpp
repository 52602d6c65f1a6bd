#include "symbolize/cu_scopes.h"

#include <dwarf.h>

#include <algorithm>
#include <map>

namespace edleak::symbolize {
namespace {

// Deeper nesting than any compiler emits: the walk stops there rather than exhaust the stack
// on a crafted file.
constexpr int kMaxDepth = 256;

}  // namespace

CuScopes::CuScopes(Dwarf_Die* cu) {
  std::vector<Range> ranges;
  collect(cu, -1, 0, ranges);
  build_segments(ranges);
}

void CuScopes::collect(Dwarf_Die* scope, int parent, int depth, std::vector<Range>& ranges) {
  if (depth > kMaxDepth) return;
  Dwarf_Die child;
  if (dwarf_child(scope, &child) != 0) return;
  do {
    int function = parent;
    int tag = dwarf_tag(&child);
    if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
      // Declarations and abstract instances have no addresses: only concrete code counts.
      int index = static_cast<int>(functions_.size());
      bool has_code = false;
      Dwarf_Addr base = 0, low = 0, high = 0;
      for (ptrdiff_t offset = 0; (offset = dwarf_ranges(&child, offset, &base, &low, &high)) > 0;) {
        if (low < high) {
          ranges.push_back({low, high, index, depth});
          has_code = true;
        }
      }
      if (has_code) {
        functions_.push_back({child, parent});
        function = index;
      }
    }
    // Functions also nest in namespaces, lexical blocks and other functions.
    if (dwarf_haschildren(&child) > 0) collect(&child, function, depth + 1, ranges);
  } while (dwarf_siblingof(&child, &child) == 0);
}

void CuScopes::build_segments(std::vector<Range>& ranges) {
  // Paint the ranges outermost first, so an inlined instance overwrites the part of its
  // caller it occupies; what remains is, for each address, its innermost function.
  std::stable_sort(ranges.begin(), ranges.end(),
                   [](const Range& a, const Range& b) { return a.depth < b.depth; });
  struct Painted {
    Dwarf_Addr high;
    int function;
  };
  std::map<Dwarf_Addr, Painted> painted;  // by low address, disjoint
  // Cuts the painted stretch containing `at` (if any) in two at `at`.
  auto split_at = [&painted](Dwarf_Addr at) {
    auto it = painted.upper_bound(at);
    if (it == painted.begin()) return;
    --it;
    if (it->first < at && at < it->second.high) {
      painted.emplace(at, it->second);
      it->second.high = at;
    }
  };
  for (const Range& range : ranges) {
    split_at(range.low);
    split_at(range.high);
    painted.erase(painted.lower_bound(range.low), painted.lower_bound(range.high));
    painted.emplace(range.low, Painted{range.high, range.function});
  }
  segments_.reserve(painted.size());
  for (const auto& [low, stretch] : painted)
    segments_.push_back({low, stretch.high, stretch.function});
}

std::vector<Dwarf_Die> CuScopes::functions_at(Dwarf_Addr pc) const {
  std::vector<Dwarf_Die> chain;
  auto after = std::upper_bound(segments_.begin(), segments_.end(), pc,
                                [](Dwarf_Addr a, const Segment& s) { return a < s.low; });
  if (after == segments_.begin()) return chain;
  const Segment& segment = *std::prev(after);
  if (pc >= segment.high) return chain;
  // Parents always precede their children in functions_, so this walk ends.
  for (int index = segment.function; index >= 0; index = functions_[index].parent) {
    chain.push_back(functions_[index].die);
  }
  return chain;
}

}  // namespace edleak::symbolize
