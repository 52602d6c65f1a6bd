#include "symbolize/symbolizer.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <compare>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "symbolize/elf_module.h"
#include "symbolize/proc_maps.h"
#include "symbolize/unique_fd.h"
#include "util/log.h"

namespace edleak::symbolize {
namespace {

constexpr std::string_view kHostDebugDir = "/usr/lib/debug";

// Identifies a file however processes name it (other mount namespaces, hard links): by device
// and inode, or by path for the rare file mapping without an inode.
struct ModuleKey {
  std::uint32_t dev_major = 0;
  std::uint32_t dev_minor = 0;
  std::uint64_t inode = 0;
  std::string path;
  auto operator<=>(const ModuleKey&) const = default;
};

ModuleKey module_key(const Mapping& mapping) {
  if (mapping.inode == 0) return {0, 0, 0, mapping.path};
  return {mapping.dev_major, mapping.dev_minor, mapping.inode, {}};
}

// Whether process `pid` sees the host's root directory (not chrooted, not in a container).
bool shares_host_root(pid_t pid) {
  struct stat process_root, host_root;
  if (::stat(process_root_path(pid, "/").c_str(), &process_root) != 0 ||
      ::stat("/", &host_root) != 0) {
    return true;  // unknown: the host's debug files are all we can look at anyway
  }
  return process_root.st_dev == host_root.st_dev && process_root.st_ino == host_root.st_ino;
}

// Debug file directories for the files of `pid`: its own /usr/lib/debug first (containers ship
// theirs), then the host's.
std::vector<std::string> debug_dirs_for(pid_t pid) {
  std::vector<std::string> dirs;
  if (!shares_host_root(pid)) dirs.push_back(process_root_path(pid, kHostDebugDir));
  dirs.emplace_back(kHostDebugDir);
  return dirs;
}

struct OpenedFile {
  UniqueFd fd;
  std::string path;  // as opened, from the host
};

Result<OpenedFile> open_file(std::string path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return make_error("cannot open {}: {}", path, std::strerror(errno));
  return OpenedFile{std::move(fd), std::move(path)};
}

// Opens the file behind `mapping` as process `pid` sees it: through /proc/PID/root, or when
// that fails (e.g. the process is gone) the plain path, only if it still is the very file mapped.
// A deleted file (e.g. replaced by a package upgrade) only through /proc/PID/map_files: its path
// now names another file or nothing.
Result<OpenedFile> open_mapped_file(pid_t pid, const Mapping& mapping) {
  if (mapping.deleted) {
    return open_file(fmt::format("/proc/{}/map_files/{:x}-{:x}", pid, mapping.start, mapping.end));
  }
  auto through_root = open_file(process_root_path(pid, mapping.path));
  if (through_root) return through_root;
  auto plain = open_file(mapping.path);
  if (!plain) return make_error("{}; {}", through_root.error().message, plain.error().message);
  struct stat status;
  if (mapping.inode != 0 &&
      (::fstat(plain->fd.get(), &status) != 0 || status.st_ino != mapping.inode)) {
    return make_error("{}; {} is another file than the one process {} maps",
                      through_root.error().message, mapping.path, pid);
  }
  return plain;
}

}  // namespace

struct Symbolizer::Impl {
  struct Process {
    std::vector<Mapping> mappings;  // sorted by address
    // Per mapping: its module once looked up (nullptr: not a file or not readable).
    std::vector<std::optional<ElfModule*>> modules;
    // Addresses still outside every mapping after a re-read (garbage frames of a broken stack
    // walk, usually): they do not make the mappings be read again.
    std::unordered_set<std::uint64_t> unmapped;
    bool loaded = false;
    bool sealed = false;  // the history ended: /proc/PID/maps is another program's now
  };

  // Every file opened so far, shared by all processes; nullptr for files that could not be
  // opened (retried once by each process that maps them: another may see it).
  std::map<ModuleKey, std::unique_ptr<ElfModule>> modules;
  // By (history << 32 | pid).
  std::unordered_map<std::uint64_t, Process> processes;
  static std::uint64_t key(pid_t pid, std::uint32_t history) {
    return static_cast<std::uint64_t>(history) << 32 | static_cast<std::uint32_t>(pid);
  }

