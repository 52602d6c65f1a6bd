#include "app/recording.h"

#include <algorithm>

namespace edleak::app {

namespace {

series::Series restored_series(const record::RecordedSeries& recorded) {
  return series::Series::restored(sample::SiteTable::kSeriesCapacity, recorded);
}

// Every watched process's heap and what the watch knows of it.
record::RecordedWatch recorded_watch(const watch::HeapWatch& watch, double now_s, const CommReader& comm_of) {
  record::RecordedWatch out;
  out.now_s = now_s;
  out.min_growth_bytes = watch.config().min_growth_bytes;
  out.unwatched = watch.unwatched();
  for (const auto& [pid, p] : watch.processes()) {
    record::RecordedHeap h;
    h.pid = p.key.pid;
    h.incarnation = p.key.incarnation;
    if (comm_of) h.comm = comm_of(pid);
    h.bytes = p.bytes;
    h.heap = p.heap.state();
    h.zoomed = p.zoomed;
    h.zoom_started_s = p.zoom_started_s;
    h.zoom_until_s = p.zoom_until_s;
    h.bytes_at_zoom = p.bytes_at_zoom;
    h.zooms = p.zooms;
    h.cleared = p.cleared;
    h.note = p.note;
    out.processes.push_back(std::move(h));
  }
  // The same bytes for the same state (the map's order is not).
  std::sort(out.processes.begin(), out.processes.end(), [](const auto& a, const auto& b) { return a.pid < b.pid; });
  return out;
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
      const ProcessInfo& info = it->second;
      p.comm = info.comm;
      p.exited = info.exited;
      p.exec_ended = info.exec_ended;
      p.named = info.named;
      p.parent_pid = info.parent_pid;
      p.command = info.command;
      p.exit_status = info.exit_status;
      p.ns_pid = info.ns_pid;
      p.cgroup = info.cgroup;
      p.notes = info.notes;
      p.allocators = info.allocators;
      if (const ScanOutcome* scan = info.scan.get()) {
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
      s.bytes = site.bytes.state();
      s.blocks = site.blocks.state();
      s.frees = site.frees.state();
      s.old_blocks = site.old_blocks.state();
      s.old_bytes = site.old_bytes;
      if (const auto* stack = table.stack(site.stack_id)) {
        s.stack_complete = stack->complete;
        s.stack_truncated = stack->truncated;
        s.mmap = stack->mmap;
      }
      s.frames = resolve(key, site.stack_id);
      if (context.build_id_of)
        for (const auto& f : s.frames)
          if (!f.module.empty() && !r.build_ids.count(f.module))
            if (std::string id = context.build_id_of(f.module); !id.empty()) r.build_ids[f.module] = id;
      r.sites.push_back(std::move(s));
    });
  }
  if (context.watch) r.watch = recorded_watch(*context.watch, context.watch_now_s, context.comm_of);
  return r;
}

Replay::Replay(const record::Recording& recording) {
  for (const auto& p : recording.processes) {
    ProcessInfo& info = processes_[sample::ProcessKey(p.pid, p.incarnation)];
    info = ProcessInfo(p.comm, p.exited);
    info.exec_ended = p.exec_ended;
    info.named = p.named;
    info.parent_pid = p.parent_pid;
    info.command = p.command;
    info.exit_status = p.exit_status;
    info.ns_pid = p.ns_pid;
    info.cgroup = p.cgroup;
    info.notes = p.notes;
    info.allocators = p.allocators;
    if (p.scan) {
      auto scan = std::make_shared<ScanOutcome>();
      scan->summary = p.scan->summary;
      scan->per_stack.insert(p.scan->per_stack.begin(), p.scan->per_stack.end());
      info.scan = std::move(scan);
    }
  }
  for (const auto& s : recording.sites) {
    const sample::ProcessKey key(s.latest.tgid, s.incarnation);
    // A version 1 record holds the bytes series only, a version 2 one the blocks and frees too:
    // the others restore empty (a replay then judges without ages), and their series without
    // low points (each point its own low).
    sample::Site site{.process = key,
                      .stack_id = s.latest.stack_id,
                      .latest = s.latest,
                      .bytes = restored_series(s.bytes),
                      .blocks = restored_series(s.blocks),
                      .frees = restored_series(s.frees),
                      .old_blocks = restored_series(s.old_blocks),
                      .old_bytes = s.old_bytes,
                      .age = {}};
    // The table keeps raw frames for the capture's walk; a replay has only the symbolized ones.
    sample::StackRecord stack;
    stack.complete = s.stack_complete;
    stack.truncated = s.stack_truncated;
    stack.mmap = s.mmap;
    for (const auto& f : s.frames) stack.frames.push_back(f.addr);
    table_.restore(std::move(site), stack);
    stacks_[{key, s.latest.stack_id}] = s.frames;
    // A site of a process the record does not list still gets an entry (as the tracer does).
    processes_.try_emplace(key);
  }
  table_.restore_totals(recording.samples, recording.counters);
  if (!recording.watch) return;
  watch::WatchConfig config;
  config.min_growth_bytes = recording.watch->min_growth_bytes;
  watch_.emplace(config);
  watch_->restore_unwatched(recording.watch->unwatched);
  for (const record::RecordedHeap& h : recording.watch->processes) {
    watch::WatchedProcess p(sample::ProcessKey(h.pid, h.incarnation), config.series_capacity);
    p.heap = series::Series::restored(config.series_capacity, h.heap);
    p.bytes = h.bytes;
    p.zoomed = h.zoomed;
    p.zoom_started_s = h.zoom_started_s;
    p.zoom_until_s = h.zoom_until_s;
    p.bytes_at_zoom = h.bytes_at_zoom;
    p.zooms = h.zooms;
    p.cleared = h.cleared;
    p.note = h.note;
    watch_->restore(std::move(p));
    watched_comms_[h.pid] = h.comm;
  }
  watch_->classify();  // the verdicts, by the same classifier as the live watch
}

CommReader Replay::comm_reader() const {
  return [this](std::uint32_t pid) {
    auto it = watched_comms_.find(pid);
    return it == watched_comms_.end() ? std::string() : it->second;
  };
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
  if (const watch::HeapWatch* watch = replay.watch())
    add_heap_watch(report, *watch, recording.watch->now_s, top, all_stacks, replay.comm_reader());
  report.recorded_options = recording.options;
  return report;
}

}  // namespace edleak::app
