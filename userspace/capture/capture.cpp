#include "capture/capture.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <chrono>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <map>
#include <set>

#include "capture/batch_read.h"
#include "capture/libbpf_log.h"
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

// What the kernel last refused on this thread (refused_object(): "program x", "map x"; empty:
// nothing named), for the load's error. Per thread: the mmap programs load on one of their own
// beside the probes'.
std::string& last_refused() {
  thread_local std::string name;
  return name;
}

// libbpf prints through this; keep its warnings for -vv, they are noisy otherwise (a warning is
// still read for what it says was refused). A verifier log comes as one message of up to
// megabytes: all of it is printed, a line at a time.
int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  const bool printed = level == LIBBPF_DEBUG ? log::enabled(log::Level::debug) : log::enabled(log::Level::verbose);
  if (!printed && level != LIBBPF_WARN) return 0;
  va_list measure;
  va_copy(measure, args);
  const int n = std::vsnprintf(nullptr, 0, format, measure);
  va_end(measure);
  if (n <= 0) return 0;
  std::string text(static_cast<std::size_t>(n) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), format, args);
  text.resize(static_cast<std::size_t>(n));
  const std::string_view message = without_libbpf_prefix(text);  // ours below, on every line
  if (level == LIBBPF_WARN)
    if (auto refused = refused_object(message)) last_refused() = *refused;
  if (printed) for_each_line(message, [](std::string_view line) { log::debug("libbpf: {}", line); });
  return 0;
}

}  // namespace

// Releases links on a thread of its own: each release waits for an RCU grace period (tens of
// ms), which the sampling loop must not wait for as traced processes come and go.
class LinkReleaser {
 public:
  ~LinkReleaser() { drain(); }
  void release(std::vector<Link> links) {
    std::lock_guard lock(mutex_);
    for (auto& l : links) pending_.push_back(std::move(l));
    if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
    wake_.notify_one();
  }
  // Releases everything still pending, and waits for it.
  void drain() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
      wake_.notify_one();
    }
    if (worker_.joinable()) worker_.join();
    pending_.clear();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stop_ || !pending_.empty(); });
      while (!pending_.empty()) {
        Link link = std::move(pending_.back());
        pending_.pop_back();
        lock.unlock();
        link.reset();
        lock.lock();
      }
      if (stop_) return;
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Link> pending_;
  std::thread worker_;
  bool stop_ = false;
};

struct RingBufferDeleter {
  void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};

// Every mmap/munmap/mremap program: loaded apart from the others (MappingPrograms).
bool is_mapping_program(const bpf_program* prog) {
  const std::string_view name = bpf_program__name(prog);
  for (std::string_view p : {"mmap_enter", "mmap_exit", "munmap_enter", "munmap_exit", "mremap_enter", "mremap_exit"})
    if (name == p) return true;
  return false;
}

// What load() sets before loading, the same in both instances of the object: map sizes (a map is
// shared only when its definition matches) and read-only settings.
void configure(edleak_bpf& skel, const CaptureConfig& config) {
  skel.rodata->self_tgid = static_cast<std::uint32_t>(getpid());
  skel.rodata->page_size = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  bpf_map__set_max_entries(skel.maps.blocks, config.max_allocs);
  bpf_map__set_max_entries(skel.maps.sites, config.max_stacks);
  bpf_map__set_max_entries(skel.maps.stacks, config.max_stacks);
  bpf_map__set_max_entries(skel.maps.unwind_rows, std::max<std::uint32_t>(1, config.max_unwind_rows));
  skel.rodata->unwind_mode = config.unwind;
  skel.rodata->empty_programs = config.empty_programs;
  skel.rodata->max_frames = std::clamp<std::uint32_t>(config.max_frames, 1, EDLEAK_MAX_FRAMES);
  skel.rodata->follow_children = config.follow_children;
  skel.rodata->events_for_all = config.events_for_all;
  skel.rodata->hold_followed = config.hold_followed;
}

// The mmap/munmap/mremap programs as a second instance of the BPF object, sharing every map of
// the first (so the same blocks, sites and stacks), loaded on a thread of their own: the
// verifier's pass over mmap_exit's inlined stack walk is most of the tracer's start-up, and
// needs none of what the probes need. Attached once asked to (attach_mapping_calls) and loaded.
class MappingPrograms {
 public:
  MappingPrograms(const CaptureConfig& config, std::vector<std::pair<std::string, int>> map_fds)
      : worker_([this, config, fds = std::move(map_fds)] { load(config, fds); }) {}
  ~MappingPrograms() {
    if (worker_.joinable()) worker_.join();
  }
  MappingPrograms(const MappingPrograms&) = delete;
  MappingPrograms& operator=(const MappingPrograms&) = delete;

  Result<void> attach(bool wait) {
    std::unique_lock lock(mutex_);
    requested_ = true;
    waiting_ = wait;
    if (!loaded_) {
      if (!wait) return {};  // the worker attaches them, and says why it could not
      lock.unlock();
      worker_.join();
      lock.lock();
    }
    attach_locked();
    if (!error_.empty()) return make_error("{}", error_);
    return {};
  }

