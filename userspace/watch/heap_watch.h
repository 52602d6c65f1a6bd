#pragma once
// The watch mode's state (the default without -p or a command): every process's heap over
// time, classified with the leak factor like a stack's bytes, and which processes are zoomed
// (their allocator probed per process, for a window) because their heap grows. Pure: fed with
// readings and process events, it decides; the tracer reads /proc and attaches. Bounded: at
// most max_processes series of series_capacity points each.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "classify/leak_factor.h"
#include "sample/snapshot.h"
#include "series/series.h"

namespace edleak::watch {

using sample::ProcessKey;

struct WatchConfig {
  std::size_t max_processes = 8192;  // series kept at once; processes beyond are counted, not watched
  std::size_t series_capacity = 64;  // points per process (series::Series halves its resolution)
  std::size_t min_samples = 10;      // readings before a process may be a suspect (doubled by
                                     // each window that found no leaking stack)
  std::uint64_t min_growth_bytes = 1 << 20;  // a smaller growth never makes a suspect
  double suspect_after_s = 60;       // how long a series spans before it may make a suspect
  double zoom_s = 120;               // how long a suspect's allocator is traced
  std::size_t max_zoom = 4;          // suspects traced at once
};

struct HeapSample {
  std::uint32_t pid = 0;
  std::uint64_t bytes = 0;  // anonymous resident bytes
};

struct WatchedProcess {
  ProcessKey key;
  series::Series heap;
  classify::LeakFactor verdict;   // of `heap`, at the last classify()
  std::uint64_t bytes = 0;        // the latest reading
  bool zoomed = false;
  double zoom_started_s = 0;
  double zoom_until_s = 0;        // zoomed: when the window ends
  std::uint64_t bytes_at_zoom = 0;
  unsigned zooms = 0;             // windows started
  unsigned cleared = 0;           // windows that ended without a leaking stack
  std::string note;               // what the last window found, for the report
  bool barred = false;            // never zoomed again (its window outgrew its share)

  explicit WatchedProcess(const ProcessKey& k, std::size_t capacity) : key(k), heap(capacity) {}
  // Growing the way a leak grows, by the verdict and the config's thresholds.
  bool suspect(const WatchConfig& config) const;
  // What the heap gained since the current (or last) window began.
  std::uint64_t growth_since_zoom() const { return bytes > bytes_at_zoom ? bytes - bytes_at_zoom : 0; }
};

class HeapWatch {
 public:
  explicit HeapWatch(WatchConfig config = {});

  // Process events (the capture's sched tracepoints): a new history's key; an exec starts a new
  // history whose heap is the new program's; an exit ends the pid's series.
  void on_fork(const ProcessKey& child);
  void on_exec(std::uint32_t pid, std::uint32_t new_incarnation);
  void on_exit(std::uint32_t pid);

  // One reading of every process running now, at time t_s: a pid not among them is gone. A pid
  // without an event is one that ran before the tracer (incarnation 0).
  void observe(double t_s, std::span<const HeapSample> samples);
  // Classifies every series with enough samples.
  void classify();
  // Suspects to zoom now, the fastest-growing first, as many as free slots allow.
  std::vector<ProcessKey> pick_suspects() const;

  void start_zoom(const ProcessKey& key, double t_s);
  // Zoomed processes whose window has ended by t_s.
  std::vector<ProcessKey> zooms_due(double t_s) const;
  // A window ended: with leaking stacks it is extended by another window (false returned: keep
  // the probes); without, the probes come off (true) and the heap series starts anew, so that
  // a new zoom needs new growth. `note` tells the report what it found.
  bool end_zoom(const ProcessKey& key, double t_s, bool stacks_leak, std::string note);
  // A window ended because the process is too big to trace (more stacks than a window's share):
  // the probes come off and, until it execs another program, it is never zoomed again (it would
  // outgrow its share again). Its heap is still watched and reported.
  void bar(const ProcessKey& key, double t_s, std::string note);

  // A watched process as a record holds it (`edleak-bpf report FILE`), replacing any of its
  // pid; and the processes not watched. A replay classifies the restored series again.
  void restore(WatchedProcess process);
  void restore_unwatched(std::uint64_t unwatched) { unwatched_ = unwatched; }

  const WatchedProcess* find(std::uint32_t pid) const;
  const std::unordered_map<std::uint32_t, WatchedProcess>& processes() const { return processes_; }
  std::size_t zoomed() const;
  // Processes not watched because max_processes were (since the start).
  std::uint64_t unwatched() const { return unwatched_; }
  const WatchConfig& config() const { return config_; }

 private:
  WatchedProcess& restart(std::uint32_t pid, const ProcessKey& key);
  WatchConfig config_;
  std::unordered_map<std::uint32_t, WatchedProcess> processes_;  // by pid: one history each
  std::unordered_map<std::uint32_t, std::uint32_t> incarnations_;  // from events, until seen
  std::uint64_t unwatched_ = 0;
};

}  // namespace edleak::watch
