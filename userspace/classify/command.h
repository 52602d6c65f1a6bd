#pragma once
// `edleak-bpf classify [--format text|json] [FILE|-]`: reads one memory series ("t bytes" per
// line, see series_input.h) and prints its leak factor. Lives here rather than in app/ so it can
// be tested without the tracer; app/classify_command.cpp only adapts the report format.
#include <cstdint>
#include <istream>
#include <ostream>
#include <string>

#include "classify/leak_factor.h"

namespace edleak::classify {

// input is a path, or "-" for stdin_stream. On success writes the leak factor to `out` (as text,
// or as one JSON object {"leak_factor": {...}} followed by a newline) and returns 0. On bad input
// writes one line to `err`, "edleak-bpf: classify: <file>:<line>: <why>", and returns 1.
int run_classify_command(const std::string& input, bool json, std::istream& stdin_stream,
                         std::ostream& out, std::ostream& err);

// The text form: class, leak, sizes, growth rate and coefficients, a few lines for people.
std::string format_leak_factor_text(const LeakFactor& factor);

// Binary units with one decimal, "512 B", "14.7 KiB", "1.0 GiB" (the report's convention).
std::string format_bytes(std::uint64_t bytes);

}  // namespace edleak::classify
