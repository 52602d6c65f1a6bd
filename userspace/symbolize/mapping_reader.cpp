#include "symbolize/mapping_reader.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "symbolize/unique_fd.h"

namespace edleak::symbolize {

namespace {

using Clock = std::chrono::steady_clock;

void signal_eventfd(int fd) {
  const std::uint64_t one = 1;
  (void)!::write(fd, &one, sizeof one);
}

void drain_eventfd(int fd) {
  std::uint64_t count = 0;
  (void)!::read(fd, &count, sizeof count);
}

}  // namespace

struct MappingReader::Impl {
  Impl(MappingRequestSource& s, ReadMaps r, std::chrono::milliseconds g)
      : source(s),
        read(std::move(r)),
        gap(g),
        stop_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
        ready_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
        worker([this] { run(); }) {}

  ~Impl() {
    signal_eventfd(stop_fd.get());
    worker.join();
  }

  // One read, tagged with the history it belongs to: an exec between the two looks at the
  // history makes it read again (the maps read may be either program's).
  std::optional<MappingSnapshot> read_one(std::uint32_t tgid) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      const std::uint32_t before = source.history_of(tgid);
      auto mappings = read(static_cast<pid_t>(tgid));
      if (!mappings) return std::nullopt;  // gone
      if (source.history_of(tgid) == before)
        return MappingSnapshot{static_cast<pid_t>(tgid), before, std::move(*mappings)};
    }
    return std::nullopt;  // exec'ing in a loop: it asks again from its next program
  }

  void run() {
    std::unordered_map<std::uint32_t, Clock::time_point> last_read;
    std::map<std::uint32_t, Clock::time_point> deferred;  // asked within the gap: when due
    // A request whose wake-up was lost (the BPF side's ring buffer full, or its request table)
    // is still in the table: looked at this often whatever wakes the thread.
    static constexpr int kLookEveryMs = 1000;
    for (;;) {
      int timeout_ms = kLookEveryMs;
      if (!deferred.empty()) {
        auto due = std::min_element(deferred.begin(), deferred.end(),
                                    [](const auto& a, const auto& b) { return a.second < b.second; })->second;
        timeout_ms = static_cast<int>(std::clamp<long long>(
            std::chrono::ceil<std::chrono::milliseconds>(due - Clock::now()).count(), 0, kLookEveryMs));
      }
      pollfd fds[2] = {{stop_fd.get(), POLLIN, 0}, {source.fd(), POLLIN, 0}};
      const int nfds = source.fd() >= 0 ? 2 : 1;
      if (::poll(fds, nfds, timeout_ms) < 0 && errno != EINTR) return;
      if (fds[0].revents & POLLIN) return;
      const auto now = Clock::now();
      std::vector<std::uint32_t> asking = source.take();
      for (auto it = deferred.begin(); it != deferred.end();) {
        if (it->second > now) {
          ++it;
          continue;
        }
        asking.push_back(it->first);
        it = deferred.erase(it);
      }
      std::vector<MappingSnapshot> snapshots;
      std::unordered_set<std::uint32_t> seen;
      for (std::uint32_t tgid : asking) {
        if (!seen.insert(tgid).second) continue;
        if (auto last = last_read.find(tgid); last != last_read.end() && now - last->second < gap) {
          deferred.emplace(tgid, last->second + gap);
          continue;
        }
        deferred.erase(tgid);
        last_read[tgid] = now;
        if (auto snapshot = read_one(tgid)) snapshots.push_back(std::move(*snapshot));
      }
      // Only the reads within the gap matter: the table holds the processes asking lately.
      std::erase_if(last_read, [&](const auto& entry) { return now - entry.second >= gap; });
      if (snapshots.empty()) continue;
      {
        std::lock_guard lock(mutex);
        for (auto& s : snapshots) ready.push_back(std::move(s));
      }
      signal_eventfd(ready_fd.get());
    }
  }

  MappingRequestSource& source;
  ReadMaps read;
  const std::chrono::milliseconds gap;
  UniqueFd stop_fd;
  UniqueFd ready_fd;
  std::mutex mutex;
  std::vector<MappingSnapshot> ready;  // read, not yet taken (guarded by mutex)
  std::thread worker;                  // last: started once the rest is constructed
};

MappingReader::MappingReader(MappingRequestSource& source, ReadMaps read, std::chrono::milliseconds gap)
    : impl_(std::make_unique<Impl>(source, std::move(read), gap)) {}

MappingReader::~MappingReader() = default;

int MappingReader::ready_fd() const { return impl_->ready_fd.get(); }

std::vector<MappingSnapshot> MappingReader::take() {
  drain_eventfd(impl_->ready_fd.get());
  std::lock_guard lock(impl_->mutex);
  return std::exchange(impl_->ready, {});
}

}  // namespace edleak::symbolize
