#pragma once
// The age of a site's live blocks, decoded from the capture's age ring (bpf/edleak_abi.h,
// edleak_site): how much of what the site holds was allocated kAgeSlots - 1 samples ago or
// earlier. Leaked blocks grow old while recycled ones stay young, so a leak beneath churn shows
// as old blocks rising while the churn's own level swings. Pure: tests feed it rings by hand.
#include <array>
#include <cstdint>

namespace edleak::sample {

// Slots of the ring (EDLEAK_AGE_SLOTS; capture checks they agree).
inline constexpr std::uint32_t kAgeSlots = 8;
// Samples a block must have lived through to count as old: the cohorts of the last kAgeSlots
// readings are young (the current one included).
inline constexpr std::uint32_t kOldAfterSamples = kAgeSlots;

// The ring as read from the kernel: per slot, the wrapping sums of the bytes and blocks of one
// cohort (the blocks born in one epoch) still live while young.
struct AgeRing {
  std::array<std::uint64_t, kAgeSlots> bytes{};
  std::array<std::uint32_t, kAgeSlots> blocks{};
};

struct OldHeld {
  std::int64_t bytes = 0;
  std::int64_t blocks = 0;
};

// One site's decoder. A slot is shared by every epoch of its residue, so a cohort's live count
// is the slot's value minus its value when the cohort began: the decoder keeps those starts.
class AgeDecoder {
 public:
  // The reading taken during epoch `epoch` (the capture reads the sites, then begins epoch + 1)
  // of a site holding `outstanding_bytes` and `outstanding_blocks`: what it holds in blocks of
  // the cohorts before the last kAgeSlots (those born kOldAfterSamples readings ago or more).
  //
  // The start of cohort epoch + 1 is its slot now: exact but for the frees, between this read
  // and the epoch's advance, of blocks born kAgeSlots - 1 epochs before (counted old as long as
  // their slot holds the new cohort); reading first and advancing at once keeps that window to
  // the read of the sites map, and touches no current cohort (whose blocks would otherwise
  // count old until that cohort aged). Epochs the decoder did not see (a site not in some
  // readings) start their cohorts at the next reading: their blocks count old, on the safe side
  // of the rule (old blocks are evidence for a leak only when they rise).
  OldHeld read(const AgeRing& ring, std::uint32_t epoch, std::int64_t outstanding_bytes,
               std::int64_t outstanding_blocks);

 private:
  AgeRing start_{};
  std::uint32_t epoch_ = 0;  // of the last reading
  bool seen_ = false;
};

}  // namespace edleak::sample
