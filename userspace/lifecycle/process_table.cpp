#include "lifecycle/process_table.h"

namespace edleak::lifecycle {

ProcessRecord& ProcessTable::get(const ProcessKey& key) {
  auto [it, inserted] = records_.try_emplace(key);
  if (inserted) {
    it->second.key = key;
    // A history whose fork was noted gets its parent now.
    if (auto parent = parents_.find(key); parent != parents_.end()) {
      it->second.parent_pid = parent->second;
      parents_.erase(parent);
    }
  }
  return it->second;
}

void ProcessTable::note_fork(const ProcessKey& child, std::uint32_t parent_pid) {
  if (ProcessRecord* r = find(child)) {
    r->parent_pid = parent_pid;
    return;
  }
  parents_[child] = parent_pid;
}

ProcessRecord& ProcessTable::add_named(const ProcessKey& key, bool root) {
  ProcessRecord& r = get(key);
  r.named = true;
  r.root = r.root || root;
  return r;
}

ProcessRecord& ProcessTable::on_fork(const ProcessKey& child, std::uint32_t parent_pid) {
  // A pid reused: whatever history it had ended (its exit event may still be on its way).
  for (auto it = records_.lower_bound(ProcessKey(child.pid, 0));
       it != records_.end() && it->first.pid == child.pid; ++it)
    if (it->first != child) it->second.ended = true;
  ProcessRecord& r = get(child);
  r.parent_pid = parent_pid;
  return r;
}

ProcessRecord& ProcessTable::on_exec(std::uint32_t pid, std::uint32_t old_incarnation,
                                     std::uint32_t new_incarnation) {
  ProcessRecord& old = get(ProcessKey(pid, old_incarnation));
  old.ended = true;
  old.exec_ended = true;
  old.exec_incarnation = new_incarnation;
  const bool named = old.named, root = old.root;
  const std::uint32_t parent = old.parent_pid;
  ProcessRecord& r = get(ProcessKey(pid, new_incarnation));
  r.named = r.named || named;  // -p PID, or the command, stays named across exec
  r.root = r.root || root;
  if (!r.parent_pid) r.parent_pid = parent;
  r.comm.clear();  // the new program's name is read anew
  r.command.clear();
  return r;
}

void ProcessTable::on_exit(const ProcessKey& key, std::optional<int> status) {
  // Unknown yet: a process that allocated and exited between two samples (its sites are read
  // after its exit event). It is known as ended, so that the sample that learns of it gives it
  // its final section and it is forgotten; one never seen goes after the next report.
  ProcessRecord& r = get(key);
  r.ended = true;
  if (status) r.exit_status = status;
  parents_.erase(key);  // taken by get() when noted; here for a key noted after its record
}

void ProcessTable::on_released(const ProcessKey& key) {
  ProcessRecord* r = find(key);
  if (!r || r->ended) return;
  r->ended = true;
  r->released = true;
}

ProcessRecord& ProcessTable::on_seen(const ProcessKey& key) { return get(key); }

const ProcessRecord* ProcessTable::current(std::uint32_t pid) const {
  const ProcessRecord* newest = nullptr;
  for (auto it = records_.lower_bound(ProcessKey(pid, 0)); it != records_.end() && it->first.pid == pid; ++it) {
    if (!it->second.ended) return &it->second;
    newest = &it->second;
  }
  return newest;
}

const ProcessRecord* ProcessTable::find(const ProcessKey& key) const {
  auto it = records_.find(key);
  return it == records_.end() ? nullptr : &it->second;
}

ProcessRecord* ProcessTable::find(const ProcessKey& key) {
  auto it = records_.find(key);
  return it == records_.end() ? nullptr : &it->second;
}

std::vector<ProcessKey> ProcessTable::ending() const {
  std::vector<ProcessKey> out;
  for (const auto& [key, r] : records_)
    if (r.ended && !r.final_reported) out.push_back(key);
  return out;
}

std::vector<ProcessKey> ProcessTable::finish_reported(const std::vector<ProcessKey>& reported) {
  std::vector<ProcessKey> dropped;
  for (const ProcessKey& key : reported) {
    auto it = records_.find(key);
    if (it == records_.end()) continue;
    it->second.final_reported = true;
    // Named processes stay listed, as exited, until the run ends; a program that exec'd
    // another has had its last section (the pid's next history is named in its place), as has
    // one let go (watch mode: watched again, and zoomed anew if it grows).
    if (!it->second.named || it->second.exec_ended || it->second.released) {
      dropped.push_back(key);
      records_.erase(it);
    }
  }
  return dropped;
}

bool ProcessTable::all_ended() const {
  bool any = false;
  for (const auto& [key, r] : records_) {
    if (!r.ended) return false;
    any = true;
  }
  return any;
}

}  // namespace edleak::lifecycle
