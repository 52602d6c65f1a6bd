#include "app/tracer.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <unordered_set>
#include <optional>
#include <poll.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/outputs.h"
#include "app/report_builder.h"
#include "app/scans.h"
#include "app/targets.h"
#include "capture/capture.h"
#include "probe/probe_plan.h"
#include "report/renderer.h"
#include "sample/site_table.h"
#include "symbolize/proc_maps.h"
#include "symbolize/symbolizer.h"
#include "unwind/unwind_registry.h"
#include "util/duration.h"
#include "util/log.h"

namespace edleak::app {
namespace {

using Clock = std::chrono::steady_clock;

// Root, or CAP_BPF (39) and CAP_PERFMON (38), or CAP_SYS_ADMIN (21) on older kernels: read from
// the effective set in /proc/self/status, so the user hears what is missing before anything
// else fails in a less obvious way.
Result<void> check_privileges() {
  std::ifstream status("/proc/self/status");
  std::uint64_t effective = 0;
  for (std::string line; std::getline(status, line);)
    if (line.rfind("CapEff:", 0) == 0) effective = std::stoull(line.substr(7), nullptr, 16);
  auto has = [&](int cap) { return (effective >> cap) & 1; };
  if ((has(39) && has(38)) || has(21)) return {};
  return make_error("needs root, or the capabilities CAP_BPF and CAP_PERFMON (this process has neither): "
                    "run it with sudo");
}

Result<void> check_kernel() {
  struct stat st {};
  if (stat("/sys/kernel/btf/vmlinux", &st) != 0)
    return make_error("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): "
                      "edleak-bpf needs a kernel built with CONFIG_DEBUG_INFO_BTF");
  if (stat("/sys/bus/event_source/devices/uprobe", &st) != 0)
    return make_error("this kernel has no uprobes (/sys/bus/event_source/devices/uprobe is "
                      "missing): edleak-bpf needs CONFIG_UPROBE_EVENTS");
  return {};
}

// SIGINT, SIGTERM and SIGCHLD arrive through a signalfd, so the sampling loop sleeps in one
// poll() and never runs report code in a signal handler.
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

  // Waits up to `timeout` for signals or for `other_fd` to become readable; returns the signals
  // that arrived (other_ready tells about the other descriptor).
  std::vector<int> wait(std::chrono::milliseconds timeout, int other_fd, bool& other_ready) {
    std::vector<int> got;
    pollfd p[2] = {{fd_, POLLIN, 0}, {other_fd, POLLIN, 0}};
    int ms = static_cast<int>(std::max<long long>(0, timeout.count()));
    other_ready = false;
    if (poll(p, other_fd >= 0 ? 2 : 1, ms) > 0) {
      signalfd_siginfo info;
      while (read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info))
        got.push_back(static_cast<int>(info.ssi_signo));
      other_ready = other_fd >= 0 && (p[1].revents & POLLIN);
    }
    return got;
  }

 private:
  sigset_t mask_{}, old_mask_{};
  int fd_ = -1;
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

struct PairHash {
  std::size_t operator()(const std::pair<std::uint32_t, std::uint64_t>& p) const {
    return std::hash<std::uint64_t>()(p.second * 31 + p.first);
  }
};

class Tracer {
 public:
  Tracer(const cli::TraceOptions& options, std::ostream& out)
      : options_(options), out_(out), renderer_(report::make_renderer(options.format)) {}