  // Mappings given by remember_mappings for histories not symbolized yet, by history: until the
  // history is first symbolized, sealed or forgotten.
  std::unordered_map<std::uint64_t, std::vector<Mapping>> remembered;

  void set_mappings(Process& process, std::vector<Mapping> mappings) {
    process.mappings = std::move(mappings);
    process.modules.assign(process.mappings.size(), std::nullopt);
    process.loaded = true;
  }

  // Loads the mappings of pid: the remembered ones the first time, else /proc/PID/maps (again
  // when an address is outside them: mapped since). Keeps the previous ones when the process is
  // gone, so the stacks of a process that just exited still resolve; once gone, it is not read
  // again (each stack of it would try).
  void load_mappings(pid_t pid, std::uint32_t history, Process& process) {
    if (process.sealed) return;
    if (!process.loaded) {
      if (auto it = remembered.find(key(pid, history)); it != remembered.end()) {
        set_mappings(process, std::move(it->second));
        remembered.erase(it);  // this history has them now
        return;
      }
    }
    auto mappings = read_proc_maps(pid);
    if (!mappings) {
      log::verbose("cannot symbolize addresses of process {}: {}", pid, mappings.error().message);
      if (errno_gone(pid)) process.sealed = true;
      return;
    }
    set_mappings(process, std::move(*mappings));
  }

  static bool errno_gone(pid_t pid) {
    struct stat st;
    return ::stat(fmt::format("/proc/{}", pid).c_str(), &st) != 0 && errno == ENOENT;
  }

  std::optional<std::size_t> mapping_index(const Process& process, std::uint64_t addr) const {
    const Mapping* mapping = find_mapping(process.mappings, addr);
    if (mapping == nullptr) return std::nullopt;
    return static_cast<std::size_t>(mapping - process.mappings.data());
  }

  ElfModule* module_for(pid_t pid, Process& process, std::size_t index) {
    std::optional<ElfModule*>& cached = process.modules[index];
    if (cached) return *cached;
    const Mapping& mapping = process.mappings[index];
    cached = nullptr;
    if (!mapping.is_file()) return nullptr;
    std::unique_ptr<ElfModule>& module = modules[module_key(mapping)];
    if (!module) {
      auto opened = open_module(pid, mapping);
      if (!opened) {
        log::verbose("cannot symbolize {} of process {}: {}", mapping.path, pid,
                     opened.error().message);
        return nullptr;
      }
      module = std::move(*opened);
      log::debug("symbolize: loaded {} for process {}", module->file_name(), pid);
    }
    cached = module.get();
    return module.get();
  }

  Result<std::unique_ptr<ElfModule>> open_module(pid_t pid, const Mapping& mapping) {
    auto file = open_mapped_file(pid, mapping);
    if (!file) return file.error();
    return ElfModule::open(file->path, std::move(file->fd), debug_dirs_for(pid));
  }

