#pragma once
// A process memory for the marking tests: regions of 8-byte words at chosen addresses; anything
// else is unreadable.
#include <cstring>
#include <map>
#include <vector>

#include "scan/marking.h"

namespace edleak::scan::test {

class FakeMemory final : public MemoryReader {
 public:
  // A region of `words` zeroed words at `start`.
  void add_region(std::uint64_t start, std::size_t words) { regions_[start].assign(words, 0); }
  // Writes a word (its region must exist).
  void put(std::uint64_t addr, std::uint64_t value) {
    auto it = regions_.upper_bound(addr);
    --it;
    it->second.at((addr - it->first) / 8) = value;
  }

  std::size_t read(std::uint64_t addr, void* buf, std::size_t len) override {
    ++reads;
    auto it = regions_.upper_bound(addr);
    if (it == regions_.begin()) return 0;
    --it;
    const std::uint64_t start = it->first, end = start + it->second.size() * 8;
    if (addr >= end) return 0;
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(len, end - addr));
    std::memcpy(buf, reinterpret_cast<const char*>(it->second.data()) + (addr - start), n);
    return n;
  }

  std::size_t reads = 0;

 private:
  std::map<std::uint64_t, std::vector<std::uint64_t>> regions_;
};

}  // namespace edleak::scan::test