  int run() {
    if (auto r = check_kernel(); !r) return fail(r.error());
    if (auto r = check_privileges(); !r) return fail(r.error());
    // Signals are taken over before the command is started: a command that exits at once must
    // not have its SIGCHLD lost (default: ignored) and wait, stopped at its exit, a whole interval.
    signals_.emplace();
    // After the signal mask is set (its threads inherit it), before anything is started.
    if (auto r = outputs_.start(); !r) return fail(r.error());
    auto targets = prepare_targets();
    if (!targets) return fail(targets.error());
    capture::CaptureConfig config;
    config.max_allocs = options_.max_allocs;
    config.max_stacks = options_.max_stacks;
    config.max_unwind_rows = options_.max_unwind_rows;
    config.max_frames = options_.max_frames;
    config.unwind = unwind_mode(options_.unwind);
    config.empty_programs = options_.empty_programs;
    auto capture = capture::Capture::load(config);
    if (!capture) return fail(capture.error());
    capture_ = std::move(*capture);
    unwind_maps_.emplace(*capture_);
    unwind_.emplace(*unwind_maps_);
    // Named processes get their tables now; the others (a command once it has exec'd, every
    // process in all-process mode) when their first allocation asks for them.
    for (pid_t pid : options_.pids) update_unwind(static_cast<std::uint32_t>(pid));
    if (log::enabled(log::Level::verbose))  // reads every map's fdinfo: only when asked
      log::verbose("BPF maps: {:.1f} MiB of kernel memory (--max-allocs {}, --max-stacks {})",
                   static_cast<double>(capture_->map_memory_bytes()) / (1 << 20), options_.max_allocs,
                   options_.max_stacks);
    for (const auto& target : *targets)
      if (auto r = attach(target); !r) return fail(r.error());
    if (command_) {
      // Only as its tracer: the stop is ours to see and to end (see bpf/).
      if (command_->seized()) capture_->hold_at_first_allocation(static_cast<std::uint32_t>(command_->pid()));
      if (auto r = command_->release(); !r) return fail(r.error());
      processes_[command_->pid()] = {"", false};  // its comm is read once it has exec'd
    }
    log::info("tracing {} with {} probes, reporting every {}; Ctrl-C to stop", describe_targets(),
              capture_->probe_count(), format_duration(options_.interval));
    return loop();
  }

 private:
  int fail(const Error& e) {
    log::error("{}", e.message);
    return 1;
  }

  std::string describe_targets() const {
    if (command_) return fmt::format("'{}' (pid {})", options_.command[0], command_->pid());
    if (options_.pids.empty()) return "every process";
    std::string s = options_.pids.size() == 1 ? "pid " : "pids ";
    for (std::size_t i = 0; i < options_.pids.size(); ++i)
      s += (i ? "," : "") + std::to_string(options_.pids[i]);
    return s;
  }

  Result<std::vector<ProbeTarget>> prepare_targets() {
    if (!options_.command.empty()) {
      auto held = HeldCommand::spawn(options_.command);
      if (!held) return held.error();
      command_.emplace(std::move(*held));
      return libraries_for_command(command_->pid(), options_.libc_path);
    }
    if (options_.pids.empty()) return libraries_of_all_processes(options_.libc_path);
    std::vector<ProbeTarget> all;
    for (pid_t pid : options_.pids) {
      auto libs = libraries_of_process(pid, options_.libc_path);
      if (!libs) return libs.error();
      all.insert(all.end(), libs->begin(), libs->end());
      processes_[pid] = {process_comm(pid), false};
    }
    return all;
  }

