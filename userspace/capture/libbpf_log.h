#pragma once
// What libbpf prints, read: the object a failed load names, and a message split into lines. Kept
// apart from the loader so that it is unit-tested on libbpf's own wording.
#include <optional>
#include <string>
#include <string_view>

namespace edleak::capture {

// libbpf's own prefix on its messages (the loader logs its own on every line).
inline std::string_view without_libbpf_prefix(std::string_view message) {
  constexpr std::string_view kPrefix = "libbpf: ";
  if (message.starts_with(kPrefix)) message.remove_prefix(kPrefix.size());
  return message;
}

// "program NAME" or "map NAME" when a libbpf warning (prefix removed) says the kernel refused
// it: "prog 'NAME': failed to load: -7", "map 'NAME': failed to create: ...". libbpf has no
// call that tells, and unloads everything after a failure.
inline std::optional<std::string> refused_object(std::string_view message) {
  struct Wording {
    std::string_view prefix, failed, kind;
  };
  for (const Wording& w : {Wording{"prog '", "': failed to load", "program"},
                           Wording{"map '", "': failed to create", "map"}}) {
    if (!message.starts_with(w.prefix)) continue;
    const auto end = message.find(w.failed);
    if (end == std::string_view::npos || end <= w.prefix.size()) return std::nullopt;
    return std::string(w.kind) + " " + std::string(message.substr(w.prefix.size(), end - w.prefix.size()));
  }
  return std::nullopt;
}

// Calls `line` on each line of `text` (a verifier log is one message of up to megabytes), without
// the line breaks; a final line break ends the last line, it does not start an empty one.
template <typename Line>
void for_each_line(std::string_view text, Line&& line) {
  while (!text.empty()) {
    const auto end = text.find('\n');
    line(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

}  // namespace edleak::capture
