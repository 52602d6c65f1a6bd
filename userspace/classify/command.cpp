#include "classify/command.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "classify/leak_factor_json.h"
#include "classify/series_input.h"

namespace edleak::classify {
namespace {

std::string_view meaning(LeakClass c) {
  switch (c) {
    case LeakClass::insufficient_data: return "too few samples to tell";
    case LeakClass::constant: return "no leak";
    case LeakClass::linear: return "leaks regularly";
    case LeakClass::logarithmic: return "grows and saturates: probably a cache filling up";
    case LeakClass::exponential: return "accelerating growth: critical";
  }
  return "";
}

// Sizes are whole bytes, but the input may have fractions: show them only then.
std::string exact_bytes(double bytes) {
  if (bytes == std::floor(bytes) && std::fabs(bytes) < 0x1.0p63)
    return fmt::format("{}", static_cast<std::int64_t>(bytes));
  return fmt::format("{}", bytes);
}

std::string size_line(double bytes) {
  if (!(bytes >= 0) || bytes >= 0x1.0p64) return exact_bytes(bytes) + " bytes";
  return fmt::format("{} ({} bytes)", format_bytes(static_cast<std::uint64_t>(std::llround(bytes))),
                     exact_bytes(bytes));
}

std::string format_rate(double bytes_per_s) {
  if (!std::isfinite(bytes_per_s)) return "n/a";
  const double magnitude = std::fabs(bytes_per_s);
  const char sign = bytes_per_s < 0 ? '-' : '+';
  // Slow leaks matter too: below a KiB/s keep three significant digits rather than rounding
  // 0.4 B/s away.
  if (magnitude < 1024) return fmt::format("{}{:.3g} B/s", sign, magnitude);
  if (magnitude >= 0x1.0p64) return fmt::format("{}{:.3g} B/s", sign, magnitude);
  return fmt::format("{}{}/s", sign, format_bytes(static_cast<std::uint64_t>(std::llround(magnitude))));
}

int fail(std::ostream& err, const std::string& message) {
  err << "edleak-bpf: classify: " << message << '\n';
  return 1;
}

}  // namespace

std::string format_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  // Choose the unit after rounding to one decimal, so 1048575 reads "1.0 MiB".
  while (std::round(value * 10) / 10 >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string format_leak_factor_text(const LeakFactor& f) {
  std::string text = fmt::format("class:    {} ({})\n", to_string(f.cls), meaning(f.cls));
  text += fmt::format("leak:     {}\n", size_line(static_cast<double>(f.leak)));
  text += fmt::format("min size: {}\n", size_line(f.min_size));
  text += fmt::format("max size: {}\n", size_line(f.max_size));
  text += fmt::format("growth:   {}\n", format_rate(f.growth_bytes_per_s));
  text += fmt::format("coef:     a={:.4g} b={:.4g} c={:.4g} (a*x^2 + b*x + c, time and bytes scaled to [0, 1])\n",
                      f.coef[0], f.coef[1], f.coef[2]);
  return text;
}

int run_classify_command(const std::string& input, bool json, std::istream& stdin_stream,
                         std::ostream& out, std::ostream& err) {
  const bool from_stdin = input == "-";
  std::ifstream file;
  if (!from_stdin) {
    file.open(input);
    if (!file) return fail(err, fmt::format("cannot open '{}': {}", input, std::strerror(errno)));
  }
  std::istream& in = from_stdin ? stdin_stream : file;
  auto points = read_series(in, from_stdin ? "<stdin>" : input);
  if (!points) return fail(err, points.error().message);

  const LeakFactor factor = compute_leak_factor(*points);
  if (json) {
    out << nlohmann::ordered_json{{"leak_factor", to_json(factor)}}.dump() << '\n';
  } else {
    out << fmt::format("series:   {} samples over {} s\n", points->size(),
                       points->back().t_s - points->front().t_s)
        << format_leak_factor_text(factor);
  }
  out.flush();
  return out ? 0 : fail(err, "cannot write the result");
}

}  // namespace edleak::classify
