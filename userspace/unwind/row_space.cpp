#include "unwind/row_space.h"

#include <iterator>

namespace edleak::unwind {

RowSpace::RowSpace(std::uint32_t capacity) : capacity_(capacity) {
  if (capacity > 0) free_.emplace(0, capacity);
}

std::optional<RowRange> RowSpace::allocate(std::uint32_t count) {
  if (count == 0) return RowRange{};
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < count) continue;
    RowRange range{it->first, count};
    const std::uint32_t left = it->second - count;
    const std::uint32_t next = it->first + count;
    free_.erase(it);
    if (left > 0) free_.emplace(next, left);
    used_ += count;
    return range;
  }
  return std::nullopt;
}

void RowSpace::release(RowRange range) {
  if (range.count == 0) return;
  used_ -= range.count;
  auto [it, inserted] = free_.emplace(range.first, range.count);
  if (!inserted) return;  // released twice: keep the books as they were
  if (auto next = std::next(it); next != free_.end() && it->first + it->second == next->first) {
    it->second += next->second;
    free_.erase(next);
  }
  if (it != free_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second == it->first) {
      prev->second += it->second;
      free_.erase(it);
    }
  }
}

}  // namespace edleak::unwind
