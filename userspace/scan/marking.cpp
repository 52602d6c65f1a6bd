#include "scan/marking.h"

#include <algorithm>
#include <bit>
#include <iterator>

namespace edleak::scan {
namespace {

constexpr std::uint64_t kWord = 8;
constexpr std::uint64_t kPage = 4096;

enum class State : std::uint8_t { unreached, possible, reachable, indirect };

std::uint64_t round_up(std::uint64_t v, std::uint64_t to) { return (v + to - 1) & ~(to - 1); }
std::uint64_t round_down(std::uint64_t v, std::uint64_t to) { return v & ~(to - 1); }

// Which block, if any, an address points into. Most words of real memory are not pointers into the
// heap (zeros, small integers, code and string addresses): a bitmap over hashed page numbers sends
// them away before the binary search.
class BlockIndex {
 public:
  static constexpr std::uint32_t kNone = UINT32_MAX;

  explicit BlockIndex(const std::vector<Block>& blocks) {
    starts_.reserve(blocks.size());
    ends_.reserve(blocks.size());
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      std::uint64_t start = blocks[i].addr;
      // valgrind: a zero-sized block is pointed to by its address, as if it had one byte.
      std::uint64_t end = start + std::max<std::uint64_t>(blocks[i].size, 1);
      if (end < start) end = UINT64_MAX;  // wrapped: a corrupt record, keep it harmless
      if (i + 1 < blocks.size()) end = std::min(end, blocks[i + 1].addr);
      starts_.push_back(start);
      ends_.push_back(end);
      sizes_.push_back(blocks[i].size);
      max_end_ = std::max(max_end_, end);
      for (std::uint64_t page = start / kPage; page <= (end - 1) / kPage; ++page) set(page);
    }
    min_start_ = starts_.empty() ? UINT64_MAX : starts_.front();
    span_ = starts_.empty() ? 0 : max_end_ - min_start_;
  }

  // The block whose [start, end) holds v, or kNone.
  std::uint32_t find(std::uint64_t v) const {
    if (v < min_start_ || v >= max_end_ || !test(v / kPage)) return kNone;
    auto it = std::upper_bound(starts_.begin(), starts_.end(), v);
    if (it == starts_.begin()) return kNone;
    std::size_t i = static_cast<std::size_t>(it - starts_.begin()) - 1;
    return v < ends_[i] ? static_cast<std::uint32_t>(i) : kNone;
  }

  // Whether v may point into a block at all: one subtraction and compare, for the hot loops.
  bool maybe(std::uint64_t v) const { return v - min_start_ < span_; }
  std::uint64_t start(std::size_t i) const { return starts_[i]; }
  std::uint64_t size(std::size_t i) const { return sizes_[i]; }
  std::uint64_t end(std::size_t i) const { return ends_[i]; }
  std::size_t size() const { return starts_.size(); }

 private:
  static constexpr unsigned kBits = 21;  // 2^21 bits: 256 KiB, stays in cache
  static std::uint64_t slot(std::uint64_t page) { return (page * 0x9e3779b97f4a7c15ULL) >> (64 - kBits); }
  void set(std::uint64_t page) { bits_[slot(page) / 64] |= std::uint64_t{1} << (slot(page) % 64); }
  bool test(std::uint64_t page) const { return (bits_[slot(page) / 64] >> (slot(page) % 64)) & 1; }

  std::vector<std::uint64_t> starts_, ends_, sizes_;
  std::vector<std::uint64_t> bits_ = std::vector<std::uint64_t>((std::size_t{1} << kBits) / 64);
  std::uint64_t min_start_ = UINT64_MAX, max_end_ = 0, span_ = 0;
};

// A pointer from one block to another: the target's index, and whether it points at its start.
struct Edge {
  std::uint32_t target;
  bool to_start;
};

class Marker {
 public:
  Marker(std::vector<Block> blocks, MemoryReader& reader, const MarkLimits& limits)
      : reader_(reader), limits_(limits) {
    // Sorted by address; of records with one address the last given wins (it is the newer).
    std::stable_sort(blocks.begin(), blocks.end(), [](const Block& a, const Block& b) { return a.addr < b.addr; });
    std::size_t kept = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      if (i + 1 < blocks.size() && blocks[i + 1].addr == blocks[i].addr) continue;
      blocks[kept++] = blocks[i];
    }
    blocks.resize(kept);
    result_.blocks = std::move(blocks);
    index_.emplace(result_.blocks);
    state_.assign(result_.blocks.size(), State::unreached);
    edge_begin_.assign(result_.blocks.size() + 1, 0);
  }

  MarkResult run(const Roots& roots) {
    for (std::uint64_t word : roots.register_words) root_pointer(word);
    if (!scan_memory(roots) || !mark_from_roots() || !gather_clumps()) {
      result_.aborted = true;
      result_.category.clear();
      result_.per_stack.clear();
      return std::move(result_);
    }
    finish();
    return std::move(result_);
  }

