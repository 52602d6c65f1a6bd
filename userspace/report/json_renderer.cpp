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

json to_json(const symbolize::FunctionLocation& f) {
  return {{"symbol", string_or_null(f.symbol)}, {"file", string_or_null(f.file)}, {"line", line_or_null(f.line)}};
}

json to_json(const symbolize::Frame& frame) {
  bool has_symbol = !frame.symbol.empty();
  // Each function with its own location (symbolize::function_locations): the frame's symbol
  // with the line in it (the call site of the outermost inlined function, if any), and each
  // inlined function with the line in it.
  const std::vector<symbolize::FunctionLocation> functions = symbolize::function_locations(frame);
  json j = {
      {"addr", fmt::format("{:#x}", frame.addr)},
      {"symbol", string_or_null(frame.symbol)},
      {"offset", has_symbol ? json(frame.offset) : json(nullptr)},
      {"module", string_or_null(frame.module)},
      {"module_offset", frame.module_offset ? json(fmt::format("{:#x}", *frame.module_offset)) : json(nullptr)},
      {"file", string_or_null(functions.back().file)},
      {"line", line_or_null(functions.back().line)},
  };
  if (!frame.nearest_symbol.empty())
    j["nearest_symbol"] = {{"symbol", frame.nearest_symbol}, {"offset", frame.nearest_offset}};
  if (!frame.inlined.empty()) {
    json& inlined = j["inlined"] = json::array();
    for (std::size_t i = 0; i + 1 < functions.size(); ++i) inlined.push_back(to_json(functions[i]));
  }
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

namespace {

// A listed stack is a leaker when it leaks by its trend or a scan found it lost; the others
// (listed by -a) go to "other_stacks".
bool is_leaker(const Leaker& l) {
  return l.leak_factor.is_leak() ||
         (l.reachability && (l.reachability->definitely_lost.blocks > 0 || l.reachability->indirectly_lost.blocks > 0));
}

json leakers_of(const ProcessReport& process, bool leaking) {
  json array = json::array();
  for (const Leaker& l : process.leakers)
    if (is_leaker(l) == leaking) array.push_back(to_json(l));
  return array;
}

json churn_json(const ProcessReport& process) {
  json top = json::array();
  for (const Churner& c : process.churners)
    top.push_back({{"stack_id", fmt::format("{:#018x}", c.stack_id)},
                   {"stack", array_of(c.stack)},
                   {"total_allocs", c.total_allocs},
                   {"total_frees", c.total_frees},
                   {"outstanding_bytes", c.outstanding_bytes},
                   {"allocs_per_s", c.allocs_per_s},
                   {"frees_per_s", c.frees_per_s}});
  return {{"stacks", process.churn_stacks}, {"allocs_per_s", process.churn_allocs_per_s}, {"top", top}};
}

json heap_json(const HeapReport& heap) {
  json points = json::array();
  for (const series::Point& p : heap.series) points.push_back(json::array({p.t_s, p.bytes}));
  return {
      {"bytes", heap.bytes},
      {"leak_factor", classify::to_json(heap.verdict)},
      {"zoomed", heap.zoomed},
      {"zoom_left_s", heap.zoom_left_s},
      {"zooms", heap.zooms},
      {"zoom_ended", heap.zoom_ended},
      {"series", points},
  };
}

}  // namespace

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
      {"leakers", leakers_of(process, true)},
      {"other_stacks", leakers_of(process, false)},
      {"unlisted_stacks", process.unlisted},
      {"churn", churn_json(process)},
      {"scan", process.scan ? to_json(*process.scan) : json(nullptr)},
      {"heap", process.heap ? heap_json(*process.heap) : json(nullptr)},
      {"room", json{{"evicted_idle", process.room.evicted_idle},
                    {"evicted_holding", process.room.evicted_holding},
                    {"evicted_holding_bytes", process.room.evicted_holding_bytes},
                    {"refused_site_allocs", process.room.refused_site_allocs},
                    {"refused_block_allocs", process.room.refused_block_allocs}}},
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
      {"evicted_idle_sites", stats.evicted_idle_sites},
      {"evicted_holding_sites", stats.evicted_holding_sites},
      {"refused_site_allocs", stats.refused_site_allocs},
      {"refused_block_allocs", stats.refused_block_allocs},
      {"orphan_frees", stats.orphan_frees},
  };
}

json to_json(const Report& report) {
  json out = {
      {"time", format_utc_iso8601(report.time)},
      {"elapsed_s", report.elapsed_s},
      {"interval_s", report.interval_s},
      {"samples", report.samples},
      {"final", report.final},
      {"stats", to_json(report.stats)},
      {"processes", array_of(report.processes)},
      {"watch", report.watch ? json{{"processes", report.watch->processes},
                                    {"growing", report.watch->growing},
                                    {"zoomed", report.watch->zoomed},
                                    {"unlisted", report.watch->unlisted},
                                    {"unwatched", report.watch->unwatched}}
                             : json(nullptr)},
  };
  // A replayed record's run, as an object of option name -> value (in --help order in the text).
  if (!report.recorded_options.empty()) {
    json options = json::object();
    for (const auto& [name, value] : report.recorded_options) options[name] = value;
    out["recorded_options"] = std::move(options);
  }
  return out;
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
