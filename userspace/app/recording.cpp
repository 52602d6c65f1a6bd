#include "app/recording.h"

#include <algorithm>

namespace edleak::app {

namespace {

record::RecordedSeries recorded_series(const series::Series& series) {
  return {series.points(), series.min_bytes(), series.max_bytes(), series.samples_seen()};
}

series::Series restored_series(const record::RecordedSeries& recorded) {
  return series::Series::restored(sample::SiteTable::kSeriesCapacity, recorded.points, recorded.min, recorded.max,
                                  recorded.samples_seen);
}

}  // namespace

record::Recording make_recording(const sample::SiteTable& table,
                                 const ProcessInfos& processes,
                                 const StackResolver& resolve, const RecordingContext& context) {
  record::Recording r;
  r.time = context.time;
  r.elapsed_s = context.elapsed_s;
  r.interval_s = context.interval_s;
  r.final = context.final;
  r.samples = table.samples();
  r.counters = table.counters();
  r.command = context.command;
  r.targets_named = context.targets_named;
  r.attached = context.attached;
  r.min_leak_bytes = context.min_leak_bytes;
  r.min_leak_share = context.min_leak_share;
  r.options = context.options;
  std::vector<sample::ProcessKey> keys = table.processes();
  for (const auto& [key, info] : processes)
    if (table.sites_of(key).empty()) keys.push_back(key);  // named, no site yet
  std::sort(keys.begin(), keys.end());
  for (const sample::ProcessKey& key : keys) {
    record::RecordedProcess p;
    p.pid = key.pid;
    p.incarnation = key.incarnation;
    if (auto it = processes.find(key); it != processes.end()) {
      p.comm = it->second.comm;
      p.exited = it->second.exited;
      if (const ScanOutcome* scan = it->second.scan.get()) {
        record::RecordedScan& recorded = p.scan.emplace();
        recorded.summary = scan->summary;
        recorded.per_stack.assign(scan->per_stack.begin(), scan->per_stack.end());
        std::sort(recorded.per_stack.begin(), recorded.per_stack.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });  // the same bytes each time
      }
    }
    r.processes.push_back(std::move(p));
    table.for_each_site(key, [&](const sample::Site& site) {
      record::RecordedSite s;
      s.latest = site.latest;
      s.incarnation = key.incarnation;
      s.points = site.bytes.points();
      s.min_bytes = site.bytes.min_bytes();
      s.max_bytes = site.bytes.max_bytes();
      s.samples_seen = site.bytes.samples_seen();
      s.blocks = recorded_series(site.blocks);
      s.frees = recorded_series(site.frees);
      if (const auto* stack = table.stack(site.stack_id)) {
        s.stack_complete = stack->complete;
        s.stack_truncated = stack->truncated;
      }
      s.frames = resolve(key, site.stack_id);
      if (context.build_id_of)
        for (const auto& f : s.frames)
          if (!f.module.empty() && !r.build_ids.count(f.module))
            if (std::string id = context.build_id_of(f.module); !id.empty()) r.build_ids[f.module] = id;
      r.sites.push_back(std::move(s));
    });
  }
  return r;
}

Replay::Replay(const record::Recording& recording) {
  for (const auto& p : recording.processes) {
    ProcessInfo& info = processes_[sample::ProcessKey(p.pid, p.incarnation)];
    info = ProcessInfo(p.comm, p.exited);
    if (p.scan) {
      auto scan = std::make_shared<ScanOutcome>();
      scan->summary = p.scan->summary;
      scan->per_stack.insert(p.scan->per_stack.begin(), p.scan->per_stack.end());
      info.scan = std::move(scan);
    }
  }
  for (const auto& s : recording.sites) {
    const sample::ProcessKey key(s.latest.tgid, s.incarnation);
    // A version 1 record holds the bytes series only: the others restore empty (the old-blocks
    // series is not recorded yet: a replay judges without ages).
    sample::Site site{key,
                      s.latest.stack_id,
                      s.latest,
                      restored_series({s.points, s.min_bytes, s.max_bytes, s.samples_seen}),
                      restored_series(s.blocks),
                      restored_series(s.frees),
                      series::Series(sample::SiteTable::kSeriesCapacity),
                      0,
                      sample::AgeDecoder{}};
    // The table keeps raw frames for the capture's walk; a replay has only the symbolized ones.
    sample::StackRecord stack;
    stack.complete = s.stack_complete;
    stack.truncated = s.stack_truncated;
    for (const auto& f : s.frames) stack.frames.push_back(f.addr);
    table_.restore(std::move(site), stack);
    stacks_[{key, s.latest.stack_id}] = s.frames;
    // A site of a process the record does not list still gets an entry (as the tracer does).
    processes_.try_emplace(key);
  }
  table_.restore_totals(recording.samples, recording.counters);
}

StackResolver Replay::resolver() const {
  return [this](const sample::ProcessKey& key, std::uint64_t id) {
    auto it = stacks_.find({key, id});
    return it == stacks_.end() ? std::vector<symbolize::Frame>{} : it->second;
  };
}

report::Report replay_report(const record::Recording& recording, std::size_t top, bool all_stacks) {
  const Replay replay(recording);
  ReportContext context;
  context.time = recording.time;
  context.elapsed_s = recording.elapsed_s;
  context.interval_s = recording.interval_s;
  context.top = top;
  context.all_stacks = all_stacks;
  context.final = true;  // the run's last state
  // As live: a command's or named processes are listed even without leakers; a record of every
  // process lists only those with leakers.
  context.list_quiet_processes = recording.targets_named;
  context.attached = recording.attached;
  context.min_leak_bytes = recording.min_leak_bytes;
  context.min_leak_share = recording.min_leak_share;
  report::Report report = build_report(replay.table(), replay.processes(), replay.resolver(), context);
  report.recorded_options = recording.options;
  return report;
}

}  // namespace edleak::app