 private:
  void load(const CaptureConfig& config, const std::vector<std::pair<std::string, int>>& map_fds) {
    const auto started = std::chrono::steady_clock::now();
    std::string error = load_programs(config, map_fds);
    log::verbose("mmap/munmap/mremap programs loaded in {:.0f} ms (beside the probes)",
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    std::lock_guard lock(mutex_);
    loaded_ = true;
    error_ = std::move(error);
    if (!requested_ || waiting_) return;  // attach() attaches them, or reports for its waiter
    attach_locked();
    if (!error_.empty()) log::warn("direct mmap/munmap/mremap calls are not traced: {}", error_);
  }

  std::string load_programs(const CaptureConfig& config, const std::vector<std::pair<std::string, int>>& map_fds) {
    skel_.reset(edleak_bpf__open());
    if (!skel_) return fmt::format("cannot open the BPF object for the mmap programs: {}", errno_text(errno));
    configure(*skel_, config);
    bpf_program* prog;
    bpf_object__for_each_program(prog, skel_->obj) bpf_program__set_autoload(prog, is_mapping_program(prog));
    for (const auto& [name, fd] : map_fds) {
      bpf_map* map = bpf_object__find_map_by_name(skel_->obj, name.c_str());
      if (map && bpf_map__reuse_fd(map, fd) != 0)
        return fmt::format("cannot share the BPF map {} with the mmap programs: {}", name, errno_text(errno));
    }
    last_refused().clear();
    if (int err = edleak_bpf__load(skel_.get()); err)
      return last_refused().empty()
                 ? fmt::format("cannot load the mmap programs: {}", errno_text(err))
                 : fmt::format("cannot load the mmap programs: the kernel refused {}: {} (-vv shows why)",
                               last_refused(), errno_text(err));
    return {};
  }

  void attach_locked() {
    if (!error_.empty() || !links_.empty()) return;
    bpf_program* prog;
    bpf_object__for_each_program(prog, skel_->obj) {
      if (!is_mapping_program(prog)) continue;
      bpf_link* link = bpf_program__attach(prog);
      if (!link) {
        const int err = errno;
        error_ = fmt::format("cannot attach {} to its system call tracepoint: {}{}", bpf_program__name(prog),
                             errno_text(err),
                             err == ENOENT ? " (is tracefs mounted? mount -t tracefs nodev /sys/kernel/tracing)" : "");
        links_.clear();
        return;
      }
      links_.emplace_back(link);
    }
  }

  std::mutex mutex_;
  Skeleton skel_;
  std::vector<Link> links_;  // mmap/munmap/mremap tracepoints (not probes)
  bool requested_ = false, waiting_ = false, loaded_ = false;
  std::string error_;
  std::thread worker_;  // last: started once the rest is constructed
};

struct Capture::Impl {
  Skeleton skel;
  // Process events (fork, exec, exit), read by the loop.
  std::unique_ptr<ring_buffer, RingBufferDeleter> events;
  // Wakes the mapping reader when the BPF side asks for a process's mappings (the requests
  // themselves are read from the mapping_requests map, deduplicated there). Apart from `events`:
  // the reader consumes it on its own thread.
  std::unique_ptr<ring_buffer, RingBufferDeleter> mapping_wakeups;
  std::vector<ProcessEvent> process_events;  // received, not yet taken
  std::vector<Link> process_links;           // fork, exec, exit tracepoints
  struct OwnedLink {
    pid_t pid;  // the process it probes, -1: all
    std::size_t probes;
    Link link;
  };
  std::vector<OwnedLink> links;
  std::size_t probes = 0;
  LinkReleaser releaser;
  std::unique_ptr<MappingPrograms> mapping_programs;
  std::unordered_set<std::uint64_t> known_stacks;  // frames already returned (or lost)
  std::vector<edleak_site_key> site_keys;
  std::vector<edleak_site> site_values;
  // The block lister (bpf/edleak_iter.bpf.c), loaded at the first scan; when it cannot be, batch
  // lookups of the blocks map do (slower).
  IterSkeleton iter;
  Link iter_link;      // list_blocks (one history's blocks, for a scan)
  Link iter_keys_link;  // list_block_keys (the keys of a set of histories' blocks, to forget them)
  bool iter_failed = false;
  bool iter_keys_failed = false;
  std::uint64_t live_blocks_seen = 0;  // outstanding blocks of every process at the last snapshot
  std::uint32_t age_epoch = 1;  // the current one (bpf/edleak_abi.h, edleak_site); 0: none
  // Process histories in site_caps / block_caps now, and what each history refused while capped
  // before (a cap's counter goes with its entry when the cap is lifted).
  std::set<sample::ProcessKey> site_capped, block_capped;
  std::map<sample::ProcessKey, sample::Refusals> refusals_before;
  bool burst_limited = false;  // a site burst limit was set once: site_bursts may hold entries
  // Stacks deleted since the last snapshot, with their frames (delete_unnamed_stacks).
  std::unordered_map<std::uint64_t, edleak_stack> just_deleted;

