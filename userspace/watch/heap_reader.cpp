#include "watch/heap_reader.h"

#include <array>
#include <charconv>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "symbolize/unique_fd.h"

namespace edleak::watch {

std::optional<HeapReading> parse_statm(std::string_view text, std::uint64_t page_size) {
  std::array<std::uint64_t, 7> fields{};
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (auto& field : fields) {
    while (p < end && *p == ' ') ++p;
    auto [next, ec] = std::from_chars(p, end, field);
    if (ec != std::errc() || next == p) return std::nullopt;
    p = next;
  }
  const auto [size, resident, shared, text_pages, lib, data, dirty] = fields;
  (void)text_pages, (void)lib, (void)dirty;
  if (size == 0) return std::nullopt;  // no mm: a kernel thread
  HeapReading r;
  r.anon_bytes = (resident > shared ? resident - shared : 0) * page_size;
  r.data_bytes = data * page_size;
  return r;
}

std::optional<HeapReading> read_heap(pid_t pid) {
  static const std::uint64_t page_size = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/statm", static_cast<int>(pid));
  symbolize::UniqueFd fd(open(path, O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  char buf[128];
  const ssize_t n = read(fd.get(), buf, sizeof buf);
  if (n <= 0) return std::nullopt;
  return parse_statm(std::string_view(buf, static_cast<std::size_t>(n)), page_size);
}

std::vector<pid_t> list_processes() {
  std::vector<pid_t> pids;
  DIR* dir = opendir("/proc");
  if (!dir) return pids;
  while (const dirent* entry = readdir(dir)) {
    int pid = 0;
    const char* name = entry->d_name;
    const char* end = name + std::char_traits<char>::length(name);
    auto [p, ec] = std::from_chars(name, end, pid);
    if (ec == std::errc() && p == end && pid > 0) pids.push_back(pid);
  }
  closedir(dir);
  return pids;
}

}  // namespace edleak::watch
