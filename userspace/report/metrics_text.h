#pragma once
// The report as Prometheus text exposition (format 0.0.4, which OpenMetrics parsers read as
// well), served by --metrics at /metrics:
//
//   edleak_process_outstanding_bytes{pid,comm}       gauge, every stack of the process
//   edleak_process_stacks{pid,comm}                  gauge, stacks with outstanding blocks
//   edleak_process_leaking_stacks{pid,comm}          gauge
//   edleak_process_leak_bytes{pid,comm}              gauge, sum over the listed leakers
//   edleak_stack_outstanding_bytes{pid,comm,rank,site,class}   gauge, per top leaker
//   edleak_stack_leak_bytes{pid,comm,rank,site,class}          gauge
//   edleak_stack_growth_bytes_per_second{pid,comm,rank,site,class}  gauge
//   edleak_lost_allocs_total, edleak_lost_sites_total, edleak_stack_errors_total,
//   edleak_unknown_frees_total, edleak_failed_allocs_total    counters of the capture
//   edleak_samples_total                             counter
//   edleak_evicted_sites_total, edleak_evicted_holding_sites_total, edleak_refused_site_allocs_total,
//   edleak_refused_block_allocs_total, edleak_orphan_frees_total   making room in the maps
//
// Label cardinality is bounded whatever the traced programs do: at most kMaxProcesses processes
// (the biggest leaks first) and kMaxStacksPerProcess stacks each, identified by their rank
// (1..N) and allocation site; label values are cut at kMaxLabelBytes.
#include <cstddef>
#include <string>

#include "report/report.h"

namespace edleak::report {

inline constexpr std::size_t kMaxProcesses = 20;
inline constexpr std::size_t kMaxStacksPerProcess = 5;
inline constexpr std::size_t kMaxLabelBytes = 120;

std::string metrics_text(const Report& report);

// A label value escaped as the exposition format wants (\\, \", \n), cut at kMaxLabelBytes.
std::string metric_label_value(const std::string& value);

}  // namespace edleak::report
