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

enum class Verdict { skip, scan, exited_stack };

struct Decision {
  Verdict verdict = Verdict::skip;
  RootRange range;
};

Decision decide(std::span<const symbolize::Mapping> mappings, std::size_t i, std::span<const ThreadRegisters> threads) {
  const symbolize::Mapping& m = mappings[i];
  if (skipped(m)) return {};
  std::uint64_t lowest_sp = UINT64_MAX;
  bool holds_thread_pointer = false;
  for (const ThreadRegisters& t : threads) {
    if (m.contains(t.sp)) lowest_sp = std::min(lowest_sp, t.sp);
    if (m.contains(t.fs_base)) holds_thread_pointer = true;
  }
  if (lowest_sp != UINT64_MAX) {
    std::uint64_t from = lowest_sp >= m.start + kRedZone ? lowest_sp - kRedZone : m.start;
    return {Verdict::scan, {from, m.end, RootKind::stack}};
  }
  if (holds_thread_pointer) return {Verdict::scan, {m.start, m.end, RootKind::tls}};
  if (m.path == "[stack]") return {};  // no thread runs on it any more
  const bool after_guard = i > 0 && mappings[i - 1].end == m.start && !mappings[i - 1].readable &&
                           !mappings[i - 1].writable && !mappings[i - 1].executable && is_anonymous(mappings[i - 1]);
  if (is_anonymous(m) && after_guard) return {Verdict::exited_stack, {}};  // cached by glibc for reuse
  return {Verdict::scan, {m.start, m.end, m.is_file() ? RootKind::module_data : RootKind::unknown_memory}};
}

}  // namespace

std::optional<std::uint64_t> dtv_block(std::uint64_t descriptor, std::span<const std::uint64_t> w) {
  if (w.size() < 3 || descriptor == 0 || w[0] != descriptor || w[2] != descriptor || w[1] < 16) return std::nullopt;
  return w[1] - 16;
}

std::uint64_t find_thread_descriptor(std::uint64_t base, std::span<const std::uint64_t> words) {
  // Highest first: the descriptor is at the top, below it lie static TLS and dead frames.
  for (std::size_t i = words.size() >= 3 ? words.size() - 3 : 0; i-- > 0;) {
    const std::uint64_t at = base + i * 8;
    if (at % 64 == 0 && dtv_block(at, words.subspan(i, 3))) return at;
  }
  return 0;
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> exited_thread_stacks(std::span<const symbolize::Mapping> mappings,
                                                                          std::span<const ThreadRegisters> threads) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
  for (std::size_t i = 0; i < mappings.size(); ++i)
    if (decide(mappings, i, threads).verdict == Verdict::exited_stack)
      out.emplace_back(mappings[i].start, mappings[i].end);
  return out;
}

std::vector<RootRange> root_ranges(std::span<const symbolize::Mapping> mappings,
                                   std::span<const ThreadRegisters> threads) {
  std::vector<RootRange> out;
  for (std::size_t i = 0; i < mappings.size(); ++i) {
    Decision d = decide(mappings, i, threads);
    if (d.verdict == Verdict::scan) out.push_back(d.range);
  }
  return out;
}

Roots make_roots(std::span<const symbolize::Mapping> mappings, std::span<const ThreadRegisters> threads,
                 MemoryReader* memory) {
  Roots roots;
  roots.ranges = root_ranges(mappings, threads);
  for (const ThreadRegisters& t : threads)
    roots.register_words.insert(roots.register_words.end(), t.general.begin(), t.general.end());
  if (!memory) return roots;
  for (const ThreadRegisters& t : threads) {
    std::uint64_t words[3];
    if (memory->read(t.fs_base, words, sizeof words) == sizeof words)
      if (auto dtv = dtv_block(t.fs_base, words)) roots.register_words.push_back(*dtv);
  }
  constexpr std::uint64_t kDescriptorWindow = 16 << 10;  // the descriptor is ~2.3 KiB, at the top
  std::vector<std::uint64_t> words;
  for (const auto& [start, end] : exited_thread_stacks(mappings, threads)) {
    const std::uint64_t base = end - std::min(end - start, kDescriptorWindow);
    words.assign((end - base) / 8, 0);
    if (memory->read(base, words.data(), words.size() * 8) != words.size() * 8) continue;
    if (std::uint64_t at = find_thread_descriptor(base, words); at != 0)
      roots.register_words.push_back(*dtv_block(at, std::span(words).subspan((at - base) / 8, 3)));
  }
  return roots;
}

}  // namespace edleak::scan
