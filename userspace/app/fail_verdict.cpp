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

void FailVerdict::observe(const report::Report& report, const sample::SiteTable& table) {
  for (const report::ProcessReport& p : report.processes) {
    if (fail_on_.definitely_lost && p.scan) lost_[p.pid] = p.scan->total.definitely_lost.blocks > 0;
    if (!fail_on_.any_leak_class() || !reason_.empty() || !(report.final || p.exited)) continue;
    table.for_each_site(p.pid, [&](const sample::Site& site) {
      if (!reason_.empty()) return;
      const classify::LeakFactor f = classify::compute_leak_factor(site.bytes);
      if (class_selected(fail_on_, f.cls) && f.leak >= fail_on_.min_leak)
        reason_ = fmt::format("pid {} ({}): a {} leak of {} (stack {:#x})", p.pid, p.comm, classify::to_string(f.cls),
                              report::format_bytes(f.leak), site.stack_id);
    });
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
