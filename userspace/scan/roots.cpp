#include "scan/roots.h"

#include <algorithm>
#include <string_view>

namespace edleak::scan {
namespace {

bool is_anonymous(const symbolize::Mapping& m) {
  // Named anonymous memory (prctl PR_SET_VMA_ANON_NAME) reads "[anon:name]".
  return m.path.empty() || std::string_view(m.path).starts_with("[anon:");
}

bool is_shared_memory(std::string_view path) {
  return path.starts_with("/dev/shm/") || path.starts_with("/memfd:") || path.starts_with("/SYSV") ||
         path == "/dev/zero";
}

// Mappings never scanned, whatever their permissions.
bool skipped(const symbolize::Mapping& m) {
  if (!m.readable || !m.writable) return true;
  std::string_view path = m.path;
  if (path.starts_with("[") && path != "[heap]" && path != "[stack]" && !path.starts_with("[anon:"))
    return true;  // [vvar], [vdso], [vsyscall], [uprobes]...
  if (path.starts_with("/dev/") && !is_shared_memory(path)) return true;
  if (m.shared && m.is_file() && !is_shared_memory(path)) return true;
  return false;
}

}  // namespace

std::vector<RootRange> root_ranges(std::span<const symbolize::Mapping> mappings,
                                   std::span<const ThreadRegisters> threads) {
  std::vector<RootRange> out;
  for (std::size_t i = 0; i < mappings.size(); ++i) {
    const symbolize::Mapping& m = mappings[i];
    if (skipped(m)) continue;
    std::uint64_t lowest_sp = UINT64_MAX;
    bool holds_thread_pointer = false;
    for (const ThreadRegisters& t : threads) {
      if (m.contains(t.sp)) lowest_sp = std::min(lowest_sp, t.sp);
      if (m.contains(t.fs_base)) holds_thread_pointer = true;
    }
    if (lowest_sp != UINT64_MAX) {
      std::uint64_t from = lowest_sp >= m.start + kRedZone ? lowest_sp - kRedZone : m.start;
      out.push_back({from, m.end, RootKind::stack});
      continue;
    }
    if (holds_thread_pointer) {
      out.push_back({m.start, m.end, RootKind::tls});
      continue;
    }
    if (m.path == "[stack]") continue;  // no thread runs on it any more
    const bool after_guard = i > 0 && mappings[i - 1].end == m.start && !mappings[i - 1].readable &&
                             !mappings[i - 1].writable && !mappings[i - 1].executable &&
                             is_anonymous(mappings[i - 1]);
    if (is_anonymous(m) && after_guard) continue;  // an exited thread's stack, cached by glibc
    out.push_back({m.start, m.end, m.is_file() ? RootKind::module_data : RootKind::unknown_memory});
  }
  return out;
}

Roots make_roots(std::span<const symbolize::Mapping> mappings, std::span<const ThreadRegisters> threads) {
  Roots roots;
  roots.ranges = root_ranges(mappings, threads);
  for (const ThreadRegisters& t : threads)
    roots.register_words.insert(roots.register_words.end(), t.general.begin(), t.general.end());
  return roots;
}

}  // namespace edleak::scan
