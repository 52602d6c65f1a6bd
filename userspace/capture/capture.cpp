#include "capture/capture.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <unistd.h>
#include <unordered_set>

#include "edleak_bpf.skel.h"
#include "edleak_iter_bpf.skel.h"
#include "edleak_abi.h"
#include "util/log.h"

namespace edleak::capture {
namespace {

struct SkeletonDeleter {
  void operator()(edleak_bpf* skel) const { edleak_bpf__destroy(skel); }
};
using Skeleton = std::unique_ptr<edleak_bpf, SkeletonDeleter>;

struct LinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using Link = std::unique_ptr<bpf_link, LinkDeleter>;

struct IterSkeletonDeleter {
  void operator()(edleak_iter_bpf* skel) const { edleak_iter_bpf__destroy(skel); }
};
using IterSkeleton = std::unique_ptr<edleak_iter_bpf, IterSkeletonDeleter>;

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

// libbpf prints through this; keep its warnings for -vv, they are noisy otherwise.
int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && !log::enabled(log::Level::debug)) return 0;
  if (level == LIBBPF_INFO && !log::enabled(log::Level::verbose)) return 0;
  if (level == LIBBPF_WARN && !log::enabled(log::Level::verbose)) return 0;
  char line[1024];
  int n = std::vsnprintf(line, sizeof line, format, args);
  if (n > 0) {
    std::string_view text(line, std::min<std::size_t>(n, sizeof line - 1));
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    log::debug("libbpf: {}", text);
  }
  return 0;
}

}  // namespace

struct RingBufferDeleter {
  void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};

struct Capture::Impl {
  Skeleton skel;
  // Wakes the loop when the BPF side asks for a process's mappings; the requests themselves
  // are read from the mapping_requests map (deduplicated there).
  std::unique_ptr<ring_buffer, RingBufferDeleter> mapping_events;
  Link exec_link;
  std::vector<Link> links;
  std::vector<Link> syscall_links;  // mmap/munmap/mremap tracepoints (not probes)
  std::unordered_set<std::uint64_t> known_stacks;  // frames already returned (or lost)
  std::vector<edleak_site_key> site_keys;
  std::vector<edleak_site> site_values;
  // The block lister (bpf/edleak_iter.bpf.c), loaded at the first scan; when it cannot be, batch
  // lookups of the blocks map do (slower).
  IterSkeleton iter;
  Link iter_link;
  bool iter_failed = false;
  std::uint64_t live_blocks_seen = 0;  // outstanding blocks of every process at the last snapshot

  Result<std::vector<LiveBlock>> blocks_by_iterator(std::uint32_t tgid);
  Result<std::vector<LiveBlock>> blocks_by_batch(std::uint32_t tgid);

  bpf_program* entry_program(probe::Handler handler) const {
    auto* p = &skel->progs;
    switch (handler) {
      case probe::Handler::malloc: return p->malloc_enter;
      case probe::Handler::calloc: return p->calloc_enter;
      case probe::Handler::memalign: return p->memalign_enter;
      case probe::Handler::pvalloc: return p->pvalloc_enter;
      case probe::Handler::posix_memalign: return p->posix_memalign_enter;
      case probe::Handler::realloc: return p->realloc_enter;
      case probe::Handler::reallocarray: return p->reallocarray_enter;
      case probe::Handler::free: return p->free_enter;
      case probe::Handler::realloc_owned: return p->realloc_owned_enter;
      case probe::Handler::free_outer: return p->free_outer_enter;
      case probe::Handler::xallocx: return p->xallocx_enter;
      case probe::Handler::heap_realloc_owned: return p->heap_realloc_owned_enter;
      case probe::Handler::heap_calloc: return p->heap_calloc_enter;
    }
    return nullptr;
  }

  Result<void> attach_one(bpf_program* prog, const std::string& path, std::uint64_t offset,
                          pid_t pid, bool retprobe, const std::string& symbol) {
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe);
    bpf_link* link = bpf_program__attach_uprobe_opts(prog, pid, path.c_str(), offset, &opts);
    if (!link) {
      int err = errno;
      std::string who = pid == -1 ? "every process" : fmt::format("pid {}", pid);
      if (err == ESRCH) return make_error("cannot attach to {}: no such process", who);
      return make_error("cannot attach {}probe to {} in {} for {}: {}", retprobe ? "return " : "",
                        symbol, path, who, errno_text(err));
    }
    links.emplace_back(link);
    return {};
  }
};

