#include "app/tracer.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <deque>
#include <fstream>
#include <map>
#include <span>
#include <sstream>
#include <optional>
#include <poll.h>
#include <set>
#include <sys/signalfd.h>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

#include "app/outputs.h"
#include "app/report_builder.h"
#include "app/scans.h"
#include "app/targets.h"
#include "app/watch_report.h"
#include "capture/capture.h"
#include "capture/preflight.h"
#include "lifecycle/command_tree.h"
#include "lifecycle/proc_identity.h"
#include "lifecycle/process_table.h"
#include "probe/probe_plan.h"
#include "report/format.h"
#include "report/renderer.h"
#include "sample/site_table.h"
#include "symbolize/mapping_reader.h"
#include "symbolize/proc_maps.h"
#include "symbolize/symbolizer.h"
#include "unwind/unwind_registry.h"
#include "util/duration.h"
#include "util/log.h"
#include "watch/heap_reader.h"
#include "watch/heap_watch.h"

namespace edleak::app {
namespace {

using Clock = std::chrono::steady_clock;
using sample::ProcessKey;

// SIGINT, SIGTERM, SIGCHLD and SIGUSR1 arrive through a signalfd, so the sampling loop sleeps in
// one poll() and never runs report code in a signal handler.
class SignalFd {
 public:
  SignalFd() {
    sigemptyset(&mask_);
    sigaddset(&mask_, SIGINT);
    sigaddset(&mask_, SIGTERM);
    sigaddset(&mask_, SIGCHLD);
    sigaddset(&mask_, SIGUSR1);  // scan the -p processes now (app/scans.h)
    sigprocmask(SIG_BLOCK, &mask_, &old_mask_);
    fd_ = signalfd(-1, &mask_, SFD_CLOEXEC | SFD_NONBLOCK);
  }
  ~SignalFd() {
    if (fd_ >= 0) close(fd_);
    sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;

  // Waits up to `timeout` for signals or for one of `others` to become readable; returns the
  // signals that arrived (ready[i] tells about others[i]).
  std::vector<int> wait(std::chrono::milliseconds timeout, std::span<const int> others, std::span<bool> ready) {
    std::vector<int> got;
    std::vector<pollfd> p{{fd_, POLLIN, 0}};
    for (int fd : others) p.push_back({fd, POLLIN, 0});
    int ms = static_cast<int>(std::max<long long>(0, timeout.count()));
    std::fill(ready.begin(), ready.end(), false);
    if (poll(p.data(), p.size(), ms) > 0) {
      signalfd_siginfo info;
      while (read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info))
        got.push_back(static_cast<int>(info.ssi_signo));
      for (std::size_t i = 0; i < others.size(); ++i) ready[i] = (p[i + 1].revents & POLLIN) != 0;
    }
    return got;
  }

 private:
  sigset_t mask_{}, old_mask_{};
  int fd_ = -1;
};

// The mapping reader's requests: the capture's, read on the reader's thread.
class CaptureMappingRequests final : public symbolize::MappingRequestSource {
 public:
  explicit CaptureMappingRequests(capture::Capture& capture) : capture_(capture) {}
  int fd() const override { return capture_.mapping_requests_fd(); }
  std::vector<std::uint32_t> take() override { return capture_.take_mapping_requests(); }
  std::uint32_t history_of(std::uint32_t tgid) override { return capture_.history_of(tgid); }

 private:
  capture::Capture& capture_;
};

// The unwind registry's kernel side: the capture's maps.
class CaptureUnwindMaps final : public unwind::UnwindMaps {
 public:
  explicit CaptureUnwindMaps(capture::Capture& capture) : capture_(capture) {}
  std::uint32_t row_capacity() const override { return capture_.unwind_row_capacity(); }
  Result<void> write_rows(std::uint32_t first, std::span<const edleak_unwind_row> rows) override {
    return capture_.write_unwind_rows(first, rows);
  }
  Result<void> set_mappings(std::uint32_t tgid, const edleak_proc_mappings& mappings) override {
    return capture_.set_process_mappings(tgid, mappings);
  }
  void remove_mappings(std::uint32_t tgid) override { capture_.remove_process_mappings(tgid); }

 private:
  capture::Capture& capture_;
};

edleak_unwind_mode unwind_mode(cli::UnwindMode mode) {
  switch (mode) {
    case cli::UnwindMode::automatic: return EDLEAK_UNWIND_AUTO;
    case cli::UnwindMode::dwarf: return EDLEAK_UNWIND_DWARF;
    case cli::UnwindMode::frame_pointers: return EDLEAK_UNWIND_FP;
  }
  return EDLEAK_UNWIND_AUTO;
}

// What the run traces and how its probes are placed.
enum class Scope {
  command,   // -- CMD (and its tree unless --no-follow)
  pids,      // -p PID... (and their children with -f)
  everyone,  // --probe-all: every process, every allocator call
  watch,     // none of these: every process's heap; the growing ones zoomed (userspace/watch)
};

watch::WatchConfig watch_config(const cli::TraceOptions& options) {
  watch::WatchConfig config;
  config.zoom_s = std::chrono::duration<double>(options.zoom).count();
  config.max_zoom = options.max_zoom;
  config.min_growth_bytes = options.min_heap_growth;
  config.suspect_after_s = std::chrono::duration<double>(options.suspect_after).count();
  return config;
}

class Tracer {
 public:
  Tracer(const cli::TraceOptions& options, std::ostream& out)
      : options_(options),
        out_(out),
        renderer_(report::make_renderer(options.format)),
        scope_(!options.command.empty() ? Scope::command
               : !options.pids.empty()  ? Scope::pids
               : options.probe_all      ? Scope::everyone
                                        : Scope::watch),
        watch_(watch_config(options)) {}

