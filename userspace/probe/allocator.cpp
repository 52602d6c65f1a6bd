#include "probe/allocator.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "probe/elf_symbols.h"
#include "util/log.h"
#include "symbolize/proc_maps.h"

namespace edleak::probe {

std::string_view to_string(AllocatorKind kind) {
  switch (kind) {
    case AllocatorKind::glibc: return "glibc";
    case AllocatorKind::jemalloc: return "jemalloc";
    case AllocatorKind::tcmalloc: return "tcmalloc";
    case AllocatorKind::mimalloc: return "mimalloc";
    case AllocatorKind::unknown: return "unknown";
  }
  return "unknown";
}

std::optional<LibraryKind> library_kind(AllocatorKind kind) {
  switch (kind) {
    case AllocatorKind::glibc: return LibraryKind::libc;
    case AllocatorKind::jemalloc: return LibraryKind::jemalloc;
    case AllocatorKind::tcmalloc: return LibraryKind::tcmalloc;
    case AllocatorKind::mimalloc: return LibraryKind::mimalloc;
    case AllocatorKind::unknown: return std::nullopt;
  }
  return std::nullopt;
}

std::string Allocator::describe() const {
  std::string name(to_string(kind));
  if (kind == AllocatorKind::unknown) name = "an allocator edleak-bpf does not know";
  if (!symbol_prefix.empty()) name += ", " + symbol_prefix + " prefix";
  if (in_executable) return name + " (linked into the executable " + path + ")";
  return name + " (" + path + ")";
}

namespace {

std::string_view basename_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

Allocator identify_allocator(const ModuleFunctions& module) {
  Allocator a;
  a.path = module.path;
  a.host_path = module.host_path.empty() ? module.path : module.host_path;
  a.in_executable = module.executable;
  const auto& defines = module.defines;
  const std::string_view base = basename_of(module.path);
  a.replaces_malloc = defines("malloc");
  // Each allocator's own API first: mimalloc and tcmalloc also define __libc_malloc and the like.
  if (defines("mi_malloc") || starts_with(base, "libmimalloc")) {
    a.kind = AllocatorKind::mimalloc;
  } else if (defines("tc_malloc") || starts_with(base, "libtcmalloc")) {
    a.kind = AllocatorKind::tcmalloc;
  } else if (defines("mallocx") || starts_with(base, "libjemalloc")) {
    a.kind = AllocatorKind::jemalloc;
  } else if (defines("je_mallocx")) {
    a.kind = AllocatorKind::jemalloc;
    a.symbol_prefix = "je_";
  } else if (symbolize::is_library_named(base, "libc") || defines("__libc_start_main")) {
    // The system libc, or glibc linked statically (its entry code comes along).
    a.kind = AllocatorKind::glibc;
  }
  return a;
}

std::vector<Allocator> find_allocators(const std::vector<ModuleFunctions>& lookup_order) {
  std::vector<Allocator> out;
  for (const auto& module : lookup_order) {
    if (!module.defines("malloc")) continue;
    out.push_back(identify_allocator(module));
    break;
  }
  if (out.empty()) return out;
  for (const auto& module : lookup_order) {
    if (!module.defines("je_malloc") || !module.defines("je_free")) continue;
    Allocator a = identify_allocator(module);
    if (a.kind != AllocatorKind::jemalloc || a.symbol_prefix.empty()) continue;
    a.replaces_malloc = false;
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<std::string> symbol_lookup_order(
    const std::vector<std::string>& roots,
    const std::function<std::vector<std::string>(const std::string& path)>& needed_of,
    const std::function<std::optional<std::string>(const std::string& name, const std::string& from)>& resolve) {
  std::vector<std::string> order;
  std::set<std::string> seen;
  std::deque<std::string> queue;
  for (const auto& root : roots) {
    if (seen.insert(root).second) {
      order.push_back(root);
      queue.push_back(root);
    }
  }
  while (!queue.empty()) {
    const std::string from = queue.front();
    queue.pop_front();
    for (const auto& name : needed_of(from)) {
      auto path = resolve(name, from);
      if (!path || !seen.insert(*path).second) continue;
      order.push_back(*path);
      queue.push_back(*path);
    }
  }
  return order;
}

namespace {

// Files as the process sees them, read through `root` ("" for ours, "/proc/PID/root").
struct Resolver {
  std::string root;
  std::vector<std::string> library_path;  // LD_LIBRARY_PATH of the process

  std::string host(const std::string& path) const { return root + path; }

  bool exists(const std::string& path) const { return access(host(path).c_str(), R_OK) == 0; }

  static std::vector<std::string> split(std::string_view list, char separator) {
    std::vector<std::string> out;
    while (!list.empty()) {
      auto at = list.find(separator);
      std::string item(list.substr(0, at));
      list = at == std::string_view::npos ? std::string_view() : list.substr(at + 1);
      if (!item.empty()) out.push_back(std::move(item));
    }
    return out;
  }

  // ld.so's search for a DT_NEEDED name: a name with '/' as is; else LD_LIBRARY_PATH, the
  // requesting file's DT_RUNPATH ($ORIGIN expanded), then the system directories (for Debian on
  // x86-64, what ld.so.cache lists).
  std::optional<std::string> resolve(const std::string& name, const std::string& from_runpath,
                                     const std::string& from) const {
    if (name.find('/') != std::string::npos) return exists(name) ? std::optional(name) : std::nullopt;
    std::vector<std::string> dirs = library_path;
    const std::string origin(from.substr(0, from.rfind('/')));
    for (auto dir : split(from_runpath, ':')) {
      for (std::string_view token : {"$ORIGIN", "${ORIGIN}"}) {
        if (auto at = dir.find(token); at != std::string::npos) dir.replace(at, token.size(), origin);
      }
      dirs.push_back(dir);
    }
    for (const char* dir : {"/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib",
                            "/usr/lib", "/usr/local/lib"}) {
      dirs.emplace_back(dir);
    }
    for (const auto& dir : dirs) {
      std::string candidate = dir + "/" + name;
      if (exists(candidate)) return candidate;
    }
    return std::nullopt;
  }
};

// The ELF files read so far (by process-side path): each is opened once per discovery.
class ModuleCache {
 public:
  explicit ModuleCache(const Resolver& resolver) : resolver_(resolver) {}

  const ElfFile* get(const std::string& path) {
    auto [it, inserted] = files_.try_emplace(path);
    if (inserted) {
      auto elf = ElfFile::open(resolver_.host(path));
      if (elf) it->second = std::make_unique<ElfFile>(std::move(*elf));
    }
    return it->second.get();
  }

 private:
  const Resolver& resolver_;
  std::map<std::string, std::unique_ptr<ElfFile>> files_;
};

// What `elf` defines where the dynamic linker (or, in an executable, the static linker) binds.
ModuleFunctions module_functions(const std::string& path, const std::string& host_path, bool executable,
                                 const ElfFile& elf) {
  return {path, host_path, executable, [&elf, executable](std::string_view name) {
            for (const auto& f : elf.functions()) {
              if (f.name != name) continue;
              // A library's .symtab names local functions the linker never binds to.
              if (executable || f.table == SymbolTable::dynsym) return true;
            }
            return false;
          }};
}

std::vector<Allocator> allocators_from(const std::string& executable, const std::vector<std::string>& preload,
                                       const std::vector<std::string>& also_mapped, const Resolver& resolver) {
  ModuleCache cache(resolver);
  std::vector<std::string> roots{executable};
  for (const auto& entry : preload) {
    // LD_PRELOAD names without '/' are searched like DT_NEEDED entries.
    if (auto path = resolver.resolve(entry, "", executable)) roots.push_back(*path);
  }
  auto order = symbol_lookup_order(
      roots,
      [&](const std::string& path) {
        const ElfFile* elf = cache.get(path);
        return elf ? elf->needed() : std::vector<std::string>{};
      },
      [&](const std::string& name, const std::string& from) {
        const ElfFile* elf = cache.get(from);
        return resolver.resolve(name, elf ? elf->runpath() : std::string(), from);
      });
  // dlopen()ed libraries come after the global scope at load time (RTLD_GLOBAL ones join it).
  for (const auto& path : also_mapped) {
    if (std::find(order.begin(), order.end(), path) == order.end()) order.push_back(path);
  }
  std::vector<ModuleFunctions> modules;
  for (const auto& path : order) {
    const ElfFile* elf = cache.get(path);
    if (elf == nullptr) continue;
    modules.push_back(module_functions(path, resolver.host(path), path == executable, *elf));
  }
  return find_allocators(modules);
}

// NAME=value from a NUL-separated environment block.
std::string env_value(const std::string& block, std::string_view name) {
  std::size_t at = 0;
  while (at < block.size()) {
    auto end = block.find('\0', at);
    if (end == std::string::npos) end = block.size();
    std::string_view entry(block.data() + at, end - at);
    if (entry.size() > name.size() && entry.substr(0, name.size()) == name && entry[name.size()] == '=')
      return std::string(entry.substr(name.size() + 1));
    at = end + 1;
  }
  return {};
}

}  // namespace

Result<std::vector<Allocator>> discover_process_allocators(pid_t pid) {
  std::ifstream environ_file(fmt::format("/proc/{}/environ", pid), std::ios::binary);
  std::stringstream environ_text;
  environ_text << environ_file.rdbuf();
  const std::string environ = environ_text.str();

  auto maps = symbolize::read_proc_maps(pid);
  if (!maps) return make_error("cannot read the mappings of pid {}: {}", pid, maps.error().message);
  char exe[4096];
  ssize_t n = readlink(fmt::format("/proc/{}/exe", pid).c_str(), exe, sizeof exe - 1);
  if (n <= 0) return make_error("cannot read the executable of pid {}: {}", pid, std::strerror(errno));
  const std::string executable(exe, static_cast<std::size_t>(n));

  Resolver resolver{fmt::format("/proc/{}/root", pid), Resolver::split(env_value(environ, "LD_LIBRARY_PATH"), ':')};
  std::vector<std::string> mapped;
  for (const auto& m : *maps) {
    if (!m.executable || m.path.empty() || m.path[0] != '/') continue;
    if (std::find(mapped.begin(), mapped.end(), m.path) == mapped.end()) mapped.push_back(m.path);
  }
  // LD_PRELOAD: separated by spaces or colons.
  std::vector<std::string> preload;
  for (auto& entry : Resolver::split(env_value(environ, "LD_PRELOAD"), ' '))
    for (auto& part : Resolver::split(entry, ':')) preload.push_back(part);
  return allocators_from(executable, preload, mapped, resolver);
}

bool is_tracer_executable(const std::string& path) {
  auto elf = ElfFile::open(path);
  return elf && elf->find_function(kTracerMarker) != nullptr;
}

Result<std::vector<Allocator>> MappedAllocators::new_in_process(pid_t pid) {
  auto maps = symbolize::read_proc_maps(pid);
  if (!maps) return make_error("cannot read the mappings of pid {}: {}", pid, maps.error().message);
  char exe[4096];
  const ssize_t n = readlink(fmt::format("/proc/{}/exe", pid).c_str(), exe, sizeof exe - 1);
  const std::string executable = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : std::string();
  const std::string root = fmt::format("/proc/{}/root", pid);
  std::vector<Allocator> out;
  for (const auto& m : *maps) {
    if (!m.executable || !m.is_file() || m.inode == 0) continue;
    const bool is_executable = m.path == executable;
    const std::string_view base = basename_of(m.path);
    if (!is_executable && !starts_with(base, "libjemalloc") && !starts_with(base, "libtcmalloc") &&
        !starts_with(base, "libmimalloc"))
      continue;
    const std::uint64_t device = static_cast<std::uint64_t>(m.dev_major) << 32 | m.dev_minor;
    if (!seen_.insert({device, m.inode}).second) continue;
    // map_files reaches the very file mapped, even when replaced since or in another namespace.
    const std::string host = fmt::format("/proc/{}/map_files/{:x}-{:x}", pid, m.start, m.end);
    auto elf = ElfFile::open(host);
    if (!elf) continue;  // not an ELF file we can read: nothing to probe in it
    if (is_executable && elf->find_function(kTracerMarker)) {
      log::verbose("pid {} is another edleak-bpf: the allocator linked into {} is not probed", pid, m.path);
      continue;
    }
    // Probes go in through the process's root, as for its libc (map_files/ is only for reading).
    const ModuleFunctions module = module_functions(m.path, root + m.path, is_executable, *elf);
    if (module.defines("malloc") || module.defines("je_malloc")) out.push_back(identify_allocator(module));
  }
  return out;
}

Result<std::vector<Allocator>> discover_command_allocators(const std::string& program) {
  std::string executable = program;
  if (program.find('/') == std::string::npos) {
    const char* path = std::getenv("PATH");
    executable.clear();
    for (const auto& dir : Resolver::split(path ? path : "/usr/local/bin:/usr/bin:/bin", ':')) {
      std::string candidate = dir + "/" + program;
      if (access(candidate.c_str(), X_OK) == 0) {
        executable = candidate;
        break;
      }
    }
    if (executable.empty()) return make_error("cannot find '{}' in PATH", program);
  }
  char resolved[PATH_MAX];
  if (realpath(executable.c_str(), resolved) != nullptr) executable = resolved;
  const char* library_path = std::getenv("LD_LIBRARY_PATH");
  const char* preload_env = std::getenv("LD_PRELOAD");
  Resolver resolver{"", Resolver::split(library_path ? library_path : "", ':')};
  std::vector<std::string> preload;
  for (auto& entry : Resolver::split(preload_env ? preload_env : "", ' '))
    for (auto& part : Resolver::split(entry, ':')) preload.push_back(part);
  return allocators_from(executable, preload, {}, resolver);
}

}  // namespace edleak::probe
