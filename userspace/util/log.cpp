#include "util/log.h"

#include <atomic>

namespace edleak::log {
namespace {
std::atomic<int> current_level{static_cast<int>(Level::info)};
}

void set_level(Level level) { current_level.store(static_cast<int>(level)); }
Level level() { return static_cast<Level>(current_level.load()); }
bool enabled(Level lvl) { return static_cast<int>(lvl) <= current_level.load(); }

void write(Level lvl, std::string_view message) {
  // One line per message, prefixed like every other diagnostic of the tool.
  const char* tag = lvl == Level::error     ? ""
                    : lvl == Level::warning ? "warning: "
                                            : "";
  std::fprintf(stderr, "edleak-bpf: %s%.*s\n", tag, static_cast<int>(message.size()), message.data());
}

}  // namespace edleak::log
