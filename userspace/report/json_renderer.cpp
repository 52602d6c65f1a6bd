#include "report/json_renderer.h"

#include <ctime>

#include <fmt/format.h>

#include "classify/leak_factor_json.h"

namespace edleak::report {
namespace {

// Keys in the documented order (time first, leak_factor as edLeak wrote it), not sorted.
using json = nlohmann::ordered_json;

json string_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }
json line_or_null(int line) { return line > 0 ? json(line) : json(nullptr); }

template <typename T>
json array_of(const std::vector<T>& items) {
  json array = json::array();
  for (const T& item : items) array.push_back(to_json(item));
  return array;
}

}  // namespace

json to_json(const symbolize::InlinedFrame& inl) {
  return {{"symbol", string_or_null(inl.symbol)}, {"file", string_or_null(inl.file)}, {"line", line_or_null(inl.line)}};
}

json to_json(const symbolize::Frame& frame) {
  bool has_symbol = !frame.symbol.empty();
  json j = {
      {"addr", fmt::format("{:#x}", frame.addr)},
      {"symbol", string_or_null(frame.symbol)},
      {"offset", has_symbol ? json(frame.offset) : json(nullptr)},
      {"module", string_or_null(frame.module)},
      {"module_offset", frame.module_offset ? json(fmt::format("{:#x}", *frame.module_offset)) : json(nullptr)},
      {"file", string_or_null(frame.file)},
      {"line", line_or_null(frame.line)},
  };
  if (!frame.nearest_symbol.empty())
    j["nearest_symbol"] = {{"symbol", frame.nearest_symbol}, {"offset", frame.nearest_offset}};
  if (!frame.inlined.empty()) j["inlined"] = array_of(frame.inlined);
  return j;
}

json to_json(const BlockTotals& totals) { return {{"bytes", totals.bytes}, {"blocks", totals.blocks}}; }

json to_json(const Reachability& r) {
  return {
      {"definitely_lost", to_json(r.definitely_lost)},
      {"indirectly_lost", to_json(r.indirectly_lost)},
      {"possibly_lost", to_json(r.possibly_lost)},
      {"still_reachable", to_json(r.still_reachable)},
  };
}

json to_json(const ScanSummary& scan) {
  bool complete = !scan.aborted && scan.error.empty();
  return {
      {"time", format_utc_iso8601(scan.time)},
      {"at_exit", scan.at_exit},
      {"frozen_ms", scan.frozen_ms},
      {"blocks_scanned", scan.blocks_scanned},
      {"bytes_scanned", scan.bytes_scanned},
      {"aborted", scan.aborted},
      {"error", string_or_null(scan.error)},
      {"reachability", complete ? to_json(scan.total) : json(nullptr)},
  };
}

json to_json(const Leaker& leaker) {
  return {
      {"stack_id", fmt::format("{:#018x}", leaker.stack_id)},
      {"stack", array_of(leaker.stack)},
      {"stack_complete", leaker.stack_complete},
      {"stack_truncated", leaker.stack_truncated},
      {"kind", leaker.kind},
      {"outstanding_bytes", leaker.outstanding_bytes},
      {"outstanding_allocs", leaker.outstanding_allocs},
      {"total_allocs", leaker.total_allocs},
      {"total_frees", leaker.total_frees},
      {"leak_factor", classify::to_json(leaker.leak_factor)},
      {"reachability", leaker.reachability ? to_json(*leaker.reachability) : json(nullptr)},
  };
}

json to_json(const AllocatorInfo& allocator) {
  return {
      {"name", allocator.name},
      {"path", allocator.path},
      {"linked", allocator.in_executable ? "executable" : "shared"},
      {"prefix", allocator.symbol_prefix},
      {"traced", allocator.traced},
  };
}

json to_json(const ProcessReport& process) {
  return {
      {"pid", process.pid},
      {"comm", process.comm},
      {"exited", process.exited},
      {"exec_ended", process.exec_ended},
      {"parent_pid", process.parent_pid ? json(process.parent_pid) : json(nullptr)},
      {"command", string_or_null(process.command)},
      {"exit_status", process.exit_status ? json(*process.exit_status) : json(nullptr)},
      {"ns_pid", process.ns_pid ? json(process.ns_pid) : json(nullptr)},
      {"cgroup", string_or_null(process.cgroup)},
      {"notes", process.notes},
      // The first is the allocator of malloc; null when it was not determined.
      {"allocator", process.allocators.empty() ? json(nullptr) : json(process.allocators.front().name)},
      {"allocators", array_of(process.allocators)},
      {"outstanding_bytes", process.outstanding_bytes},
      {"stacks", process.stacks},
      {"leaking_stacks", process.leaking_stacks},
      {"total_allocs", process.total_allocs},
      {"total_frees", process.total_frees},
      {"leakers", array_of(process.leakers)},
      {"scan", process.scan ? to_json(*process.scan) : json(nullptr)},
  };
}

json to_json(const Stats& stats) {
  return {
      {"lost_allocs", stats.lost_allocs},
      {"stack_errors", stats.stack_errors},
      {"lost_sites", stats.lost_sites},
      {"unknown_frees", stats.unknown_frees},
      {"failed_allocs", stats.failed_allocs},
      {"overwritten_blocks", stats.overwritten_blocks},
      {"lost_events", stats.lost_events},
  };
}

json to_json(const Report& report) {
  return {
      {"time", format_utc_iso8601(report.time)},
      {"elapsed_s", report.elapsed_s},
      {"interval_s", report.interval_s},
      {"samples", report.samples},
      {"final", report.final},
      {"stats", to_json(report.stats)},
      {"processes", array_of(report.processes)},
  };
}

std::string format_utc_iso8601(std::chrono::system_clock::time_point time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(
      std::chrono::floor<std::chrono::seconds>(time));
  std::tm parts{};
  if (gmtime_r(&seconds, &parts) == nullptr) return "";
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", parts.tm_year + 1900, parts.tm_mon + 1,
                     parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec);
}

void JsonRenderer::render(const Report& report, std::ostream& out) {
  // No indentation: one line per report. Names and paths from the traced processes need not be
  // valid UTF-8, so replace bad bytes (U+FFFD) instead of throwing.
  out << to_json(report).dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
  out.flush();  // tools read the lines live
}

}  // namespace edleak::report
