#pragma once
// Reads the mappings of processes that ask for them (the BPF side, at a process's first
// allocation or when a return address is outside its known mappings) on a thread of its own,
// the moment they ask.
//
// Why a thread: a process that lives a second must have /proc/PID/maps read before it exits, or
// its stacks never resolve. The tracer's loop cannot promise that: on a busy machine one of its
// steps (a compiler's unwind tables, a large module's DWARF, a report of thousands of stacks)
// takes a second or more. Reading the maps takes tens of microseconds; everything built from
// them (unwind tables, symbols) can wait for the loop.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "symbolize/proc_maps.h"
#include "util/result.h"

namespace edleak::symbolize {

// Where the requests come from: the BPF side (capture::Capture), or a fake in tests. Called
// from the reader's thread only, concurrently with the rest of the tracer.
class MappingRequestSource {
 public:
  virtual ~MappingRequestSource() = default;
  // A descriptor that polls readable when requests may be waiting (-1: none; take() is then
  // called every second, and after the gap of a deferred request).
  virtual int fd() const = 0;
  // The processes asking now, each once; their requests are consumed.
  virtual std::vector<std::uint32_t> take() = 0;
  // The process's current history (sample::ProcessKey's incarnation), as the BPF side tags its
  // allocations.
  virtual std::uint32_t history_of(std::uint32_t tgid) = 0;
};

// The mappings of one history of a process, as read from /proc/PID/maps.
struct MappingSnapshot {
  pid_t pid = 0;
  std::uint32_t history = 0;
  std::vector<Mapping> mappings;
};

class MappingReader {
 public:
  using ReadMaps = std::function<Result<std::vector<Mapping>>(pid_t)>;
  // A process asking again within `gap` of its last read (garbage frames of a broken stack walk
  // can make it ask at every allocation) is read once the gap has passed.
  explicit MappingReader(MappingRequestSource& source, ReadMaps read = read_proc_maps,
                         std::chrono::milliseconds gap = std::chrono::milliseconds(100));
  ~MappingReader();  // stops the thread
  MappingReader(const MappingReader&) = delete;
  MappingReader& operator=(const MappingReader&) = delete;

  // Polls readable while snapshots wait to be taken.
  int ready_fd() const;
  // The snapshots read since the last call, in the order read. A process that exited before
  // its request was read (or between its reads) has none: its exit is the loop's to handle.
  std::vector<MappingSnapshot> take();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edleak::symbolize
