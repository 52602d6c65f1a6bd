#include "sample/age_ring.h"

#include <algorithm>

namespace edleak::sample {

OldHeld AgeDecoder::read(const AgeRing& ring, std::uint32_t epoch, std::int64_t outstanding_bytes,
                         std::int64_t outstanding_blocks) {
  // Cohorts begun since the last reading: their starts are their slots now. A site seen for the
  // first time had no blocks before, so its earlier cohorts start at 0 (start_'s initial value).
  const std::uint32_t first_new = epoch_ == 0 ? epoch : epoch_ + 1;
  const std::uint32_t begun = std::min<std::uint32_t>(epoch - first_new + 1, kAgeSlots);
  for (std::uint32_t k = 0; k < begun; ++k) {
    const std::uint32_t slot = (epoch - k) % kAgeSlots;
    start_.bytes[slot] = ring.bytes[slot];
    start_.blocks[slot] = ring.blocks[slot];
  }
  epoch_ = epoch;
  // The young: the cohorts of the last kAgeSlots - 1 epochs (the current one just began).
  std::int64_t young_bytes = 0, young_blocks = 0;
  for (std::uint32_t k = 1; k < kAgeSlots; ++k) {
    const std::uint32_t slot = (epoch - k) % kAgeSlots;
    young_bytes += static_cast<std::int64_t>(ring.bytes[slot] - start_.bytes[slot]);
    young_blocks += static_cast<std::int32_t>(ring.blocks[slot] - start_.blocks[slot]);
  }
  return {std::max<std::int64_t>(outstanding_bytes - young_bytes, 0),
          std::max<std::int64_t>(outstanding_blocks - young_blocks, 0)};
}

}  // namespace edleak::sample