  // Drops the entries of the last snapshot's sites that `gone` says are no longer in the map.
  template <typename Gone>
  void drop_site_entries(Gone&& gone) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < site_keys.size(); ++i) {
      if (gone(site_keys[i])) continue;
      site_keys[kept] = site_keys[i];
      site_values[kept] = site_values[i];
      ++kept;
    }
    site_keys.resize(kept);
    site_values.resize(kept);
  }
  // Deletes those of `candidates` that no site left (of the last snapshot) names from the stacks
  // map; returns them. A site created since, by another history with one of these stacks, loses
  // its frames (as it would between a read and the deletes; rare: a fork shares its parent's
  // stacks, and its parent still has them).
  Result<std::vector<std::uint64_t>> delete_unnamed_stacks(const std::unordered_set<std::uint64_t>& candidates);
  // Makes `map` (site_caps or block_caps) hold exactly `wanted`; what a lifted cap had counted goes
  // to refusals_before.
  Result<void> set_caps(bpf_map* map, std::set<sample::ProcessKey>& current, const std::vector<sample::ProcessKey>& wanted,
                        std::uint64_t sample::Refusals::*field);
  void forget_caps(const std::vector<sample::ProcessKey>& gone);
  void update_caps_active() {
    const std::uint32_t active = (site_capped.empty() ? 0 : EDLEAK_CAPS_SITES) | (block_capped.empty() ? 0 : EDLEAK_CAPS_BLOCKS);
    __atomic_store_n(&skel->bss->caps_active, active, __ATOMIC_SEQ_CST);
  }

  Result<std::vector<LiveBlock>> blocks_by_iterator(const sample::ProcessKey& process);
  Result<std::vector<LiveBlock>> blocks_by_batch(const sample::ProcessKey& process);
  // The keys of every block of `holders`: by the iterator, else by batch lookups.
  Result<std::vector<edleak_block_key>> block_keys_of(const std::vector<sample::ProcessKey>& holders);
  Result<std::vector<edleak_block_key>> block_keys_by_iterator(const std::vector<sample::ProcessKey>& holders);
  // Attaches `program` of the block lister to the blocks map (loading the lister first).
  Result<void> attach_lister(bpf_program* (*program)(edleak_iter_bpf&), Link& link);
  // Reads what one pass of an attached lister writes out, as records of T.
  template <typename T>
  Result<std::vector<T>> read_lister(const Link& link);
  // Calls f(keys, values, count) for each chunk of the blocks map read by batch lookups.
  template <typename F>
  Result<void> for_each_block_chunk(F&& f);

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
      case probe::Handler::expand: return p->expand_enter;
      case probe::Handler::heap_string: return p->heap_string_enter;
      case probe::Handler::heap_realpath: return p->heap_realpath_enter;
    }
    return nullptr;
  }

  // One uprobe_multi link: every offset of `prog` in the file, for one process or all (-1).
  Result<void> attach_multi(bpf_program* prog, const std::string& path, const std::vector<unsigned long>& offsets,
                            pid_t pid, bool retprobe, const std::string& symbols) {
    if (offsets.empty()) return {};
    LIBBPF_OPTS(bpf_uprobe_multi_opts, opts, .offsets = offsets.data(), .cnt = offsets.size(),
                .retprobe = retprobe);
    bpf_link* link = bpf_program__attach_uprobe_multi(prog, pid, path.c_str(), nullptr, &opts);
    if (!link) {
      int err = errno;
      std::string who = pid == -1 ? "every process" : fmt::format("pid {}", pid);
      if (err == ESRCH) return make_error("cannot attach to {}: no such process", who);
      return make_error("cannot attach {}probes to {} in {} for {}: {}", retprobe ? "return " : "", symbols,
                        path, who, errno_text(err));
    }
    links.push_back({pid, offsets.size(), Link(link)});
    probes += offsets.size();
    return {};
  }

  static void handle_event(Impl& impl, const edleak_process_event& e) {
    ProcessEvent event;
    switch (e.kind) {
      case EDLEAK_EVENT_FORK: event.kind = ProcessEvent::Kind::fork; break;
      case EDLEAK_EVENT_EXEC: event.kind = ProcessEvent::Kind::exec; break;
      case EDLEAK_EVENT_EXIT: event.kind = ProcessEvent::Kind::exit; break;
      default: return;
    }
    event.process = sample::ProcessKey(e.tgid, e.incarnation);
    event.old_incarnation = e.old_incarnation;
    event.parent_pid = e.parent_tgid;
    event.exit_status = e.exit_code;
    event.comm.assign(e.comm, strnlen(e.comm, sizeof e.comm));
    impl.process_events.push_back(event);
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
  configure(*skel, config);
  skel->bss->age_epoch = impl->age_epoch;  // epochs start at 1: 0 is a snapshot without ages
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel->obj) if (is_mapping_program(prog)) bpf_program__set_autoload(prog, false);
  const auto load_started = std::chrono::steady_clock::now();
  last_refused().clear();
  if (int err = edleak_bpf__load(skel.get()); err) {
    const std::string refused = last_refused();
    // The verifier refuses a program with EACCES or E2BIG too; the kernel a map with E2BIG.
    const bool program = refused.starts_with("program ");
    if (err == -EPERM || (err == -EACCES && !program))
      return make_error(
          "cannot load the BPF programs: {} (run as root, or with CAP_BPF and CAP_PERFMON)",
          errno_text(err));
    if (program && err == -E2BIG)  // the verifier walked more than its million instructions
      return make_error("cannot load the BPF programs: the kernel's verifier refused {} as too complex ({}; "
                        "-vv shows its log)",
                        refused, errno_text(err));
    if (program && err == -EACCES)
      return make_error("cannot load the BPF programs: the kernel's verifier refused {} ({}; -vv shows its log)",
                        refused, errno_text(err));
    if (!refused.empty())
      return make_error("cannot load the BPF programs: the kernel refused {}: {} (a kernel with BTF, uprobes and "
                        "BPF task storage is needed; -vv shows why)",
                        refused, errno_text(err));
    return make_error("cannot load the BPF programs: {} (a kernel with BTF, uprobes and BPF task storage is "
                      "needed; -vv shows why)",
                      errno_text(err));
  }
  log::verbose("BPF programs loaded in {:.0f} ms",
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_started).count());
  std::vector<std::pair<std::string, int>> map_fds;
  bpf_map* map;
  bpf_object__for_each_map(map, skel->obj) map_fds.emplace_back(bpf_map__name(map), bpf_map__fd(map));
  impl->mapping_programs = std::make_unique<MappingPrograms>(config, std::move(map_fds));
  // Process histories (see bpf/): attached for the whole run, before any probe.
  const std::pair<bpf_program*, const char*> process_programs[] = {
      {skel->progs.process_fork, "sched_process_fork"},
      {skel->progs.process_exec, "sched_process_exec"},
      {skel->progs.process_exit, "sched_process_exit"},
  };
  for (auto [program, name] : process_programs) {
    bpf_link* link = bpf_program__attach(program);
    if (!link) return make_error("cannot attach to the {} tracepoint: {}", name, errno_text(errno));
    impl->process_links.emplace_back(link);
  }
  impl->mapping_wakeups.reset(ring_buffer__new(
      bpf_map__fd(skel->maps.mapping_events), [](void*, void*, size_t) { return 0; }, nullptr, nullptr));
  if (!impl->mapping_wakeups)
    return make_error("cannot open the BPF ring buffer of mapping requests: {}", errno_text(errno));
  auto on_event = [](void* ctx, void* data, size_t size) {
    if (size >= sizeof(edleak_process_event))
      Impl::handle_event(*static_cast<Impl*>(ctx), *static_cast<const edleak_process_event*>(data));
    return 0;
  };
  impl->events.reset(ring_buffer__new(bpf_map__fd(skel->maps.process_events), on_event, impl.get(), nullptr));
  if (!impl->events)
    return make_error("cannot open the BPF ring buffer of process events: {}", errno_text(errno));
  return std::unique_ptr<Capture>(new Capture(std::move(impl)));
}

