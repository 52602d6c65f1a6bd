#pragma once
// --metrics ADDR:PORT: a minimal HTTP/1.0 server for Prometheus to scrape. GET /metrics returns
// the exposition text of the last report (report/metrics_text.h); anything else is 404. One
// thread, one connection at a time, each bounded in size and time: a scraper is a trusted
// neighbour on loopback, not a web audience.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "util/result.h"

namespace edleak::app {

class MetricsServer {
 public:
  // Listens on "IPV4:PORT" (port 0: any free port, see port()).
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& address);
  ~MetricsServer();  // stops the thread and closes the socket
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  void set_text(std::string text);
  std::uint16_t port() const { return port_; }

 private:
  MetricsServer(int listen_fd, int stop_fd, std::uint16_t port);
  void serve();
  void answer(int fd);

  int listen_fd_, stop_fd_;
  std::uint16_t port_;
  std::mutex mutex_;
  std::string text_;
  std::thread thread_;
};

}  // namespace edleak::app
