#include "app/fail_verdict.h"

#include <fmt/format.h>

#include "classify/leak_factor.h"
#include "report/format.h"

namespace edleak::app {
namespace {

bool class_selected(const cli::FailOn& f, classify::LeakClass c) {
  switch (c) {
    case classify::LeakClass::linear: return f.linear;
    case classify::LeakClass::logarithmic: return f.logarithmic;
    case classify::LeakClass::exponential: return f.exponential;
    default: return false;
  }
}

}  // namespace

void FailVerdict::observe(const report::Report& report) {
  for (const report::ProcessReport& p : report.processes) {
    if (fail_on_.definitely_lost && p.scan) lost_[p.pid] = p.scan->total.definitely_lost.blocks > 0;
    if (!fail_on_.any_leak_class() || !reason_.empty() || !(report.final || p.exited)) continue;
    // The report's verdicts (noise floor included: the gate and the report never disagree), over
    // every leaking stack, not only the --top listed.
    for (auto cls : {classify::LeakClass::linear, classify::LeakClass::logarithmic, classify::LeakClass::exponential}) {
      const std::uint64_t leak = p.largest_leak_by_class[static_cast<std::size_t>(cls)];
      if (leak == 0 || !class_selected(fail_on_, cls) || leak < fail_on_.min_leak) continue;
      reason_ = fmt::format("pid {} ({}): a {} leak of {}", p.pid, p.comm, classify::to_string(cls),
                            report::format_bytes(leak));
      break;
    }
  }
}

bool FailVerdict::failed() const {
  if (!reason_.empty()) return true;
  for (const auto& [pid, lost] : lost_)
    if (lost) return true;
  return false;
}

int FailVerdict::exit_status(int command_status) const {
  if (command_status != 0) return command_status;
  return failed() ? 3 : 0;
}

}  // namespace edleak::app
