#include "sample/site_table.h"

#include <algorithm>

namespace edleak::sample {

void SiteTable::ingest(const Snapshot& snapshot) {
  for (const auto& [id, frames] : snapshot.new_stacks) stacks_.try_emplace(id, frames);
  // Snapshots list a process's sites together: look its table up once per run of them.
  ProcessSites* current = nullptr;
  std::uint32_t current_tgid = 0;
  for (const auto& s : snapshot.sites) {
    if (!current || s.tgid != current_tgid) {
      current = &processes_[s.tgid];
      current_tgid = s.tgid;
    }
    auto it = current->find(s.stack_id);
    if (it == current->end())
      it = current->emplace(s.stack_id, Site{s.tgid, s.stack_id, {}, series::Series(kSeriesCapacity)}).first;
    Site& site = it->second;
    site.latest = s;
    // Outstanding bytes cannot be negative; a transient negative value is a free racing the
    // read of a realloc in flight.
    site.bytes.append(snapshot.t_s, static_cast<double>(std::max<std::int64_t>(s.outstanding_bytes, 0)));
  }
  counters_ = snapshot.counters;
  ++samples_;
}

void SiteTable::forget_process(std::uint32_t tgid) { processes_.erase(tgid); }

std::vector<const Site*> SiteTable::sites_of(std::uint32_t tgid) const {
  std::vector<const Site*> out;
  auto it = processes_.find(tgid);
  if (it == processes_.end()) return out;
  out.reserve(it->second.size());
  for (const auto& [id, site] : it->second) out.push_back(&site);
  return out;
}

std::vector<std::uint32_t> SiteTable::processes() const {
  std::vector<std::uint32_t> out;
  for (const auto& [tgid, sites] : processes_) out.push_back(tgid);
  std::sort(out.begin(), out.end());
  return out;
}

const std::vector<std::uint64_t>* SiteTable::frames(std::uint64_t stack_id) const {
  auto it = stacks_.find(stack_id);
  return it == stacks_.end() ? nullptr : &it->second;
}

std::size_t SiteTable::size() const {
  std::size_t n = 0;
  for (const auto& [tgid, sites] : processes_) n += sites.size();
  return n;
}

}  // namespace edleak::sample
