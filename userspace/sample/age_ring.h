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
// Samples a block must have lived through to count as old.
inline constexpr std::uint32_t kOldAfterSamples = kAgeSlots - 1;

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
  // The reading taken just after the capture advanced the epoch to `epoch` (so cohort `epoch`
  // has just begun and its start is taken now), for a site holding `outstanding_bytes` and
  // `outstanding_blocks`: what it holds in blocks of the cohorts before the ring's window.
  //
  // Blocks allocated between the epoch's advance and the read are counted old until freed (the
  // start of their cohort is read after them): at most what the site allocates during one read
  // of the sites map, gone at their free. Epochs the decoder did not see (a site not in some
  // readings) start their cohorts at the next reading, so their blocks are counted old: rare
  // and on the safe side of the rule (old blocks are evidence for a leak only when they rise).
  OldHeld read(const AgeRing& ring, std::uint32_t epoch, std::int64_t outstanding_bytes,
               std::int64_t outstanding_blocks);

 private:
  AgeRing start_{};
  std::uint32_t epoch_ = 0;  // of the last reading; 0: none (the capture's first epoch is 1)
};

}  // namespace edleak::sample
