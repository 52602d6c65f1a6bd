#pragma once
// What one report says: per process, the allocation sites that leak, with their stacks.
// Built by the tracer (app/) and rendered as text or JSON (renderer.h); also built by tests.
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "classify/leak_factor.h"
#include "series/series.h"
#include "symbolize/frame.h"

namespace edleak::report {

// Bytes and blocks of one reachability category (valgrind's names; see userspace/scan).
struct BlockTotals {
  std::uint64_t bytes = 0;
  std::uint64_t blocks = 0;
  bool operator==(const BlockTotals&) const = default;
};

// What the last reachability scan found of a stack's (or a process's) live blocks.
struct Reachability {
  BlockTotals definitely_lost;  // no pointer to the block anywhere
  BlockTotals indirectly_lost;  // pointed to only from lost blocks
  BlockTotals possibly_lost;    // only pointers into its middle
  BlockTotals still_reachable;
  bool operator==(const Reachability&) const = default;
};

// The last reachability scan of a process.
struct ScanSummary {
  std::chrono::system_clock::time_point time;  // when it started
  bool at_exit = false;             // at the exit stop of a traced command, else on demand (-p)
  double frozen_ms = 0;             // how long the process was stopped
  std::uint64_t blocks_scanned = 0; // live blocks classified
  std::uint64_t bytes_scanned = 0;  // memory read: roots and blocks
  bool aborted = false;             // stopped at --max-scan-pause: no categories
  std::string error;                // why the scan failed ("" when it did not)
  Reachability total;               // over every stack
};

struct Leaker {
  std::uint64_t stack_id = 0;           // the capture's id of the stack: stable across reports
  std::vector<symbolize::Frame> stack;  // stack[0] is the allocation site (caller of the allocator)
  bool stack_complete = false;          // the walk reached the outermost frame
  bool stack_truncated = false;         // the walk stopped at --max-frames
  // What allocated: "malloc" (the allocator's entry points, C++ new), or "mmap" (the program's
  // own anonymous mappings: outstanding bytes in whole pages, a block per mapping).
  std::string kind = "malloc";
  std::uint64_t outstanding_bytes = 0;
  std::uint64_t outstanding_allocs = 0;
  std::uint64_t total_allocs = 0;
  std::uint64_t total_frees = 0;
  classify::LeakFactor leak_factor;
  std::optional<Reachability> reachability;  // from the process's last scan, when it completed
  // Outstanding bytes over time, the points the leak factor was fitted on (for plots and
  // sparklines).
  std::vector<series::Point> series;
};

// A stack that allocates and frees between samples (churn): invisible in outstanding bytes, but
// its allocation rate is what users look at for allocator pressure.
struct Churner {
  std::uint64_t stack_id = 0;
  std::vector<symbolize::Frame> stack;
  std::uint64_t total_allocs = 0;
  std::uint64_t total_frees = 0;
  std::uint64_t outstanding_bytes = 0;
  double allocs_per_s = 0;  // averages since tracing began
  double frees_per_s = 0;
};

// The allocator a process's malloc (or a prefixed allocator it calls) belongs to.
struct AllocatorInfo {
  std::string name;            // "glibc", "jemalloc", "tcmalloc", "mimalloc", "unknown"
  std::string path;            // the file that defines it, as the process names it
  bool in_executable = false;  // linked into the executable
  std::string symbol_prefix;   // "je_" for a prefixed jemalloc, else ""
  bool traced = true;          // false: edleak-bpf has no probes for it
  std::string description;     // for people: "jemalloc (/usr/lib/x86_64-linux-gnu/libjemalloc.so.2)"
};

// Watch mode: what the process's heap (its anonymous resident memory, from the kernel's
// counters: no probe) did over time, and whether its allocator is traced for a window.
struct HeapReport {
  std::uint64_t bytes = 0;            // now
  classify::LeakFactor verdict;       // of the heap series
  std::vector<series::Point> series;  // empty unless the process is listed with its series
  bool zoomed = false;                // its allocator is traced now (the stacks are in this section)
  double zoom_left_s = 0;             // zoomed: until the window ends (another one follows if it leaks)
  unsigned zooms = 0;                 // windows so far
  bool zoom_ended = false;            // this section is the last of a window: the probes came off
};

// What making room in the capture's maps did to one process (userspace/sample/room_policy.h).
struct RoomReport {
  std::uint64_t evicted_idle = 0;     // empty idle stacks whose kernel entry was evicted (counts kept)
  std::uint64_t evicted_holding = 0;  // stacks evicted with live blocks (over its share of the sites map)
  std::uint64_t evicted_holding_bytes = 0;  // the bytes those blocks held (not counted since)
  std::uint64_t refused_site_allocs = 0;    // allocations of new stacks refused (over its share)
  std::uint64_t refused_block_allocs = 0;   // allocations refused (over its share of the blocks map)
  bool any() const {
    return evicted_idle || evicted_holding || refused_site_allocs || refused_block_allocs;
  }
};

struct ProcessReport {
  std::uint32_t pid = 0;
  std::string comm;
  bool exited = false;
  bool exec_ended = false;          // this history ended with an exec (the pid runs on)
  std::uint32_t parent_pid = 0;     // 0: not known
  std::string command;              // command line, "" when not read
  std::optional<int> exit_status;   // wait status, when it exited and it is known
  std::uint32_t ns_pid = 0;         // pid inside its own pid namespace, when it differs
  std::string cgroup;               // its cgroup v2 path (containers), "" for the root
  std::vector<std::string> notes;   // what the user should know (e.g. "its children allocate: -f")
  // First the one that provides malloc, then prefixed ones; empty when not determined.
  std::vector<AllocatorInfo> allocators;
  std::uint64_t outstanding_bytes = 0;  // over every stack of the process, leaking or not
  std::uint64_t stacks = 0;             // stacks with outstanding blocks
  std::uint64_t leaking_stacks = 0;     // stacks classified as leaking, before the --top cut
  // The largest leak of each class among every leaking stack, before the --top cut (the CI gate
  // reads it, so that a cut list cannot hide a leak from it); indexed by classify::LeakClass.
  std::array<std::uint64_t, 5> largest_leak_by_class{};
  std::uint64_t total_allocs = 0;       // allocations traced in the process since attach
  std::uint64_t total_frees = 0;        // frees of traced blocks
  std::vector<Leaker> leakers;          // sorted by leak, most first; at most --top
  std::uint64_t unlisted = 0;           // stacks that qualified for `leakers` but were cut by --top
  std::uint64_t churn_stacks = 0;       // stacks that free what they allocate and do not leak
  double churn_allocs_per_s = 0;        // their allocations per second, together
  std::vector<Churner> churners;        // the busiest first; at most --top and 10
  std::optional<ScanSummary> scan;      // the last reachability scan, if any
  std::optional<HeapReport> heap;       // watch mode
  RoomReport room;
};

// Watch mode: the processes watched, and how many of them are shown.
struct WatchSummary {
  std::uint64_t processes = 0;   // watched now
  std::uint64_t growing = 0;     // heap classified as a leak (linear, exponential, logarithmic)
                                 // by at least the suspects' minimum growth
  std::uint64_t zoomed = 0;      // allocator traced now
  std::uint64_t unlisted = 0;    // growing (or, with -a, any) but cut by --top
  std::uint64_t unwatched = 0;   // not watched: too many processes (since the start)
};

// Counters of what the capture could not record; every report shows them.
struct Stats {
  std::uint64_t lost_allocs = 0;    // live-block map full: allocation not tracked
  std::uint64_t stack_errors = 0;   // stack not captured or stack map full
  std::uint64_t lost_sites = 0;     // per-(process, stack) aggregate map full: allocation not counted
  // Frees of blocks not seen allocated (ignored): allocated before tracing, or glibc returning
  // a thread's cached blocks to its arena at thread exit (the program had freed them already).
  std::uint64_t unknown_frees = 0;
  std::uint64_t failed_allocs = 0;  // allocator returned NULL (not an allocation)
  std::uint64_t overwritten_blocks = 0;  // a live block's address handed out again (free missed)
  std::uint64_t lost_events = 0;    // process events dropped (ring buffer full)
  // Room in the maps (see RoomReport), for the whole run: sites evicted empty (their counts
  // kept) or with live blocks; allocations refused to processes over their share of the sites
  // map (a new stack) or of the blocks map; frees of blocks whose site had been evicted.
  std::uint64_t evicted_idle_sites = 0;
  std::uint64_t evicted_holding_sites = 0;
  std::uint64_t refused_site_allocs = 0;
  std::uint64_t refused_block_allocs = 0;
  std::uint64_t orphan_frees = 0;
};

struct Report {
  std::chrono::system_clock::time_point time;
  double elapsed_s = 0;
  double interval_s = 0;
  std::uint64_t samples = 0;
  bool final = false;  // the last report of the run
  bool all_stacks = false;  // -a: the text report lists churning stacks too (JSON always does)
  Stats stats;
  std::vector<ProcessReport> processes;
  std::optional<WatchSummary> watch;  // watch mode
  // A replayed record (`edleak-bpf report FILE`): the recorded run's options, name and value;
  // empty for a live report and for a version 1 record.
  std::vector<std::pair<std::string, std::string>> recorded_options;
};

}  // namespace edleak::report
