#include "sample/site_table.h"

#include <algorithm>

namespace edleak::sample {

Site& SiteTable::find_or_add(ProcessSites& process, const SiteSample& sample) {
  auto [it, inserted] = process.index.try_emplace(sample.stack_id, static_cast<std::uint32_t>(process.sites.size()));
  if (inserted)
    process.sites.push_back(Site{ProcessKey(sample.tgid, sample.incarnation), sample.stack_id, {},
                                 series::Series(kSeriesCapacity), series::Series(kSeriesCapacity),
                                 series::Series(kSeriesCapacity)});
  return process.sites[it->second];
}

void SiteTable::ingest(const Snapshot& snapshot) {
  for (const auto& [id, stack] : snapshot.new_stacks) stacks_.try_emplace(id, stack);
  bool added = false;  // a vector grew: pointers into it, hints included, may have moved
  std::vector<Site*> order;
  order.reserve(snapshot.sites.size());
  for (std::size_t i = 0; i < snapshot.sites.size(); ++i) {
    const SiteSample& s = snapshot.sites[i];
    Site* site = nullptr;
    const ProcessKey key(s.tgid, s.incarnation);
    if (!added && i < previous_order_.size() && previous_order_[i]->process == key &&
        previous_order_[i]->stack_id == s.stack_id)
      site = previous_order_[i];
    if (!site) {
      ProcessSites& process = processes_[key];
      const std::size_t before = process.sites.size();
      site = &find_or_add(process, s);
      added = added || process.sites.size() != before;
    }
    site->latest = s;
    // Outstanding bytes cannot be negative; a transient negative value is a free racing the
    // read of a realloc in flight.
    site->bytes.append(snapshot.t_s, static_cast<double>(std::max<std::int64_t>(s.outstanding_bytes, 0)));
    site->blocks.append(snapshot.t_s, static_cast<double>(std::max<std::int64_t>(s.outstanding_blocks, 0)));
    site->frees.append(snapshot.t_s, static_cast<double>(s.total_frees));
    if (snapshot.age_epoch != 0) {
      const OldHeld old = site->age.read(s.age, snapshot.age_epoch, s.outstanding_bytes, s.outstanding_blocks);
      site->old_blocks.append(snapshot.t_s, static_cast<double>(old.blocks));
      site->old_bytes = old.bytes;
    }
    order.push_back(site);
  }
  if (added) order.clear();
  previous_order_ = std::move(order);
  counters_ = snapshot.counters;
  ++samples_;
}

void SiteTable::restore(Site site, const StackRecord& stack) {
  stacks_.insert_or_assign(site.stack_id, stack);
  ProcessSites& process = processes_[site.process];
  previous_order_.clear();  // positions may move
  auto [it, inserted] = process.index.try_emplace(site.stack_id, static_cast<std::uint32_t>(process.sites.size()));
  if (inserted) process.sites.push_back(std::move(site));
  else process.sites[it->second] = std::move(site);
}

void SiteTable::forget_process(const ProcessKey& key) {
  processes_.erase(key);
  previous_order_.clear();
}

void SiteTable::forget_stacks(const std::vector<std::uint64_t>& stack_ids) {
  for (std::uint64_t id : stack_ids) stacks_.erase(id);
}

std::vector<const Site*> SiteTable::sites_of(const ProcessKey& key) const {
  std::vector<const Site*> out;
  for_each_site(key, [&](const Site& site) { out.push_back(&site); });
  return out;
}

std::vector<ProcessKey> SiteTable::processes() const {
  std::vector<ProcessKey> out;
  for (const auto& [key, sites] : processes_) out.push_back(key);
  std::sort(out.begin(), out.end());
  return out;
}

const std::vector<std::uint64_t>* SiteTable::frames(std::uint64_t stack_id) const {
  const StackRecord* record = stack(stack_id);
  return record ? &record->frames : nullptr;
}

const StackRecord* SiteTable::stack(std::uint64_t stack_id) const {
  auto it = stacks_.find(stack_id);
  return it == stacks_.end() ? nullptr : &it->second;
}

std::size_t SiteTable::size() const {
  std::size_t n = 0;
  for (const auto& [tgid, process] : processes_) n += process.sites.size();
  return n;
}

}  // namespace edleak::sample
