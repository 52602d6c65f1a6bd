#include "scan/process_memory.h"

#include <cerrno>
#include <sys/uio.h>

namespace edleak::scan {

std::size_t ProcessMemory::read(std::uint64_t addr, void* buf, std::size_t len) {
  constexpr std::uint64_t kPage = 4096;
  constexpr std::size_t kMaxIov = 1024;  // IOV_MAX
  auto* out = static_cast<char*>(buf);
  std::size_t done = 0;
  while (done < len) {
    iovec local{out + done, 0};
    iovec remote[kMaxIov];
    std::size_t n = 0;
    std::uint64_t at = addr + done;
    std::size_t left = len - done;
    while (n < kMaxIov && left > 0) {
      std::size_t piece = std::min<std::uint64_t>(left, kPage - at % kPage);
      remote[n++] = {reinterpret_cast<void*>(at), piece};
      local.iov_len += piece;
      at += piece;
      left -= piece;
    }
    ssize_t got = process_vm_readv(pid_, &local, 1, remote, n, 0);
    if (got < 0) {
      last_error_ = errno;
      return done;
    }
    done += static_cast<std::size_t>(got);
    if (static_cast<std::size_t>(got) < local.iov_len) return done;  // stopped at an unreadable page
  }
  return done;
}

}  // namespace edleak::scan