  int run() {
    if (auto r = capture::check_privileges(); !r) return fail(r.error());
    if (auto r = capture::check_kernel_features(); !r) return fail(r.error());
    // Signals are taken over before the command is started: a command that exits at once must
    // not have its SIGCHLD lost (default: ignored) and wait, stopped at its exit, a whole interval.
    signals_.emplace();
    // After the signal mask is set (its threads inherit it), before anything is started.
    if (auto r = outputs_.start(); !r) return fail(r.error());
    auto targets = prepare_targets();
    if (!targets) return fail(targets.error());
    auto capture = capture::Capture::load(capture_config());
    if (!capture) return fail(capture.error());
    capture_ = std::move(*capture);
    unwind_maps_.emplace(*capture_);
    unwind_.emplace(*unwind_maps_);
    mapping_requests_.emplace(*capture_);
    mapping_reader_.emplace(*mapping_requests_);
    for (const auto& [key, record] : processes_.records()) capture_->follow(key.pid);
    // -p processes get their tables now; the others (a command once it has exec'd, children,
    // every process in all-process mode) when their first allocation asks for them.
    if (scope_ == Scope::pids)
      for (const auto& [key, record] : processes_.records()) update_unwind(key.pid);
    if (log::enabled(log::Level::verbose))  // reads every map's fdinfo: only when asked
      log::verbose("BPF maps: {:.1f} MiB of kernel memory (--max-allocs {}, --max-stacks {})",
                   static_cast<double>(capture_->map_memory_bytes()) / (1 << 20), options_.max_allocs,
                   options_.max_stacks);
    const auto attach_started = Clock::now();
    for (const auto& target : *targets) {
      if (auto r = attach(target); !r) {
        // All-process mode: only the first file (the system's libc, or --libc) is needed; the
        // others were found in processes that may have exited since.
        if (scope_ == Scope::everyone && &target != &targets->front()) {
          log::warn("{}", r.error().message);
          continue;
        }
        // A -p process that exited while the programs loaded: the others go on.
        if (scope_ != Scope::pids || lifecycle::process_exists(target.pid)) return fail(r.error());
        processes_.on_exit(ProcessKey(static_cast<std::uint32_t>(target.pid)), std::nullopt);
        if (processes_.all_ended())
          return fail(make_error("pid {} exited before tracing started", target.pid));
        log::warn("pid {} exited before tracing started; tracing the others", target.pid);
      }
    }
    // -p -f: the children running now.
    if (scope_ == Scope::pids)
      for (const auto& [key, record] : processes_.records())
        if (!record.named) (void)attach_process(static_cast<pid_t>(key.pid));
    log::verbose("attached {} probes in {:.1f} ms", capture_->probe_count(),
                 std::chrono::duration<double, std::milli>(Clock::now() - attach_started).count());
    // A command's own mappings are seen from its first instruction: it waits for the mmap
    // programs (verified since the load, capture/). -p and all-process runs trace programs that
    // mapped memory before them anyway: they start at once and get them a second or two later.
    if (auto r = capture_->attach_mapping_calls(command_.has_value()); !r)
      log::warn("direct mmap/munmap/mremap calls are not traced: {}", r.error().message);
    if (command_) {
      // Only as its tracer: the stop is ours to see and to end (see bpf/).
      if (command_->seized()) capture_->hold(static_cast<std::uint32_t>(command_->pid()));
      if (auto r = command_->release(); !r) return fail(r.error());
    }
    if (scope_ == Scope::watch)
      log::info("watching {}, reporting every {}; Ctrl-C to stop", describe_targets(), format_duration(options_.interval));
    else
      log::info("tracing {} with {} probes, reporting every {}; Ctrl-C to stop", describe_targets(),
                capture_->probe_count(), format_duration(options_.interval));
    const int code = loop();
    const auto detach_started = Clock::now();
    capture_->detach();
    log::verbose("detached in {:.1f} ms",
                 std::chrono::duration<double, std::milli>(Clock::now() - detach_started).count());
    return code;
  }

 private:
  int fail(const Error& e) {
    log::error("{}", e.message);
    return 1;
  }

  // Probes go into every process mapping a file in all-process mode; else into the traced
  // processes only (a command's tree gets them for each child before it runs, -p -f as soon as
  // the fork is seen), so that no other process on the machine pays a trap.
  bool probes_everywhere() const { return scope_ == Scope::everyone; }

  capture::CaptureConfig capture_config() const {
    capture::CaptureConfig config;
    config.max_allocs = options_.max_allocs;
    config.max_stacks = options_.max_stacks;
    config.max_unwind_rows = options_.max_unwind_rows;
    config.max_frames = options_.max_frames;
    config.unwind = unwind_mode(options_.unwind);
    config.empty_programs = options_.empty_programs;
    config.follow_children = scope_ != Scope::everyone && options_.follow;
    config.events_for_all = scope_ == Scope::everyone || scope_ == Scope::watch;
    // Holds need a tracer to end them: only the command's tree has one.
    config.hold_followed = command_ && command_->seized();
    return config;
  }

  std::string describe_targets() const {
    std::string tree = options_.follow ? " and its children" : "";
    if (command_) return fmt::format("'{}' (pid {}){}", options_.command[0], command_->pid(), tree);
    if (scope_ == Scope::everyone) return "every process";
    if (scope_ == Scope::watch)
      return fmt::format("every process's heap (a process whose heap grows by {} or more has its allocator traced for {})",
                         report::format_bytes(options_.min_heap_growth), format_duration(options_.zoom));
    std::string s;
    for (const auto& [key, record] : processes_.records())
      if (record.root) s += (s.empty() ? "" : ",") + std::to_string(key.pid);
    return (s.find(',') == std::string::npos ? "pid " : "pids ") + s +
           (options_.follow ? fmt::format(" and their children ({} now)", processes_.size() - named_pids_) : "");
  }

  Result<std::vector<ProbeTarget>> prepare_targets() {
    if (scope_ == Scope::command) {
      auto tree = lifecycle::CommandTree::spawn(options_.command, options_.follow);
      if (!tree) return tree.error();
      command_.emplace(std::move(*tree));
      auto& record = processes_.add_named(ProcessKey(static_cast<std::uint32_t>(command_->pid())));
      record.comm = options_.command[0];
      auto libs = libraries_for_command(command_->pid(), options_.libc_path);
      if (libs) add_allocators(command_->pid(), probe::discover_command_allocators(options_.command[0]), *libs);
      return libs;
    }
    if (scope_ == Scope::everyone) return libraries_of_all_processes(options_.libc_path, mapped_allocators_);
    if (scope_ == Scope::watch) return std::vector<ProbeTarget>{};  // probes go in per suspect
    // -p: a process gone before tracing started fails the run when it is the only one named;
    // among several, it gets a line and the others are traced.
    std::vector<ProbeTarget> all;
    std::vector<pid_t> pids = options_.pids;
    for (pid_t pid : pids) {
      auto libs = libraries_of_process(pid, options_.libc_path);
      if (!libs) {
        // Found gone at once: no such process (the message says so); gone while its libraries
        // were looked at: it exited before tracing started.
        const bool vanished = lifecycle::process_exists(pid) == false &&
                              libs.error().message != fmt::format("no process with pid {}", pid);
        std::string why = vanished ? fmt::format("pid {} exited before tracing started", pid) : libs.error().message;
        if (options_.pids.size() == 1) return make_error("{}", why);
        log::warn("{}; tracing the others", why);
        continue;
      }
      all.insert(all.end(), libs->begin(), libs->end());  // attach() probes each file once
      add_allocators(pid, probe::discover_process_allocators(pid), all);
      auto& record = processes_.add_named(ProcessKey(static_cast<std::uint32_t>(pid)));
      read_identity(record);
      // Its mappings now, while they are readable: it may allocate and exit before the first sample.
      symbolizer_.read_mappings(pid, record.key.incarnation);
      ++named_pids_;
      if (options_.follow)
        for (pid_t child : lifecycle::descendants(pid)) {
          auto& r = processes_.on_fork(ProcessKey(static_cast<std::uint32_t>(child)), 0);
          r.parent_pid = read_identity(r).parent_pid;
          symbolizer_.read_mappings(child, r.key.incarnation);  // as its parent's, above
        }
    }
    if (named_pids_ == 0) return make_error("none of the processes named with -p exists any more");
    return all;
  }