  Result<void> attach(const ProbeTarget& target) {
    auto kind = target.is_libc ? probe::LibraryKind::libc : probe::LibraryKind::libstdcxx;
    // One plan per file: with -p, each process reaches the same libc by its own /proc path.
    const FileId id = file_id(target.host_path);
    auto it = plans_.find(id);
    if (it == plans_.end()) {
      auto plan = probe::plan_probes(target.host_path, kind);
      if (!plan) {
        if (target.is_libc) return plan.error();
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

  int loop() {
    SignalFd& signals = *signals_;
    const auto start = start_ = Clock::now();
    const double interval_s = std::chrono::duration<double>(options_.interval).count();
    std::uint64_t tick = 0;
    bool stop = false;
    int exit_code = 0;
    while (!stop) {
      ++tick;
      const auto next = start + options_.interval * tick;
      bool interrupted = false;
      while (Clock::now() < next && !interrupted) {
        auto until = std::min<Clock::time_point>(next, scans_.next_due().value_or(next));
        auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now());
        bool mappings_asked = false;
        auto got = signals.wait(left, capture_->mapping_requests_fd(), mappings_asked);
        if (mappings_asked) handle_mapping_requests();
        for (int sig : got) {
          if (sig == SIGCHLD) {
            if (reap_command(exit_code)) interrupted = true;
          } else if (sig == SIGUSR1) {
            scans_.request();
            interrupted = true;  // a report right after the scan
          } else {
            interrupted = true;
            stop = true;
          }
        }
        if (!stop && scans_.due(Clock::now())) scans_.run(options_.pids, *capture_, processes_);
      }
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      if (options_.duration && Clock::now() - start >= *options_.duration) stop = true;

      handle_mapping_requests();
      auto snap = capture_->snapshot(elapsed);
      if (!snap) return fail(snap.error());
      table_.ingest(*snap);
      resolve_new_stacks(*snap);
      std::vector<std::uint32_t> exited = find_exited();
      if (!options_.pids.empty() || command_) {
        bool all_gone = true;
        for (const auto& [pid, info] : processes_) all_gone = all_gone && info.exited;
        if (all_gone) stop = true;
      }

      ReportContext context;
      context.time = std::chrono::system_clock::now();
      context.elapsed_s = elapsed;
      context.interval_s = interval_s;
      context.top = options_.top;
      context.all_stacks = options_.all_stacks;
      context.final = stop;
      context.list_quiet_processes = !options_.pids.empty() || command_.has_value();
      auto report = build_report(table_, processes_, [this](auto tgid, auto id) { return stack_of(tgid, id); },
                                 context);
      renderer_->render(report, out_);
      out_.flush();
      outputs_.on_report(report, table_, processes_, [this](auto tgid, auto id) { return stack_of(tgid, id); });
      forget(exited);
    }
    return outputs_.exit_status(command_ ? exit_code : 0);
  }

  // Handles what happened to the command: its exit (the status becomes our exit code), its
  // exit stop (see HeldCommand: the last stacks are read and symbolized while its memory map
  // exists, then it is let go), and signals it received while traced (passed on).
  bool reap_command(int& exit_code) {
    if (!command_ || command_->pid() <= 0 || processes_[command_->pid()].exited) return false;
    const pid_t pid = command_->pid();
    int status = 0;
    while (waitpid(pid, &status, WNOHANG | __WALL) == pid) {
      if (WIFEXITED(status) || WIFSIGNALED(status)) {
        exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        processes_[pid].exited = true;
        return true;
      }
      if (!WIFSTOPPED(status)) continue;
      const int event = status >> 16;
      if (event == PTRACE_EVENT_EXIT) {
        if (processes_[pid].comm.empty()) processes_[pid].comm = process_comm(pid);
        if (auto snap = capture_->snapshot(std::chrono::duration<double>(Clock::now() - start_).count())) {
          table_.ingest(*snap);
          resolve_new_stacks(*snap);
        }
        scans_.at_exit(pid, *capture_, processes_[pid]);  // while it is stopped, before its memory goes
        ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
      } else if (event == PTRACE_EVENT_STOP) {
        ptrace(PTRACE_LISTEN, pid, nullptr, nullptr);  // a group stop (SIGSTOP...): stay stopped
      } else if (WSTOPSIG(status) == SIGSTOP && capture_->took_hold_stop(static_cast<std::uint32_t>(pid))) {
        // Stopped by the BPF side at its first allocation: its libraries are mapped now.
        update_unwind(static_cast<std::uint32_t>(pid));
        ptrace(PTRACE_CONT, pid, nullptr, 0);
      } else {
        ptrace(PTRACE_CONT, pid, nullptr, WSTOPSIG(status));  // a signal for it: deliver it
      }
    }
    return false;
  }

  // Reads the mappings of processes the BPF side found unknown (new, or with code mapped since:
  // dlopen), so their next stacks unwind through every file they map.
  // A process asks again each time a return address is outside its mappings, which garbage in
  // a frame-pointer walk can make frequent: each is re-read at most every kRefreshGap.
  void handle_mapping_requests() {
    static constexpr auto kRefreshGap = std::chrono::milliseconds(100);
    for (std::uint32_t tgid : capture_->take_mapping_requests()) deferred_refreshes_.insert(tgid);
    const auto now = Clock::now();
    for (auto it = deferred_refreshes_.begin(); it != deferred_refreshes_.end();) {
      auto& last = last_refresh_[*it];
      if (now - last < kRefreshGap) {
        ++it;
        continue;
      }
      last = now;
      update_unwind(*it);
      it = deferred_refreshes_.erase(it);
    }
  }

  void update_unwind(std::uint32_t tgid) {
    const pid_t pid = static_cast<pid_t>(tgid);
    auto mappings = symbolize::read_proc_maps(pid);
    if (!mappings) return;  // gone already: its exit is handled with the others
    // map_files reaches the very file mapped, in any mount namespace, even if since replaced.
    auto open_path = [pid](const symbolize::Mapping& m) {
      return fmt::format("/proc/{}/map_files/{:x}-{:x}", pid, m.start, m.end);
    };
    const auto started = Clock::now();
    if (auto r = unwind_->update_process(pid, *mappings, open_path); !r)
      log::warn("{}", r.error().message);
    if (log::enabled(log::Level::verbose)) {
      const auto s = unwind_->stats();
      log::verbose("unwind: pid {} mapped in {:.1f} ms; {} files, {} of {} rows ({:.1f} MiB in the "
                   "kernel, {:.1f} MiB here), {} processes",
                   pid, std::chrono::duration<double, std::milli>(Clock::now() - started).count(),
                   s.files, s.rows, s.row_capacity, s.rows * 8.0 / (1 << 20), s.user_bytes / double(1 << 20),
                   s.processes);
    }
  }

  bool is_command(std::uint32_t pid) const { return command_ && static_cast<pid_t>(pid) == command_->pid(); }

  std::vector<std::uint32_t> find_exited() {
    // Every process with sites gets an entry: that is how all-process mode learns of them.
    for (std::uint32_t pid : table_.processes()) {
      auto& info = processes_[pid];
      if (info.comm.empty()) info.comm = process_comm(pid);
    }
    std::vector<std::uint32_t> exited;
    for (auto& [pid, info] : processes_) {
      // Our command stays a zombie until reaped, so its exit is known from waitpid only.
      if (!info.exited && !is_command(pid) && !process_exists(pid)) info.exited = true;
      if (info.exited) exited.push_back(pid);
    }
    return exited;
  }

  // Stacks are symbolized the first time they are seen, while their process still exists: the
  // symbolizer keeps the modules, the process's mappings and every resolved address, so the
  // report resolves its leakers again from that cache (even after the process exited), and
  // no copy of the frames is kept per stack.
  void resolve_new_stacks(const sample::Snapshot& snap) {
    for (const auto& site : snap.sites) {
      if (!symbolized_.insert({site.tgid, site.stack_id}).second) continue;
      (void)stack_of(site.tgid, site.stack_id);
    }
  }

  std::vector<symbolize::Frame> stack_of(std::uint32_t tgid, std::uint64_t id) {
    const auto* frames = table_.frames(id);
    if (!frames) return {};
    // Every frame, the allocation site included, is a return address (see bpf/).
    return symbolizer_.symbolize(static_cast<pid_t>(tgid), *frames, symbolize::AddressKind::return_address);
  }

  // After a process's final report, nothing of it is kept, in the kernel or here.
  void forget(const std::vector<std::uint32_t>& exited) {
    std::unordered_set<std::uint32_t> to_forget;
    for (std::uint32_t pid : exited) {
      // Named processes stay listed (as exited) until the run ends.
      bool named = std::find(options_.pids.begin(), options_.pids.end(), static_cast<pid_t>(pid)) !=
                   options_.pids.end();
      if (!named && !is_command(pid)) to_forget.insert(pid);
    }
    if (to_forget.empty()) return;
    if (auto r = capture_->forget_processes({to_forget.begin(), to_forget.end()}); !r)
      log::warn("{}", r.error().message);
    for (std::uint32_t pid : to_forget) {
      unwind_->forget_process(static_cast<pid_t>(pid));
      last_refresh_.erase(pid);
      deferred_refreshes_.erase(pid);
      table_.forget_process(pid);
      symbolizer_.forget_process(static_cast<pid_t>(pid));
      processes_.erase(pid);
    }
    for (auto it = symbolized_.begin(); it != symbolized_.end();)
      it = to_forget.count(it->first) ? symbolized_.erase(it) : std::next(it);
  }

  std::optional<SignalFd> signals_;
  const cli::TraceOptions& options_;
  std::ostream& out_;
  std::unique_ptr<report::Renderer> renderer_;
  std::optional<HeldCommand> command_;
  std::unique_ptr<capture::Capture> capture_;
  std::optional<CaptureUnwindMaps> unwind_maps_;
  std::optional<unwind::UnwindRegistry> unwind_;
  std::unordered_set<std::uint32_t> deferred_refreshes_;                // mappings asked for
  std::unordered_map<std::uint32_t, Clock::time_point> last_refresh_;  // when last read
  Clock::time_point start_;  // of sampling
  std::map<FileId, probe::ProbePlan> plans_;
  sample::SiteTable table_;
  symbolize::Symbolizer symbolizer_;
  std::unordered_map<std::uint32_t, ProcessInfo> processes_;
  std::unordered_set<std::pair<std::uint32_t, std::uint64_t>, PairHash> symbolized_;
  Scans scans_{options_};
  Outputs outputs_{options_};
};

}  // namespace

int run_tracer(const cli::TraceOptions& options, std::ostream& out) {
  Tracer tracer(options, out);
  return tracer.run();
}

}  // namespace edleak::app
