#pragma once
// Reading a whole BPF hash map with batch lookups, behind the system call so that its chunking
// is unit-tested with a fake map.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "util/result.h"

namespace edleak::capture {

// Reads every entry into keys/values (resized to what was read) with `lookup`, which behaves as
// bpf_map_lookup_batch(fd, in, out, keys, values, count, nullptr): it copies whole buckets from
// bucket *in (the first when `in` is null), at most *count entries, sets *count and *out (the
// next bucket), and returns -1 with errno ENOENT after the last bucket, or ENOSPC (count 0) when
// the first bucket does not fit.
//
// Each call is asked for a whole chunk whatever is left of max_entries: a hash map with per-CPU
// element counters (the big ones) can briefly hold a few more than max_entries, and a last call
// asked for what remained was refused (ENOSPC) by a bucket bigger than that; the run ended with
// "cannot read a BPF map: No space left on device".
template <typename Key, typename Value, typename Lookup>
Result<void> read_batches(Lookup&& lookup, std::uint32_t max_entries, std::vector<Key>& keys,
                          std::vector<Value>& values) {
  constexpr std::uint32_t kChunk = 8192;
  std::size_t total = 0;
  Key in_batch{}, out_batch{};
  bool first = true;
  std::uint32_t chunk = kChunk;
  while (true) {
    if (keys.size() < total + chunk) {
      keys.resize(std::max<std::size_t>(total + chunk, std::size_t{max_entries} + kChunk));
      values.resize(keys.size());
    }
    std::uint32_t count = chunk;
    const int err = lookup(first ? nullptr : &in_batch, &out_batch, &keys[total], &values[total], &count);
    if (err && errno == ENOSPC && count == 0) {  // a bucket bigger than the chunk: ask for more
      chunk *= 2;
      continue;
    }
    total += count;
    if (err) {
      if (errno == ENOENT) break;  // the whole map was read
      return make_error("cannot read a BPF map: {}", std::strerror(errno));
    }
    in_batch = out_batch;
    first = false;
  }
  keys.resize(total);
  values.resize(total);
  return {};
}

}  // namespace edleak::capture
