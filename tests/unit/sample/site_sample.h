#pragma once
// A site's counts as a snapshot holds them (without an age ring), for tests that build
// snapshots by hand.
#include <cstdint>

#include "sample/snapshot.h"

namespace edleak::sample {

inline SiteSample counts(std::uint32_t tgid, std::uint64_t stack_id, std::int64_t bytes, std::int64_t blocks,
                         std::uint64_t allocs, std::uint64_t frees) {
  SiteSample s;
  s.tgid = tgid;
  s.stack_id = stack_id;
  s.outstanding_bytes = bytes;
  s.outstanding_blocks = blocks;
  s.total_allocs = allocs;
  s.total_frees = frees;
  return s;
}

}  // namespace edleak::sample