Result<void> Capture::attach(const probe::ProbePlan& plan, const std::string& path, pid_t pid) {
  // Offsets per program, in the order of the header.
  struct Group {
    bpf_program* program;
    bool retprobe;
    std::vector<unsigned long> offsets;
    std::string symbols;
  };
  std::vector<Group> groups;
  auto add = [&](bpf_program* program, bool retprobe, const probe::ProbeSite& site) {
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const Group& g) { return g.program == program && g.retprobe == retprobe; });
    if (it == groups.end()) it = groups.insert(groups.end(), Group{program, retprobe, {}, {}});
    it->offsets.push_back(site.probe_offset);
    it->symbols += (it->symbols.empty() ? "" : ",") + site.symbol;
  };
  for (const auto& site : plan.sites)
    if (probe::is_free_handler(site.handler)) add(impl_->entry_program(site.handler), false, site);
  for (const auto& site : plan.sites)
    if (probe::handler_needs_return(site.handler)) add(impl_->skel->progs.alloc_return, true, site);
  for (const auto& site : plan.sites)
    if (!probe::is_free_handler(site.handler)) add(impl_->entry_program(site.handler), false, site);
  for (const auto& g : groups)
    if (auto r = impl_->attach_multi(g.program, path, g.offsets, pid, g.retprobe, g.symbols); !r) return r;
  return {};
}

std::size_t Capture::probe_count() const { return impl_->probes; }

void Capture::detach() {
  impl_->releaser.drain();
  // Each link's release waits for a grace period: released side by side, they wait about once.
  std::vector<std::thread> releasers;
  for (auto& owned : impl_->links)
    releasers.emplace_back([link = std::move(owned.link)]() mutable { link.reset(); });
  for (auto& t : releasers) t.join();
  impl_->links.clear();
  impl_->probes = 0;
}

void Capture::detach_process(pid_t pid) {
  std::vector<Link> gone;
  auto& links = impl_->links;
  for (auto it = links.begin(); it != links.end();) {
    if (it->pid != pid) {
      ++it;
      continue;
    }
    impl_->probes -= it->probes;
    gone.push_back(std::move(it->link));
    it = links.erase(it);
  }
  if (!gone.empty()) impl_->releaser.release(std::move(gone));
}

void Capture::follow(std::uint32_t tgid) {
  const std::uint8_t one = 1;
  bpf_map_update_elem(bpf_map__fd(impl_->skel->maps.followed), &tgid, &one, BPF_ANY);
}

void Capture::hold(std::uint32_t tgid) {
  const std::uint64_t armed = 1;  // HOLD_ARMED (bpf/)
  bpf_map_update_elem(bpf_map__fd(impl_->skel->maps.holds), &tgid, &armed, BPF_ANY);
}

bool Capture::took_hold_stop(std::uint32_t tgid) {
  const int fd = bpf_map__fd(impl_->skel->maps.holds);
  std::uint64_t state = 0;
  if (bpf_map_lookup_elem(fd, &tgid, &state) != 0 || state != 2 /* HOLD_SIGNALLED */) return false;
  bpf_map_delete_elem(fd, &tgid);
  return true;
}

std::vector<ProcessEvent> Capture::take_process_events() {
  ring_buffer__consume(impl_->events.get());
  return std::exchange(impl_->process_events, {});
}

Result<void> Capture::attach_mapping_calls(bool wait) { return impl_->mapping_programs->attach(wait); }


namespace {

// Reads a whole hash map with batch lookups (one syscall per chunk; see batch_read.h).
template <typename Key, typename Value>
Result<void> read_all(int fd, std::uint32_t max_entries, std::vector<Key>& keys,
                      std::vector<Value>& values) {
  return read_batches(
      [fd](Key* in, Key* out, Key* k, Value* v, std::uint32_t* count) {
        return bpf_map_lookup_batch(fd, in, out, k, v, count, nullptr);
      },
      max_entries, keys, values);
}

}  // namespace

