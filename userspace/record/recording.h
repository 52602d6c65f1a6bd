#pragma once
// A recorded capture: everything a report is built from, so that `edleak-bpf report FILE`
// replays it through the same classifier and renderers as the live run. Written by --record,
// encoded as described in record/format.h.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sample/snapshot.h"
#include "series/series.h"
#include "symbolize/frame.h"

namespace edleak::record {

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
};

struct RecordedProcess {
  std::uint32_t pid = 0;
  // Which history of the pid (its fork or exec to its exec or exit); 0 for one that started
  // before tracing.
  std::uint32_t incarnation = 0;
  std::string comm;
  bool exited = false;
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
};

}  // namespace edleak::record