  // Which allocator the process uses (its report says so), and the probe targets for it.
  void add_allocators(pid_t pid, const Result<std::vector<probe::Allocator>>& found, std::vector<ProbeTarget>& targets) {
    if (!found) {
      log::verbose("cannot tell which allocator pid {} uses: {}", pid, found.error().message);
      return;
    }
    auto& info = allocators_[pid];
    info.clear();
    for (const auto& a : *found) {
      info.push_back({std::string(probe::to_string(a.kind)), a.path, a.in_executable, a.symbol_prefix, a.traced(),
                      a.describe()});
      log::verbose("pid {}: {}{}", pid, a.describe(), a.replaces_malloc ? "" : " (called by its prefixed names)");
      if (!a.traced()) log::warn("pid {}: its malloc is {}, which edleak-bpf cannot trace", pid, a.describe());
    }
    for (auto& target : allocator_targets(pid, *found)) targets.push_back(std::move(target));
  }

  Result<void> attach(ProbeTarget target) {
    if (probes_everywhere()) target.pid = -1;
    const FileId id = file_id(target.host_path);
    // Once per file and process (or for all): uprobes live in the inode, and a second probe
    // where there is one would count every call twice.
    if (!probed_.insert({id, target.pid}).second) return {};
    log::verbose("probing {} for {}", target.host_path, target.pid == -1 ? "every process" : fmt::format("pid {}", target.pid));
    auto kind = target.allocator ? *target.allocator
                : target.is_libc ? probe::LibraryKind::libc
                                 : probe::LibraryKind::libstdcxx;
    // One plan per file: with -p, each process reaches the same libc by its own /proc path.
    auto it = plans_.find(id);
    if (it == plans_.end()) {
      auto plan = probe::plan_probes(target.host_path, kind, target.symbol_prefix);
      if (!plan) {
        if (target.is_libc || target.allocator) return plan.error();
        log::warn("{}; C++ operator new is not traced", plan.error().message);
        return {};
      }
      for (const auto& site : plan->sites)
        log::verbose("probe {} at {:#x} (function at {:#x}): {}", site.symbol, site.probe_offset,
                     site.function_offset, site.placement);
      for (const auto& skipped : plan->skipped) log::verbose("no probe on {}: {}", skipped.symbol, skipped.reason);
      it = plans_.emplace(id, std::move(*plan)).first;
    }
    return capture_->attach(it->second, target.host_path, target.pid);
  }

  // Probes for one more process (a child of the tree, of a -p process with -f, a zoomed one).
  Result<void> attach_process(pid_t pid) {
    auto libs = libraries_of_process(pid, options_.libc_path);
    if (!libs) {
      log::verbose("pid {}: {}", pid, libs.error().message);
      return libs.error();
    }
    add_allocators(pid, probe::discover_process_allocators(pid), *libs);
    for (const auto& t : *libs)
      if (auto r = attach(t); !r) log::warn("{}", r.error().message);
    return {};
  }

  void detach_process(pid_t pid) {
    if (probes_everywhere()) return;
    capture_->detach_process(pid);
    for (auto it = probed_.begin(); it != probed_.end();)
      it = it->second == pid ? probed_.erase(it) : std::next(it);
  }

  // A process that exec'd may map a libc (or libstdc++, or in all-process mode another
  // allocator) not probed yet: a container started after us, a chroot, an LD_LIBRARY_PATH copy. Its libraries are mapped by its dynamic loader
  // after exec, so it is looked at once its exec is seen, then again an interval later.
  void check_new_libraries() {
    // All-process mode with --libc probes that file as every process's libc (from the start),
    // and no libstdc++: only the other allocators of the processes using it are looked for.
    const bool own_libraries = !(scope_ == Scope::everyone && !options_.libc_path.empty());
    const auto now = Clock::now();
    for (auto it = exec_checks_.begin(); it != exec_checks_.end();) {
      auto& [pid, check] = *it;
      if (now < check.due) {
        ++it;
        continue;
      }
      std::vector<ProbeTarget> targets;
      if (auto libs = own_libraries ? libraries_of_process(pid, options_.libc_path) : std::vector<ProbeTarget>{})
        targets = std::move(*libs);
      else
        log::debug("pid {} after exec: {}", pid, libs.error().message);
      // And its jemalloc, tcmalloc, mimalloc, or one linked into it (even without a libc).
      if (scope_ == Scope::everyone)
        for (auto& t : new_allocator_targets(pid, mapped_allocators_, options_.libc_path)) targets.push_back(std::move(t));
      for (const auto& t : targets)
        if (auto r = attach(t); !r) log::warn("pid {}: {}", pid, r.error().message);
      if (++check.rounds >= 2 || !lifecycle::process_exists(pid)) {
        it = exec_checks_.erase(it);
      } else {
        check.due = now + options_.interval;
        ++it;
      }
    }
  }

