#pragma once
// --fail-on: whether the run found what the user asked to fail on (exit status 3). One place
// for every kind: definitely lost blocks (a process's last reachability scan) and leaking
// stacks of the named classes (linear, logarithmic, exponential) of at least --min-leak bytes.
#include <cstdint>
#include <string>
#include <unordered_map>

#include "cli/options.h"
#include "report/report.h"

namespace edleak::app {

class FailVerdict {
 public:
  explicit FailVerdict(const cli::FailOn& fail_on) : fail_on_(fail_on) {}

  // Looks at one report: the leaks of the processes in their last report (exited ones, or all in
  // the final report), as the report classified them (noise floor included) and over every stack,
  // not only the --top listed (ProcessReport::largest_leak_by_class).
  void observe(const report::Report& report);

  bool failed() const;
  // The command's own failure first (its status is kept), then 3 when failed(), else 0.
  int exit_status(int command_status) const;
  // What failed, for the closing message ("" when nothing did).
  const std::string& reason() const { return reason_; }

 private:
  cli::FailOn fail_on_;
  std::unordered_map<std::uint32_t, bool> lost_;  // pid -> its last scan found definitely lost blocks
  std::string reason_;                            // the first leak class found
};

}  // namespace edleak::app