Result<sample::Snapshot> Capture::snapshot(double t_s) {
  sample::Snapshot snap;
  snap.t_s = t_s;
  auto& skel = impl_->skel;

  // Reused from one snapshot to the next: sized for a full map, several MB.
  auto& keys = impl_->site_keys;
  auto& values = impl_->site_values;
  // Each reading ends an age epoch: the sites are read, then the next epoch begins at once
  // (sample::AgeDecoder says why in that order); the BPF side stamps blocks with it from then on.
  static_assert(sample::kAgeSlots == EDLEAK_AGE_SLOTS, "the age ring's size is part of the ABI");
  snap.age_epoch = impl_->age_epoch;
  auto read = read_all(bpf_map__fd(skel->maps.sites), bpf_map__max_entries(skel->maps.sites), keys, values);
  __atomic_store_n(&skel->bss->age_epoch, ++impl_->age_epoch, __ATOMIC_SEQ_CST);
  if (!read) return read.error();
  snap.sites.reserve(keys.size());
  impl_->live_blocks_seen = 0;
  int stacks_fd = bpf_map__fd(skel->maps.stacks);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& k = keys[i];
    const auto& v = values[i];
    impl_->live_blocks_seen += v.total_allocs - v.total_frees;
    sample::SiteSample& site = snap.sites.emplace_back();
    site.tgid = k.tgid;
    site.stack_id = k.stack_id;
    site.outstanding_bytes = v.outstanding_bytes;
    site.outstanding_blocks = static_cast<std::int64_t>(v.total_allocs - v.total_frees);
    site.total_allocs = v.total_allocs;
    site.total_frees = v.total_frees;
    site.incarnation = k.incarnation;
    std::copy(std::begin(v.young_bytes), std::end(v.young_bytes), site.age.bytes.begin());
    std::copy(std::begin(v.young_blocks), std::end(v.young_blocks), site.age.blocks.begin());
    if (!impl_->known_stacks.insert(k.stack_id).second) continue;
    edleak_stack stack;
    if (bpf_map_lookup_elem(stacks_fd, &k.stack_id, &stack) != 0) {
      // Deleted after the last snapshot while this site was being created: stored again.
      auto deleted = impl_->just_deleted.find(k.stack_id);
      // Else frames the BPF side could not store (counted as stack errors): not asked for again.
      if (deleted == impl_->just_deleted.end()) continue;
      stack = deleted->second;
      bpf_map_update_elem(stacks_fd, &k.stack_id, &stack, BPF_NOEXIST);
    }
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

  impl_->just_deleted.clear();  // a site created before this snapshot is in it

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
  ctr.overwritten_blocks = totals[EDLEAK_CTR_OVERWRITTEN_BLOCKS];
  ctr.lost_events = totals[EDLEAK_CTR_LOST_EVENTS];
  ctr.refused_site_allocs = totals[EDLEAK_CTR_REFUSED_SITE_ALLOCS];
  ctr.refused_block_allocs = totals[EDLEAK_CTR_REFUSED_BLOCK_ALLOCS];
  ctr.orphan_frees = totals[EDLEAK_CTR_ORPHAN_FREES];

  // Each capped history's refusals: those of its caps lifted before, and its caps' counters now.
  std::map<sample::ProcessKey, sample::Refusals> refusals = impl_->refusals_before;
  auto credit = [&](const sample::ProcessKey& key, std::uint64_t sample::Refusals::*field, std::uint64_t n) {
    auto& r = refusals[key];
    r.process = key;
    r.*field += n;
  };
  auto add_live = [&](bpf_map* map, const std::set<sample::ProcessKey>& capped, std::uint64_t sample::Refusals::*field) {
    for (const auto& key : capped) {
      const edleak_history h{key.pid, key.incarnation};
      std::uint64_t n = 0;
      if (bpf_map_lookup_elem(bpf_map__fd(map), &h, &n) == 0) credit(key, field, n);
    }
  };
  add_live(skel->maps.site_caps, impl_->site_capped, &sample::Refusals::site_allocs);
  add_live(skel->maps.block_caps, impl_->block_capped, &sample::Refusals::block_allocs);
  // And what each history refused over its new sites for a tick (entries exist only since a
  // limit was first set: the map was half full).
  if (impl_->burst_limited) {
    std::vector<edleak_history> burst_keys;
    std::vector<edleak_site_burst> bursts;
    if (auto read = read_all(bpf_map__fd(skel->maps.site_bursts), EDLEAK_MAX_BURSTS, burst_keys, bursts); !read)
      return read.error();
    for (std::size_t i = 0; i < burst_keys.size(); ++i)
      if (bursts[i].refused)
        credit(sample::ProcessKey(burst_keys[i].tgid, burst_keys[i].incarnation), &sample::Refusals::site_allocs,
               bursts[i].refused);
  }
  for (auto& [key, r] : refusals) snap.refusals.push_back(r);
  return snap;
}

Result<std::vector<Capture::LiveBlock>> Capture::live_blocks(const sample::ProcessKey& process) {
  // The iterator walks every bucket of the map (~30 ms for a million, however few the blocks), a
  // batch lookup skips empty ones but costs twice as much per block: measured crossover ~100,000.
  constexpr std::uint64_t kIteratorFrom = 100'000;
  if (!impl_->iter_failed && impl_->live_blocks_seen >= kIteratorFrom) {
    auto blocks = impl_->blocks_by_iterator(process);
    if (blocks) {
      log::debug("listed {} live blocks of pid {} with the BPF iterator", blocks->size(), process.pid);
      return blocks;
    }
    log::verbose("{}; listing blocks with batch lookups instead", blocks.error().message);
    impl_->iter_failed = true;
  }
  return impl_->blocks_by_batch(process);
}