Capture::Capture(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Capture::~Capture() = default;

Result<std::unique_ptr<Capture>> Capture::load(const CaptureConfig& config) {
  libbpf_set_print(libbpf_print);
  auto impl = std::make_unique<Impl>();
  impl->skel.reset(edleak_bpf__open());
  if (!impl->skel) return make_error("cannot open the BPF object: {}", errno_text(errno));
  auto& skel = impl->skel;
  skel->rodata->self_tgid = static_cast<std::uint32_t>(getpid());
  skel->rodata->page_size = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  bpf_map__set_max_entries(skel->maps.blocks, config.max_allocs);
  bpf_map__set_max_entries(skel->maps.sites, config.max_stacks);
  bpf_map__set_max_entries(skel->maps.stacks, config.max_stacks);
  bpf_map__set_max_entries(skel->maps.unwind_rows, std::max<std::uint32_t>(1, config.max_unwind_rows));
  skel->rodata->unwind_mode = config.unwind;
  skel->rodata->empty_programs = config.empty_programs;
  skel->rodata->max_frames = std::clamp<std::uint32_t>(config.max_frames, 1, EDLEAK_MAX_FRAMES);
  if (int err = edleak_bpf__load(skel.get()); err) {
    if (err == -EPERM || err == -EACCES)
      return make_error(
          "cannot load the BPF programs: {} (run as root, or with CAP_BPF and CAP_PERFMON)",
          errno_text(err));
    return make_error("cannot load the BPF programs: {} (a kernel with BTF, uprobes and BPF task "
                      "storage is needed; -vv shows the verifier's log)",
                      errno_text(err));
  }
  // exec ends a process's mapping list (see bpf/): attached for the whole run.
  if (bpf_link* link = bpf_program__attach(skel->progs.process_exec))
    impl->exec_link.reset(link);
  else
    return make_error("cannot attach to the sched_process_exec tracepoint: {}", errno_text(errno));
  impl->mapping_events.reset(ring_buffer__new(
      bpf_map__fd(skel->maps.mapping_events), [](void*, void*, size_t) { return 0; }, nullptr,
      nullptr));
  if (!impl->mapping_events)
    return make_error("cannot open the BPF ring buffer: {}", errno_text(errno));
  return std::unique_ptr<Capture>(new Capture(std::move(impl)));
}

Result<void> Capture::attach(const probe::ProbePlan& plan, const std::string& path, pid_t pid) {
  // Order matters: see the header.
  for (const auto& site : plan.sites) {
    if (!probe::is_free_handler(site.handler)) continue;
    auto r = impl_->attach_one(impl_->entry_program(site.handler), path, site.probe_offset, pid, false,
                               site.symbol);
    if (!r) return r;
  }
  for (const auto& site : plan.sites) {
    if (!probe::handler_needs_return(site.handler)) continue;
    auto r = impl_->attach_one(impl_->skel->progs.alloc_return, path, site.probe_offset, pid, true,
                               site.symbol);
    if (!r) return r;
  }
  for (const auto& site : plan.sites) {
    if (probe::is_free_handler(site.handler)) continue;
    auto r = impl_->attach_one(impl_->entry_program(site.handler), path, site.probe_offset, pid,
                               false, site.symbol);
    if (!r) return r;
  }
  return {};
}

Result<void> Capture::attach_mapping_calls() {
  if (!impl_->syscall_links.empty()) return {};
  auto* skel = impl_->skel.get();
  for (bpf_program* prog : {skel->progs.mmap_enter, skel->progs.mmap_exit, skel->progs.munmap_enter,
                            skel->progs.munmap_exit, skel->progs.mremap_enter, skel->progs.mremap_exit}) {
    bpf_link* link = bpf_program__attach(prog);
    if (!link)
      return make_error("cannot attach {} to its system call tracepoint: {}", bpf_program__name(prog),
                        errno_text(errno));
    impl_->syscall_links.emplace_back(link);
  }
  return {};
}

std::size_t Capture::probe_count() const { return impl_->links.size(); }

namespace {

// Reads a whole hash map with batch lookups (one syscall per chunk).
template <typename Key, typename Value>
Result<void> read_all(int fd, std::uint32_t max_entries, std::vector<Key>& keys,
                      std::vector<Value>& values) {
  keys.resize(max_entries);
  values.resize(max_entries);
  std::size_t total = 0;
  Key in_batch{}, out_batch{};
  bool first = true;
  while (total < max_entries) {
    __u32 count = std::min<std::size_t>(max_entries - total, 8192);
    int err = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, &keys[total],
                                   &values[total], &count, nullptr);
    total += count;
    if (err) {
      if (errno == ENOENT) break;  // the whole map was read
      return make_error("cannot read a BPF map: {}", errno_text(errno));
    }
    in_batch = out_batch;
    first = false;
  }
  keys.resize(total);
  values.resize(total);
  return {};
}

}  // namespace

