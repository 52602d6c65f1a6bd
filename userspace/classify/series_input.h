#pragma once
// Reads a memory series as text: one sample per line, "t bytes", separated by whitespace or a
// comma, '#' starting a comment; t in seconds from any origin. Never trusts its input.
#include <istream>
#include <string_view>
#include <vector>

#include "series/series.h"
#include "util/result.h"

namespace edleak::classify {

// Errors name the source and line: "input.txt:7: 'abc' is not a number".
// Fails on a non-number, a missing or extra field, a negative or non-finite value, time going
// backwards, or fewer than kMinPoints samples.
Result<std::vector<series::Point>> read_series(std::istream& in, std::string_view source_name);

}  // namespace edleak::classify
