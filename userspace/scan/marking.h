#pragma once
// The reachability scan's marking, pure: which of a process's live blocks can the program still
// reach? Valgrind's memcheck and LeakSanitizer answer it for programs run under them; here the
// blocks are those the BPF side recorded and the memory is read from the stopped process through
// a MemoryReader (a fake in tests, process_vm_readv live: see process_memory.h).
//
// Conservative, like both: every 8-byte aligned word of the roots and of every reached block that
// holds an address inside a block is a pointer to it. As valgrind 3.19 does (mc_leakcheck.c):
//   1. From the roots (registers, and memory ranges: stacks, module data, TLS, and memory the
//      capture knows nothing about), a pointer to a block's first byte marks it reachable, a
//      pointer inside it possibly reachable; blocks reached are scanned in turn (a block reached
//      only through possibly reachable blocks stays possibly reachable).
//   2. Then, in address order, each block still unreached leads a clump: every unreached block
//      reachable from it (by a start or an interior pointer) is indirectly lost; a previous leader
//      so reached joins the clump. Leaders left are definitely lost; in a cycle of lost blocks, the
//      first one (lowest address) is the definitely lost one, the others indirectly lost.
// Words inside known blocks are never roots, even when a root range covers them: a block is only
// scanned once reached.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace edleak::scan {

// A live block: [addr, addr + size) as the allocator returned it, and the stack that allocated it.
struct Block {
  std::uint64_t addr = 0;
  std::uint64_t size = 0;
  std::uint64_t stack_id = 0;
};

// Valgrind's names, in the order of its loss records.
enum class Category : std::uint8_t { still_reachable = 0, possibly_lost, indirectly_lost, definitely_lost };
inline constexpr std::size_t kCategories = 4;
const char* to_string(Category category);  // "still reachable", "possibly lost"...

// Reads another process's memory (or a fake of it).
class MemoryReader {
 public:
  virtual ~MemoryReader() = default;
  // Copies [addr, addr + len) into buf. Returns the bytes copied from addr on: len, or fewer when
  // a page at addr + result cannot be read (unmapped, or the process is gone).
  virtual std::size_t read(std::uint64_t addr, void* buf, std::size_t len) = 0;
};

// Where a root range comes from: for statistics and messages only.
enum class RootKind : std::uint8_t { stack, module_data, tls, unknown_memory };

struct RootRange {
  std::uint64_t start = 0;  // first byte
  std::uint64_t end = 0;    // one past the last byte
  RootKind kind = RootKind::unknown_memory;
};

struct Roots {
  std::vector<std::uint64_t> register_words;  // every general-purpose register of every thread
  std::vector<RootRange> ranges;              // may overlap one another and the blocks
};

struct Totals {
  std::uint64_t bytes = 0;
  std::uint64_t blocks = 0;
  Totals& operator+=(const Totals& other) {
    bytes += other.bytes;
    blocks += other.blocks;
    return *this;
  }
  bool operator==(const Totals&) const = default;
};

// Bytes and blocks in each category, indexed by Category.
struct Reachability {
  std::array<Totals, kCategories> by_category{};
  Totals& operator[](Category c) { return by_category[static_cast<std::size_t>(c)]; }
  const Totals& operator[](Category c) const { return by_category[static_cast<std::size_t>(c)]; }
  bool operator==(const Reachability&) const = default;
};

struct MarkLimits {
  // Stop (aborted) once this passes; checked between reads of at most window_bytes.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::size_t window_bytes = 4u << 20;  // largest read at once
  // glibc's malloc (x86-64): a block of 16k+1..16k+8 bytes ends in the next chunk's first word, so
  // the allocator's own pointers to that chunk (the arena's top, free lists) point inside the
  // block; such a pointer, exactly at offset roundup16(size + 8) - 16, is not taken for the
  // program's (else the block would be "possibly lost" instead of definitely lost).
  bool glibc_chunk_headers = false;
};

// The offset inside a block of `size` bytes at which glibc's next chunk begins, or 0 when that
// chunk begins after the block.
std::uint64_t glibc_next_chunk_offset(std::uint64_t size);

struct MarkResult {
  bool aborted = false;             // the deadline passed: nothing below is meaningful
  std::vector<Block> blocks;        // the input, sorted by address (duplicates dropped)
  std::vector<Category> category;   // per block of `blocks`
  std::unordered_map<std::uint64_t, Reachability> per_stack;  // by stack_id
  Reachability total;
  std::uint64_t bytes_scanned = 0;     // bytes read: blocks and root ranges
  std::uint64_t root_bytes = 0;        // of those, root ranges
  std::uint64_t unreadable_bytes = 0;  // in ranges the reader could not read (skipped)
  std::uint64_t pointers = 0;          // words found pointing into a block
};

// Classifies every block. `blocks` need not be sorted; of blocks starting at one address only the
// last is kept, and a block overlapping the next one is cut at the next one's start (a stale
// record: the allocator cannot have handed out overlapping blocks).
MarkResult mark(std::vector<Block> blocks, const Roots& roots, MemoryReader& reader, const MarkLimits& limits = {});

}  // namespace edleak::scan
