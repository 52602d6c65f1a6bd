#include "symbolize/mapping_reader.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <unordered_map>

#include "symbolize/unique_fd.h"

namespace edleak::symbolize {
namespace {

using namespace std::chrono_literals;

// The BPF side, scripted: requests are queued by the test and signalled on an eventfd.
class FakeRequests : public MappingRequestSource {
 public:
  FakeRequests() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  // Queued without the wake-up (the BPF side's ring buffer was full).
  void ask_silently(std::uint32_t tgid) {
    std::lock_guard lock(mutex_);
    asking_.push_back(tgid);
  }
  void ask(std::uint32_t tgid) {
    ask_silently(tgid);
    const std::uint64_t one = 1;
    ASSERT_EQ(::write(fd_.get(), &one, sizeof one), static_cast<ssize_t>(sizeof one));
  }
  void set_history(std::uint32_t tgid, std::uint32_t history) {
    std::lock_guard lock(mutex_);
    histories_[tgid] = history;
  }

  int fd() const override { return fd_.get(); }
  std::vector<std::uint32_t> take() override {
    std::uint64_t count = 0;
    (void)!::read(fd_.get(), &count, sizeof count);
    std::lock_guard lock(mutex_);
    return std::exchange(asking_, {});
  }
  std::uint32_t history_of(std::uint32_t tgid) override {
    std::lock_guard lock(mutex_);
    return histories_[tgid];
  }

 private:
  UniqueFd fd_;
  std::mutex mutex_;
  std::vector<std::uint32_t> asking_;
  std::unordered_map<std::uint32_t, std::uint32_t> histories_;
};

// One mapping per read, starting at the number of reads so far (tells reads apart).
struct FakeMaps {
  std::atomic<int> reads{0};
  std::atomic<bool> gone{false};
  std::function<void(pid_t)> while_reading;  // e.g. an exec happening meanwhile
  MappingReader::ReadMaps function() {
    return [this](pid_t pid) -> Result<std::vector<Mapping>> {
      const int n = ++reads;
      if (while_reading) while_reading(pid);
      if (gone) return make_error("cannot open /proc/{}/maps: No such file or directory", pid);
      Mapping m;
      m.start = static_cast<std::uint64_t>(n) << 12;
      m.end = m.start + 4096;
      m.path = "/usr/bin/program";
      return std::vector<Mapping>{m};
    };
  }
};

// Waits up to `timeout` for the reader to have at least `count` snapshots in all.
std::vector<MappingSnapshot> take_at_least(MappingReader& reader, std::size_t count,
                                           std::chrono::milliseconds timeout = 2000ms) {
  std::vector<MappingSnapshot> all;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (all.size() < count && std::chrono::steady_clock::now() < deadline) {
    pollfd p{reader.ready_fd(), POLLIN, 0};
    ::poll(&p, 1, 50);
    for (auto& s : reader.take()) all.push_back(std::move(s));
  }
  return all;
}

TEST(MappingReader, ReadsAProcessAsSoonAsItAsksTaggedWithItsHistory) {
  FakeRequests requests;
  FakeMaps maps;
  MappingReader reader(requests, maps.function());
  requests.set_history(41, 7);
  requests.ask(41);
  pollfd p{reader.ready_fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1) << "the loop is woken when mappings are ready";
  auto snapshots = reader.take();
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0].pid, 41);
  EXPECT_EQ(snapshots[0].history, 7u);
  ASSERT_EQ(snapshots[0].mappings.size(), 1u);
  EXPECT_EQ(snapshots[0].mappings[0].path, "/usr/bin/program");
  EXPECT_TRUE(reader.take().empty());
}

TEST(MappingReader, AProcessGoneBeforeItsReadHasNoSnapshot) {
  FakeRequests requests;
  FakeMaps maps;
  maps.gone = true;
  MappingReader reader(requests, maps.function());
  requests.ask(42);
  EXPECT_TRUE(take_at_least(reader, 1, 300ms).empty());
  EXPECT_EQ(maps.reads, 1);
}

// An exec between the looks at the history: the maps read may be either program's, so they are
// read again and tagged with the new history.
TEST(MappingReader, AnExecDuringTheReadMakesItReadAgainForTheNewHistory) {
  FakeRequests requests;
  FakeMaps maps;
  requests.set_history(43, 1);
  maps.while_reading = [&](pid_t pid) {
    if (maps.reads == 1) requests.set_history(static_cast<std::uint32_t>(pid), 2);
  };
  MappingReader reader(requests, maps.function());
  requests.ask(43);
  auto snapshots = take_at_least(reader, 1);
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0].history, 2u);
  EXPECT_EQ(snapshots[0].mappings[0].start, 2u << 12) << "the second read's";
  EXPECT_EQ(maps.reads, 2);
}

// A process asking again at once (garbage frames ask at every allocation) is read once the gap
// has passed: neither dropped nor read at every request.
TEST(MappingReader, ARequestWithinTheGapIsReadOnceTheGapHasPassed) {
  FakeRequests requests;
  FakeMaps maps;
  MappingReader reader(requests, maps.function(), 200ms);
  requests.ask(44);
  ASSERT_EQ(take_at_least(reader, 1).size(), 1u);
  const auto asked = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) requests.ask(44);
  auto again = take_at_least(reader, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - asked, 150ms);
  EXPECT_EQ(maps.reads, 2);
  // Other processes are not held up behind it.
  requests.ask(44);
  requests.ask(45);
  auto other = take_at_least(reader, 1, 100ms);
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].pid, 45);
}

// The request table is looked at every second whatever wakes the thread: a request whose wake-up
// was lost is still read.
TEST(MappingReader, ARequestWhoseWakeUpWasLostIsStillRead) {
  FakeRequests requests;
  FakeMaps maps;
  MappingReader reader(requests, maps.function());
  requests.ask_silently(46);
  auto snapshots = take_at_least(reader, 1, 2500ms);
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0].pid, 46);
}

}  // namespace
}  // namespace edleak::symbolize
