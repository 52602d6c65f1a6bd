#pragma once
// Turns the analysis state into a Report: leak factor per site, leakers ranked per process.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "classify/leak_factor.h"
#include "report/report.h"
#include "sample/site_table.h"
#include "symbolize/frame.h"

namespace edleak::app {

// What the last reachability scan of a process found (see app/scans.h).
struct ScanOutcome {
  report::ScanSummary summary;
  std::unordered_map<std::uint64_t, report::Reachability> per_stack;  // empty unless it completed
};

// What the report says of a process history besides its stacks (from lifecycle::ProcessTable).
struct ProcessInfo {
  ProcessInfo(std::string comm_ = "", bool exited_ = false) : comm(std::move(comm_)), exited(exited_) {}
  std::string comm;
  bool exited = false;       // the history ended (exit, or exec when exec_ended)
  bool exec_ended = false;   // ended by exec: the same pid runs another program
  bool named = true;         // named by the user (-p, the command): listed without stacks
  std::uint32_t parent_pid = 0;
  std::string command;       // its command line
  std::optional<int> exit_status;  // wait status, when known
  std::uint32_t ns_pid = 0;  // its pid inside its pid namespace, when it differs
  std::string cgroup;        // its cgroup (v2 path), when not the root
  std::vector<std::string> notes;  // shown with the process (report::ProcessReport::notes)
  std::shared_ptr<const ScanOutcome> scan;  // the last scan, if any
  std::vector<report::AllocatorInfo> allocators;  // probe/allocator.h, when discovered
};
using ProcessInfos = std::map<sample::ProcessKey, ProcessInfo>;

// Keyed by pid (the lead's process-lifecycle work keys it by process history).

struct ReportContext {
  std::chrono::system_clock::time_point time;
  double elapsed_s = 0;
  double interval_s = 0;
  std::size_t top = 10;
  // List every stack with outstanding bytes (ranked after the leaks), not only the leaking ones.
  bool all_stacks = false;
  bool final = false;
  // Whether a process without leakers is listed (yes for the processes the user named).
  bool list_quiet_processes = true;
  // The processes were running before tracing began (-p, system-wide): their stacks start with
  // the attach warm-up (see classify::StackSeries::attached).
  bool attached = false;
  // The noise floor: a leak whose heap footprint (its bytes plus kBlockOverhead per leaked
  // block) is below min_leak_bytes, or below min_leak_share of the process's outstanding
  // bytes, is not reported as leaking.
  std::uint64_t min_leak_bytes = 1024;
  double min_leak_share = 0.0001;
};

// Heap bytes a block costs beyond what was asked for, at least: glibc's chunk header, and the
// whole of a malloc(0) block's 16 usable bytes are more. Counted in a leak's footprint so that a
// leak of zero-byte blocks weighs something against the noise floor.
inline constexpr std::uint64_t kBlockOverhead = 16;

// Applies the noise floor to one verdict: a leak below it becomes constant, evidence
// noise_floor. `process_bytes`: the process's outstanding bytes.
void apply_noise_floor(classify::LeakFactor& factor, std::uint64_t process_bytes, const ReportContext& context);

// Resolves a stack of a process to frames (allocation site first).
using StackResolver = std::function<std::vector<symbolize::Frame>(const sample::ProcessKey& process, std::uint64_t stack_id)>;

report::Report build_report(const sample::SiteTable& table, const ProcessInfos& processes,
                            const StackResolver& resolve, const ReportContext& context);

report::Stats to_report_stats(const sample::Counters& counters);

}  // namespace edleak::app
