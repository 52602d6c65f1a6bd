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

// A series of a site or of a process's heap, as Series::restored takes it back. Its low points,
// resolution and first and latest samples are version 3 on (older records read without them).
using RecordedSeries = series::SeriesState;

// One (process, stack) of the capture: its last aggregates, its series and its symbolized stack.
struct RecordedSite {
  sample::SiteCounts latest;             // tgid and stack_id included
  std::uint32_t incarnation = 0;         // of the process history (see RecordedProcess)
  RecordedSeries bytes{};                // outstanding bytes over time
  bool stack_complete = false;
  bool stack_truncated = false;
  bool mmap = false;                     // a direct mmap's site (version 3 on)
  std::vector<symbolize::Frame> frames;  // allocation site first
  RecordedSeries blocks{}, frees{};      // version 2 on
  // Version 3 on: the outstanding blocks 8 samples old or more (sample::Site::old_blocks; empty
  // when the capture had no ages) and the bytes they hold at the last sample.
  RecordedSeries old_blocks{};
  std::int64_t old_bytes = 0;
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
  // Version 3 on: the rest of what the report says of it (app::ProcessInfo); a version 1 or 2
  // record reads as the defaults, every process named.
  bool exec_ended = false;
  bool named = true;
  std::uint32_t parent_pid = 0;
  std::string command{};
  std::optional<int> exit_status{};
  std::uint32_t ns_pid = 0;
  std::string cgroup{};
  std::vector<std::string> notes{};
  std::vector<report::AllocatorInfo> allocators{};
};

// Watch mode (version 3 on): one process's heap as watch::HeapWatch had it.
struct RecordedHeap {
  std::uint32_t pid = 0;
  std::uint32_t incarnation = 0;
  std::string comm;  // as the live report named it, or read when recorded
  std::uint64_t bytes = 0;
  RecordedSeries heap{};
  bool zoomed = false;
  double zoom_started_s = 0, zoom_until_s = 0;
  std::uint64_t bytes_at_zoom = 0;
  std::uint32_t zooms = 0, cleared = 0;
  std::string note;
};

struct RecordedWatch {
  double now_s = 0;                    // the watch's clock (seconds since the run began) at the report
  std::uint64_t min_growth_bytes = 0;  // --min-heap-growth
  std::uint64_t unwatched = 0;
  std::vector<RecordedHeap> processes;  // every process watched, by pid
};

struct Recording {
  // When the run's last report was made, and what the run was.
  std::chrono::system_clock::time_point time;
  double elapsed_s = 0;
  double interval_s = 0;
  std::uint64_t samples = 0;
  bool final = false;           // the record was written at the end of the run
  // Processes without leakers are listed when named (-p, a command, a zoomed process in watch
  // mode; not with --probe-all).
  bool targets_named = false;
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
  std::optional<RecordedWatch> watch;  // watch mode, version 3 on
};

}  // namespace edleak::record
