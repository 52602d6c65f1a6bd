#include "lifecycle/proc_identity.h"

#include <cerrno>
#include <charconv>
#include <csignal>
#include <dirent.h>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace edleak::lifecycle {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The fields of /proc/PID/stat after the comm ("S 1 ..."; comm may hold spaces and
// parentheses), "" when the process is gone.
std::string stat_after_comm(pid_t pid) {
  std::string line = read_file(fmt::format("/proc/{}/stat", pid));
  auto close_paren = line.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 >= line.size()) return {};
  return line.substr(close_paren + 2);
}

}  // namespace

bool process_exists(pid_t pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) return false;
  // A zombie has exited: its parent just has not reaped it yet.
  const std::string fields = stat_after_comm(pid);
  return !fields.empty() && fields[0] != 'Z' && fields[0] != 'X';
}

std::string process_comm(pid_t pid) {
  std::string comm = read_file(fmt::format("/proc/{}/comm", pid));
  while (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

std::string parse_cmdline(std::string_view raw) {
  while (!raw.empty() && raw.back() == '\0') raw.remove_suffix(1);
  std::string out(raw);
  for (char& c : out)
    if (c == '\0') c = ' ';
  return out;
}

std::uint32_t parse_ns_pid(std::string_view status) {
  // "NSpid:\t4242\t7": our view first, the innermost namespace's last.
  auto at = status.find("\nNSpid:");
  if (at == std::string_view::npos) return 0;
  auto line = status.substr(at + 7);
  line = line.substr(0, line.find('\n'));
  std::vector<std::uint32_t> pids;
  for (std::size_t i = 0; i < line.size();) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::uint32_t value = 0;
    auto [end, ec] = std::from_chars(line.data() + i, line.data() + line.size(), value);
    if (ec != std::errc()) break;
    pids.push_back(value);
    i = static_cast<std::size_t>(end - line.data());
  }
  return pids.size() > 1 ? pids.back() : 0;
}

std::string parse_cgroup(std::string_view cgroup) {
  // cgroup v2: "0::/system.slice/nginx.service"; v1 lines ("4:memory:/x") are not read.
  for (std::size_t start = 0; start < cgroup.size();) {
    auto end = cgroup.find('\n', start);
    auto line = cgroup.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (line.rfind("0::", 0) == 0) {
      auto path = line.substr(3);
      return path == "/" ? std::string() : std::string(path);
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return {};
}

ProcessIdentity read_identity(pid_t pid) {
  ProcessIdentity id;
  id.comm = process_comm(pid);
  id.command = parse_cmdline(read_file(fmt::format("/proc/{}/cmdline", pid)));
  std::istringstream fields(stat_after_comm(pid));
  char state = 0;
  fields >> state >> id.parent_pid;
  id.ns_pid = parse_ns_pid("\n" + read_file(fmt::format("/proc/{}/status", pid)));
  id.cgroup = parse_cgroup(read_file(fmt::format("/proc/{}/cgroup", pid)));
  return id;
}

std::vector<pid_t> descendants(pid_t pid) {
  std::vector<pid_t> out, pending{pid};
  while (!pending.empty()) {
    pid_t p = pending.back();
    pending.pop_back();
    DIR* tasks = opendir(fmt::format("/proc/{}/task", p).c_str());
    if (!tasks) continue;
    while (dirent* task = readdir(tasks)) {
      if (task->d_name[0] == '.') continue;
      std::istringstream children(read_file(fmt::format("/proc/{}/task/{}/children", p, task->d_name)));
      for (pid_t child; children >> child;) {
        out.push_back(child);
        pending.push_back(child);
      }
    }
    closedir(tasks);
  }
  return out;
}

}  // namespace edleak::lifecycle
