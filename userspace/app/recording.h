#pragma once
// Between the tracer's analysis state and a record (record/): what --record saves, and what
// `edleak-bpf report FILE` restores to build its reports with the same builder as a live run.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "app/report_builder.h"
#include "record/recording.h"
#include "sample/site_table.h"

namespace edleak::app {

struct RecordingContext {
  std::chrono::system_clock::time_point time;
  double elapsed_s = 0;
  double interval_s = 0;
  bool final = false;
  std::vector<std::string> command;
  bool targets_named = false;  // -p or a command
  // What the verdicts depend on (ReportContext), and every option of the run, name and value.
  bool attached = false;
  std::uint64_t min_leak_bytes = 1024;
  double min_leak_share = 0.0001;
  std::vector<std::pair<std::string, std::string>> options;
  // The build ID of a module path ("" when unknown); null: none recorded.
  std::function<std::string(const std::string&)> build_id_of;
};

// Every site of the table, with its series and its symbolized stack (from `resolve`).
record::Recording make_recording(const sample::SiteTable& table,
                                 const ProcessInfos& processes,
                                 const StackResolver& resolve, const RecordingContext& context);

// A record restored: the table, the processes and the stacks, as the tracer had them.
class Replay {
 public:
  explicit Replay(const record::Recording& recording);
  const sample::SiteTable& table() const { return table_; }
  const ProcessInfos& processes() const { return processes_; }
  StackResolver resolver() const;

 private:
  sample::SiteTable table_;
  ProcessInfos processes_;
  std::map<std::pair<sample::ProcessKey, std::uint64_t>, std::vector<symbolize::Frame>> stacks_;
};

// The final report of a record, built as the live run builds its reports.
report::Report replay_report(const record::Recording& recording, std::size_t top, bool all_stacks);

}  // namespace edleak::app