  int loop() {
    SignalFd& signals = *signals_;
    start_ = Clock::now();
    const double interval_s = std::chrono::duration<double>(options_.interval).count();
    std::uint64_t tick = 0;
    bool stop = false;
    while (!stop) {
      ++tick;
      // A tick that overran by intervals (a busy machine, a large first symbolization) is not
      // made up with a burst of reports: the next sample is now, the one after on the beat.
      // (Signed: an unsigned tick would make a tick not yet due look late by centuries.)
      auto due = [&] { return start_ + options_.interval * static_cast<std::int64_t>(tick); };
      if (const auto late = Clock::now() - due(); late > options_.interval)
        tick += static_cast<std::uint64_t>(late / options_.interval);
      const auto next = due();
      bool interrupted = false;
      while (Clock::now() < next && !interrupted && !stop) {
        auto until = std::min<Clock::time_point>(next, scans_.next_due().value_or(next));
        for (const auto& [pid, check] : exec_checks_) until = std::min(until, check.due);
        auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now());
        const int fds[] = {capture_->events_fd(), mapping_reader_->ready_fd()};
        bool ready[2] = {};
        auto got = signals.wait(left, fds, ready);
        if (ready[0] || ready[1]) handle_capture_events();
        for (int sig : got) {
          if (sig == SIGCHLD) {
            handle_tree();
          } else if (sig == SIGUSR1) {
            scans_.request();
            interrupted = true;  // a report right after the scan
          } else {
            stop = true;
          }
        }
        if (!exec_checks_.empty()) check_new_libraries();  // the second look, an interval later
        if (scans_.due(Clock::now()) && !stop) {
          refresh_infos();
          scans_.run(*capture_, infos_);
        }
        // A tree that has ended: report at once rather than at the next tick.
        if (command_ && command_->alive() == 0) interrupted = true;
      }
      if (options_.duration && Clock::now() - start_ >= *options_.duration) stop = true;
      // Before the snapshot: a history that ended is forgotten with the sites this snapshot reads
      // (capture/), so it must have ended before it.
      notice_vanished();
      if (auto r = sample_now(); !r) return fail(r.error());
      if (scope_ == Scope::watch) watch_tick();
      if (command_ && command_->alive() == 0) stop = true;
      if (scope_ == Scope::pids && processes_.all_ended()) stop = true;
      report(interval_s, stop);
    }
    return outputs_.exit_status(command_ && command_->exit_code() ? *command_->exit_code() : 0);
  }

  // The one sampling step, at every tick and at each exit stop: the capture's maps read, fed to
  // the series, processes learnt, new stacks symbolized while their processes still exist.
  Result<void> sample_now() {
    const auto started = Clock::now();
    handle_capture_events();
    auto snap = capture_->snapshot(std::chrono::duration<double>(Clock::now() - start_).count());
    if (!snap) return snap.error();
    table_.ingest(*snap);
    const auto ingested = Clock::now();
    make_room(snap->t_s);
    tick_.room_ms = ms_since(ingested, Clock::now());
    // New stacks, most outstanding bytes first: in all-process mode a busy machine brings more
    // than can be symbolized in an interval (each new compiler process: hundreds of stacks; a
    // zoomed compiler in watch mode: thousands), so there a tick spends at most kSymbolizeBudget
    // on them and the rest waits for the next one.
    static constexpr auto kSymbolizeBudget = std::chrono::milliseconds(200);
    // Histories that ended come first: their final section is in this tick's report.
    std::vector<std::pair<bool, const sample::SiteSample*>> fresh;  // (live, site)
    for (const auto& site : snap->sites) {
      const ProcessKey key(site.tgid, site.incarnation);
      if (auto it = symbolized_.find(key); it != symbolized_.end() && it->second.count(site.stack_id)) continue;
      const auto* record = processes_.find(key);
      fresh.emplace_back(!(record && record->ended), &site);
    }
    std::sort(fresh.begin(), fresh.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? !a.first : a.second->outstanding_bytes > b.second->outstanding_bytes;
    });
    const auto sampled = Clock::now();
    tick_.sample_ms = ms_since(started, sampled);
    tick_.symbolized = 0;
    tick_.deferred = fresh.size();
    const auto deadline = sampled + kSymbolizeBudget;
    for (const auto& [live, site] : fresh) {
      if ((scope_ == Scope::everyone || scope_ == Scope::watch) && Clock::now() > deadline) break;
      ++tick_.symbolized;
      --tick_.deferred;
      const ProcessKey key(site->tgid, site->incarnation);
      symbolized_[key].insert(site->stack_id);
      auto& record = processes_.on_seen(key);
      if (record.command.empty() && !record.ended) read_identity(record);  // first seen allocating
      (void)stack_of(key, site->stack_id);
    }
    tick_.symbolize_ms = ms_since(sampled, Clock::now());
    return {};
  }

  // Room in the kernel maps for every process (sample/room_policy.h): empty idle sites evicted,
  // then shares. Right after the snapshot, so that what is evicted is what the policy saw.
  void make_room(double t_s) {
    sample::RoomLimits limits;
    limits.site_capacity = capture_->site_capacity();
    limits.block_capacity = capture_->block_capacity();
    if (sample::room_needed(capture_->site_count(), capture_->live_block_count(), limits, capture_->caps_in_force()))
      apply_room_plan(limits, t_s);
    // Until the next tick (with the sites left after this one's evictions).
    capture_->set_site_burst_limits(sample::site_burst_limits(capture_->site_count(), limits));
  }

  void apply_room_plan(const sample::RoomLimits& limits, double t_s) {
    const sample::RoomPlan plan = sample::plan_room(table_.site_uses(), limits);
    std::vector<sample::SiteUse> evicted = plan.evict_idle;
    evicted.insert(evicted.end(), plan.evict_over_share.begin(), plan.evict_over_share.end());
    evicted.insert(evicted.end(), plan.evict_for_blocks.begin(), plan.evict_for_blocks.end());
    std::uint64_t blocks_deleted = 0;
    if (!plan.evict_for_blocks.empty()) {
      auto deleted = capture_->delete_blocks_of(plan.evict_for_blocks);
      if (!deleted) log::warn("{}", deleted.error().message);
      else blocks_deleted = *deleted;
    }
    if (!evicted.empty()) {
      auto stacks = capture_->evict_sites(evicted);
      if (!stacks) {
        log::warn("{}", stacks.error().message);
        return;
      }
      std::map<ProcessKey, std::vector<std::uint64_t>> by_process;
      // (They stay in symbolized_: a stack that comes back is not symbolized again.)
      for (const auto& site : evicted) by_process[site.process].push_back(site.stack_id);
      for (const auto& [key, ids] : by_process) table_.retire(key, ids, t_s);
      table_.forget_stacks(*stacks);
    }
    if (auto r = capture_->set_caps(plan.site_capped, plan.block_capped); !r) log::warn("{}", r.error().message);
    log::verbose("room: {} idle sites evicted, {} over their process's share (of {} sites), {} with {} blocks over "
                 "a share of the blocks map; {} processes at their share of the sites map ({}), {} at their share "
                 "of the blocks map ({})",
                 plan.evict_idle.size(), plan.evict_over_share.size(), limits.site_capacity,
                 plan.evict_for_blocks.size(), blocks_deleted, plan.site_capped.size(), plan.site_share,
                 plan.block_capped.size(), plan.block_share);
  }

