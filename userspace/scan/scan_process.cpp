#include "scan/scan_process.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "scan/freeze.h"
#include "scan/process_memory.h"
#include "scan/roots.h"
#include "symbolize/proc_maps.h"

namespace edleak::scan {
namespace {

using Clock = std::chrono::steady_clock;

// Hidden, for tests: sleep this long inside the freeze (a long scan on demand).
std::chrono::milliseconds debug_pause() {
  const char* env = std::getenv("EDLEAK_DEBUG_SCAN_SLEEP_MS");
  return std::chrono::milliseconds(env ? std::strtoll(env, nullptr, 10) : 0);
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

Result<ProcessScan> scan_process(const ScanRequest& request, const BlockSource& blocks) {
  ProcessScan scan;
  scan.time = std::chrono::system_clock::now();
  const auto start = Clock::now();
  std::optional<Clock::time_point> deadline;
  if (request.max_pause) deadline = start + *request.max_pause;

  auto frozen = FrozenProcess::freeze(request.pid, request.held_threads, deadline);
  if (!frozen) return frozen.error();
  scan.threads = (*frozen)->threads().size();
  scan.stop_ms = ms_since(start);

  if (auto pause = debug_pause(); pause.count() > 0) std::this_thread::sleep_for(pause);
  if (deadline && Clock::now() >= *deadline) {
    frozen->reset();
    scan.aborted = true;
    scan.frozen_ms = ms_since(start);
    return scan;
  }

  const auto blocks_start = Clock::now();
  auto live = blocks();
  if (!live) return live.error();
  scan.blocks_ms = ms_since(blocks_start);
  const auto mark_start = Clock::now();
  auto maps = symbolize::read_proc_maps(request.pid);
  if (!maps) return maps.error();
  ProcessMemory memory(request.pid);
  Roots roots = make_roots(*maps, (*frozen)->threads(), &memory);

  MarkLimits limits;
  limits.deadline = deadline;
  limits.glibc_chunk_headers = true;  // the blocks come from glibc's allocator (the probes are on it)
  scan.marks = mark(std::move(*live), roots, memory, limits);
  frozen->reset();  // resume before anything else
  scan.frozen_ms = ms_since(start);
  scan.mark_ms = std::chrono::duration<double, std::milli>(Clock::now() - mark_start).count();
  scan.aborted = scan.marks.aborted;
  if (!scan.aborted && scan.marks.bytes_scanned == 0 && memory.last_error() != 0)
    return make_error("cannot read its memory: {}", std::strerror(memory.last_error()));
  return scan;
}

}  // namespace edleak::scan
