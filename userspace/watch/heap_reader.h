#pragma once
// What the watch mode reads of every process at every interval: its heap, from the kernel's
// memory counters (/proc/PID/statm), which cost one small read and never stop the process.
#include <cstdint>
#include <optional>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace edleak::watch {

struct HeapReading {
  // Resident anonymous memory (statm's resident minus shared: file-backed and shmem pages are
  // shared): where a leak lands once the program writes to what it allocated.
  std::uint64_t anon_bytes = 0;
  std::uint64_t data_bytes = 0;  // the data segment and anonymous mappings, resident or not (VmData)
};

// Parses /proc/PID/statm ("size resident shared text lib data dt", in pages). nullopt when the
// text is not that, or for a process without memory of its own (a kernel thread: all zeros).
std::optional<HeapReading> parse_statm(std::string_view text, std::uint64_t page_size);

// Reads it; nullopt when the process is gone or is a kernel thread.
std::optional<HeapReading> read_heap(pid_t pid);

// The processes (thread group leaders) /proc lists now, in directory order.
std::vector<pid_t> list_processes();

}  // namespace edleak::watch