  void resolve(pid_t pid, Process& process, std::size_t index, AddressKind kind, Frame& frame) {
    const Mapping& mapping = process.mappings[index];
    if (mapping.is_file()) frame.module = mapping.path;
    ElfModule* module = module_for(pid, process, index);
    if (module == nullptr) return;
    auto module_addr = module->module_address(mapping, frame.addr);
    if (!module_addr) return;
    std::uint64_t lookup_addr = *module_addr;
    if (kind == AddressKind::return_address && lookup_addr > 0) --lookup_addr;
    const ModuleAddressInfo* found = &module->resolve(lookup_addr);
    // A return address at a function's first byte whose previous byte no function holds (the
    // padding between functions, code without a symbol): no call ends there, so the frame is
    // the function it starts — an interrupted instruction (a signal frame's pc), or a call the
    // walk cannot tell from one (the allocation site after a call that was the last
    // instruction of unnamed code) — rather than a raw address.
    if (lookup_addr != *module_addr && found->symbol.empty()) {
      const ModuleAddressInfo& at = module->resolve(*module_addr);
      if (!at.symbol.empty() && at.symbol_address == *module_addr) found = &at;
    }
    const ModuleAddressInfo& info = *found;
    frame.module_offset = *module_addr;
    frame.symbol = info.symbol;
    if (!info.symbol.empty()) frame.offset = *module_addr - info.symbol_address;
    if (!info.nearest_symbol.empty()) {
      frame.nearest_symbol = info.nearest_symbol;
      frame.nearest_offset = *module_addr - info.nearest_address;
    }
    frame.file = info.file;
    frame.line = info.line;
    frame.inlined = info.inlined;
  }
};

Symbolizer::Symbolizer() : impl_(std::make_unique<Impl>()) {}
Symbolizer::~Symbolizer() = default;

std::vector<Frame> Symbolizer::symbolize(pid_t pid, std::span<const std::uint64_t> addrs) {
  return symbolize(pid, addrs, AddressKind::instruction);
}

std::vector<Frame> Symbolizer::symbolize(pid_t pid, std::span<const std::uint64_t> addrs,
                                         AddressKind kind) {
  return symbolize(pid, 0, addrs, kind);
}

std::vector<Frame> Symbolizer::symbolize(pid_t pid, std::uint32_t history, std::span<const std::uint64_t> addrs,
                                         AddressKind kind) {
  Impl::Process& process = impl_->processes[Impl::key(pid, history)];
  // Mappings are read at most once per call: when first needed, or again when an address is
  // outside them (the process mapped something since, e.g. dlopen).
  bool reread = false;
  if (!process.loaded) {
    impl_->load_mappings(pid, history, process);
    reread = true;
  }
  std::vector<Frame> frames;
  frames.reserve(addrs.size());
  for (std::uint64_t addr : addrs) {
    Frame& frame = frames.emplace_back();
    frame.addr = addr;
    auto index = impl_->mapping_index(process, addr);
    if (!index && !reread && !process.unmapped.contains(addr)) {
      impl_->load_mappings(pid, history, process);
      reread = true;
      index = impl_->mapping_index(process, addr);
    }
    if (index) {
      impl_->resolve(pid, process, *index, kind, frame);
    } else if (reread) {
      process.unmapped.insert(addr);
    }
  }
  return frames;
}

void Symbolizer::seal(pid_t pid, std::uint32_t history) {
  const std::uint64_t k = Impl::key(pid, history);
  Impl::Process& process = impl_->processes[k];
  if (auto it = impl_->remembered.find(k); it != impl_->remembered.end()) {
    if (!process.loaded) impl_->set_mappings(process, std::move(it->second));
    impl_->remembered.erase(it);
  }
  process.sealed = true;
}

void Symbolizer::remember_mappings(pid_t pid, std::uint32_t history, std::vector<Mapping> mappings) {
  // None: a zombie's (it has no memory map any more).
  if (mappings.empty()) return;
  const std::uint64_t k = Impl::key(pid, history);
  if (auto it = impl_->processes.find(k); it != impl_->processes.end()) {
    Impl::Process& process = it->second;
    // Loaded and sealed: the history ended with the mappings it was symbolized with.
    if (!(process.loaded && process.sealed)) impl_->set_mappings(process, std::move(mappings));
    return;
  }
  impl_->remembered[k] = std::move(mappings);
}

void Symbolizer::read_mappings(pid_t pid, std::uint32_t history) {
  impl_->load_mappings(pid, history, impl_->processes[Impl::key(pid, history)]);
}

void Symbolizer::forget_process(pid_t pid, std::uint32_t history) {
  impl_->processes.erase(Impl::key(pid, history));
  impl_->remembered.erase(Impl::key(pid, history));
}

std::size_t Symbolizer::history_count() const { return impl_->processes.size(); }
std::size_t Symbolizer::module_count() const { return impl_->modules.size(); }
std::size_t Symbolizer::remembered_count() const { return impl_->remembered.size(); }

}  // namespace edleak::symbolize
