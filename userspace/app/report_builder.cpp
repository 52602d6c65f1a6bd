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
  s.lost_sites = c.lost_sites;
  s.unknown_frees = c.unknown_frees;
  s.failed_allocs = c.failed_allocs;
  s.overwritten_blocks = c.overwritten_blocks;
  s.lost_events = c.lost_events;
  s.refused_site_allocs = c.refused_site_allocs;
  s.refused_block_allocs = c.refused_block_allocs;
  s.orphan_frees = c.orphan_frees;
  return s;
}

void apply_noise_floor(classify::LeakFactor& factor, std::uint64_t process_bytes, const ReportContext& context) {
  if (!factor.is_leak()) return;
  const double footprint = static_cast<double>(factor.leak) + static_cast<double>(kBlockOverhead) * static_cast<double>(factor.leak_blocks);
  const double floor = std::max(static_cast<double>(context.min_leak_bytes),
                                context.min_leak_share * static_cast<double>(process_bytes));
  if (footprint >= floor) return;
  factor.cls = classify::LeakClass::constant;
  factor.evidence = classify::Evidence::noise_floor;
  factor.leak = 0;
  factor.leak_blocks = 0;
}

namespace {

// Churning stacks listed per process, at most: they are context for the leaks, and a program
// churns from thousands of stacks (python: every report listing --top 100000 of them, each
// symbolized and serialized, made the tracer too slow to keep its interval).
constexpr std::size_t kMaxChurners = 10;

// The churning stacks of a process: counted, rated, the busiest (--top, at most kMaxChurners)
// symbolized.
void add_churn(report::ProcessReport& proc, std::vector<const sample::Site*>& churn, const sample::ProcessKey& key,
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
    c.stack = resolve(key, site->stack_id);
    c.total_allocs = site->latest.total_allocs;
    c.total_frees = site->latest.total_frees;
    c.outstanding_bytes = site->latest.outstanding_bytes > 0 ? site->latest.outstanding_bytes : 0;
    c.allocs_per_s = static_cast<double>(c.total_allocs) / elapsed;
    c.frees_per_s = static_cast<double>(c.total_frees) / elapsed;
    proc.churners.push_back(std::move(c));
  }
}

}  // namespace