  // A named process that exited before its exit event could be asked for (between being found
  // and being followed) is noticed here: there are few named processes. After process events were
  // lost (the ring buffer was full while the loop was busy), every tracked history is looked at:
  // its exit may have been among them, and it would never end.
  void notice_vanished() {
    const std::uint64_t lost_events = table_.counters().lost_events;
    const bool events_lost = lost_events > lost_events_noticed_;
    lost_events_noticed_ = lost_events;
    std::vector<ProcessKey> vanished;
    for (const auto& [key, r] : processes_.records())
      if ((r.named || events_lost) && !r.ended && !(command_ && static_cast<pid_t>(key.pid) == command_->pid()) &&
          !lifecycle::process_exists(static_cast<pid_t>(key.pid)))
        vanished.push_back(key);
    if (events_lost) log::verbose("process events lost: {} tracked processes found gone", vanished.size());
    for (const auto& key : vanished) processes_.on_exit(key, std::nullopt);
  }

  // What the run holds, for soak runs (bench/soak.sh) and -v: it must follow the live processes.
  void log_state() const {
    if (!log::enabled(log::Level::verbose)) return;
    std::ifstream status("/proc/self/status");
    std::string rss;
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmRSS:", 0) == 0) rss = line.substr(6);
    log::verbose("state: {} process histories, {} sites, {} stacks here; kernel: {} sites, {} stacks, {} live blocks, "
                 "maps {:.1f} MiB; rss{}; symbolizer {} histories ({} remembered), {} modules; unwind {} processes; "
                 "noted forks {}",
                 processes_.size(), table_.size(), table_.stack_count(), capture_->site_count(),
                 capture_->stack_count(), capture_->live_block_count(),
                 static_cast<double>(capture_->map_memory_bytes()) / (1 << 20), rss, symbolizer_.history_count(),
                 symbolizer_.remembered_count(), symbolizer_.module_count(), unwind_->stats().processes,
                 processes_.untracked_parents());
    // The tick's cost: what a busy machine makes the loop spend (kept under the interval).
    log::verbose("tick: sample {:.1f} ms, symbolize {:.1f} ms ({} new stacks, {} left for later), report {:.1f} ms, "
                 "forget {:.1f} ms ({} histories); of the sample, making room {:.1f} ms",
                 tick_.sample_ms, tick_.symbolize_ms, tick_.symbolized, tick_.deferred, tick_.report_ms,
                 tick_.forget_ms, tick_.forgotten, tick_.room_ms);
  }

  void report(double interval_s, bool final) {
    const auto started = Clock::now();
    std::vector<ProcessKey> ending = processes_.ending();
    refresh_infos();
    ReportContext context;
    context.time = std::chrono::system_clock::now();
    context.elapsed_s = std::chrono::duration<double>(Clock::now() - start_).count();
    context.interval_s = interval_s;
    context.top = options_.top;
    context.all_stacks = options_.all_stacks;
    context.final = final;
    context.list_quiet_processes = scope_ != Scope::everyone;
    context.attached = scope_ != Scope::command;  // a command starts under the probes
    context.min_leak_bytes = options_.min_leak_bytes;
    context.min_leak_share = options_.min_leak_share;
    auto report = build_report(table_, infos_, [this](const ProcessKey& key, std::uint64_t id) { return stack_of(key, id); },
                               context);
    const double watch_now = scope_ == Scope::watch ? add_watch(report) : 0;
    renderer_->render(report, out_);
    keep_up_with_mappings();  // building the report did too, from stack_of
    out_.flush();
    outputs_.on_report(report, table_, infos_,
                       [this](const ProcessKey& key, std::uint64_t id) { return stack_of(key, id); },
                       scope_ == Scope::watch ? &watch_ : nullptr, watch_now);
    const auto reported = Clock::now();
    tick_.report_ms = ms_since(started, reported);
    tick_.forgotten = ending.size();
    forget(processes_.finish_reported(ending));
    tick_.forget_ms = ms_since(reported, Clock::now());
    log_state();
  }

  // The report's view of the process table, with each process's last scan and notes.
  void refresh_infos() {
    for (auto it = infos_.begin(); it != infos_.end();)
      it = processes_.find(it->first) ? std::next(it) : infos_.erase(it);
    for (const auto& [key, r] : processes_.records()) {
      ProcessInfo& info = infos_[key];
      info.comm = r.comm;
      info.exited = r.ended && !r.released;  // released: it runs on, untraced
      info.exec_ended = r.exec_ended;
      // Named processes are listed even without stacks (not the program a named pid ran before
      // an exec, unless it allocated); in -p and command runs, any process once it allocated.
      info.named = (r.named && !r.exec_ended) || (scope_ != Scope::everyone && !table_.sites_of(key).empty());
      info.parent_pid = r.parent_pid;
      info.command = r.command;
      info.exit_status = r.exit_status;
      info.ns_pid = r.ns_pid;
      info.cgroup = r.cgroup;
      if (auto a = allocators_.find(key.pid); a != allocators_.end()) info.allocators = a->second;
      info.notes.clear();
      if (r.named && !options_.follow && !r.ended && scope_ != Scope::watch && table_.sites_of(key).empty()) {
        // A server's master (nginx, postgres) allocates little; its workers do.
        const std::size_t children = lifecycle::descendants(static_cast<pid_t>(key.pid)).size();
        if (children > 0 && table_.samples() >= 2)
          info.notes.push_back(fmt::format("no allocation traced yet, and it has {} child process{}: they may do "
                                           "the allocating; add -f to trace them too",
                                           children, children == 1 ? "" : "es"));
      }
    }
  }

  // Fills what /proc says of the record's process; returns it all (its parent, for one).
  lifecycle::ProcessIdentity read_identity(lifecycle::ProcessRecord& record) {
    auto id = lifecycle::read_identity(static_cast<pid_t>(record.key.pid));
    if (!id.comm.empty()) record.comm = id.comm;
    if (!id.command.empty()) record.command = id.command;
    if (id.ns_pid) record.ns_pid = id.ns_pid;
    if (!id.cgroup.empty()) record.cgroup = id.cgroup;
    return id;
  }

