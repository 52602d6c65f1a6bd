#include "watch/heap_watch.h"

#include <algorithm>
#include <unordered_set>

namespace edleak::watch {

bool WatchedProcess::suspect(const WatchConfig& config) const {
  // Each window that found nothing doubles the readings a new suspicion needs: a process that
  // grows without leaking through traced calls (another allocator, a cache of mappings) is
  // looked at again, ever less often.
  if (zoomed || barred || heap.samples_seen() < (config.min_samples << std::min(cleared, 6u))) return false;
  // Short jobs (a compiler grows for its whole life of seconds, then exits) are not zoomed.
  if (heap.last().t_s - heap.first().t_s < config.suspect_after_s) return false;
  // A cache filling up (logarithmic) settles by itself: only growth that goes on is zoomed.
  if (verdict.cls != classify::LeakClass::linear && verdict.cls != classify::LeakClass::exponential) return false;
  return verdict.leak >= config.min_growth_bytes;
}

HeapWatch::HeapWatch(WatchConfig config) : config_(config) {}

WatchedProcess& HeapWatch::restart(std::uint32_t pid, const ProcessKey& key) {
  processes_.erase(pid);
  return processes_.emplace(pid, WatchedProcess(key, config_.series_capacity)).first->second;
}

void HeapWatch::on_fork(const ProcessKey& child) {
  // A reused pid: the old process's series ends here even if its exit event is late.
  processes_.erase(child.pid);
  incarnations_[child.pid] = child.incarnation;
}

void HeapWatch::on_exec(std::uint32_t pid, std::uint32_t new_incarnation) {
  incarnations_[pid] = new_incarnation;
  auto it = processes_.find(pid);
  if (it == processes_.end()) return;
  // The new program's heap starts from nothing; what the zoom found was of the old one.
  processes_.erase(it);
}

void HeapWatch::on_exit(std::uint32_t pid) {
  processes_.erase(pid);
  incarnations_.erase(pid);
}

void HeapWatch::observe(double t_s, std::span<const HeapSample> samples) {
  std::unordered_set<std::uint32_t> seen;
  seen.reserve(samples.size());
  for (const HeapSample& s : samples) {
    seen.insert(s.pid);
    auto it = processes_.find(s.pid);
    if (it == processes_.end()) {
      if (processes_.size() >= config_.max_processes) {
        ++unwatched_;
        continue;
      }
      auto inc = incarnations_.find(s.pid);
      it = processes_.emplace(s.pid, WatchedProcess(ProcessKey(s.pid, inc == incarnations_.end() ? 0 : inc->second),
                                                    config_.series_capacity))
               .first;
    }
    it->second.heap.append(t_s, static_cast<double>(s.bytes));
    it->second.bytes = s.bytes;
  }
  for (auto it = processes_.begin(); it != processes_.end();)
    it = seen.count(it->first) ? std::next(it) : processes_.erase(it);
  for (auto it = incarnations_.begin(); it != incarnations_.end();)
    it = seen.count(it->first) || processes_.count(it->first) ? std::next(it) : incarnations_.erase(it);
}

void HeapWatch::classify() {
  for (auto& [pid, p] : processes_)
    if (p.heap.samples_seen() >= classify::kMinPoints)
      p.verdict = classify::classify_stack(p.heap, nullptr, nullptr, /*attached=*/false);
}

std::vector<ProcessKey> HeapWatch::pick_suspects() const {
  const std::size_t busy = zoomed();
  if (busy >= config_.max_zoom) return {};
  std::vector<const WatchedProcess*> found;
  for (const auto& [pid, p] : processes_)
    if (p.suspect(config_)) found.push_back(&p);
  std::sort(found.begin(), found.end(), [](const auto* a, const auto* b) {
    return a->verdict.growth_bytes_per_s > b->verdict.growth_bytes_per_s;
  });
  std::vector<ProcessKey> out;
  for (const auto* p : found) {
    if (out.size() + busy >= config_.max_zoom) break;
    out.push_back(p->key);
  }
  return out;
}

void HeapWatch::start_zoom(const ProcessKey& key, double t_s) {
  auto it = processes_.find(key.pid);
  if (it == processes_.end() || it->second.key != key) return;
  WatchedProcess& p = it->second;
  p.zoomed = true;
  p.zoom_started_s = t_s;
  p.zoom_until_s = t_s + config_.zoom_s;
  p.bytes_at_zoom = p.bytes;
  ++p.zooms;
}

std::vector<ProcessKey> HeapWatch::zooms_due(double t_s) const {
  std::vector<ProcessKey> out;
  for (const auto& [pid, p] : processes_)
    if (p.zoomed && t_s >= p.zoom_until_s) out.push_back(p.key);
  return out;
}

bool HeapWatch::end_zoom(const ProcessKey& key, double t_s, bool stacks_leak, std::string note) {
  auto it = processes_.find(key.pid);
  if (it == processes_.end() || it->second.key != key) return true;
  WatchedProcess& p = it->second;
  p.note = std::move(note);
  if (stacks_leak) {
    p.zoom_until_s = t_s + config_.zoom_s;
    return false;
  }
  // Cleared: the series starts anew, so only new growth makes it a suspect again.
  const unsigned zooms = p.zooms, cleared = p.cleared + 1;
  std::string kept_note = std::move(p.note);
  WatchedProcess& fresh = restart(key.pid, key);  // p is gone
  fresh.zooms = zooms, fresh.cleared = cleared, fresh.note = std::move(kept_note);
  return true;
}

void HeapWatch::bar(const ProcessKey& key, double t_s, std::string note) {
  end_zoom(key, t_s, /*stacks_leak=*/false, std::move(note));
  auto it = processes_.find(key.pid);
  if (it != processes_.end() && it->second.key == key) it->second.barred = true;
}

void HeapWatch::restore(WatchedProcess process) {
  const std::uint32_t pid = process.key.pid;
  processes_.erase(pid);
  processes_.emplace(pid, std::move(process));
}

const WatchedProcess* HeapWatch::find(std::uint32_t pid) const {
  auto it = processes_.find(pid);
  return it == processes_.end() ? nullptr : &it->second;
}

std::size_t HeapWatch::zoomed() const {
  return static_cast<std::size_t>(
      std::count_if(processes_.begin(), processes_.end(), [](const auto& e) { return e.second.zoomed; }));
}

}  // namespace edleak::watch
