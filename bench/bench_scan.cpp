// The reachability scan's marking on a synthetic heap in this very process (bench/scan_bench.sh
// measures the live tool): N blocks of SIZE bytes chained like bench/scan_target.c, read through
// process_vm_readv (as live) and through memcpy (the marking alone). Median of RUNS.
//
//   ./build/bench/bench_scan [blocks=1000000] [size=1024] [runs=5]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "scan/marking.h"
#include "scan/process_memory.h"

namespace {

using Clock = std::chrono::steady_clock;

class DirectMemory final : public edleak::scan::MemoryReader {
 public:
  std::size_t read(std::uint64_t addr, void* buf, std::size_t len) override {
    std::memcpy(buf, reinterpret_cast<const void*>(addr), len);
    return len;
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 1000000;
  const long size = argc > 2 ? std::atol(argv[2]) : 1024;
  const int runs = argc > 3 ? std::atoi(argv[3]) : 5;
  std::vector<edleak::scan::Block> blocks;
  blocks.reserve(n);
  static void* volatile head;
  void* previous = nullptr;
  for (long i = 0; i < n; i++) {
    auto* block = static_cast<unsigned long*>(std::malloc(size));
    for (long w = 1; w < size / 8; w++) block[w] = static_cast<unsigned long>(i * 7 + w);
    block[0] = i % 10 == 9 ? 0 : reinterpret_cast<unsigned long>(previous);
    if (i % 10 != 9) previous = block;
    blocks.push_back({reinterpret_cast<std::uint64_t>(block), static_cast<std::uint64_t>(size), 1});
  }
  head = previous;
  edleak::scan::Roots roots;
  roots.ranges.push_back({reinterpret_cast<std::uint64_t>(&head), reinterpret_cast<std::uint64_t>(&head) + 8,
                          edleak::scan::RootKind::module_data});
  // The heap itself as unknown memory, as a live scan has it: its known blocks are skipped.
  std::uint64_t lo = UINT64_MAX, hi = 0;
  for (const auto& b : blocks) lo = std::min(lo, b.addr), hi = std::max(hi, b.addr + b.size);
  roots.ranges.push_back({lo & ~4095ULL, (hi + 4095) & ~4095ULL, edleak::scan::RootKind::unknown_memory});

  for (int mode = 0; mode < 2; ++mode) {
    std::vector<double> ms;
    edleak::scan::MarkResult last;
    for (int r = 0; r < runs; ++r) {
      edleak::scan::ProcessMemory live(getpid());
      DirectMemory direct;
      edleak::scan::MemoryReader& reader = mode == 0 ? static_cast<edleak::scan::MemoryReader&>(live) : direct;
      auto start = Clock::now();
      last = edleak::scan::mark(blocks, roots, reader);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    const double mb = static_cast<double>(last.bytes_scanned) / (1 << 20);
    std::printf("%-22s %ld blocks of %ld B: median %.1f ms (%.0f MiB scanned, %.2f GiB/s); definitely lost %llu blocks\n",
                mode == 0 ? "process_vm_readv" : "memcpy (marking only)", n, size, median(ms), mb,
                mb / 1024 / (median(ms) / 1000),
                static_cast<unsigned long long>(last.total[edleak::scan::Category::definitely_lost].blocks));
  }
  return 0;
}
