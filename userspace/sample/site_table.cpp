#include "sample/site_table.h"

#include <algorithm>
#include <unordered_set>

#include "util/prefetch.h"

namespace edleak::sample {

Site& SiteTable::find_or_add(ProcessSites& process, const SiteSample& sample) {
  auto [it, inserted] = process.index.try_emplace(sample.stack_id, static_cast<std::uint32_t>(process.sites.size()));
  if (!inserted) return process.sites[it->second];
  Site& site = process.sites.emplace_back(Site{.process = ProcessKey(sample.tgid, sample.incarnation),
                                               .stack_id = sample.stack_id,
                                               .latest = {},
                                               .bytes = series::Series(kSeriesCapacity),
                                               .blocks = series::Series(kSeriesCapacity),
                                               .frees = series::Series(kSeriesCapacity),
                                               .age = {}});
  // A stack whose site was evicted, allocating again: it continues from where it was left, so
  // that neither its counts nor its series start over as if it were new.
  if (auto r = process.retired.find(sample.stack_id); r != process.retired.end()) {
    site.base_allocs = r->second.allocs;
    site.base_frees = r->second.frees;
    site.latest.total_allocs = site.base_allocs;
    site.latest.total_frees = site.base_frees;
    site.bytes.append(r->second.t_s, 0);
    site.blocks.append(r->second.t_s, 0);
    site.frees.append(r->second.t_s, static_cast<double>(site.base_frees));
    --process.retired_totals.stacks;
    process.retired_totals.allocs -= r->second.allocs;
    process.retired_totals.frees -= r->second.frees;
    process.retired.erase(r);
  }
  return site;
}

void SiteTable::ingest(const Snapshot& snapshot) {
  for (const auto& [id, stack] : snapshot.new_stacks) stacks_.try_emplace(id, stack);
  bool added = false;  // a vector grew: pointers into it, hints included, may have moved
  std::vector<Site*> order;
  order.reserve(snapshot.sites.size());
  for (std::size_t i = 0; i < snapshot.sites.size(); ++i) {
    const SiteSample& s = snapshot.sites[i];
    // The sites ahead, where the last snapshot had them: their series' running sums and the
    // age decoder are about to be written, and none is in cache.
    if (!added && i + 8 < previous_order_.size()) util::prefetch(previous_order_[i + 8], sizeof(Site), true);
    // Four sites ahead (in cache by then), where its series' next points go.
    if (!added && i + 4 < previous_order_.size()) {
      const Site* ahead = previous_order_[i + 4];
      for (const series::Series* series : {&ahead->bytes, &ahead->blocks, &ahead->frees, &ahead->old_blocks})
        series->prefetch_next_point();
    }
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
    const bool changed = site->latest.total_allocs != s.total_allocs + site->base_allocs ||
                         site->latest.total_frees != s.total_frees + site->base_frees ||
                         site->latest.outstanding_bytes != s.outstanding_bytes;
    site->idle_samples = changed ? 0 : site->idle_samples + 1;
    site->latest = static_cast<const SiteCounts&>(s);  // the ring is decoded below, not kept
    site->latest.total_allocs += site->base_allocs;
    site->latest.total_frees += site->base_frees;
    // Outstanding bytes cannot be negative; a transient negative value is a free racing the
    // read of a realloc in flight.
    site->bytes.append(snapshot.t_s, static_cast<double>(std::max<std::int64_t>(s.outstanding_bytes, 0)));
    site->blocks.append(snapshot.t_s, static_cast<double>(std::max<std::int64_t>(s.outstanding_blocks, 0)));
    site->frees.append(snapshot.t_s, static_cast<double>(site->latest.total_frees));
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
  for (const Refusals& r : snapshot.refusals)
    if (auto it = processes_.find(r.process); it != processes_.end()) {
      it->second.room.refused_site_allocs = r.site_allocs;
      it->second.room.refused_block_allocs = r.block_allocs;
    }
  room_totals_.refused_site_allocs = counters_.refused_site_allocs;
  room_totals_.refused_block_allocs = counters_.refused_block_allocs;
  ++samples_;
}

void SiteTable::retire(const ProcessKey& key, const std::vector<std::uint64_t>& stack_ids, double t_s) {
  auto it = processes_.find(key);
  if (it == processes_.end()) return;
  ProcessSites& process = it->second;
  std::unordered_set<std::uint64_t> going;
  for (std::uint64_t id : stack_ids)
    if (process.index.count(id)) going.insert(id);
  if (going.empty()) return;
  for (const Site& site : process.sites) {
    if (!going.count(site.stack_id)) continue;
    process.retired[site.stack_id] = Retired{site.latest.total_allocs, site.latest.total_frees, t_s};
    ++process.retired_totals.stacks;
    process.retired_totals.allocs += site.latest.total_allocs;
    process.retired_totals.frees += site.latest.total_frees;
    const bool holding = site.latest.outstanding_blocks > 0 || site.latest.outstanding_bytes > 0;
    for (RoomCounts* room : {&process.room, &room_totals_}) {
      if (!holding) {
        ++room->evicted_idle;
        continue;
      }
      ++room->evicted_holding;
      room->evicted_holding_blocks += static_cast<std::uint64_t>(std::max<std::int64_t>(site.latest.outstanding_blocks, 0));
      room->evicted_holding_bytes += static_cast<std::uint64_t>(std::max<std::int64_t>(site.latest.outstanding_bytes, 0));
    }
  }
  std::erase_if(process.sites, [&](const Site& site) { return going.count(site.stack_id) > 0; });
  process.index.clear();
  for (std::uint32_t i = 0; i < process.sites.size(); ++i) process.index.emplace(process.sites[i].stack_id, i);
  previous_order_.clear();  // positions moved
}

std::vector<SiteUse> SiteTable::site_uses() const {
  std::vector<SiteUse> out;
  out.reserve(size());
  for (const auto& [key, process] : processes_)
    for (const Site& site : process.sites)
      out.push_back({key, site.stack_id, site.latest.outstanding_bytes, site.latest.outstanding_blocks,
                     site.idle_samples});
  return out;
}

const RoomCounts* SiteTable::room_of(const ProcessKey& key) const {
  auto it = processes_.find(key);
  return it == processes_.end() ? nullptr : &it->second.room;
}

RetiredTotals SiteTable::retired_of(const ProcessKey& key) const {
  auto it = processes_.find(key);
  return it == processes_.end() ? RetiredTotals{} : it->second.retired_totals;
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
