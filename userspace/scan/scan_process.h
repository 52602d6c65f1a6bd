#pragma once
// One reachability scan of a live process: freeze it, read the live blocks the capture holds for
// it, its mappings, registers and memory, mark (marking.h), resume it. The freeze is bounded: past
// `max_pause` the scan is abandoned (aborted) and the process resumed.
#include <chrono>
#include <functional>
#include <optional>
#include <sys/types.h>
#include <vector>

#include "scan/marking.h"
#include "util/result.h"

namespace edleak::scan {

struct ScanRequest {
  pid_t pid = 0;
  // Threads the caller holds stopped already (the traced command at its exit stop).
  std::vector<pid_t> held_threads;
  // Longest the process may stay frozen; none: until the scan is done.
  std::optional<std::chrono::nanoseconds> max_pause;
};

// The live blocks of the process, read once every thread is stopped (so that none is allocated or
// freed between this reading and the memory's).
using BlockSource = std::function<Result<std::vector<Block>>()>;

struct ProcessScan {
  std::chrono::system_clock::time_point time;  // when the scan started
  double frozen_ms = 0;                        // from the first stop request to the resume
  bool aborted = false;                        // max_pause passed: no categories
  std::size_t threads = 0;                     // threads stopped
  double stop_ms = 0, blocks_ms = 0, mark_ms = 0;  // where the frozen time went
  MarkResult marks;
};

// Fails with why ("cannot stop thread 123: ...", "the process has exited"), the process resumed.
Result<ProcessScan> scan_process(const ScanRequest& request, const BlockSource& blocks);

}  // namespace edleak::scan
