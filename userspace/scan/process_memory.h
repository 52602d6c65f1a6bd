#pragma once
// Another process's memory, read with process_vm_readv: up to 1024 pages per system call, page by
// page on the remote side so that an unreadable page cuts a read exactly there.
#include <sys/types.h>

#include "scan/marking.h"

namespace edleak::scan {

class ProcessMemory final : public MemoryReader {
 public:
  explicit ProcessMemory(pid_t pid) : pid_(pid) {}
  std::size_t read(std::uint64_t addr, void* buf, std::size_t len) override;
  // errno of the last failed read (0: none): EPERM/ESRCH tell why nothing could be read.
  int last_error() const { return last_error_; }

 private:
  pid_t pid_;
  int last_error_ = 0;
};

}  // namespace edleak::scan
