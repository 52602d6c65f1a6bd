#include "app/report_builder.h"

#include <algorithm>

#include "classify/leak_factor.h"
#include "report/rank.h"

namespace edleak::app {

report::Stats to_report_stats(const sample::Counters& c) {
  report::Stats s;
  // Without per-thread state an allocation cannot be followed to its return: lost as well.
  s.lost_allocs = c.lost_allocs + c.state_errors;
  s.stack_errors = c.stack_errors;
  s.lost_stacks = c.lost_sites;
  s.unknown_frees = c.unknown_frees;
  s.failed_allocs = c.failed_allocs;
  return s;
}

namespace {

// Churning stacks listed per process, at most: they are context for the leaks, and a program
// churns from thousands of stacks (python: every report listing --top 100000 of them, each
// symbolized and serialized, made the tracer too slow to keep its interval).
constexpr std::size_t kMaxChurners = 10;

// The churning stacks of a process: counted, rated, the busiest (--top, at most kMaxChurners)
// symbolized.
void add_churn(report::ProcessReport& proc, std::vector<const sample::Site*>& churn, std::uint32_t pid,
               const StackResolver& resolve, const ReportContext& context) {
  const double elapsed = context.elapsed_s > 0 ? context.elapsed_s : 1;
  proc.churn_stacks = churn.size();
  for (const sample::Site* site : churn) proc.churn_allocs_per_s += static_cast<double>(site->latest.total_allocs) / elapsed;
  report::keep_top(churn, std::min(context.top, kMaxChurners), [](const sample::Site* s) {
    return report::RankKey{s->latest.total_allocs, s->latest.total_frees, s->stack_id};
  });
  for (const sample::Site* site : churn) {
    report::Churner c;
    c.stack_id = site->stack_id;
    c.stack = resolve(pid, site->stack_id);
    c.total_allocs = site->latest.total_allocs;
    c.total_frees = site->latest.total_frees;
    c.outstanding_bytes = site->latest.outstanding_bytes > 0 ? site->latest.outstanding_bytes : 0;
    c.allocs_per_s = static_cast<double>(c.total_allocs) / elapsed;
    c.frees_per_s = static_cast<double>(c.total_frees) / elapsed;
    proc.churners.push_back(std::move(c));
  }
}

}  // namespace

report::Report build_report(const sample::SiteTable& table,
                            const std::unordered_map<std::uint32_t, ProcessInfo>& processes,
                            const StackResolver& resolve, const ReportContext& context) {
  report::Report out;
  out.time = context.time;
  out.elapsed_s = context.elapsed_s;
  out.interval_s = context.interval_s;
  out.samples = table.samples();
  out.final = context.final;
  out.all_stacks = context.all_stacks;
  out.stats = to_report_stats(table.counters());

  // Every process with sites, and every process the caller knows of (a named process may have
  // no site yet); see ReportContext::list_quiet_processes for those without leakers.
  std::vector<std::uint32_t> pids = table.processes();
  for (const auto& [pid, info] : processes) pids.push_back(pid);
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());

  for (std::uint32_t pid : pids) {
    report::ProcessReport proc;
    proc.pid = pid;
    const ScanOutcome* scan = nullptr;
    if (auto it = processes.find(pid); it != processes.end()) {
      proc.comm = it->second.comm;
      proc.exited = it->second.exited;
      scan = it->second.scan.get();
    }
    if (scan) proc.scan = scan->summary;
    const bool scan_complete = scan && !scan->summary.aborted && scan->summary.error.empty();
    // A stack with lost blocks is listed whatever its trend: at a command's exit most stacks have
    // too few samples for one.
    auto lost = [&](std::uint64_t stack_id) {
      if (!scan_complete) return false;
      auto it = scan->per_stack.find(stack_id);
      return it != scan->per_stack.end() &&
             (it->second.definitely_lost.blocks > 0 || it->second.indirectly_lost.blocks > 0);
    };
    // Classify every site, then build full leakers only for the --top shown: with 100,000
    // stacks, copying every leaker would cost more than classifying them.
    struct Candidate {
      const sample::Site* site;
      classify::LeakFactor factor;
      std::uint64_t bytes;
    };
    std::vector<Candidate> candidates;
    std::vector<const sample::Site*> churn;
    table.for_each_site(pid, [&](const sample::Site& site) {
      const auto& latest = site.latest;
      const std::uint64_t bytes = latest.outstanding_bytes > 0 ? latest.outstanding_bytes : 0;
      proc.outstanding_bytes += bytes;
      if (latest.outstanding_blocks > 0) ++proc.stacks;
      proc.total_allocs += latest.total_allocs;
      proc.total_frees += latest.total_frees;
      classify::LeakFactor factor = classify::compute_leak_factor(site.bytes);
      if (factor.is_leak()) ++proc.leaking_stacks;
      else if (latest.total_frees > 0) churn.push_back(&site);
      if (factor.is_leak() || (context.all_stacks && bytes > 0) || lost(site.stack_id))
        candidates.push_back({&site, factor, bytes});
    });
    proc.unlisted = candidates.size() > context.top ? candidates.size() - context.top : 0;
    report::keep_top(candidates, context.top, [](const Candidate& c) {
      return report::RankKey{c.factor.leak, c.bytes, c.site->stack_id};
    });
    for (const Candidate& c : candidates) {
      const auto& latest = c.site->latest;
      report::Leaker leaker;
      leaker.stack_id = c.site->stack_id;
      leaker.stack = resolve(pid, c.site->stack_id);  // only the leakers shown are symbolized
      if (const auto* record = table.stack(c.site->stack_id)) {
        leaker.stack_complete = record->complete;
        leaker.stack_truncated = record->truncated;
      }
      leaker.outstanding_bytes = c.bytes;
      leaker.outstanding_allocs = latest.outstanding_blocks > 0 ? latest.outstanding_blocks : 0;
      leaker.total_allocs = latest.total_allocs;
      leaker.total_frees = latest.total_frees;
      leaker.leak_factor = c.factor;
      leaker.series = c.site->bytes.points();
      if (scan_complete) {
        auto it = scan->per_stack.find(c.site->stack_id);
        leaker.reachability = it != scan->per_stack.end() ? it->second : report::Reachability{};
      }
      proc.leakers.push_back(std::move(leaker));
    }
    add_churn(proc, churn, pid, resolve, context);
    bool named = processes.count(pid) != 0;
    if (proc.leakers.empty() && !(named && context.list_quiet_processes)) continue;
    out.processes.push_back(std::move(proc));
  }
  // Biggest leak first; processes without leakers keep their order at the end.
  std::stable_sort(out.processes.begin(), out.processes.end(), [](const auto& a, const auto& b) {
    std::uint64_t la = a.leakers.empty() ? 0 : a.leakers.front().leak_factor.leak;
    std::uint64_t lb = b.leakers.empty() ? 0 : b.leakers.front().leak_factor.leak;
    return la > lb;
  });
  return out;
}

}  // namespace edleak::app
