#pragma once
// Human-readable numbers and strings for the text report.
#include <cstdint>
#include <string>
#include <span>
#include <string_view>

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

// Process names, symbols and paths come from the traced processes: escape control bytes
// (as \xNN) so they cannot drive the terminal. Other bytes, UTF-8 included, pass through.
std::string printable(std::string_view text);

}  // namespace edleak::report
