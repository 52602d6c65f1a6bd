#pragma once
// "No debug info" hints: frames without a file:line never said why. Once per module and run,
// the tool says that the module has no line information (no symbols at all: stripped) and what
// would help: Debian's debug package for packaged files (libc6-dbg for glibc, PKG-dbgsym from
// the debian-debug archive otherwise), -g for the user's own builds.
#include <functional>
#include <string>
#include <unordered_set>
#include <vector>

#include "report/report.h"

namespace edleak::app {

// The Debian package that owns a file ("" when none does).
using PackageOf = std::function<std::string(const std::string& path)>;
std::string dpkg_package_of(const std::string& path);  // dpkg-query -S, /usr-merge aware

struct ModuleWithoutLines {
  std::string module;
  bool stripped = false;  // no frame of it has a symbol either
};
// The modules of the report's stacks none of whose frames has a source line, in first-seen order.
std::vector<ModuleWithoutLines> modules_without_lines(const report::Report& report);

// The hint for one module: "no source lines for /usr/lib/x86_64-linux-gnu/libfoo.so.1 (no debug
// info): install libfoo1-dbgsym (Debian's debian-debug archive)".
std::string debug_hint(const std::string& module, bool stripped, const std::string& package);

class DebugHints {
 public:
  explicit DebugHints(PackageOf package_of) : package_of_(std::move(package_of)) {}
  // The hints not given yet for the modules of this report.
  std::vector<std::string> take(const report::Report& report);

 private:
  PackageOf package_of_;
  std::unordered_set<std::string> given_;
};

}  // namespace edleak::app
