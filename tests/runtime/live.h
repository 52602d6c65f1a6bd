#pragma once
// Running edleak-bpf and test programs from live tests, and reading its JSON reports.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace edleak::live {

// Why live tests cannot run here ("" when they can).
std::string unavailable_reason();
bool in_ci();

// Skips the test, or fails it under CI=true, when live tests cannot run.
#define EDLEAK_REQUIRE_LIVE()                                                     \
  do {                                                                            \
    if (std::string why = ::edleak::live::unavailable_reason(); !why.empty()) {   \
      if (::edleak::live::in_ci()) FAIL() << "CI=true but " << why;               \
      GTEST_SKIP() << why;                                                        \
    }                                                                             \
  } while (0)

std::string tracer_path();
std::string testprog(const std::string& name);

struct RunResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;
  std::string err;
  std::vector<nlohmann::json> reports;  // one per JSON line of `out`
};

// Runs a command to completion (killed after `timeout`), capturing its output. `env` entries
// ("NAME=value") are added to this process's environment.
RunResult run(const std::vector<std::string>& argv, std::chrono::seconds timeout = std::chrono::seconds(60),
              const std::vector<std::string>& env = {});
// The JSON reports among the lines of `out` (one per line), as run() collects them.
std::vector<nlohmann::json> json_lines(const std::string& out);

// A background process whose stdout can be waited on, killed at destruction.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  ~Background();
  pid_t pid() const { return pid_; }
  // Reads stdout until a line equal to `line` arrives (false on EOF or timeout).
  bool wait_for_line(const std::string& line, std::chrono::seconds timeout = std::chrono::seconds(20));
  // The same, for a line containing `part`.
  bool wait_for_line_containing(const std::string& part, std::chrono::seconds timeout = std::chrono::seconds(20));
  // Waits for exit; returns the exit code.
  int wait();

 private:
  bool wait_for(const std::function<bool(const std::string&)>& matches, std::chrono::seconds timeout);
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffered_;
  bool reaped_ = false;
};

// Every stack a process lists: "leakers" then (with -a) "other_stacks".
std::vector<std::reference_wrapper<const nlohmann::json>> listed_stacks(const nlohmann::json& process);

// The last report (the final one), and the named process in it.
const nlohmann::json& final_report(const RunResult& r);
const nlohmann::json* find_process(const nlohmann::json& report, pid_t pid);
const nlohmann::json* only_process(const nlohmann::json& report);
// The leaker whose allocation site (stack[0]) is in function `symbol` (exact name, or a
// demangled C++ name starting with `symbol` followed by '(').
const nlohmann::json* find_leaker(const nlohmann::json& process, const std::string& symbol);
std::vector<std::string> site_symbols(const nlohmann::json& process);

// Every listed stack's leak factor in a report ("leakers" and "other_stacks"), by pid and stack
// id: what a replay of the run's record must give back, field for field.
std::map<std::pair<int, std::string>, nlohmann::json> leak_factors(const nlohmann::json& report);
// `edleak-bpf report RECORD --format json ARGS...`: the one report a replay prints (an empty
// object, and a failure, when it prints none).
nlohmann::json replayed_report(const std::string& record, const std::vector<std::string>& args = {});

// A private copy of the system libc in a temporary directory, so that probes on it fire only
// in the processes started with LD_LIBRARY_PATH=dir().
class PrivateLibc {
 public:
  PrivateLibc();
  ~PrivateLibc();
  const std::string& dir() const { return dir_; }
  std::string libc_path() const { return dir_ + "/libc.so.6"; }
  std::string env() const { return "LD_LIBRARY_PATH=" + dir_; }

 private:
  std::string dir_;
};

}  // namespace edleak::live