Result<sample::Snapshot> Capture::snapshot(double t_s) {
  sample::Snapshot snap;
  snap.t_s = t_s;
  auto& skel = impl_->skel;

  // Reused from one snapshot to the next: sized for a full map, several MB.
  auto& keys = impl_->site_keys;
  auto& values = impl_->site_values;
  if (auto r = read_all(bpf_map__fd(skel->maps.sites), bpf_map__max_entries(skel->maps.sites),
                        keys, values);
      !r)
    return r.error();
  snap.sites.reserve(keys.size());
  impl_->live_blocks_seen = 0;
  int stacks_fd = bpf_map__fd(skel->maps.stacks);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& k = keys[i];
    const auto& v = values[i];
    impl_->live_blocks_seen += v.total_allocs - v.total_frees;
    snap.sites.push_back({k.tgid, k.stack_id, v.outstanding_bytes,
                          static_cast<std::int64_t>(v.total_allocs - v.total_frees), v.total_allocs,
                          v.total_frees});
    if (!impl_->known_stacks.insert(k.stack_id).second) continue;
    edleak_stack stack;
    // Frames the BPF side could not store (counted as stack errors) are not asked for again.
    if (bpf_map_lookup_elem(stacks_fd, &k.stack_id, &stack) != 0) continue;
    sample::StackRecord record;
    for (auto f : stack.frames) {
      if (f == 0) break;
      record.frames.push_back(f);
    }
    record.complete = stack.flags & EDLEAK_STACK_COMPLETE;
    record.truncated = stack.flags & EDLEAK_STACK_TRUNCATED;
    record.mmap = stack.flags & EDLEAK_STACK_MMAP;
    snap.new_stacks.emplace(k.stack_id, std::move(record));
  }

  // Per-CPU counters: sum every CPU's slot.
  int ncpu = libbpf_num_possible_cpus();
  std::vector<std::uint64_t> per_cpu(ncpu > 0 ? ncpu : 1);
  std::uint64_t totals[EDLEAK_CTR_COUNT] = {};
  for (std::uint32_t c = 0; c < EDLEAK_CTR_COUNT; ++c) {
    if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.counters), &c, per_cpu.data()) != 0) continue;
    for (auto v : per_cpu) totals[c] += v;
  }
  auto& ctr = snap.counters;
  ctr.lost_allocs = totals[EDLEAK_CTR_LOST_ALLOCS];
  ctr.lost_sites = totals[EDLEAK_CTR_LOST_SITES];
  ctr.stack_errors = totals[EDLEAK_CTR_STACK_ERRORS];
  ctr.unknown_frees = totals[EDLEAK_CTR_UNKNOWN_FREES];
  ctr.failed_allocs = totals[EDLEAK_CTR_FAILED_ALLOCS];
  ctr.state_errors = totals[EDLEAK_CTR_STATE_ERRORS];
  return snap;
}