 private:
  bool out_of_time() const {
    return limits_.deadline && std::chrono::steady_clock::now() >= *limits_.deadline;
  }

  void push(std::uint32_t block) { work_.push_back(block); }

  // valgrind's lc_push_without_clique_if_a_chunk_ptr: `definite` when the word was found in a root
  // or a reachable block (not a possibly reachable one).
  void reach(std::uint32_t block, bool to_start, bool definite) {
    State& s = state_[block];
    if (s == State::reachable) return;
    if (to_start && definite) {
      s = State::reachable;
      push(block);
    } else if (s == State::unreached) {
      s = State::possible;
      push(block);
    }
  }

  // The block `word` points into, unless it is the allocator's pointer to the next chunk.
  std::uint32_t target_of(std::uint64_t word) const {
    std::uint32_t block = index_->find(word);
    if (block != BlockIndex::kNone && limits_.glibc_chunk_headers) {
      std::uint64_t offset = glibc_next_chunk_offset(index_->size(block));
      if (offset != 0 && word == index_->start(block) + offset) return BlockIndex::kNone;
    }
    return block;
  }

  void root_pointer(std::uint64_t word) {
    std::uint32_t block = target_of(word);
    if (block == BlockIndex::kNone) return;
    ++result_.pointers;
    reach(block, word == index_->start(block), true);
  }

