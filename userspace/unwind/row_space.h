#pragma once
// Space in the BPF side's shared unwind row array: ranges handed out first fit and given back
// when no process maps their file any more, so a long run's tables stay within the array.
#include <cstdint>
#include <map>
#include <optional>

namespace edleak::unwind {

struct RowRange {
  std::uint32_t first = 0;
  std::uint32_t count = 0;
};

class RowSpace {
 public:
  explicit RowSpace(std::uint32_t capacity);

  // A free range of `count` rows, or nullopt when no free range is that large.
  std::optional<RowRange> allocate(std::uint32_t count);
  // Gives back a range allocate() returned; neighbouring free ranges merge.
  void release(RowRange range);

  std::uint32_t capacity() const { return capacity_; }
  std::uint32_t used() const { return used_; }

 private:
  std::uint32_t capacity_;
  std::uint32_t used_ = 0;
  std::map<std::uint32_t, std::uint32_t> free_;  // first row -> count
};

}  // namespace edleak::unwind
