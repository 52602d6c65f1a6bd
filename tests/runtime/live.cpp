#include "live.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <poll.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace edleak::live {
namespace {

using Clock = std::chrono::steady_clock;

// Starts argv with stdout (and stderr when err_fd is given) on pipes. Returns the pid.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, int* out_fd,
            int* err_fd) {
  int out[2], err[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) != 0) return -1;
  if (err_fd && pipe2(err, O_CLOEXEC) != 0) return -1;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    if (err_fd) dup2(err[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  *out_fd = out[0];
  if (err_fd) {
    close(err[1]);
    *err_fd = err[0];
  }
  return pid;
}

int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

std::string unavailable_reason() {
  if (geteuid() != 0) return "live BPF tests need root";
  struct stat st {};
  if (stat("/sys/kernel/btf/vmlinux", &st) != 0) return "the kernel has no BTF";
  if (stat("/sys/bus/event_source/devices/uprobe", &st) != 0) return "the kernel has no uprobes";
  return "";
}

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

std::string tracer_path() { return EDLEAK_BPF_PATH; }
std::string testprog(const std::string& name) { return std::string(EDLEAK_TESTPROGS_DIR) + "/" + name; }

RunResult run(const std::vector<std::string>& argv, std::chrono::seconds timeout,
              const std::vector<std::string>& env) {
  RunResult result;
  int out_fd = -1, err_fd = -1;
  pid_t pid = spawn(argv, env, &out_fd, &err_fd);
  if (pid < 0) return result;
  const auto deadline = Clock::now() + timeout;
  bool killed = false;
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 && !killed) {
      kill(pid, SIGKILL);
      killed = true;
    }
    if (poll(fds, 2, left > 0 ? static_cast<int>(left) : 1000) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      (i == 0 ? result.out : result.err).append(buf, n);
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = exit_code_of(status);
  result.reports = json_lines(result.out);
  return result;
}

std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> reports;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.front() != '{') continue;
    auto parsed = nlohmann::json::parse(line, nullptr, false);
    if (!parsed.is_discarded()) reports.push_back(std::move(parsed));
  }
  return reports;
}

Background::Background(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  pid_ = spawn(argv, env, &out_fd_, nullptr);
}

Background::~Background() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
}

bool Background::wait_for_line(const std::string& line, std::chrono::seconds timeout) {
  return wait_for([&](const std::string& got) { return got == line; }, timeout);
}

bool Background::wait_for_line_containing(const std::string& part, std::chrono::seconds timeout) {
  return wait_for([&](const std::string& got) { return got.find(part) != std::string::npos; }, timeout);
}

bool Background::wait_for(const std::function<bool(const std::string&)>& matches, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    for (std::size_t pos; (pos = buffered_.find('\n')) != std::string::npos;) {
      std::string got = buffered_.substr(0, pos);
      buffered_.erase(0, pos + 1);
      if (matches(got)) return true;
    }
    pollfd p{out_fd_, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (poll(&p, 1, static_cast<int>(std::max<long long>(left, 1))) <= 0) continue;
    char buf[4096];
    ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) return false;
    buffered_.append(buf, n);
  }
  return false;
}

int Background::wait() {
  int status = 0;
  waitpid(pid_, &status, 0);
  reaped_ = true;
  return exit_code_of(status);
}

const nlohmann::json& final_report(const RunResult& r) {
  static const nlohmann::json empty = nlohmann::json::object();
  return r.reports.empty() ? empty : r.reports.back();
}

const nlohmann::json* find_process(const nlohmann::json& report, pid_t pid) {
  if (!report.contains("processes")) return nullptr;
  for (const auto& p : report["processes"])
    if (p.value("pid", -1) == pid) return &p;
  return nullptr;
}

const nlohmann::json* only_process(const nlohmann::json& report) {
  if (!report.contains("processes") || report["processes"].size() != 1) return nullptr;
  return &report["processes"][0];
}

std::map<std::pair<int, std::string>, nlohmann::json> leak_factors(const nlohmann::json& report) {
  std::map<std::pair<int, std::string>, nlohmann::json> out;
  if (!report.contains("processes")) return out;
  for (const auto& p : report["processes"])
    for (const nlohmann::json& stack : listed_stacks(p))
      out[{p.value("pid", -1), stack.value("stack_id", "")}] = stack["leak_factor"];
  return out;
}

nlohmann::json replayed_report(const std::string& record, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {tracer_path(), "report", record, "--format", "json"};
  argv.insert(argv.end(), args.begin(), args.end());
  const RunResult r = run(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.reports.size(), 1u) << r.out.size() << " bytes out: " << r.out.substr(0, 2000) << "\nerr: " << r.err;
  return r.reports.size() == 1 ? r.reports[0] : nlohmann::json::object();
}

namespace {
std::string site_symbol(const nlohmann::json& leaker) {
  if (!leaker.contains("stack") || leaker["stack"].empty()) return "";
  const auto& frame = leaker["stack"][0];
  return frame.contains("symbol") && frame["symbol"].is_string() ? frame["symbol"].get<std::string>() : "";
}
}  // namespace

std::vector<std::reference_wrapper<const nlohmann::json>> listed_stacks(const nlohmann::json& process) {
  std::vector<std::reference_wrapper<const nlohmann::json>> out;
  for (const char* key : {"leakers", "other_stacks"})
    if (process.contains(key))
      for (const auto& stack : process[key]) out.push_back(std::cref(stack));
  return out;
}

const nlohmann::json* find_leaker(const nlohmann::json& process, const std::string& symbol) {
  for (const nlohmann::json& leaker : listed_stacks(process)) {
    std::string s = site_symbol(leaker);
    if (s == symbol || s.rfind(symbol + "(", 0) == 0) return &leaker;
  }
  return nullptr;
}

std::vector<std::string> site_symbols(const nlohmann::json& process) {
  std::vector<std::string> out;
  for (const nlohmann::json& leaker : listed_stacks(process)) out.push_back(site_symbol(leaker));
  return out;
}

PrivateLibc::PrivateLibc() {
  char templ[] = "/tmp/edleak-libc-XXXXXX";
  if (!mkdtemp(templ)) return;
  dir_ = templ;
  std::filesystem::copy_file("/lib/x86_64-linux-gnu/libc.so.6", libc_path());
}

PrivateLibc::~PrivateLibc() {
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

}  // namespace edleak::live
