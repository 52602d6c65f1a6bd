#pragma once
// What /proc says of a process: whether it runs, its name, command line, pid inside its own pid
// namespace, cgroup and children. Each reader returns an empty value when the process is gone.
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace edleak::lifecycle {

bool process_exists(pid_t pid);   // running (not a zombie)
std::string process_comm(pid_t pid);

struct ProcessIdentity {
  std::string comm;
  std::string command;      // argv joined by spaces
  std::uint32_t parent_pid = 0;
  std::uint32_t ns_pid = 0; // its pid in its own pid namespace, 0 when the same as ours
  std::string cgroup;       // cgroup v2 path, "" for the root cgroup
};
ProcessIdentity read_identity(pid_t pid);

// Parsers of the files above, for tests: /proc/PID/cmdline, the NSpid line of /proc/PID/status
// and /proc/PID/cgroup.
std::string parse_cmdline(std::string_view raw);
std::uint32_t parse_ns_pid(std::string_view status);
std::string parse_cgroup(std::string_view cgroup);

// Every descendant of pid running now (children of each of its threads, recursively).
std::vector<pid_t> descendants(pid_t pid);

}  // namespace edleak::lifecycle