  // Mapping requests and process events from the BPF side.
  void handle_capture_events() {
    for (const auto& event : capture_->take_process_events()) on_process_event(event);
    if (!exec_checks_.empty()) check_new_libraries();
    handle_mapping_requests();
  }

  void on_process_event(const capture::ProcessEvent& e) {
    using Kind = capture::ProcessEvent::Kind;
    log::debug("process event {} pid {} history {} (was {}, parent {}, {})", static_cast<int>(e.kind), e.process.pid,
               e.process.incarnation, e.old_incarnation, e.parent_pid, e.comm);
    if (scope_ == Scope::watch && !on_watch_event(e)) return;
    switch (e.kind) {
      case Kind::fork: {
        // In all-process mode every fork on the machine: learnt lazily, when it allocates.
        if (scope_ == Scope::everyone) {
          processes_.note_fork(e.process, e.parent_pid);
          break;
        }
        auto& r = processes_.on_fork(e.process, e.parent_pid);
        r.comm = e.comm;
        // A -p process's child (-f): probed as soon as its fork is seen (a command's children are
        // probed at their first stop, before they run).
        if (scope_ == Scope::pids) (void)attach_process(static_cast<pid_t>(e.process.pid));
        break;
      }
      case Kind::exec: {
        // Every exec (in all-process mode too: the old history may have allocated, and its sites
        // are read after this event; it must end here, or it would never end).
        auto& r = processes_.on_exec(e.process.pid, e.old_incarnation, e.process.incarnation);
        r.comm = e.comm;
        if (scope_ != Scope::everyone) read_identity(r);  // all-process mode: when it allocates
        // The old program's stacks resolve through the mappings they were first seen with.
        symbolizer_.seal(static_cast<pid_t>(e.process.pid), e.old_incarnation);
        // Looked at now (its loader maps its libraries within a millisecond of exec; events are
        // read later than that) and again an interval later.
        if (scope_ == Scope::everyone || processes_.find(e.process))
          exec_checks_[static_cast<pid_t>(e.process.pid)] = {Clock::now(), 0};
        break;
      }
      case Kind::exit:
        processes_.on_exit(e.process, e.exit_status);
        // A process learnt only now (it allocated and exited between two samples) cannot be
        // read from /proc any more: the event names it.
        if (auto* r = processes_.find(e.process); r && r->comm.empty()) r->comm = e.comm;
        symbolizer_.seal(static_cast<pid_t>(e.process.pid), e.process.incarnation);  // /proc has it no more
        detach_process(static_cast<pid_t>(e.process.pid));
        exec_checks_.erase(static_cast<pid_t>(e.process.pid));
        break;
    }
  }

  // ---- watch mode (Scope::watch): every process's heap; suspects zoomed ----

  // A process event in watch mode: the heap series follow every process; the process table
  // (and the rest of on_process_event) only the zoomed ones. Returns whether to go on with it.
  bool on_watch_event(const capture::ProcessEvent& e) {
    using Kind = capture::ProcessEvent::Kind;
    const auto pid = e.process.pid;
    const lifecycle::ProcessRecord* zoomed = processes_.current(pid);
    if (zoomed && zoomed->ended) zoomed = nullptr;
    switch (e.kind) {
      case Kind::fork:
        watch_.on_fork(e.process);
        return false;  // children of a zoomed process are not followed
      case Kind::exec:
        watch_.on_exec(pid, e.process.incarnation);
        // The zoomed program is gone: its window ends with its final section (the new program
        // is watched afresh).
        if (zoomed && zoomed->key.incarnation == e.old_incarnation) {
          symbolizer_.seal(static_cast<pid_t>(pid), e.old_incarnation);
          zoom_out(zoomed->key, "it exec'd another program");
        }
        return false;
      case Kind::exit:
        watch_.on_exit(pid);
        return processes_.find(e.process) != nullptr;
    }
    return false;
  }

  // Every interval: every process's heap read (one small read of /proc each, no probe), the
  // series classified, windows ended or extended, and new suspects zoomed.
  void watch_tick() {
    const double now = std::chrono::duration<double>(Clock::now() - start_).count();
    const auto started = Clock::now();
    const pid_t self = getpid();
    std::vector<watch::HeapSample> samples;
    for (pid_t pid : watch::list_processes())
      if (pid != self)
        if (auto heap = watch::read_heap(pid)) samples.push_back({static_cast<std::uint32_t>(pid), heap->anon_bytes});
    watch_.observe(now, samples);
    watch_.classify();
    // Windows over their share of the stack table end now, whatever their stacks say (found
    // first: zoom_out forgets the outcome).
    std::vector<std::pair<ProcessKey, std::string>> over_share;
    for (const auto& [key, outcome] : zoom_outcomes_)
      if (std::string note = over_stack_share(outcome.stacks, options_.max_stacks, options_.max_zoom); !note.empty())
        over_share.emplace_back(key, std::move(note));
    for (auto& [key, note] : over_share) {
      watch_.bar(key, now, std::move(note));
      zoom_out(key, "more stacks than its share");
    }
    for (const ProcessKey& key : watch_.zooms_due(now)) {
      const watch::WatchedProcess* p = watch_.find(key.pid);
      auto outcome = zoom_outcomes_.find(key);
      const bool leaking = outcome != zoom_outcomes_.end() && outcome->second.leaking_stacks > 0;
      const std::uint64_t traced = outcome == zoom_outcomes_.end() ? 0 : outcome->second.outstanding_bytes;
      const std::uint64_t growth = p ? p->growth_since_zoom() : 0;
      std::string note = leaking ? "" : fmt::format("its allocator was traced for {}: no leaking stack", format_duration(options_.zoom));
      if (std::string more = unexplained_growth(growth, traced, options_.min_heap_growth); !more.empty())
        note += (note.empty() ? "" : "; ") + more;
      if (watch_.end_zoom(key, now, leaking, note)) zoom_out(key, "window ended");
    }
    for (const ProcessKey& key : watch_.pick_suspects()) zoom_in(key, now);
    log::debug("watch: {} processes read and classified in {:.1f} ms", samples.size(),
               std::chrono::duration<double, std::milli>(Clock::now() - started).count());
  }

