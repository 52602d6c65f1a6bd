#pragma once
// A recorded capture: everything a report is built from, so that `edleak-bpf report FILE`
// replays it through the same classifier and renderers as the live run. Written by --record,
// encoded as described in record/format.h.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "report/report.h"

#include "sample/snapshot.h"
#include "series/series.h"
#include "symbolize/frame.h"

namespace edleak::record {

// A series besides the bytes one (outstanding blocks, frees over time), as Series::restored takes
// it. Version 2 on; empty when read from a version 1 record.
struct RecordedSeries {
  std::vector<series::Point> points;
  double min = 0, max = 0;
  std::uint64_t samples_seen = 0;
};

// One (process, stack) of the capture: its last aggregates, its series and its symbolized stack.
struct RecordedSite {
  sample::SiteSample latest;             // tgid and stack_id included
  std::uint32_t incarnation = 0;         // of the process history (see RecordedProcess)
  std::vector<series::Point> points;     // outstanding bytes over time (the series' points)
  double min_bytes = 0, max_bytes = 0;   // true extremes of the samples behind the points
  std::uint64_t samples_seen = 0;        // samples behind the points
  bool stack_complete = false;
  bool stack_truncated = false;
  std::vector<symbolize::Frame> frames;  // allocation site first
  RecordedSeries blocks{}, frees{};      // version 2 on
};

// A process's last reachability scan (version 2 on): what the report shows of it, and the
// categories of each stack's blocks when it completed.
struct RecordedScan {
  report::ScanSummary summary;
  std::vector<std::pair<std::uint64_t, report::Reachability>> per_stack;  // by stack id
};

struct RecordedProcess {
  std::uint32_t pid = 0;
  // Which history of the pid (its fork or exec to its exec or exit); 0 for one that started
  // before tracing.
  std::uint32_t incarnation = 0;
  std::string comm;
  bool exited = false;
  std::optional<RecordedScan> scan{};  // version 2 on
};

struct Recording {
  // When the run's last report was made, and what the run was.
  std::chrono::system_clock::time_point time;
  double elapsed_s = 0;
  double interval_s = 0;
  std::uint64_t samples = 0;
  bool final = false;           // the record was written at the end of the run
  bool targets_named = false;   // -p or a command (not every process): quiet processes are listed
  sample::Counters counters;
  std::vector<std::string> command;  // the traced command line ("" when -p or every process)
  std::vector<RecordedProcess> processes;
  std::vector<RecordedSite> sites;
  std::map<std::string, std::string> build_ids;  // module path -> GNU build ID (hex), when known
  // Version 2 on (a version 1 record reads as the defaults): what the report's verdicts depend
  // on beyond the series, as the run had them (see app::ReportContext)...
  bool attached = false;             // the processes ran before tracing (-p, every process)
  std::uint64_t min_leak_bytes = 1024;
  double min_leak_share = 0.0001;
  // ...and every option of the run, name and value, in effect (given or by default).
  std::vector<std::pair<std::string, std::string>> options;
};

}  // namespace edleak::record
