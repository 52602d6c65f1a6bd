#include "app/debug_hints.h"

#include <cstdio>
#include <unordered_map>

#include <fmt/format.h>

namespace edleak::app {
namespace {

struct ModuleFacts {
  bool any_line = false;
  bool any_symbol = false;
};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string run_dpkg_query(const std::string& path) {
  FILE* pipe = popen(("dpkg-query -S " + shell_quote(path) + " 2>/dev/null").c_str(), "r");
  if (!pipe) return "";
  char line[512] = {};
  std::string first = std::fgets(line, sizeof line, pipe) ? line : "";
  pclose(pipe);
  // "libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6"
  const auto colon = first.find(": ");
  if (colon == std::string::npos) return "";
  std::string package = first.substr(0, colon);
  if (auto arch = package.find(':'); arch != std::string::npos) package.resize(arch);
  return package.find(',') == std::string::npos ? package : "";  // diversions list several
}

}  // namespace

std::string dpkg_package_of(const std::string& path) {
  if (path.empty() || path[0] != '/') return "";
  std::string package = run_dpkg_query(path);
  // /usr-merged systems map /usr/lib and /lib to the same files; dpkg knows one name.
  if (package.empty() && path.rfind("/usr/", 0) == 0) package = run_dpkg_query(path.substr(4));
  return package;
}

std::vector<ModuleWithoutLines> modules_without_lines(const report::Report& report) {
  std::vector<std::string> order;
  std::unordered_map<std::string, ModuleFacts> facts;
  auto see = [&](const symbolize::Frame& f) {
    if (f.module.empty()) return;
    auto [it, inserted] = facts.try_emplace(f.module);
    if (inserted) order.push_back(f.module);
    it->second.any_line = it->second.any_line || f.line > 0;
    it->second.any_symbol = it->second.any_symbol || !f.symbol.empty();
  };
  for (const auto& p : report.processes) {
    for (const auto& l : p.leakers)
      for (const auto& f : l.stack) see(f);
    for (const auto& c : p.churners)
      for (const auto& f : c.stack) see(f);
  }
  std::vector<ModuleWithoutLines> out;
  for (const std::string& m : order)
    if (!facts[m].any_line) out.push_back({m, !facts[m].any_symbol});
  return out;
}

std::string debug_hint(const std::string& module, bool stripped, const std::string& package) {
  const std::string what = stripped ? "no symbols or source lines (stripped, no debug info)"
                                    : "no source lines (no debug info)";
  std::string help;
  if (package == "libc6") help = "install libc6-dbg";
  else if (!package.empty())
    help = fmt::format("install {}-dbgsym (Debian's debian-debug archive: deb http://deb.debian.org/debian-debug "
                       "bookworm-debug main)",
                       package);
  else help = "rebuild it with -g (or install its separate debug file under /usr/lib/debug)";
  return fmt::format("{} for {}: {}", what, module, help);
}

std::vector<std::string> DebugHints::take(const report::Report& report) {
  std::vector<std::string> hints;
  for (const auto& [module, stripped] : modules_without_lines(report)) {
    if (!given_.insert(module).second) continue;
    hints.push_back(debug_hint(module, stripped, package_of_ ? package_of_(module) : ""));
  }
  return hints;
}

}  // namespace edleak::app