Result<void> Capture::Impl::attach_lister(bpf_program* (*program)(edleak_iter_bpf&), Link& link) {
  if (link) return {};
  if (!iter) {
    iter.reset(edleak_iter_bpf__open_and_load());
    if (!iter) return make_error("cannot load the block lister: {}", errno_text(errno));
  }
  union bpf_iter_link_info info = {};
  info.map.map_fd = static_cast<__u32>(bpf_map__fd(skel->maps.blocks));
  LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &info, .link_info_len = sizeof info);
  bpf_link* attached = bpf_program__attach_iter(program(*iter), &opts);
  if (!attached) return make_error("cannot attach the block lister: {}", errno_text(errno));
  link.reset(attached);
  return {};
}

template <typename T>
Result<std::vector<T>> Capture::Impl::read_lister(const Link& link) {
  int fd = bpf_iter_create(bpf_link__fd(link.get()));
  if (fd < 0) return make_error("cannot start the block lister: {}", errno_text(errno));
  std::vector<T> out;
  std::vector<T> buffer(8192);
  std::size_t pending = 0;  // bytes of a record split between two reads
  while (true) {
    auto* bytes = reinterpret_cast<char*>(buffer.data());
    ssize_t n = read(fd, bytes + pending, buffer.size() * sizeof(T) - pending);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return make_error("cannot read the block lister: {}", errno_text(err));
    }
    if (n == 0) break;
    std::size_t total = pending + static_cast<std::size_t>(n);
    std::size_t records = total / sizeof(T);
    out.insert(out.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(records));
    pending = total % sizeof(T);
    std::memmove(bytes, bytes + records * sizeof(T), pending);
  }
  close(fd);
  return out;
}

Result<std::vector<Capture::LiveBlock>> Capture::Impl::blocks_by_iterator(const sample::ProcessKey& process) {
  static_assert(sizeof(LiveBlock) == sizeof(edleak_live_block));
  if (auto r = attach_lister([](edleak_iter_bpf& i) { return i.progs.list_blocks; }, iter_link); !r) return r.error();
  iter->bss->iter_tgid = process.pid;
  iter->bss->iter_incarnation = process.incarnation;
  auto listed = read_lister<edleak_live_block>(iter_link);
  if (!listed) return listed.error();
  std::vector<LiveBlock> out;
  out.reserve(listed->size());
  for (const auto& b : *listed) out.push_back({b.addr, b.size, b.stack_id});
  return out;
}

template <typename F>
Result<void> Capture::Impl::for_each_block_chunk(F&& f) {
  // Chunks of a few thousand entries, filtered as they come: the map may hold a million blocks
  // of other processes.
  constexpr __u32 kChunk = 8192;
  const int fd = bpf_map__fd(skel->maps.blocks);
  std::vector<edleak_block_key> keys(kChunk);
  std::vector<edleak_block> values(kChunk);
  edleak_block_key in_batch{}, out_batch{};
  for (bool first = true;; first = false) {
    __u32 count = kChunk;
    int err = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, keys.data(), values.data(), &count,
                                   nullptr);
    if (err && errno != ENOENT) return make_error("cannot read the BPF blocks map: {}", errno_text(errno));
    f(keys.data(), values.data(), count);
    if (err) return {};  // ENOENT: the whole map was read
    in_batch = out_batch;
  }
}

Result<std::vector<Capture::LiveBlock>> Capture::Impl::blocks_by_batch(const sample::ProcessKey& process) {
  std::vector<LiveBlock> out;
  auto r = for_each_block_chunk([&](const edleak_block_key* keys, const edleak_block* values, __u32 count) {
    for (__u32 i = 0; i < count; ++i)
      if (keys[i].tgid == process.pid && keys[i].incarnation == process.incarnation)
        out.push_back({keys[i].addr, values[i].size, values[i].stack_id});
  });
  if (!r) return r.error();
  return out;
}

Result<std::vector<edleak_block_key>> Capture::Impl::block_keys_by_iterator(
    const std::vector<sample::ProcessKey>& holders) {
  if (auto r = attach_lister([](edleak_iter_bpf& i) { return i.progs.list_block_keys; }, iter_keys_link); !r)
    return r.error();
  const int fd = bpf_map__fd(iter->maps.histories);
  std::vector<edleak_block_key> out;
  // One pass a set of up to EDLEAK_ITER_HISTORIES histories.
  for (std::size_t done = 0; done < holders.size();) {
    std::vector<edleak_history> set;
    for (; done < holders.size() && set.size() < EDLEAK_ITER_HISTORIES; ++done)
      set.push_back({holders[done].pid, holders[done].incarnation});
    std::vector<std::uint8_t> ones(set.size(), 1);
    __u32 count = static_cast<__u32>(set.size());
    if (bpf_map_update_batch(fd, set.data(), ones.data(), &count, nullptr) != 0)
      return make_error("cannot fill the block lister's histories: {}", errno_text(errno));
    auto keys = read_lister<edleak_block_key>(iter_keys_link);
    count = static_cast<__u32>(set.size());
    bpf_map_delete_batch(fd, set.data(), &count, nullptr);
    if (!keys) return keys.error();
    out.insert(out.end(), keys->begin(), keys->end());
  }
  return out;
}

Result<std::vector<edleak_block_key>> Capture::Impl::block_keys_of(const std::vector<sample::ProcessKey>& holders) {
  if (!iter_keys_failed) {
    auto keys = block_keys_by_iterator(holders);
    if (keys) return keys;
    log::verbose("{}; finding the blocks of ended processes with batch lookups instead", keys.error().message);
    iter_keys_failed = true;
  }
  std::unordered_set<sample::ProcessKey, sample::ProcessKeyHash> set(holders.begin(), holders.end());
  std::vector<edleak_block_key> out;
  auto r = for_each_block_chunk([&](const edleak_block_key* keys, const edleak_block*, __u32 count) {
    for (__u32 i = 0; i < count; ++i)
      if (set.count(sample::ProcessKey(keys[i].tgid, keys[i].incarnation))) out.push_back(keys[i]);
  });
  if (!r) return r.error();
  return out;
}