report::Report build_report(const sample::SiteTable& table, const ProcessInfos& processes,
                            const StackResolver& resolve, const ReportContext& context) {
  report::Report out;
  out.time = context.time;
  out.elapsed_s = context.elapsed_s;
  out.interval_s = context.interval_s;
  out.samples = table.samples();
  out.final = context.final;
  out.all_stacks = context.all_stacks;
  out.stats = to_report_stats(table.counters());
  out.stats.evicted_idle_sites = table.room_totals().evicted_idle;
  out.stats.evicted_holding_sites = table.room_totals().evicted_holding;

  // Every process with sites, and every process the caller knows of (a named process may have
  // no site yet); see ReportContext::list_quiet_processes for those without leakers.
  std::vector<sample::ProcessKey> keys = table.processes();
  for (const auto& [key, info] : processes) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());

  for (const sample::ProcessKey& key : keys) {
    report::ProcessReport proc;
    proc.pid = key.pid;
    const ScanOutcome* scan = nullptr;
    bool named = false;
    if (auto it = processes.find(key); it != processes.end()) {
      const ProcessInfo& info = it->second;
      proc.comm = info.comm;
      proc.exited = info.exited && !info.exec_ended;
      proc.exec_ended = info.exec_ended;
      proc.parent_pid = info.parent_pid;
      proc.command = info.command;
      proc.exit_status = info.exit_status;
      proc.ns_pid = info.ns_pid;
      proc.cgroup = info.cgroup;
      proc.notes = info.notes;
      scan = info.scan.get();
      named = info.named;
      proc.allocators = info.allocators;
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
      bool holds;  // outstanding bytes or blocks: a stack of zero-byte blocks (malloc(0)) is listed too
      bool lost;   // the scan found lost blocks of it
    };
    // Listed: a leak, any stack holding blocks with -a, a stack with lost blocks; asked before
    // the noise floor (to keep the candidates) and after it (which may end a leak).
    auto listed = [&](const classify::LeakFactor& factor, bool holds, bool lost_blocks) {
      return factor.is_leak() || (context.all_stacks && holds) || lost_blocks;
    };
    std::vector<Candidate> candidates;
    std::vector<const sample::Site*> churn;
    table.for_each_site(key, [&](const sample::Site& site) {
      const auto& latest = site.latest;
      const std::uint64_t bytes = latest.outstanding_bytes > 0 ? latest.outstanding_bytes : 0;
      proc.outstanding_bytes += bytes;
      if (latest.outstanding_blocks > 0) ++proc.stacks;
      proc.total_allocs += latest.total_allocs;
      proc.total_frees += latest.total_frees;
      classify::StackSeries stack = classify::stack_series(site.bytes, &site.blocks, &site.frees, &site.old_blocks,
                                                           static_cast<double>(site.old_bytes));
      stack.attached = context.attached;
      stack.settled_from = site.settling.point(stack, site.blocks.layout(), site.frees.layout());
      const bool lost_blocks = lost(site.stack_id);
      // Only what is listed is described: most stacks are neither leaks nor shown.
      stack.describe = context.all_stacks || lost_blocks;
      classify::LeakFactor factor = site.verdict.classify(
          stack, classify::verdict_key(site.bytes, site.blocks, site.frees, site.old_blocks, context.attached));
      // A stack of zero-byte blocks (malloc(0)) holds blocks, not bytes: it is listed too.
      const bool holds = bytes > 0 || latest.outstanding_blocks > 0;
      if (!factor.is_leak() && latest.total_frees > 0) churn.push_back(&site);
      if (listed(factor, holds, lost_blocks)) candidates.push_back({&site, factor, bytes, holds, lost_blocks});
    });
    // The noise floor needs the process's total, known once every site was seen.
    std::erase_if(candidates, [&](Candidate& c) {
      apply_noise_floor(c.factor, proc.outstanding_bytes, context);
      if (c.factor.is_leak()) {
        ++proc.leaking_stacks;
        auto& largest = proc.largest_leak_by_class[static_cast<std::size_t>(c.factor.cls)];
        largest = std::max(largest, c.factor.leak);
      }
      return !listed(c.factor, c.holds, c.lost);
    });
    proc.unlisted = candidates.size() > context.top ? candidates.size() - context.top : 0;
    report::keep_top(candidates, context.top, [](const Candidate& c) {
      return report::RankKey{c.factor.leak, c.bytes, c.site->stack_id};
    });
    for (const Candidate& c : candidates) {
      const auto& latest = c.site->latest;
      report::Leaker leaker;
      leaker.stack_id = c.site->stack_id;
      leaker.stack = resolve(key, c.site->stack_id);  // only the leakers shown are symbolized
      if (const auto* record = table.stack(c.site->stack_id)) {
        leaker.stack_complete = record->complete;
        leaker.stack_truncated = record->truncated;
        if (record->mmap) leaker.kind = "mmap";
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
    add_churn(proc, churn, key, resolve, context);
    // Stacks whose kernel site was evicted (sample/room_policy.h) and has not come back: their
    // counts stay in the process's, and they count with the churning stacks (most were evicted
    // empty: they freed what they allocated).
    const sample::RetiredTotals retired = table.retired_of(key);
    proc.total_allocs += retired.allocs;
    proc.total_frees += retired.frees;
    proc.churn_stacks += retired.stacks;
    proc.churn_allocs_per_s += static_cast<double>(retired.allocs) / (context.elapsed_s > 0 ? context.elapsed_s : 1);
    if (const sample::RoomCounts* room = table.room_of(key)) {
      proc.room.evicted_idle = room->evicted_idle;
      proc.room.evicted_holding = room->evicted_holding;
      proc.room.evicted_holding_bytes = room->evicted_holding_bytes;
      proc.room.refused_site_allocs = room->refused_site_allocs;
      proc.room.refused_block_allocs = room->refused_block_allocs;
    }
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
