#pragma once
// Between the tracer's analysis state and a record (record/): what --record saves, and what
// `edleak-bpf report FILE` restores to build its reports with the same builder as a live run.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "app/report_builder.h"
#include "app/watch_report.h"
#include "record/recording.h"
#include "sample/site_table.h"
#include "watch/heap_watch.h"

namespace edleak::app {

struct RecordingContext {
  std::chrono::system_clock::time_point time;
  double elapsed_s = 0;
  double interval_s = 0;
  bool final = false;
  std::vector<std::string> command;
  bool targets_named = false;  // processes without leakers are listed when named (not --probe-all)
  // What the verdicts depend on (ReportContext), and every option of the run, name and value.
  bool attached = false;
  std::uint64_t min_leak_bytes = 1024;
  double min_leak_share = 0.0001;
  std::vector<std::pair<std::string, std::string>> options;
  // The build ID of a module path ("" when unknown); null: none recorded.
  std::function<std::string(const std::string&)> build_id_of;
  // Watch mode: every watched process's heap, at the watch's clock `watch_now_s`, named by
  // `comm_of` (the live report's names first: a replay lists them as it did).
  const watch::HeapWatch* watch = nullptr;
  double watch_now_s = 0;
  CommReader comm_of;
};

// Every site of the table, with its series and its symbolized stack (from `resolve`).
record::Recording make_recording(const sample::SiteTable& table,
                                 const ProcessInfos& processes,
                                 const StackResolver& resolve, const RecordingContext& context);

// A record restored: the table, the processes, the stacks and (watch mode) the heaps, as the
// tracer had them.
class Replay {
 public:
  explicit Replay(const record::Recording& recording);
  const sample::SiteTable& table() const { return table_; }
  const ProcessInfos& processes() const { return processes_; }
  StackResolver resolver() const;
  // Watch mode: the heaps, classified again; null for a record of another mode.
  const watch::HeapWatch* watch() const { return watch_ ? &*watch_ : nullptr; }
  CommReader comm_reader() const;

 private:
  sample::SiteTable table_;
  ProcessInfos processes_;
  std::map<std::pair<sample::ProcessKey, std::uint64_t>, std::vector<symbolize::Frame>> stacks_;
  std::optional<watch::HeapWatch> watch_;
  std::unordered_map<std::uint32_t, std::string> watched_comms_;
};

// The final report of a record, built as the live run builds its reports.
report::Report replay_report(const record::Recording& recording, std::size_t top, bool all_stacks);

}  // namespace edleak::app