namespace {

using ProcessSet = std::unordered_set<sample::ProcessKey, sample::ProcessKeyHash>;

// Deletes keys with one batch syscall per chunk.
template <typename Key>
Result<void> delete_keys(bpf_map* map, std::vector<Key>& keys) {
  for (std::size_t done = 0; done < keys.size();) {
    __u32 count = static_cast<__u32>(std::min<std::size_t>(keys.size() - done, 8192));
    if (bpf_map_delete_batch(bpf_map__fd(map), keys.data() + done, &count, nullptr) != 0 && errno != ENOENT)
      return make_error("cannot delete from the BPF map {}: {}", bpf_map__name(map), errno_text(errno));
    done += std::max<__u32>(count, 1);  // a key deleted meanwhile (ENOENT) is skipped
  }
  return {};
}

}  // namespace

Result<std::vector<std::uint64_t>> Capture::forget_processes(const std::vector<sample::ProcessKey>& processes) {
  if (processes.empty()) return std::vector<std::uint64_t>{};
  ProcessSet gone(processes.begin(), processes.end());
  auto& maps = impl_->skel->maps;
  // The sites as the last snapshot read them (read again, they cost a batch read of the map a
  // tick): the histories that go ended before it (their exit or exec was taken before it was
  // read), so their sites and counts there are final. The stacks other histories keep are those
  // of that snapshot too: a site created since, by another history with a stack a gone one had,
  // loses its frames (as it would between a read and the deletes; rare: a fork shares its
  // parent's stacks, but its parent is not gone).
  const auto& keys = impl_->site_keys;
  const auto& values = impl_->site_values;
  std::vector<edleak_site_key> doomed_sites;
  ProcessSet holders;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const sample::ProcessKey key(keys[i].tgid, keys[i].incarnation);
    if (!gone.count(key)) continue;
    doomed_sites.push_back(keys[i]);
    if (values[i].total_allocs > values[i].total_frees) holders.insert(key);
  }
  // Blocks first, so a racing free cannot credit a site that is about to go. Only for the
  // histories that still hold some: they ended, so nothing allocates or frees for them any more
  // and their sites' counts are exact; most short processes hold none, and finding the others'
  // means walking the whole blocks map.
  if (!holders.empty()) {
    auto blocks = impl_->block_keys_of(std::vector<sample::ProcessKey>(holders.begin(), holders.end()));
    if (!blocks) return blocks.error();
    if (auto r = delete_keys(maps.blocks, *blocks); !r) return r.error();
    log::debug("forgot {} blocks of {} of {} ended histories", blocks->size(), holders.size(), processes.size());
  }
  // Direct mappings are kept per process (not per history).
  for (const auto& key : processes) bpf_map_delete_elem(bpf_map__fd(maps.mmap_regions), &key.pid);
  if (auto r = delete_keys(maps.sites, doomed_sites); !r) return r.error();
  impl_->forget_caps(processes);
  std::unordered_set<std::uint64_t> doomed_stacks;
  for (const auto& k : doomed_sites) doomed_stacks.insert(k.stack_id);
  impl_->drop_site_entries(
      [&](const edleak_site_key& k) { return gone.count(sample::ProcessKey(k.tgid, k.incarnation)) > 0; });
  // A stack stays while a site of another history has it (a forked child shares its parent's).
  return impl_->delete_unnamed_stacks(doomed_stacks);
}

Result<std::vector<std::uint64_t>> Capture::Impl::delete_unnamed_stacks(const std::unordered_set<std::uint64_t>& candidates) {
  std::unordered_set<std::uint64_t> named;
  for (const auto& k : site_keys)
    if (candidates.count(k.stack_id)) named.insert(k.stack_id);
  std::vector<std::uint64_t> stacks;
  for (std::uint64_t id : candidates)
    if (!named.count(id)) stacks.push_back(id);
  // Kept until the next snapshot: a site created since the last one (another history reaching the
  // same stack, as a forked worker reaches its finished sibling's) is not among site_keys, and its
  // frames are not stored again (the stack existed when it was created).
  const int stacks_fd = bpf_map__fd(skel->maps.stacks);
  for (std::uint64_t id : stacks) {
    edleak_stack frames;
    if (bpf_map_lookup_elem(stacks_fd, &id, &frames) == 0) just_deleted.emplace(id, frames);
  }
  if (auto r = delete_keys(skel->maps.stacks, stacks); !r) return r.error();
  for (std::uint64_t id : stacks) known_stacks.erase(id);
  return stacks;
}

Result<std::vector<std::uint64_t>> Capture::evict_sites(const std::vector<sample::SiteUse>& sites) {
  if (sites.empty()) return std::vector<std::uint64_t>{};
  std::vector<edleak_site_key> keys;
  keys.reserve(sites.size());
  std::unordered_set<std::uint64_t> stacks;
  for (const auto& s : sites) {
    keys.push_back({s.process.pid, s.process.incarnation, s.stack_id});
    stacks.insert(s.stack_id);
  }
  if (auto r = delete_keys(impl_->skel->maps.sites, keys); !r) return r.error();
  struct KeyHash {
    std::size_t operator()(const edleak_site_key& k) const {
      return std::hash<std::uint64_t>()(k.stack_id ^ (static_cast<std::uint64_t>(k.incarnation) << 32 | k.tgid));
    }
  };
  struct KeyEq {
    bool operator()(const edleak_site_key& a, const edleak_site_key& b) const {
      return a.tgid == b.tgid && a.incarnation == b.incarnation && a.stack_id == b.stack_id;
    }
  };
  std::unordered_set<edleak_site_key, KeyHash, KeyEq> evicted(keys.begin(), keys.end());
  impl_->drop_site_entries([&](const edleak_site_key& k) { return evicted.count(k) > 0; });
  return impl_->delete_unnamed_stacks(stacks);
}

