#pragma once
// Turns the analysis state into a Report: leak factor per site, leakers ranked per process.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "report/report.h"
#include "sample/site_table.h"
#include "symbolize/frame.h"

namespace edleak::app {

// What the last reachability scan of a process found (see app/scans.h).
struct ScanOutcome {
  report::ScanSummary summary;
  std::unordered_map<std::uint64_t, report::Reachability> per_stack;  // empty unless it completed
};

struct ProcessInfo {
  ProcessInfo(std::string comm_ = "", bool exited_ = false) : comm(std::move(comm_)), exited(exited_) {}
  std::string comm;
  bool exited = false;
  std::shared_ptr<const ScanOutcome> scan;  // the last scan, if any
};

// Keyed by pid (the lead's process-lifecycle work keys it by process history).
using ProcessInfos = std::unordered_map<std::uint32_t, ProcessInfo>;

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
};

// Resolves a stack of a process to frames (allocation site first).
using StackResolver = std::function<std::vector<symbolize::Frame>(std::uint32_t tgid, std::uint64_t stack_id)>;

report::Report build_report(const sample::SiteTable& table,
                            const std::unordered_map<std::uint32_t, ProcessInfo>& processes,
                            const StackResolver& resolve, const ReportContext& context);

report::Stats to_report_stats(const sample::Counters& counters);

}  // namespace edleak::app