  // A suspect's allocator probed, for its process only (no other process traps), as with -p.
  void zoom_in(const ProcessKey& key, double now) {
    const pid_t pid = static_cast<pid_t>(key.pid);
    const watch::WatchedProcess* p = watch_.find(key.pid);
    const std::string comm = lifecycle::process_comm(pid);
    watch_.start_zoom(key, now);
    // Another tracer is never probed: its own probes and ours in one process stall it (its
    // traced commands then hang on it). It never will be, so it is not looked at again.
    if (probe::is_tracer_executable(fmt::format("/proc/{}/exe", pid))) {
      watch_.bar(key, now, "another edleak-bpf: its allocator is not traced");
      return;
    }
    if (auto r = attach_process(pid); !r) {
      watch_.end_zoom(key, now, false, fmt::format("cannot trace it: {}", r.error().message));
      return;
    }
    auto& record = processes_.add_named(key, /*root=*/false);
    read_identity(record);
    capture_->follow(key.pid);
    update_unwind(key.pid);
    log::info("pid {} ({}): heap {} and growing ({} {}): tracing its allocator for {}", pid, comm,
              report::format_bytes(p ? p->bytes : 0), p ? classify::to_string(p->verdict.cls) : "",
              report::format_rate(p ? p->verdict.growth_bytes_per_s : 0), format_duration(options_.zoom));
  }

  // The probes come off; the history gets its final section in the next report, then is
  // forgotten (kernel maps included) as an exited one would be.
  void zoom_out(const ProcessKey& key, std::string_view why) {
    log::verbose("pid {}: allocator no longer traced: {}", key.pid, why);
    detach_process(static_cast<pid_t>(key.pid));
    processes_.on_released(key);
    zoom_outcomes_.erase(key);
  }

  // The report's watch part; what each zoomed process's stacks say, for the end of its window.
  // Returns the watch's clock it was made at (a record keeps it).
  double add_watch(report::Report& report) {
    const double now = std::chrono::duration<double>(Clock::now() - start_).count();
    add_heap_watch(report, watch_, now, options_.top, options_.all_stacks,
                   [](std::uint32_t pid) { return lifecycle::process_comm(static_cast<pid_t>(pid)); });
    for (const report::ProcessReport& process : report.processes) {
      const lifecycle::ProcessRecord* record = processes_.current(process.pid);
      const watch::WatchedProcess* p = watch_.find(process.pid);
      if (!record || !p || !p->zoomed || record->ended) continue;
      zoom_outcomes_[record->key] = {process.leaking_stacks, process.outstanding_bytes,
                                     process.stacks + process.churn_stacks};
    }
    return now;
  }

  // What happened to the command's tree (after SIGCHLD): exit stops (the last stacks read and
  // symbolized while the memory map exists, the exit scan, then it is let go), holds (its
  // mappings read, then resumed without the signal), signals for it (passed on), exits.
  void handle_tree() {
    if (!command_) return;
    using Kind = lifecycle::TreeEvent::Kind;
    for (const auto& e : command_->reap()) {
      const auto tgid = static_cast<std::uint32_t>(e.pid);
      switch (e.kind) {
        case Kind::new_child:
          // Stopped before its first instruction: its probes go in first (its parent's files).
          (void)attach_process(e.pid);
          command_->resume(e.pid);
          break;
        case Kind::exit_stop: {
          if (auto r = sample_now(); !r) log::warn("{}", r.error().message);
          if (const auto* record = processes_.current(tgid)) {
            const ProcessKey key = record->key;
            bool holds_blocks = false;
            table_.for_each_site(key, [&](const sample::Site& s) { holds_blocks = holds_blocks || s.latest.outstanding_blocks > 0; });
            // The command is scanned at its exit; its children when they leave blocks behind.
            if (holds_blocks || static_cast<pid_t>(tgid) == command_->pid()) {
              refresh_infos();
              scans_.at_exit(key, *capture_, infos_[key]);
            }
          }
          command_->resume(e.pid);
          break;
        }
        case Kind::signal_stop:
          if (e.status == SIGSTOP && capture_->took_hold_stop(tgid)) {
            update_unwind(tgid);  // stopped by the BPF side at its first allocation: its libraries are mapped
            command_->resume(e.pid);
          } else {
            command_->resume(e.pid, e.status);  // a signal for it: deliver it
          }
          break;
        case Kind::exited:
          if (const auto* record = processes_.current(tgid); record && !record->ended)
            processes_.on_exit(record->key, e.status);
          else if (record)
            processes_.find(record->key)->exit_status = e.status;
          break;
      }
    }
  }

  // The mappings the reader has read for processes the BPF side found unknown (new, or with code
  // mapped since: dlopen): the symbolizer keeps them for the history they were read for (a short
  // process may end before a tick symbolizes its stacks), and the process's unwind tables are
  // built from them, so that its next stacks unwind through every file it maps.
  // Tables take long to build on a busy machine (a compiler's: a second): at most kUnwindBudget
  // of them per call, oldest first; the rest wait for the next wake-up, so that the events read
  // meanwhile (an exec to probe) are not held up behind them.
  void handle_mapping_requests() {
    static constexpr auto kUnwindBudget = std::chrono::milliseconds(100);
    for (auto& snapshot : mapping_reader_->take()) {
      const auto tgid = static_cast<std::uint32_t>(snapshot.pid);
      symbolizer_.remember_mappings(snapshot.pid, snapshot.history, snapshot.mappings);
      // Another program's by now (exec'd since the read): its own request follows.
      if (capture_->history_of(tgid) != snapshot.history) continue;
      auto [it, fresh] = unwind_due_.insert_or_assign(tgid, std::move(snapshot.mappings));
      if (fresh) unwind_order_.push_back(tgid);
    }
    const auto started = Clock::now();
    while (!unwind_order_.empty() && Clock::now() - started < kUnwindBudget) {
      const std::uint32_t tgid = unwind_order_.front();
      unwind_order_.pop_front();
      auto due = unwind_due_.find(tgid);
      if (due == unwind_due_.end()) continue;  // forgotten meanwhile
      auto mappings = std::move(due->second);
      unwind_due_.erase(due);
      build_unwind(tgid, mappings);
    }
  }

  // Serves mapping requests while a long report is built (seconds in all-process mode with a
  // thousand ending histories): the unwind tables of a process that starts meanwhile are built
  // while it runs. Only the requests: process events wait for the loop (the report is built
  // from the table as it stands).
  void keep_up_with_mappings() {
    static constexpr auto kEvery = std::chrono::milliseconds(20);
    const auto now = Clock::now();
    if (now - last_keep_up_ < kEvery) return;
    last_keep_up_ = now;
    handle_mapping_requests();
  }

