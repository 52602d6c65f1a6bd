#include "sample/site_table.h"

namespace edleak::sample {

void SiteTable::ingest(const Snapshot& snapshot) {
  for (const auto& [id, frames] : snapshot.new_stacks) stacks_.try_emplace(id, frames);
  for (const auto& s : snapshot.sites) {
    auto [it, inserted] = sites_.try_emplace(Key{s.tgid, s.stack_id});
    Site& site = it->second;
    if (inserted) {
      site.tgid = s.tgid;
      site.stack_id = s.stack_id;
    }
    site.latest = s;
    // Outstanding bytes cannot be negative; a transient negative value is a free racing the
    // read of a realloc in flight.
    site.bytes.append(snapshot.t_s, static_cast<double>(s.outstanding_bytes < 0 ? 0 : s.outstanding_bytes));
  }
  counters_ = snapshot.counters;
  ++samples_;
}

void SiteTable::forget_process(std::uint32_t tgid) {
  auto it = sites_.lower_bound(Key{tgid, 0});
  while (it != sites_.end() && it->first.tgid == tgid) it = sites_.erase(it);
}

std::vector<const Site*> SiteTable::sites_of(std::uint32_t tgid) const {
  std::vector<const Site*> out;
  for (auto it = sites_.lower_bound(Key{tgid, 0}); it != sites_.end() && it->first.tgid == tgid; ++it)
    out.push_back(&it->second);
  return out;
}

std::vector<std::uint32_t> SiteTable::processes() const {
  std::vector<std::uint32_t> out;
  for (const auto& [key, site] : sites_)
    if (out.empty() || out.back() != key.tgid) out.push_back(key.tgid);
  return out;
}

const std::vector<std::uint64_t>* SiteTable::frames(std::uint64_t stack_id) const {
  auto it = stacks_.find(stack_id);
  return it == stacks_.end() ? nullptr : &it->second;
}

}  // namespace edleak::sample
