// Live tests on Debian's redis-server, which allocates through libjemalloc.so.2 (so glibc's probes
// see nearly nothing of it), under redis-benchmark, on a private port of 127.0.0.1 without
// persistence: its allocations are seen (against redis's own count, INFO memory's used_memory),
// and a steady load on a fixed keyspace is no leak.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
#include <unistd.h>

#include "live.h"

namespace edleak::live {
namespace {

const std::string kServer = "/usr/bin/redis-server";
const std::string kCli = "/usr/bin/redis-cli";
const std::string kBenchmark = "/usr/bin/redis-benchmark";

#define REQUIRE_REDIS()                                                                            \
  do {                                                                                             \
    for (const std::string& tool : {kServer, kCli, kBenchmark}) {                                  \
      if (access(tool.c_str(), X_OK) != 0) {                                                       \
        std::string why = tool + " is missing (run scripts/setup: packages redis-server, redis-tools)"; \
        if (in_ci()) FAIL() << why;                                                                \
        GTEST_SKIP() << why;                                                                       \
      }                                                                                            \
    }                                                                                              \
  } while (0)

// A redis-server of this test alone, gone with it.
class Redis {
 public:
  explicit Redis(int port)
      : port_(port),
        server_({kServer, "--port", std::to_string(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", "/tmp", "--logfile", fmt::format("/tmp/edleak-redis-{}.log", port)}) {}
  ~Redis() { std::remove(fmt::format("/tmp/edleak-redis-{}.log", port_).c_str()); }

  pid_t pid() const { return server_.pid(); }

  bool wait_ready() {
    for (int i = 0; i < 100; ++i) {
      if (cli({"ping"}).out == "PONG\n") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  RunResult cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kCli, "-p", std::to_string(port_)};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, std::chrono::seconds(20));
  }

  // A counter of an INFO section ("field:value" lines); -1 when the section has no such field.
  static std::int64_t info_field(const RunResult& info, std::string_view field) {
    const std::string key = std::string(field) + ":";
    const auto at = info.out.find(key);
    return at == std::string::npos ? -1 : std::stoll(info.out.substr(at + key.size()));
  }

  // INFO memory's used_memory: what redis counts allocated through zmalloc (usable sizes).
  std::int64_t used_memory() { return info_field(cli({"info", "memory"}), "used_memory"); }

  // INFO stats' reply buffer resizes: serverCron halves a client's 16 KB reply buffer, once per
  // visit, while its peak use is under half of it, down to 1 KB (a new block each time, the
  // old one freed), and doubles it when full.
  std::int64_t reply_buffer_resizes() {
    const RunResult stats = cli({"info", "stats"});
    const std::int64_t shrinks = info_field(stats, "reply_buffer_shrinks");
    const std::int64_t expands = info_field(stats, "reply_buffer_expands");
    return shrinks < 0 || expands < 0 ? -1 : shrinks + expands;
  }

  // SET of a fixed-size value on `keys` random keys. The key (28 bytes) and value (124 bytes)
  // fill jemalloc size classes nearly exactly, so that the bytes requested (what edleak-bpf
  // counts) and the usable sizes (what used_memory counts) differ only by dictEntry's 24 -> 32.
  std::vector<std::string> benchmark_argv(int requests, int keys) const {
    return {kBenchmark, "-p", std::to_string(port_), "-q", "-n", std::to_string(requests), "-r",
            std::to_string(keys), "SET", "abcdefghijklmnop__rand_int__", std::string(124, 'v')};
  }
  RunResult benchmark(int requests, int keys) { return run(benchmark_argv(requests, keys), std::chrono::seconds(300)); }
  // The same load until killed: one run of a billion requests (its progress lines go nowhere:
  // nobody reads them). Not `-l`, which connects 50 new clients at every loop: their reply
  // buffers would be resized all along.
  std::unique_ptr<Background> endless_benchmark(int keys) const {
    std::string command = "exec";
    for (const auto& arg : benchmark_argv(1000000000, keys)) command += " '" + arg + "'";
    return std::make_unique<Background>(std::vector<std::string>{"/bin/sh", "-c", command + " >/dev/null 2>&1"});
  }

 private:
  int port_;
  Background server_;
};

int private_port() { return 20000 + getpid() % 20000; }

// edleak-bpf -p on the server, reports to a file; ready once the first report is written (the
// probes are attached before the first report).
class Tracer {
 public:
  Tracer(pid_t pid, const std::string& interval)
      : path_(fmt::format("/tmp/edleak-redis-trace-{}.json", getpid())),
        tracer_({tracer_path(), "-p", std::to_string(pid), "-i", interval, "--format", "json", "-a", "--top", "200",
                 "-o", path_}) {}
  ~Tracer() { std::remove(path_.c_str()); }

  bool wait_attached() {
    for (int i = 0; i < 300; ++i) {
      std::ifstream in(path_);
      std::string line;
      if (std::getline(in, line) && !line.empty()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // SIGINT: a final report, then exit. Every report written, the final one last.
  std::vector<nlohmann::json> stop_all() {
    kill(tracer_.pid(), SIGINT);
    EXPECT_EQ(tracer_.wait(), 0);
    std::ifstream in(path_);
    std::vector<nlohmann::json> reports;
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      auto parsed = nlohmann::json::parse(line, nullptr, false);
      EXPECT_FALSE(parsed.is_discarded()) << line;
      if (!parsed.is_discarded()) reports.push_back(std::move(parsed));
    }
    return reports;
  }
  nlohmann::json stop() {
    auto reports = stop_all();
    return reports.empty() ? nlohmann::json::object() : reports.back();
  }

 private:
  std::string path_;
  Background tracer_;
};

TEST(Redis, AllocationsSeenAgainstUsedMemory) {
  EDLEAK_REQUIRE_LIVE();
  REQUIRE_REDIS();
  Redis redis(private_port());
  ASSERT_TRUE(redis.wait_ready());
  Tracer tracer(redis.pid(), "1s");
  ASSERT_TRUE(tracer.wait_attached());
  const std::int64_t before = redis.used_memory();
  RunResult bench = redis.benchmark(150000, 40000);
  ASSERT_EQ(bench.exit_code, 0) << bench.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the benchmark's clients are freed
  const std::int64_t after = redis.used_memory();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a sample after that
  const auto report = tracer.stop();
  const auto* process = find_process(report, redis.pid());
  ASSERT_NE(process, nullptr) << report.dump();
  EXPECT_EQ((*process)["allocator"], "jemalloc");
  EXPECT_EQ((*process)["allocators"][0]["path"], "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2");
  EXPECT_EQ(report["stats"]["lost_allocs"], 0);
  const auto grown = static_cast<double>(after - before);
  const auto outstanding = (*process)["outstanding_bytes"].get<double>();
  ASSERT_GT(grown, 4e6) << "the benchmark should have stored ~40,000 keys";
  std::printf("redis: outstanding %.0f B of allocations since attach, used_memory grew %.0f B (%.3f)\n", outstanding,
              grown, outstanding / grown);
  EXPECT_NEAR(outstanding, grown, grown * 0.10) << "used_memory " << before << " -> " << after;
  // The keys' values, allocated where redis parses a request.
  bool value_site = false;
  for (const char* list : {"leakers", "other_stacks"})  // -a lists the others apart
    for (const auto& leaker : process->value(list, nlohmann::json::array()))
      for (const auto& frame : leaker["stack"])
        if (frame["symbol"] == "createStringObject") value_site = true;
  EXPECT_TRUE(value_site) << process->dump();
}

TEST(Redis, SteadyLoadOnAFixedKeyspaceIsNoLeak) {
  EDLEAK_REQUIRE_LIVE();
  REQUIRE_REDIS();
  Redis redis(private_port() + 1);
  ASSERT_TRUE(redis.wait_ready());
  // Every key exists before the trace: the load then replaces values, allocating as much as it
  // frees. A value allocated before the trace and replaced during it adds a block the trace keeps
  // (its free is of an unknown block): with 10 keys, all are replaced within the first ~30
  // requests, long before the first sample even on a loaded machine, and the series is flat from
  // then on. (With 1,000 keys, the last ones are replaced seconds in: a slow "leak" of 128 B each.)
  ASSERT_EQ(redis.benchmark(2000, 10).exit_code, 0);
  auto load = redis.endless_benchmark(10);
  // Attached once the load is steady: as the benchmark's 50 clients connect, serverCron shrinks
  // each one's reply buffer from 16 KB to 1 KB, halving it once a second
  // (clientsCronResizeOutputBuffer: a new block, the old one freed). Traced while that goes on,
  // the new buffers replace blocks allocated before the trace, whose frees are unknown: 50 blocks
  // kept and 5 frees, a fill rightly called a leak (a CI run attached 2 s after the load began
  // saw it). So the trace begins once no buffer was resized for 2 s.
  // (Before redis 7.0 the buffers were not resized, nor counted: then 2 s of load.)
  std::int64_t resizes = -2;
  for (int quiet = 0, polls = 0; quiet < 8; ++polls) {
    ASSERT_LT(polls, 240) << "reply buffers still resized after 60 s of load: " << resizes;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    const std::int64_t now = redis.reply_buffer_resizes();
    quiet = now == resizes ? quiet + 1 : 0;
    resizes = now;
  }
  Tracer tracer(redis.pid(), "500ms");
  ASSERT_TRUE(tracer.wait_attached());
  std::this_thread::sleep_for(std::chrono::seconds(8));
  const auto reports = tracer.stop_all();
  load.reset();
  // No leak in any report, from the first verdict (8 samples) on, the final one included.
  ASSERT_GE(reports.size(), 12u);
  std::size_t judged = 0;
  for (const auto& report : reports) {
    const auto* process = find_process(report, redis.pid());
    ASSERT_NE(process, nullptr) << report.dump();
    if (report["samples"].get<int>() < 8) continue;
    ++judged;
    EXPECT_EQ((*process)["leaking_stacks"], 0) << "at " << report["samples"] << " samples: " << process->dump();
  }
  EXPECT_GE(judged, 5u);
  const auto* process = find_process(reports.back(), redis.pid());
  EXPECT_GT((*process)["total_allocs"].get<std::uint64_t>(), 10000u);  // the load was traced
}

}  // namespace
}  // namespace edleak::live
