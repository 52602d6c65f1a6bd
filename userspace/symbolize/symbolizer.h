#pragma once
// Resolves user addresses of live processes to functions and source lines (elfutils libdw).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <sys/types.h>
#include <vector>

#include "symbolize/frame.h"

namespace edleak::symbolize {

class Symbolizer {
 public:
  Symbolizer();
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // Resolves addresses of process `pid`: its mappings come from /proc/PID/maps and its files are
  // opened through /proc/PID/root (so containers work). Modules are parsed once and shared by
  // every process that maps them. An address that cannot be resolved still yields a Frame with
  // addr (and module when it is mapped).
  std::vector<Frame> symbolize(pid_t pid, std::span<const std::uint64_t> addrs);

  // Drops what is cached for a process (its mappings); modules stay cached.
  void forget_process(pid_t pid);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edleak::symbolize