Result<std::vector<Capture::LiveBlock>> Capture::live_blocks(std::uint32_t tgid) {
  // The iterator walks every bucket of the map (~30 ms for a million, however few the blocks), a
  // batch lookup skips empty ones but costs twice as much per block: measured crossover ~100,000.
  constexpr std::uint64_t kIteratorFrom = 100'000;
  if (!impl_->iter_failed && impl_->live_blocks_seen >= kIteratorFrom) {
    auto blocks = impl_->blocks_by_iterator(tgid);
    if (blocks) {
      log::debug("listed {} live blocks of pid {} with the BPF iterator", blocks->size(), tgid);
      return blocks;
    }
    log::verbose("{}; listing blocks with batch lookups instead", blocks.error().message);
    impl_->iter_failed = true;
  }
  return impl_->blocks_by_batch(tgid);
}

Result<std::vector<Capture::LiveBlock>> Capture::Impl::blocks_by_iterator(std::uint32_t tgid) {
  static_assert(sizeof(LiveBlock) == sizeof(edleak_live_block));
  if (!iter_link) {
    iter.reset(edleak_iter_bpf__open_and_load());
    if (!iter) return make_error("cannot load the block lister: {}", errno_text(errno));
    union bpf_iter_link_info info = {};
    info.map.map_fd = static_cast<__u32>(bpf_map__fd(skel->maps.blocks));
    LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &info, .link_info_len = sizeof info);
    bpf_link* link = bpf_program__attach_iter(iter->progs.list_blocks, &opts);
    if (!link) return make_error("cannot attach the block lister: {}", errno_text(errno));
    iter_link.reset(link);
  }
  iter->bss->iter_tgid = tgid;
  int fd = bpf_iter_create(bpf_link__fd(iter_link.get()));
  if (fd < 0) return make_error("cannot start the block lister: {}", errno_text(errno));
  std::vector<LiveBlock> out;
  std::vector<edleak_live_block> buffer(8192);
  std::size_t pending = 0;  // bytes of a record split between two reads
  while (true) {
    auto* bytes = reinterpret_cast<char*>(buffer.data());
    ssize_t n = read(fd, bytes + pending, buffer.size() * sizeof(edleak_live_block) - pending);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return make_error("cannot read the block lister: {}", errno_text(err));
    }
    if (n == 0) break;
    std::size_t total = pending + static_cast<std::size_t>(n);
    std::size_t records = total / sizeof(edleak_live_block);
    for (std::size_t i = 0; i < records; ++i) out.push_back({buffer[i].addr, buffer[i].size, buffer[i].stack_id});
    pending = total % sizeof(edleak_live_block);
    std::memmove(bytes, bytes + records * sizeof(edleak_live_block), pending);
  }
  close(fd);
  return out;
}

Result<std::vector<Capture::LiveBlock>> Capture::Impl::blocks_by_batch(std::uint32_t tgid) {
  // Chunks of a few thousand entries, filtered as they come: the map may hold a million blocks
  // of other processes, and this runs while the process is frozen.
  constexpr __u32 kChunk = 8192;
  const int fd = bpf_map__fd(skel->maps.blocks);
  std::vector<edleak_block_key> keys(kChunk);
  std::vector<edleak_block> values(kChunk);
  std::vector<LiveBlock> out;
  edleak_block_key in_batch{}, out_batch{};
  for (bool first = true;; first = false) {
    __u32 count = kChunk;
    int err = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, keys.data(), values.data(), &count,
                                   nullptr);
    if (err && errno != ENOENT) return make_error("cannot read the BPF blocks map: {}", errno_text(errno));
    for (__u32 i = 0; i < count; ++i)
      if (keys[i].tgid == tgid) out.push_back({keys[i].addr, values[i].size, values[i].stack_id});
    if (err) break;  // ENOENT: the whole map was read
    in_batch = out_batch;
  }
  return out;
}

namespace {

// Deletes the entries of a map keyed by process (a key with a tgid field) for the given processes.
template <typename Key, typename Value>
Result<void> delete_processes(bpf_map* map, const std::unordered_set<std::uint32_t>& gone) {
  std::vector<Key> keys;
  std::vector<Value> values;
  if (auto r = read_all(bpf_map__fd(map), bpf_map__max_entries(map), keys, values); !r) return r;
  for (const auto& k : keys)
    if (gone.count(k.tgid)) bpf_map_delete_elem(bpf_map__fd(map), &k);
  return {};
}

}  // namespace

