#pragma once
// Logging by level to stderr: errors always, info by default, -v for verbose, -vv for debug.
#include <cstdio>
#include <string_view>

#include <fmt/format.h>

namespace edleak::log {

enum class Level { error = 0, warning = 1, info = 2, verbose = 3, debug = 4 };

void set_level(Level level);
Level level();
bool enabled(Level level);
void write(Level level, std::string_view message);

template <typename... Args>
void at(Level lvl, fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(lvl)) write(lvl, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... a) { at(Level::error, f, std::forward<Args>(a)...); }
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... a) { at(Level::warning, f, std::forward<Args>(a)...); }
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... a) { at(Level::info, f, std::forward<Args>(a)...); }
template <typename... Args>
void verbose(fmt::format_string<Args...> f, Args&&... a) { at(Level::verbose, f, std::forward<Args>(a)...); }
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... a) { at(Level::debug, f, std::forward<Args>(a)...); }

}  // namespace edleak::log