  // Every word of the roots and of the blocks, read once in address order: root words mark the
  // blocks they point to at once, block words become edges (grouped by source block, since the
  // blocks come in address order too). Marking then walks the edges, not the memory.
  bool scan_memory(const Roots& roots) {
    // The blocks' spans come sorted; the roots' are few: sort those, merge both.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> root_spans, block_spans, spans;
    for (const RootRange& r : roots.ranges) {
      std::uint64_t s = round_up(r.start, kWord), e = round_down(r.end, kWord);
      if (s < e) root_spans.emplace_back(s, e);
    }
    std::sort(root_spans.begin(), root_spans.end());
    block_spans.reserve(index_->size());
    for (std::size_t i = 0; i < index_->size(); ++i) {
      std::uint64_t s = round_up(index_->start(i), kWord), e = round_down(index_->end(i), kWord);
      if (s < e) block_spans.emplace_back(s, e);
    }
    spans.reserve(root_spans.size() + block_spans.size());
    std::merge(root_spans.begin(), root_spans.end(), block_spans.begin(), block_spans.end(), std::back_inserter(spans));
    std::vector<std::pair<std::uint64_t, std::uint64_t>> merged;
    for (const auto& span : spans) {
      if (!merged.empty() && span.first <= merged.back().second)
        merged.back().second = std::max(merged.back().second, span.second);
      else
        merged.push_back(span);
    }

    buffer_.resize(std::max<std::size_t>(limits_.window_bytes / kWord, kPage / kWord));
    cursor_ = 0;
    for (const auto& [start, end] : merged) {
      std::uint64_t at = start;
      while (at < end) {
        if (out_of_time()) return false;
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(end - at, buffer_.size() * kWord));
        std::size_t got = reader_.read(at, buffer_.data(), want);
        got = std::min(got, want) / kWord * kWord;
        scan_words(at, got / kWord);
        at += got;
        if (got < want) {
          // Unreadable page at `at`: skip to the next page, as valgrind does.
          std::uint64_t next = std::min(end, round_down(at, kPage) + kPage);
          result_.unreadable_bytes += next - at;
          at = next;
        }
      }
    }
    // Close the edge lists of blocks never read (edge_begin_ must be non-decreasing).
    close_edges_up_to(index_->size());
    return true;
  }

  // Records, for every block before `block` not yet closed, where its edges end.
  void close_edges_up_to(std::size_t block) {
    while (closed_ < block) {
      ++closed_;
      edge_begin_[closed_] = edges_.size();
    }
  }

  void scan_words(std::uint64_t addr, std::size_t n) {
    const std::uint64_t* words = buffer_.data();
    const BlockIndex& index = *index_;
    std::size_t i = 0;
    while (i < n) {
      const std::uint64_t a = addr + i * kWord;
      while (cursor_ < index.size() && index.end(cursor_) <= a) ++cursor_;
      if (cursor_ < index.size() && index.start(cursor_) <= a) {
        // Inside block `cursor_`, up to its end; a word straddling an unaligned end is not its.
        const std::uint64_t end = index.end(cursor_);
        const std::size_t stop = std::min<std::uint64_t>(n, i + (end - a + kWord - 1) / kWord);
        const std::size_t whole = std::min<std::uint64_t>(n, i + (end - a) / kWord);
        const std::uint32_t source = static_cast<std::uint32_t>(cursor_);
        close_edges_up_to(source);
        result_.bytes_scanned += (stop - i) * kWord;
        for (; i < whole; ++i) {
          const std::uint64_t v = words[i];
          if (!index.maybe(v)) continue;
          std::uint32_t target = target_of(v);
          if (target == BlockIndex::kNone) continue;
          ++result_.pointers;
          bool to_start = v == index.start(target);
          if (edges_.size() > edge_begin_[source] && edges_.back().target == target &&
              edges_.back().to_start == to_start)
            continue;  // the same pointer again (arrays of one value)
          edges_.push_back({target, to_start});
        }
        i = stop;
      } else {
        // Root words, up to the next block; one straddling its start is not a root word.
        const std::uint64_t next = cursor_ < index.size() ? index.start(cursor_) : UINT64_MAX;
        const std::size_t stop = std::min<std::uint64_t>(n, i + (next - a + kWord - 1) / kWord);
        const std::size_t whole = std::min<std::uint64_t>(n, i + (next - a) / kWord);
        result_.bytes_scanned += (stop - i) * kWord;
        result_.root_bytes += (stop - i) * kWord;
        for (; i < whole; ++i)
          if (index.maybe(words[i])) root_pointer(words[i]);
        i = stop;
      }
    }
  }

  std::size_t edges_of_end(std::uint32_t block) const { return edge_begin_[block + 1]; }

  bool mark_from_roots() {
    std::size_t steps = 0;
    while (!work_.empty()) {
      std::uint32_t block = work_.back();
      work_.pop_back();
      const bool definite = state_[block] != State::possible;
      for (std::size_t e = edge_begin_[block]; e < edges_of_end(block); ++e) {
        reach(edges_[e].target, edges_[e].to_start, definite);
        if ((++steps & 0xffff) == 0 && out_of_time()) return false;
      }
    }
    return true;
  }

  // valgrind's clique pass: see the header.
  bool gather_clumps() {
    std::size_t steps = 0;
    for (std::uint32_t leader = 0; leader < state_.size(); ++leader) {
      if (state_[leader] != State::unreached) continue;
      push(leader);
      while (!work_.empty()) {
        std::uint32_t block = work_.back();
        work_.pop_back();
        for (std::size_t e = edge_begin_[block]; e < edges_of_end(block); ++e) {
          std::uint32_t target = edges_[e].target;
          if (state_[target] == State::unreached && target != leader) {
            state_[target] = State::indirect;
            push(target);
          }
          if ((++steps & 0xffff) == 0 && out_of_time()) return false;
        }
      }
    }
    return true;
  }

  void finish() {
    result_.category.reserve(state_.size());
    for (std::size_t i = 0; i < state_.size(); ++i) {
      Category c = Category::definitely_lost;
      switch (state_[i]) {
        case State::reachable: c = Category::still_reachable; break;
        case State::possible: c = Category::possibly_lost; break;
        case State::indirect: c = Category::indirectly_lost; break;
        case State::unreached: c = Category::definitely_lost; break;
      }
      result_.category.push_back(c);
      const Block& b = result_.blocks[i];
      Totals t{b.size, 1};
      result_.per_stack[b.stack_id][c] += t;
      result_.total[c] += t;
    }
  }

  MemoryReader& reader_;
  const MarkLimits& limits_;
  MarkResult result_;
  std::optional<BlockIndex> index_;
  std::vector<State> state_;
  std::vector<Edge> edges_;
  std::vector<std::size_t> edge_begin_;  // edges of block i: [edge_begin_[i], edge_begin_[i + 1])
  std::size_t closed_ = 0;                 // edge_begin_[0..closed_] are final
  std::vector<std::uint32_t> work_;
  std::vector<std::uint64_t> buffer_;
  std::size_t cursor_ = 0;  // block at or after the address being scanned
};

}  // namespace

std::uint64_t glibc_next_chunk_offset(std::uint64_t size) {
  // request2size: (size + SIZE_SZ + MALLOC_ALIGN_MASK) & ~MALLOC_ALIGN_MASK, at least MINSIZE (32);
  // the user area starts 16 bytes into the chunk.
  const std::uint64_t chunk = std::max<std::uint64_t>(32, (size + 8 + 15) & ~std::uint64_t{15});
  const std::uint64_t offset = chunk - 16;
  return offset < size ? offset : 0;
}

const char* to_string(Category category) {
  switch (category) {
    case Category::still_reachable: return "still reachable";
    case Category::possibly_lost: return "possibly lost";
    case Category::indirectly_lost: return "indirectly lost";
    case Category::definitely_lost: return "definitely lost";
  }
  return "?";
}

MarkResult mark(std::vector<Block> blocks, const Roots& roots, MemoryReader& reader, const MarkLimits& limits) {
  Marker marker(std::move(blocks), reader, limits);
  return marker.run(roots);
}

}  // namespace edleak::scan
