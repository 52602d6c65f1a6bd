#pragma once
#include <chrono>
#include <string_view>

#include "util/result.h"

namespace edleak {

// Parses "500ms", "1s", "2m", "1h", "1.5s" or plain seconds ("2", "0.25").
// Rejects negatives, zero, empty strings, unknown units and trailing junk.
Result<std::chrono::nanoseconds> parse_duration(std::string_view text);

// "1s", "500ms", "2m": the shortest exact spelling, for messages and reports.
std::string format_duration(std::chrono::nanoseconds d);

}  // namespace edleak
