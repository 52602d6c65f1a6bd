#include "sample/age_ring.h"

#include <algorithm>

namespace edleak::sample {

OldHeld AgeDecoder::read(const AgeRing& ring, std::uint32_t epoch, std::int64_t outstanding_bytes,
                         std::int64_t outstanding_blocks) {
  // Cohorts begun since the last reading without a start taken at its end (readings missed):
  // they start now. A site seen for the first time had no blocks before, so every cohort up to
  // this one starts at 0 (start_'s initial value).
  if (seen_)
    for (std::uint32_t c = epoch_ + 2; c - epoch_ - 2 < kAgeSlots && c != epoch + 1; ++c) {
      start_.bytes[c % kAgeSlots] = ring.bytes[c % kAgeSlots];
      start_.blocks[c % kAgeSlots] = ring.blocks[c % kAgeSlots];
    }
  // The young: the cohorts of the last kAgeSlots epochs, this one included.
  std::int64_t young_bytes = 0, young_blocks = 0;
  for (std::uint32_t slot = 0; slot < kAgeSlots; ++slot) {
    young_bytes += static_cast<std::int64_t>(ring.bytes[slot] - start_.bytes[slot]);
    young_blocks += static_cast<std::int32_t>(ring.blocks[slot] - start_.blocks[slot]);
  }
  // The next epoch's cohort takes the slot of the oldest young one, from its value now.
  const std::uint32_t next = (epoch + 1) % kAgeSlots;
  start_.bytes[next] = ring.bytes[next];
  start_.blocks[next] = ring.blocks[next];
  epoch_ = epoch;
  seen_ = true;
  return {std::max<std::int64_t>(outstanding_bytes - young_bytes, 0),
          std::max<std::int64_t>(outstanding_blocks - young_blocks, 0)};
}

}  // namespace edleak::sample
