#include "util/duration.h"

#include <charconv>
#include <cmath>
#include <string>

namespace edleak {

Result<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return make_error("invalid duration '{}': {}", text, why);
  };
  if (text.empty()) return bad("empty");
  // from_chars for double is available in libstdc++ 11+.
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data()) return bad("expected a number such as 1s, 500ms or 2m");
  std::string_view unit(end, text.data() + text.size() - end);
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1e9;
  else if (unit == "ms") scale = 1e6;
  else if (unit == "us") scale = 1e3;
  else if (unit == "m" || unit == "min") scale = 60e9;
  else if (unit == "h") scale = 3600e9;
  else return bad(fmt::format("unknown unit '{}' (use ms, s, m or h)", unit));
  if (!std::isfinite(number) || number <= 0) return bad("must be positive");
  double ns = number * scale;
  if (ns >= 1e18) return bad("too long");
  if (ns < 1e6) return bad("shorter than 1ms");
  return std::chrono::nanoseconds(static_cast<long long>(std::llround(ns)));
}

std::string format_duration(std::chrono::nanoseconds d) {
  long long ns = d.count();
  if (ns % 3600'000'000'000LL == 0) return fmt::format("{}h", ns / 3600'000'000'000LL);
  if (ns % 60'000'000'000LL == 0) return fmt::format("{}m", ns / 60'000'000'000LL);
  if (ns % 1'000'000'000LL == 0) return fmt::format("{}s", ns / 1'000'000'000LL);
  if (ns % 1'000'000LL == 0) return fmt::format("{}ms", ns / 1'000'000LL);
  return fmt::format("{}s", static_cast<double>(ns) / 1e9);
}

}  // namespace edleak
