#pragma once
// Tests that check an output with its real consumer (Chromium, go tool pprof, Prometheus):
// finding the tool, running it, and skipping (or, under CI=true, failing) when it is missing.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace edleak::test {

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

// The path of `name` on PATH, or "".
inline std::string find_tool(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::filesystem::path candidate = std::filesystem::path(dirs.substr(start, end - start)) / name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// Sets `var` to the tool's path, or skips the test (fails it under CI=true: scripts/setup
// installs every tool a test needs).
#define EDLEAK_REQUIRE_TOOL(var, name, package)                                                  \
  const std::string var = ::edleak::test::find_tool(name);                                       \
  do {                                                                                           \
    if (var.empty()) {                                                                           \
      if (::edleak::test::in_ci()) FAIL() << "CI=true but " name " is missing (apt-get install " package ")"; \
      GTEST_SKIP() << name " is missing (apt-get install " package ", or scripts/setup)";         \
    }                                                                                            \
  } while (0)

struct Run {
  int status = -1;  // exit status, -1 when it could not run
  std::string out;  // stdout and stderr
};

// Runs a shell command line (arguments already quoted by the caller), stdout and stderr together.
inline Run run_shell(const std::string& command) {
  Run r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0;) r.out.append(buf.data(), n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A fresh directory under the test's temporary directory.
inline std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::path(testing::TempDir()) / ("edleak_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace edleak::test
