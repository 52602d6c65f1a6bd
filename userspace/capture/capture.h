#pragma once
// The BPF edge: owns the loaded BPF object and its probes, and reads its maps. Everything
// behind it (sampling, series, classification, report) is plain C++ fed by the snapshots it
// returns.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <sys/types.h>
#include <vector>

#include "edleak_abi.h"
#include "probe/probe_plan.h"
#include "sample/snapshot.h"
#include "util/result.h"

namespace edleak::capture {

struct CaptureConfig {
  std::uint32_t max_allocs = 1'000'000;  // live blocks
  std::uint32_t max_stacks = 65'536;     // (process, stack) pairs, and distinct stacks
  std::uint32_t max_unwind_rows = 1u << 21;  // unwind rows of every file, 8 bytes each
  std::uint32_t max_frames = 64;             // frames walked per stack (<= EDLEAK_MAX_FRAMES)
  edleak_unwind_mode unwind = EDLEAK_UNWIND_AUTO;
  bool empty_programs = false;  // benchmarks: the probes' own cost floor
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
  // The program's own anonymous mmap/munmap/mremap (syscall tracepoints; bpf/): attached once the
  // allocator probes are, so that an allocator's mappings are never taken for the program's (a
  // call in flight before its probe was attached is not known to be the allocator's).
  Result<void> attach_mapping_calls();

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

  // ---- unwinding (the maps behind unwind::UnwindRegistry) ----
  std::uint32_t unwind_row_capacity() const;
  // Writes rows [first, first + rows.size()) of the shared unwind row array.
  Result<void> write_unwind_rows(std::uint32_t first, std::span<const edleak_unwind_row> rows);
  Result<void> set_process_mappings(std::uint32_t tgid, const edleak_proc_mappings& mappings);
  void remove_process_mappings(std::uint32_t tgid);
  // Processes whose mappings the BPF side asked for (none known yet, or a return address outside
  // them); each request is taken once.
  std::vector<std::uint32_t> take_mapping_requests();
  // Readable when the BPF side has asked for mappings (for poll); drain with take_mapping_requests.
  int mapping_requests_fd() const;

  // Has process `tgid` stopped with SIGSTOP at its next outermost allocator call (before it,
  // no stack of it is captured), and again at the first one after each exec, so its mappings
  // can be read first; see bpf/. The caller, its ptrace tracer, sees the stop, asks
  // took_hold_stop(tgid) whether it was this one, and resumes it without the signal.
  void hold_at_first_allocation(std::uint32_t tgid);
  bool took_hold_stop(std::uint32_t tgid);

  // Kernel memory of the maps, as bpftool reports it (memlock), in bytes.
  std::uint64_t map_memory_bytes() const;

 private:
  struct Impl;
  explicit Capture(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edleak::capture