  // A process's mappings read now, for its unwind tables and the symbolizer (a -p process, a
  // zoomed one, one held at its first allocation).
  void update_unwind(std::uint32_t tgid) {
    const std::uint32_t history = capture_->history_of(tgid);
    auto mappings = symbolize::read_proc_maps(static_cast<pid_t>(tgid));
    if (!mappings) return;  // gone already: its exit is handled with the others
    symbolizer_.remember_mappings(static_cast<pid_t>(tgid), history, *mappings);
    build_unwind(tgid, *mappings);
  }

  void build_unwind(std::uint32_t tgid, const std::vector<symbolize::Mapping>& mappings) {
    const pid_t pid = static_cast<pid_t>(tgid);
    // map_files reaches the very file mapped, in any mount namespace, even if since replaced.
    auto open_path = [pid](const symbolize::Mapping& m) {
      return fmt::format("/proc/{}/map_files/{:x}-{:x}", pid, m.start, m.end);
    };
    const auto started = Clock::now();
    if (auto r = unwind_->update_process(pid, mappings, open_path); !r) {
      // Exited before its turn: nothing to unwind any more.
      if (lifecycle::process_exists(pid)) log::warn("{}", r.error().message);
      return;
    }
    if (log::enabled(log::Level::verbose)) {
      const auto s = unwind_->stats();
      log::verbose("unwind: pid {} mapped in {:.1f} ms; {} files, {} of {} rows ({:.1f} MiB in the "
                   "kernel, {:.1f} MiB here), {} processes",
                   pid, std::chrono::duration<double, std::milli>(Clock::now() - started).count(),
                   s.files, s.rows, s.row_capacity, s.rows * 8.0 / (1 << 20), s.user_bytes / double(1 << 20),
                   s.processes);
    }
  }

  // Stacks are symbolized the first time they are seen, while their process still exists: the
  // symbolizer keeps the modules, the process's mappings and every resolved address, so the
  // report resolves its leakers again from that cache (even after the process exited), and
  // no copy of the frames is kept per stack.
  std::vector<symbolize::Frame> stack_of(const ProcessKey& key, std::uint64_t id) {
    keep_up_with_mappings();
    const auto* frames = table_.frames(id);
    if (!frames) return {};
    // Every frame, the allocation site included, is a return address (see bpf/).
    return symbolizer_.symbolize(static_cast<pid_t>(key.pid), key.incarnation, *frames,
                                 symbolize::AddressKind::return_address);
  }

  // After a history's final report, nothing of it is kept, in the kernel or here (a stack
  // another history shares stays).
  void forget(const std::vector<ProcessKey>& gone) {
    if (gone.empty()) return;
    auto stacks = capture_->forget_processes(gone);
    if (!stacks) log::warn("{}", stacks.error().message);
    else table_.forget_stacks(*stacks);
    std::unordered_set<std::uint32_t> pids_gone;
    for (const ProcessKey& key : gone) {
      table_.forget_process(key);
      symbolizer_.forget_process(static_cast<pid_t>(key.pid), key.incarnation);
      zoom_outcomes_.erase(key);
      // The pid's other state goes with its last history (an exec'd pid runs on).
      if (!processes_.current(key.pid)) pids_gone.insert(key.pid);
    }
    for (std::uint32_t pid : pids_gone) {
      unwind_->forget_process(static_cast<pid_t>(pid));
      unwind_due_.erase(pid);  // its place in unwind_order_ is skipped
    }
    for (const ProcessKey& key : gone) symbolized_.erase(key);
  }

  struct ExecCheck {
    Clock::time_point due;
    int rounds = 0;
  };

  // Where the last tick's time went (-v).
  struct TickTimes {
    double sample_ms = 0, symbolize_ms = 0, report_ms = 0, forget_ms = 0;
    double room_ms = 0;  // part of sample_ms: making room in the maps (make_room)
    std::size_t symbolized = 0, deferred = 0, forgotten = 0;
  };
  static double ms_since(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
  }
  TickTimes tick_;
  Clock::time_point last_keep_up_;          // keep_up_with_mappings
  std::uint64_t lost_events_noticed_ = 0;  // lost process events already answered (notice_vanished)

  std::optional<SignalFd> signals_;
  const cli::TraceOptions& options_;
  std::ostream& out_;
  std::unique_ptr<report::Renderer> renderer_;
  const Scope scope_;
  std::optional<lifecycle::CommandTree> command_;
  lifecycle::ProcessTable processes_;
  std::size_t named_pids_ = 0;
  std::unique_ptr<capture::Capture> capture_;
  std::optional<CaptureUnwindMaps> unwind_maps_;
  std::optional<unwind::UnwindRegistry> unwind_;
  // Declared after the capture, so the reader's thread stops before the capture goes.
  std::optional<CaptureMappingRequests> mapping_requests_;
  std::optional<symbolize::MappingReader> mapping_reader_;
  // Mappings read, unwind tables not built yet: by process, and the order they came in.
  std::unordered_map<std::uint32_t, std::vector<symbolize::Mapping>> unwind_due_;
  std::deque<std::uint32_t> unwind_order_;
  std::unordered_map<pid_t, ExecCheck> exec_checks_;                   // exec'd: new libraries?
  Clock::time_point start_;  // of sampling
  std::map<FileId, probe::ProbePlan> plans_;
  probe::MappedAllocators mapped_allocators_;  // all-process mode: allocator files looked at
  std::set<std::pair<FileId, pid_t>> probed_;  // files with probes, for one pid or all (-1)
  sample::SiteTable table_;
  symbolize::Symbolizer symbolizer_;
  ProcessInfos infos_;
  // The stacks of each history already symbolized (or handed to the symbolizer): by history, so
  // that forgetting a history costs its own entries, not a walk of every history's.
  std::unordered_map<ProcessKey, std::unordered_set<std::uint64_t>, sample::ProcessKeyHash> symbolized_;
  // What each named process or command allocates with (by pid: its histories share it).
  std::unordered_map<std::uint32_t, std::vector<report::AllocatorInfo>> allocators_;
  Scans scans_{options_};
  watch::HeapWatch watch_;
  struct ZoomOutcome {
    std::uint64_t leaking_stacks = 0;
    std::uint64_t outstanding_bytes = 0;
    std::uint64_t stacks = 0;  // with blocks or churning: about what it holds of the stack table
  };
  std::map<ProcessKey, ZoomOutcome> zoom_outcomes_;  // of each zoomed process, at the last report
  Outputs outputs_{options_};
};

}  // namespace

int run_tracer(const cli::TraceOptions& options, std::ostream& out) {
  Tracer tracer(options, out);
  return tracer.run();
}

}  // namespace edleak::app
