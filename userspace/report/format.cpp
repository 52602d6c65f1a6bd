#include "report/format.h"

#include <algorithm>
#include <array>
#include <vector>
#include <cmath>

#include <fmt/format.h>

#include "classify/leak_factor.h"
#include "util/duration.h"

namespace edleak::report {
namespace {

struct Scaled {
  double value;
  std::string_view unit;  // "B" when no scaling happened
};

Scaled scale_binary(double bytes) {
  static constexpr std::array<std::string_view, 7> kUnits{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  std::size_t unit = 0;
  double value = bytes;
  // Compare the value as it will be printed (one decimal), so no "1024.0 KiB".
  while (unit + 1 < kUnits.size() && std::round(std::fabs(value) * 10) / 10 >= 1024) {
    value /= 1024;
    ++unit;
  }
  return {value, kUnits[unit]};
}

}  // namespace

std::string format_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  Scaled s = scale_binary(static_cast<double>(bytes));
  return fmt::format("{:.1f} {}", s.value, s.unit);
}

std::string format_rate(double bytes_per_s) {
  if (!std::isfinite(bytes_per_s)) return "n/a";
  Scaled s = scale_binary(std::fabs(bytes_per_s));
  // A rate that rounds to zero has no meaningful sign.
  char sign = bytes_per_s < 0 && std::round(s.value * 10) != 0 ? '-' : '+';
  return fmt::format("{}{:.1f} {}/s", sign, s.value, s.unit);
}

std::string sparkline(std::span<const series::Point> points, std::size_t width) {
  static constexpr std::string_view kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  if (points.size() < 2 || width == 0) return "";
  const std::size_t n = std::min(width, points.size());
  std::vector<double> means(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t from = i * points.size() / n, to = (i + 1) * points.size() / n;
    for (std::size_t j = from; j < to; ++j) means[i] += points[j].bytes;
    means[i] /= static_cast<double>(to - from);
  }
  const auto [low, high] = std::minmax_element(means.begin(), means.end());
  const double range = *high - *low;
  std::string out;
  for (double m : means) {
    const int level = range > 0 ? static_cast<int>(std::lround((m - *low) / range * 7)) : 0;
    out += kBlocks[std::clamp(level, 0, 7)];
  }
  return out;
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) out += fmt::format("\\x{:02x}", byte);
    else out += c;
  }
  return out;
}

std::string interval_text(double interval_s) {
  if (!std::isfinite(interval_s) || interval_s <= 0 || interval_s > 1e9) return fmt::format("{}s", interval_s);
  return format_duration(std::chrono::nanoseconds(std::llround(interval_s * 1e9)));
}

std::string heap_text(const HeapReport& heap, bool with_sparkline) {
  std::string text = fmt::format("heap {}", format_bytes(heap.bytes));
  if (heap.verdict.cls != classify::LeakClass::insufficient_data)
    text += fmt::format(", {} {}", classify::to_string(heap.verdict.cls), format_rate(heap.verdict.growth_bytes_per_s));
  if (with_sparkline)
    if (std::string spark = sparkline(heap.series); !spark.empty()) text += " " + spark;
  if (heap.zoomed)
    text += fmt::format("; allocator traced, {} left in this window", interval_text(std::max(1.0, std::round(heap.zoom_left_s))));
  else if (heap.zoom_ended)
    text += "; allocator no longer traced (window ended)";
  return text;
}

std::string watch_text(const WatchSummary& w) {
  std::string text = fmt::format("watching {} {} (heap: anonymous resident memory): {} growing, {} with the allocator traced",
                                 w.processes, w.processes == 1 ? "process" : "processes", w.growing, w.zoomed);
  if (w.unlisted)
    text += fmt::format("; {} {} not shown (--top)", w.unlisted, w.unlisted == 1 ? "more process" : "more processes");
  if (w.unwatched) text += fmt::format("; {} not watched (too many)", w.unwatched);
  return text;
}

}  // namespace edleak::report
