#include "symbolize/proc_maps.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "symbolize/unique_fd.h"

namespace edleak::symbolize {
namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";

// A piece of untrusted input fit for a message: at most 64 bytes, non-printable bytes escaped.
std::string quoted(std::string_view text) {
  constexpr std::size_t kMaxShown = 64;
  std::string shown;
  for (char c : text.substr(0, kMaxShown)) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isprint(byte))
      shown += c;
    else
      shown += fmt::format("\\x{:02x}", byte);
  }
  if (text.size() > kMaxShown) shown += "...";
  return "'" + shown + "'";
}

// Splits off the text up to the first `separator` (all of it when there is none).
std::string_view take_until(std::string_view& rest, char separator) {
  std::size_t at = rest.find(separator);
  std::string_view field = rest.substr(0, at);
  rest = at == std::string_view::npos ? std::string_view() : rest.substr(at + 1);
  return field;
}

// A whole field as an unsigned number; no sign, no prefix, no junk, no overflow.
template <typename Int>
std::optional<Int> parse_number(std::string_view field, int base) {
  if (field.empty()) return std::nullopt;
  Int value = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value, base);
  if (ec != std::errc() || end != field.data() + field.size()) return std::nullopt;
  return value;
}

// Parses one line; on failure returns why (the caller adds where).
Result<Mapping> parse_line(std::string_view line) {
  Mapping mapping;
  std::string_view rest = line;

  std::string_view range = take_until(rest, ' ');
  std::string_view start_text = range.substr(0, range.find('-'));
  if (start_text.size() == range.size())
    return make_error("address range {} has no '-'", quoted(range));
  auto start = parse_number<std::uint64_t>(start_text, 16);
  auto end = parse_number<std::uint64_t>(range.substr(start_text.size() + 1), 16);
  if (!start || !end)
    return make_error("address range {} is not two hexadecimal numbers", quoted(range));
  if (*start >= *end) return make_error("address range {} is empty or reversed", quoted(range));
  mapping.start = *start;
  mapping.end = *end;

  std::string_view perms = take_until(rest, ' ');
  if (perms.size() != 4 || (perms[0] != 'r' && perms[0] != '-') ||
      (perms[1] != 'w' && perms[1] != '-') || (perms[2] != 'x' && perms[2] != '-') ||
      (perms[3] != 'p' && perms[3] != 's')) {
    return make_error("permissions {} are not of the form rwxp", quoted(perms));
  }
  mapping.readable = perms[0] == 'r';
  mapping.writable = perms[1] == 'w';
  mapping.executable = perms[2] == 'x';
  mapping.shared = perms[3] == 's';

  std::string_view offset_text = take_until(rest, ' ');
  auto offset = parse_number<std::uint64_t>(offset_text, 16);
  if (!offset) return make_error("file offset {} is not a hexadecimal number", quoted(offset_text));
  mapping.file_offset = *offset;

  std::string_view device = take_until(rest, ' ');
  std::string_view major_text = device.substr(0, device.find(':'));
  if (major_text.size() == device.size()) return make_error("device {} has no ':'", quoted(device));
  auto major = parse_number<std::uint32_t>(major_text, 16);
  auto minor = parse_number<std::uint32_t>(device.substr(major_text.size() + 1), 16);
  if (!major || !minor)
    return make_error("device {} is not major:minor in hexadecimal", quoted(device));
  mapping.dev_major = *major;
  mapping.dev_minor = *minor;

  std::string_view inode_text = take_until(rest, ' ');
  auto inode = parse_number<std::uint64_t>(inode_text, 10);
  if (!inode) return make_error("inode {} is not a decimal number", quoted(inode_text));
  mapping.inode = *inode;

  // The kernel pads to align the path column; the path itself may contain spaces.
  std::size_t path_start = rest.find_first_not_of(' ');
  std::string_view path =
      path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  if (path.ends_with(kDeletedSuffix)) {
    path.remove_suffix(kDeletedSuffix.size());
    mapping.deleted = true;
  }
  if (path.find('\0') != std::string_view::npos) return make_error("path contains a NUL byte");
  mapping.path = std::string(path);
  return mapping;
}

std::string_view basename_of(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Reads a whole /proc file (their size is unknown until read).
Result<std::string> read_proc_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return make_error("cannot open {}: {}", path, std::strerror(errno));
  std::string text;
  char buffer[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error("cannot read {}: {}", path, std::strerror(errno));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

}  // namespace

Result<std::vector<Mapping>> parse_proc_maps(std::string_view text) {
  std::vector<Mapping> mappings;
  std::string_view rest = text;
  for (int line_number = 1; !rest.empty(); ++line_number) {
    std::string_view line = take_until(rest, '\n');
    auto mapping = parse_line(line);
    if (!mapping) {
      return make_error("malformed maps line {} {}: {}", line_number, quoted(line),
                        mapping.error().message);
    }
    if (!mappings.empty() && mapping->start < mappings.back().end) {
      return make_error("malformed maps line {} {}: overlaps or precedes the previous mapping",
                        line_number, quoted(line));
    }
    mappings.push_back(std::move(*mapping));
  }
  return mappings;
}

Result<std::vector<Mapping>> read_proc_maps(pid_t pid) {
  std::string path = fmt::format("/proc/{}/maps", pid);
  auto text = read_proc_file(path);
  if (!text) return text.error();
  auto mappings = parse_proc_maps(*text);
  if (!mappings) return make_error("{}: {}", path, mappings.error().message);
  return mappings;
}

const Mapping* find_mapping(std::span<const Mapping> mappings, std::uint64_t addr) {
  // The first mapping ending after addr is the only one that can contain it.
  auto it = std::upper_bound(mappings.begin(), mappings.end(), addr,
                             [](std::uint64_t a, const Mapping& m) { return a < m.end; });
  if (it == mappings.end() || !it->contains(addr)) return nullptr;
  return &*it;
}

bool is_library_named(std::string_view basename, std::string_view name) {
  if (name.empty() || !basename.starts_with(name)) return false;
  if (name.back() == '.' || name.back() == '-') return true;
  std::string_view after = basename.substr(name.size());
  if (after.empty() || after.starts_with('.')) return true;
  // "libc-2.31.so" (glibc before 2.34) but not "libc-client.so".
  return after.size() >= 2 && after[0] == '-' && std::isdigit(static_cast<unsigned char>(after[1]));
}

const Mapping* find_library_mapping(std::span<const Mapping> mappings, std::string_view name) {
  for (const Mapping& mapping : mappings) {
    if (mapping.is_file() && is_library_named(basename_of(mapping.path), name)) return &mapping;
  }
  return nullptr;
}

Result<std::string> find_library(pid_t pid, std::string_view name) {
  auto mappings = read_proc_maps(pid);
  if (!mappings) return mappings.error();
  const Mapping* library = find_library_mapping(*mappings, name);
  if (library == nullptr) return make_error("process {} does not map a {} library", pid, name);
  if (library->deleted) {
    return make_error(
        "the {} mapped by process {} ({}) was deleted or replaced since it was mapped", name, pid,
        library->path);
  }
  return library->path;
}

std::string process_root_path(pid_t pid, std::string_view path) {
  return fmt::format("/proc/{}/root{}", pid, path);
}

}  // namespace edleak::symbolize
