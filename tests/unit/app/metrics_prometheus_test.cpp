// --metrics read by its real consumer: Debian's prometheus scrapes the server on loopback, and
// its HTTP API is queried for the series.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "app/metrics_server.h"
#include "demo_record.h"
#include "external_tool.h"
#include "report/metrics_text.h"

extern char** environ;

namespace edleak::app {
namespace {

std::uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

// A child process killed (SIGTERM, then waited for) when the test ends.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& log) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Child() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

TEST(MetricsInPrometheus, ScrapedAndQueried) {
  EDLEAK_REQUIRE_TOOL(prometheus, "prometheus", "prometheus");
  EDLEAK_REQUIRE_TOOL(curl, "curl", "curl");
  const report::Report report = test::demo_report();
  auto server = MetricsServer::start("127.0.0.1:0");
  ASSERT_TRUE(server) << server.error().message;
  (*server)->set_text(report::metrics_text(report));

  const auto dir = test::temp_dir("prometheus");
  std::ofstream(dir / "prometheus.yml") << fmt::format(
      "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: edleak\n    static_configs:\n"
      "      - targets: ['127.0.0.1:{}']\n",
      (*server)->port());
  const std::uint16_t web = free_port();
  Child prom({prometheus, "--config.file=" + (dir / "prometheus.yml").string(),
              "--storage.tsdb.path=" + (dir / "data").string(), fmt::format("--web.listen-address=127.0.0.1:{}", web)},
             (dir / "prometheus.log").string());
  ASSERT_GT(prom.pid(), 0);

  auto query = [&](const std::string& q) {
    auto r = test::run_shell(fmt::format("{} -sf --get --data-urlencode 'query={}' http://127.0.0.1:{}/api/v1/query",
                                         curl, q, web));
    return r.status == 0 ? nlohmann::json::parse(r.out, nullptr, false) : nlohmann::json();
  };
  nlohmann::json result;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    result = query("edleak_stack_leak_bytes");
    if (result.is_object() && result["status"] == "success" && result["data"]["result"].size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::ifstream log_file(dir / "prometheus.log");
  const std::string log((std::istreambuf_iterator<char>(log_file)), std::istreambuf_iterator<char>());
  ASSERT_TRUE(result.is_object() && result["data"]["result"].size() == 2) << result.dump() << "\n" << log.substr(0, 4000);

  const auto& leakers = report.processes[0].leakers;
  for (const auto& series : result["data"]["result"]) {
    const auto& labels = series["metric"];
    EXPECT_EQ(labels["job"], "edleak");
    EXPECT_EQ(labels["comm"], "edleak-demo");
    EXPECT_EQ(labels["pid"], std::to_string(report.processes[0].pid));
    const std::size_t rank = std::stoul(labels["rank"].get<std::string>());
    ASSERT_GE(rank, 1u);
    ASSERT_LE(rank, leakers.size());
    EXPECT_EQ(labels["site"], leakers[rank - 1].stack[0].symbol);
    EXPECT_EQ(labels["class"], classify::to_string(leakers[rank - 1].leak_factor.cls));
    EXPECT_EQ(std::stod(series["value"][1].get<std::string>()), double(leakers[rank - 1].leak_factor.leak));
  }
  const auto up = query("up{job=\"edleak\"}");
  ASSERT_EQ(up["data"]["result"].size(), 1u) << up.dump();
  EXPECT_EQ(up["data"]["result"][0]["value"][1], "1");
  const auto outstanding = query("edleak_process_outstanding_bytes");
  ASSERT_EQ(outstanding["data"]["result"].size(), 1u) << outstanding.dump();
  EXPECT_EQ(outstanding["data"]["result"][0]["value"][1], std::to_string(report.processes[0].outstanding_bytes));
  const auto lost = query("edleak_lost_allocs_total");
  ASSERT_EQ(lost["data"]["result"].size(), 1u) << lost.dump();
}

TEST(MetricsServer, ServesMetricsOnlyAndRejectsBadAddresses) {
  EDLEAK_REQUIRE_TOOL(curl, "curl", "curl");
  auto server = MetricsServer::start("127.0.0.1:0");
  ASSERT_TRUE(server) << server.error().message;
  (*server)->set_text("edleak_samples_total 3\n");
  const auto ok = test::run_shell(fmt::format("{} -s -i http://127.0.0.1:{}/metrics", curl, (*server)->port()));
  EXPECT_NE(ok.out.find("200 OK"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("text/plain; version=0.0.4"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("edleak_samples_total 3"), std::string::npos) << ok.out;
  const auto other = test::run_shell(fmt::format("{} -s -i http://127.0.0.1:{}/", curl, (*server)->port()));
  EXPECT_NE(other.out.find("404"), std::string::npos) << other.out;
  EXPECT_FALSE(MetricsServer::start("localhost:80"));
  EXPECT_FALSE(MetricsServer::start("127.0.0.1:99999"));
  auto taken = MetricsServer::start(fmt::format("127.0.0.1:{}", (*server)->port()));
  ASSERT_FALSE(taken);
  EXPECT_NE(taken.error().message.find("cannot listen"), std::string::npos);
}

}  // namespace
}  // namespace edleak::app
