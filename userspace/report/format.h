#pragma once
// Human-readable numbers and strings for the text report.
#include <cstdint>
#include <string>
#include <span>
#include <string_view>

#include "report/report.h"
#include "series/series.h"

namespace edleak::report {

// Binary units with one decimal: "512 B", "15.0 KiB", "1.2 MiB". The unit is chosen after
// rounding, so 1048575 bytes reads "1.0 MiB" rather than "1024.0 KiB".
std::string format_bytes(std::uint64_t bytes);

// A growth rate with its sign: "+1.2 KiB/s", "-300.0 B/s", "+0.0 B/s"; "n/a" when not finite.
std::string format_rate(double bytes_per_s);

// A series as a line of `width` block characters (UTF-8 "▁".."█"), from its lowest to its highest
// value; each character is the mean of its share of the points. "" for fewer than two points.
std::string sparkline(std::span<const series::Point> points, std::size_t width = 24);

// An interval or a time left as the options spell durations: "250ms", "2s", "1m30s".
std::string interval_text(double interval_s);

// Watch mode, one process's heap (text report, HTML page): "heap 39.0 MiB, linear +1.0 MiB/s",
// with the series' sparkline when asked, and whether the allocator is traced ("; allocator
// traced, 1m49s left in this window").
std::string heap_text(const HeapReport& heap, bool with_sparkline = true);
// Watch mode, the processes watched: "watching 51 processes (heap: anonymous resident memory):
// 1 growing, 1 with the allocator traced", and those not shown or not watched.
std::string watch_text(const WatchSummary& watch);

// Process names, symbols and paths come from the traced processes: escape control bytes
// (as \xNN) so they cannot drive the terminal. Other bytes, UTF-8 included, pass through.
std::string printable(std::string_view text);

}  // namespace edleak::report
