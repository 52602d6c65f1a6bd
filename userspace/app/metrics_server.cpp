#include "app/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace edleak::app {
namespace {

constexpr int kRequestTimeoutMs = 2000;
constexpr std::size_t kMaxRequestBytes = 8192;

Result<sockaddr_in> parse_address(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos)
    return make_error("invalid address '{}' for --metrics: expected IPV4:PORT, e.g. 127.0.0.1:9464", address);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  const std::string host = address.substr(0, colon), port = address.substr(colon + 1);
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1)
    return make_error("invalid address '{}' for --metrics: '{}' is not an IPv4 address", address, host);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    return make_error("invalid address '{}' for --metrics: port '{}' is not 0 to 65535", address, port);
  sa.sin_port = htons(static_cast<std::uint16_t>(value));
  return sa;
}

void send_all(int fd, const std::string& data) {
  for (std::size_t sent = 0; sent < data.size();) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& address) {
  auto sa = parse_address(address);
  if (!sa) return sa.error();
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error("--metrics: socket: {}", std::strerror(errno));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) != 0 || listen(fd, 16) != 0) {
    const int e = errno;
    close(fd);
    return make_error("--metrics: cannot listen on {}: {}", address, std::strerror(e));
  }
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const int stop = eventfd(0, EFD_CLOEXEC);
  if (stop < 0) {
    close(fd);
    return make_error("--metrics: eventfd: {}", std::strerror(errno));
  }
  // The thread starts with every signal blocked: the tracer takes SIGCHLD, SIGINT... through its
  // signalfd, and a signal the kernel handed to this thread instead would be lost to it (a
  // traced command's exit stop never handled: the command held forever).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  std::unique_ptr<MetricsServer> server(new MetricsServer(fd, stop, ntohs(bound.sin_port)));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return server;
}

MetricsServer::MetricsServer(int listen_fd, int stop_fd, std::uint16_t port)
    : listen_fd_(listen_fd), stop_fd_(stop_fd), port_(port), thread_([this] { serve(); }) {}

MetricsServer::~MetricsServer() {
  const std::uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof one);
  thread_.join();
  close(listen_fd_);
  close(stop_fd_);
}

void MetricsServer::set_text(std::string text) {
  std::lock_guard lock(mutex_);
  text_ = std::move(text);
}

void MetricsServer::serve() {
  while (true) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    answer(fd);
    close(fd);
  }
}

void MetricsServer::answer(int fd) {
  std::string request;
  // Up to the end of the headers, bounded in bytes and time.
  while (request.find("\r\n\r\n") == std::string::npos && request.find("\n\n") == std::string::npos &&
         request.size() < kMaxRequestBytes) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, kRequestTimeoutMs) <= 0) return;
    char buf[1024];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    request.append(buf, static_cast<std::size_t>(n));
  }
  const auto line_end = request.find_first_of("\r\n");
  const std::string line = request.substr(0, line_end);
  std::string body, status = "200 OK";
  if (line.rfind("GET /metrics ", 0) == 0 || line == "GET /metrics") {
    std::lock_guard lock(mutex_);
    body = text_;
  } else {
    status = "404 Not Found";
    body = "edleak-bpf serves /metrics only\n";
  }
  send_all(fd, fmt::format("HTTP/1.0 {}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                           "Content-Length: {}\r\nConnection: close\r\n\r\n",
                           status, body.size()) +
                   body);
}

}  // namespace edleak::app
