#pragma once

#include <cstddef>
#include <cstdint>

namespace edleak::util {

// Asks the CPU to bring the cache lines holding [data, data + bytes) into cache ahead of a read
// (or of a write, with `for_write`). A hint only: an address no longer mapped does not fault.
inline void prefetch(const void* data, std::size_t bytes, bool for_write = false) {
  constexpr std::uintptr_t kLine = 64;
  const std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(data) & ~(kLine - 1);
  const std::uintptr_t end = reinterpret_cast<std::uintptr_t>(data) + bytes;
  for (std::uintptr_t at = begin; at < end; at += kLine) {
    if (for_write)
      __builtin_prefetch(reinterpret_cast<const void*>(at), 1);
    else
      __builtin_prefetch(reinterpret_cast<const void*>(at), 0);
  }
}

}  // namespace edleak::util
