#include "symbolize/frame.h"

#include <fmt/format.h>

namespace edleak::symbolize {
namespace {

// " (file:line)", " (file)" or nothing.
std::string format_location(const std::string& file, int line) {
  if (file.empty()) return {};
  if (line <= 0) return fmt::format(" ({})", file);
  return fmt::format(" ({}:{})", file, line);
}

// The frame's own function with a given location: "symbol+0xoff (file:line) [module]".
std::string format_function(const Frame& frame, const std::string& file, int line) {
  std::string text;
  if (!frame.symbol.empty()) {
    text = fmt::format("{}+{:#x}", frame.symbol, frame.offset);
  } else if (!frame.module.empty() && frame.module_offset) {
    const auto slash = frame.module.rfind('/');
    text = fmt::format("{}+{:#x}", frame.module.substr(slash == std::string::npos ? 0 : slash + 1),
                       *frame.module_offset);
    if (!frame.nearest_symbol.empty())
      text += fmt::format(" (after {}+{:#x})", frame.nearest_symbol, frame.nearest_offset);
  } else {
    text = fmt::format("{:#x}", frame.addr);
  }
  text += format_location(file, line);
  if (!frame.module.empty()) text += fmt::format(" [{}]", frame.module);
  return text;
}

}  // namespace

std::string format_frame(const Frame& frame) {
  return format_function(frame, frame.file, frame.line);
}

std::vector<FunctionLocation> function_locations(const Frame& frame) {
  std::vector<FunctionLocation> out;
  const std::string* file = &frame.file;
  int line = frame.line;
  for (const InlinedFrame& inlined : frame.inlined) {
    out.push_back({inlined.symbol, *file, line});
    file = &inlined.file;
    line = inlined.line;
  }
  out.push_back({frame.symbol, *file, line});
  return out;
}

std::vector<std::string> format_frame_with_inlined(const Frame& frame) {
  std::vector<std::string> lines;
  // Each function is shown where it is at addr: the innermost at the frame's line, every other
  // one at the call site of the function inlined into it.
  const std::string* file = &frame.file;
  int line = frame.line;
  for (const InlinedFrame& inlined : frame.inlined) {
    lines.push_back(fmt::format("{}{} [inlined]", inlined.symbol, format_location(*file, line)));
    file = &inlined.file;
    line = inlined.line;
  }
  lines.push_back(format_function(frame, *file, line));
  return lines;
}

}  // namespace edleak::symbolize
