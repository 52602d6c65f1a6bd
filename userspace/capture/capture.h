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
#include "sample/room_policy.h"
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
  bool follow_children = false;   // children of followed processes are followed from their fork
  bool events_for_all = false;    // process events of every process, not only followed ones
  bool hold_followed = false;     // hold followed processes after fork and exec (see hold())
};

// A process's fork, exec or exit, from the sched_process_* tracepoints.
struct ProcessEvent {
  enum class Kind { fork, exec, exit } kind = Kind::fork;
  sample::ProcessKey process;           // the new history (fork, exec), the one ended (exit)
  std::uint32_t old_incarnation = 0;    // exec: the history that ended
  std::uint32_t parent_pid = 0;         // fork
  int exit_status = 0;                  // exit: wait status
  std::string comm;                     // the process's name (after exec: the new program's)
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
  // process when pid is -1: one uprobe_multi link per program. Free probes first, then return
  // probes, then entry probes, so no block is recorded whose free could be missed and no entry
  // waits for a missing return.
  Result<void> attach(const probe::ProbePlan& plan, const std::string& path, pid_t pid);
  std::size_t probe_count() const;  // probes (addresses), not links
  // Detaches every probe.
  void detach();
  // Detaches the probes attached for process `pid` (after its exit): in the background, since
  // each link's release waits for an RCU grace period.
  void detach_process(pid_t pid);

  // Reports process `tgid`'s events (fork, exec, exit); its children's too with follow_children.
  void follow(std::uint32_t tgid);
  // Stops process `tgid` with SIGSTOP at its next allocator call (before it, no stack of it is
  // captured), and followed processes again after each fork and exec with hold_followed, so
  // its mappings can be read first; see bpf/. The caller, its ptrace tracer, sees the stop,
  // asks took_hold_stop(tgid) whether it was this one, and resumes it without the signal.
  void hold(std::uint32_t tgid);
  bool took_hold_stop(std::uint32_t tgid);
  // Process events since the last call, in order.
  std::vector<ProcessEvent> take_process_events();
  // The program's own anonymous mmap/munmap/mremap (syscall tracepoints; bpf/): attached once the
  // allocator probes are, so that an allocator's mappings are never taken for the program's (a
  // call in flight before its probe was attached is not known to be the allocator's).
  // Their programs are verified on a thread of their own from load() on (mmap_exit's stack walk
  // takes the verifier a second or two): with `wait`, this waits for them and says whether they
  // are attached; without, they are attached as soon as they are loaded, a failure is logged,
  // and this returns at once.
  Result<void> attach_mapping_calls(bool wait = true);

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
  Result<std::vector<LiveBlock>> live_blocks(const sample::ProcessKey& process);

  // Forgets the blocks and aggregates of process histories that ended, and the frames of stacks
  // no other history has (returned: they leave the caller's tables too).
  Result<std::vector<std::uint64_t>> forget_processes(const std::vector<sample::ProcessKey>& processes);

  // ---- room in the maps (sample/room_policy.h) ----
  std::size_t site_capacity() const;
  std::uint64_t block_capacity() const;
  // Deletes these sites of the last snapshot from the sites map, and the frames of stacks no
  // other site has (returned: they leave the caller's tables too). A site holding blocks leaves
  // them in the blocks map: their frees are counted as orphan frees, credited to no site.
  Result<std::vector<std::uint64_t>> evict_sites(const std::vector<sample::SiteUse>& sites);
  // Deletes the live blocks these sites (of the last snapshot) count from the blocks map, before
  // they are evicted: room in the blocks map. Returns how many went. Their frees are then frees
  // of blocks not seen allocated (unknown_frees).
  Result<std::uint64_t> delete_blocks_of(const std::vector<sample::SiteUse>& sites);
  // The process histories that get no new site, and those that get no new block, from now on
  // (each refusal counted, per history in Snapshot::refusals); the caps of any other are lifted.
  Result<void> set_caps(const std::vector<sample::ProcessKey>& site_capped,
                        const std::vector<sample::ProcessKey>& block_capped);
  bool caps_in_force() const;
  // The new sites process histories may create until the next call (sample::site_burst_limits;
  // per_history 0: no limit); the allocations of new stacks beyond are refused (counted, per
  // history in Snapshot::refusals).
  void set_site_burst_limits(const sample::SiteBurstLimits& limits);

  // ---- unwinding (the maps behind unwind::UnwindRegistry) ----
  std::uint32_t unwind_row_capacity() const;
  // Writes rows [first, first + rows.size()) of the shared unwind row array.
  Result<void> write_unwind_rows(std::uint32_t first, std::span<const edleak_unwind_row> rows);
  Result<void> set_process_mappings(std::uint32_t tgid, const edleak_proc_mappings& mappings);
  void remove_process_mappings(std::uint32_t tgid);
  // Processes whose mappings the BPF side asked for (none known yet, or a return address outside
  // them); each request is taken once. These three may be called from another thread than the
  // rest (symbolize::MappingReader's): they touch only the requests and the histories.
  std::vector<std::uint32_t> take_mapping_requests();
  // Readable when the BPF side has asked for mappings (for poll).
  int mapping_requests_fd() const;
  // The current history (incarnation) of a process, as its allocations are tagged; 0 for one
  // that started before tracing (or has exited).
  std::uint32_t history_of(std::uint32_t tgid) const;
  // Readable when the BPF side has sent process events (for poll); drain with take_process_events.
  int events_fd() const;

  // Entries of the kernel maps at the last snapshot (sites, stacks) and the live blocks they
  // account for.
  std::size_t site_count() const;
  std::size_t stack_count() const;
  std::uint64_t live_block_count() const;

  // Kernel memory of the maps, as bpftool reports it (memlock), in bytes.
  std::uint64_t map_memory_bytes() const;

 private:
  struct Impl;
  explicit Capture(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edleak::capture