Result<void> Capture::forget_processes(const std::vector<std::uint32_t>& tgids) {
  if (tgids.empty()) return {};
  std::unordered_set<std::uint32_t> gone(tgids.begin(), tgids.end());
  // Blocks first, so a racing free cannot credit a site that is about to go.
  if (auto r = delete_processes<edleak_block_key, edleak_block>(impl_->skel->maps.blocks, gone); !r) return r;
  for (std::uint32_t tgid : tgids) bpf_map_delete_elem(bpf_map__fd(impl_->skel->maps.mmap_regions), &tgid);
  return delete_processes<edleak_site_key, edleak_site>(impl_->skel->maps.sites, gone);
}

std::uint32_t Capture::unwind_row_capacity() const {
  return bpf_map__max_entries(impl_->skel->maps.unwind_rows);
}

Result<void> Capture::write_unwind_rows(std::uint32_t first, std::span<const edleak_unwind_row> rows) {
  const int fd = bpf_map__fd(impl_->skel->maps.unwind_rows);
  std::vector<std::uint32_t> keys;
  for (std::size_t done = 0; done < rows.size();) {
    __u32 count = static_cast<__u32>(std::min<std::size_t>(rows.size() - done, 65536));
    keys.resize(count);
    for (__u32 i = 0; i < count; ++i) keys[i] = first + static_cast<std::uint32_t>(done) + i;
    if (bpf_map_update_batch(fd, keys.data(), rows.data() + done, &count, nullptr) != 0)
      return make_error("cannot write unwind rows {}..{}: {}", first + done, first + done + count,
                        errno_text(errno));
    done += count;
  }
  return {};
}

Result<void> Capture::set_process_mappings(std::uint32_t tgid, const edleak_proc_mappings& mappings) {
  if (bpf_map_update_elem(bpf_map__fd(impl_->skel->maps.proc_mappings), &tgid, &mappings, BPF_ANY) != 0)
    return make_error("cannot store the mappings of pid {}: {}", tgid, errno_text(errno));
  return {};
}

void Capture::remove_process_mappings(std::uint32_t tgid) {
  bpf_map_delete_elem(bpf_map__fd(impl_->skel->maps.proc_mappings), &tgid);
  bpf_map_delete_elem(bpf_map__fd(impl_->skel->maps.mapping_requests), &tgid);
}

std::vector<std::uint32_t> Capture::take_mapping_requests() {
  ring_buffer__consume(impl_->mapping_events.get());
  const int fd = bpf_map__fd(impl_->skel->maps.mapping_requests);
  std::vector<std::uint32_t> tgids;
  std::uint32_t key = 0, next = 0;
  const std::uint32_t* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    tgids.push_back(next);
    key = next;
    prev = &key;
  }
  // Deleted after the walk: deleting while walking could restart it.
  for (std::uint32_t tgid : tgids) bpf_map_delete_elem(fd, &tgid);
  return tgids;
}

void Capture::hold_at_first_allocation(std::uint32_t tgid) {
  __atomic_store_n(&impl_->skel->bss->held_command, tgid, __ATOMIC_SEQ_CST);
  __atomic_store_n(&impl_->skel->bss->held_tgid, tgid, __ATOMIC_SEQ_CST);
}

bool Capture::took_hold_stop(std::uint32_t tgid) {
  std::uint64_t expected = tgid;
  return __atomic_compare_exchange_n(&impl_->skel->bss->hold_signalled, &expected, 0, false,
                                     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

int Capture::mapping_requests_fd() const { return ring_buffer__epoll_fd(impl_->mapping_events.get()); }

std::uint64_t Capture::map_memory_bytes() const {
  // The kernel reports each map's charged memory in /proc/self/fdinfo/<fd> as "memlock:".
  std::uint64_t total = 0;
  bpf_map* map;
  bpf_object__for_each_map(map, impl_->skel->obj) {
    int fd = bpf_map__fd(map);
    if (fd < 0) continue;
    std::ifstream fdinfo(fmt::format("/proc/self/fdinfo/{}", fd));
    for (std::string line; std::getline(fdinfo, line);)
      if (line.rfind("memlock:", 0) == 0) total += std::strtoull(line.c_str() + 8, nullptr, 10);
  }
  return total;
}

}  // namespace edleak::capture