Result<std::uint64_t> Capture::delete_blocks_of(const std::vector<sample::SiteUse>& sites) {
  std::map<sample::ProcessKey, std::unordered_set<std::uint64_t>> stacks;
  for (const auto& s : sites) stacks[s.process].insert(s.stack_id);
  std::uint64_t deleted = 0;
  for (const auto& [process, ids] : stacks) {
    // One pass of the lister (or batch lookups) a history: a few histories at most, the biggest.
    auto blocks = live_blocks(process);
    if (!blocks) return blocks.error();
    std::vector<edleak_block_key> keys;
    for (const auto& b : *blocks)
      if (ids.count(b.stack_id)) keys.push_back({process.pid, process.incarnation, b.addr});
    if (auto r = delete_keys(impl_->skel->maps.blocks, keys); !r) return r.error();
    deleted += keys.size();
  }
  return deleted;
}

Result<void> Capture::Impl::set_caps(bpf_map* map, std::set<sample::ProcessKey>& current,
                                     const std::vector<sample::ProcessKey>& wanted,
                                     std::uint64_t sample::Refusals::*field) {
  std::set<sample::ProcessKey> want;
  for (const auto& key : wanted)
    if (want.size() < EDLEAK_MAX_CAPS) want.insert(key);  // the biggest users are few; the map holds 4096
  const int fd = bpf_map__fd(map);
  for (auto it = current.begin(); it != current.end();) {
    if (want.count(*it)) {
      ++it;
      continue;
    }
    const edleak_history h{it->pid, it->incarnation};
    std::uint64_t n = 0;
    if (bpf_map_lookup_and_delete_elem(fd, &h, &n) == 0) {
      auto& r = refusals_before[*it];
      r.process = *it;
      r.*field += n;
    }
    it = current.erase(it);
  }
  for (const auto& key : want) {
    if (current.count(key)) continue;
    const edleak_history h{key.pid, key.incarnation};
    const std::uint64_t zero = 0;
    if (bpf_map_update_elem(fd, &h, &zero, BPF_NOEXIST) != 0 && errno != EEXIST)
      return make_error("cannot cap pid {} in the BPF map {}: {}", key.pid, bpf_map__name(map), errno_text(errno));
    current.insert(key);
  }
  return {};
}

void Capture::Impl::forget_caps(const std::vector<sample::ProcessKey>& gone) {
  for (const auto& key : gone) {
    const edleak_history h{key.pid, key.incarnation};
    if (site_capped.erase(key)) bpf_map_delete_elem(bpf_map__fd(skel->maps.site_caps), &h);
    if (block_capped.erase(key)) bpf_map_delete_elem(bpf_map__fd(skel->maps.block_caps), &h);
    if (burst_limited) bpf_map_delete_elem(bpf_map__fd(skel->maps.site_bursts), &h);
    refusals_before.erase(key);
  }
  update_caps_active();
}

Result<void> Capture::set_caps(const std::vector<sample::ProcessKey>& site_capped,
                               const std::vector<sample::ProcessKey>& block_capped) {
  auto r = impl_->set_caps(impl_->skel->maps.site_caps, impl_->site_capped, site_capped, &sample::Refusals::site_allocs);
  if (r) r = impl_->set_caps(impl_->skel->maps.block_caps, impl_->block_capped, block_capped, &sample::Refusals::block_allocs);
  impl_->update_caps_active();
  return r;
}

void Capture::set_site_burst_limits(const sample::SiteBurstLimits& limits) {
  auto* bss = impl_->skel->bss;
  auto clamp = [](std::size_t n) { return static_cast<std::uint32_t>(std::min<std::size_t>(n, UINT32_MAX)); };
  if (limits.per_history) impl_->burst_limited = true;
  // The counts first, the limit that turns them on last.
  __atomic_store_n(&bss->site_burst_created, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&bss->site_burst_budget, clamp(limits.all), __ATOMIC_SEQ_CST);
  __atomic_store_n(&bss->site_burst_floor, clamp(limits.floor), __ATOMIC_SEQ_CST);
  __atomic_store_n(&bss->site_burst_limit, clamp(limits.per_history), __ATOMIC_SEQ_CST);
}

bool Capture::caps_in_force() const { return !impl_->site_capped.empty() || !impl_->block_capped.empty(); }
std::size_t Capture::site_capacity() const { return bpf_map__max_entries(impl_->skel->maps.sites); }
std::uint64_t Capture::block_capacity() const { return bpf_map__max_entries(impl_->skel->maps.blocks); }

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
  ring_buffer__consume(impl_->mapping_wakeups.get());
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

int Capture::events_fd() const { return ring_buffer__epoll_fd(impl_->events.get()); }

int Capture::mapping_requests_fd() const { return ring_buffer__epoll_fd(impl_->mapping_wakeups.get()); }

std::uint32_t Capture::history_of(std::uint32_t tgid) const {
  std::uint32_t incarnation = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.incarnations), &tgid, &incarnation) != 0) return 0;
  return incarnation;
}

std::size_t Capture::site_count() const { return impl_->site_keys.size(); }
std::size_t Capture::stack_count() const { return impl_->known_stacks.size(); }
std::uint64_t Capture::live_block_count() const { return impl_->live_blocks_seen; }

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
