#pragma once
// A model of one site as bpf/edleak.bpf.c keeps it (note_age(): one age-ring slot per birth
// epoch, touched while the block is young), for tests that feed the decoder or a SiteTable
// readings as the capture would give them.
#include <cstdint>

#include "sample/age_ring.h"
#include "sample/snapshot.h"
#include "site_sample.h"

namespace edleak::sample {

// One site as the BPF side keeps it.
struct KernelSite {
  AgeRing ring;
  std::int64_t bytes = 0, blocks = 0;
  std::uint64_t allocs = 0, frees = 0;
  std::uint32_t epoch = 0;
  struct Block {
    std::uint32_t birth;
    std::int64_t size;
  };
  void note(std::uint32_t birth, std::int64_t size, std::int32_t count) {
    if (epoch - birth >= kAgeSlots) return;
    ring.bytes[birth % kAgeSlots] += static_cast<std::uint64_t>(size);
    ring.blocks[birth % kAgeSlots] += static_cast<std::uint32_t>(count);
  }
  Block alloc(std::int64_t size) {
    bytes += size;
    ++blocks;
    ++allocs;
    note(epoch, size, 1);
    return {epoch, size};
  }
  void free(const Block& b) {
    bytes -= b.size;
    --blocks;
    ++frees;
    note(b.birth, -b.size, -1);
  }
  // What the capture reads of it (Snapshot::age_epoch is the epoch).
  SiteSample sample(std::uint32_t tgid, std::uint64_t stack_id) const {
    SiteSample s = counts(tgid, stack_id, bytes, blocks, allocs, frees);
    s.age = ring;
    return s;
  }
};

// A reading: the site is read, then the next epoch begins (as Capture::snapshot does).
inline OldHeld read(KernelSite& k, AgeDecoder& d) {
  const OldHeld old = d.read(k.ring, k.epoch, k.bytes, k.blocks);
  ++k.epoch;
  return old;
}

}  // namespace edleak::sample
