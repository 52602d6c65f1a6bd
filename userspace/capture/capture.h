#pragma once
// The BPF edge: owns the loaded BPF object and its probes, and reads its maps. Everything
// behind it (sampling, series, classification, report) is plain C++ fed by the snapshots it
// returns.
#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

#include "probe/probe_plan.h"
#include "sample/snapshot.h"
#include "util/result.h"

namespace edleak::capture {

struct CaptureConfig {
  std::uint32_t max_allocs = 1'000'000;  // live blocks
  std::uint32_t max_stacks = 65'536;     // (process, stack) pairs, and distinct stacks
};

class Capture {
 public:
  // Opens and loads the BPF object (fails with what the kernel lacks or refused).
  static Result<std::unique_ptr<Capture>> load(const CaptureConfig& config);
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Attaches the probes of `plan` to the library at `path` (a path this process can open,
  // e.g. /proc/PID/root/usr/lib/x86_64-linux-gnu/libc.so.6) for process `pid`, or for every
  // process when pid is -1. Free probes first, then return probes, then entry probes, so no
  // block is recorded whose free could be missed and no entry waits for a missing return.
  Result<void> attach(const probe::ProbePlan& plan, const std::string& path, pid_t pid);
  std::size_t probe_count() const;

  // Reads every (process, stack) aggregate and the counters, with frames for stacks not
  // returned before (`known_stacks` is updated).
  Result<sample::Snapshot> snapshot(double t_s);

  // The live blocks the BPF side holds for process `tgid` (address, size, stack), listed by a BPF
  // iterator over the blocks map (bpf/edleak_iter.bpf.c) when the map holds many, else (or where
  // the iterator cannot load) by batch lookups.
  // For a scan, read while the process is stopped.
  struct LiveBlock {
    std::uint64_t addr = 0;
    std::uint64_t size = 0;
    std::uint64_t stack_id = 0;
  };
  Result<std::vector<LiveBlock>> live_blocks(std::uint32_t tgid);

  // Forgets the blocks and aggregates of processes that have exited.
  Result<void> forget_processes(const std::vector<std::uint32_t>& tgids);

  // Kernel memory of the maps, as bpftool reports it (memlock), in bytes.
  std::uint64_t map_memory_bytes() const;

 private:
  struct Impl;
  explicit Capture(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edleak::capture
