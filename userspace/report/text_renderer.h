#pragma once
// The report for a terminal, in the spirit of bcc's memleak but with a verdict per stack:
//
//   [10:00:12] edleak-bpf: 12 samples over 12.0s (interval 1s)
//   lost: 0 allocs, 0 stacks; stack errors: 0; untracked frees: 0; failed allocs: 0
//   pid 1234 (server): 1 leaking of 57 stacks, 1.2 MiB outstanding
//     scan on demand: frozen 12.5 ms, 1234 blocks and 1.2 MiB scanned; definitely lost: 29.3 KiB in 30 blocks; ...
//     #1 linear      leak 14.7 KiB (15009 B), +1.2 KiB/s, outstanding 29.3 KiB in 30 blocks (31 allocs, 1 free)
//         definitely lost: 29.3 KiB in 30 blocks
//         push_item (list.h:12) [inlined]
//         leak_here+0x18 (server.c:42) [/usr/bin/server]
//         0x7f12a0c3b191 [unknown]
//
// Leakers are printed in the order given (see rank.h); each report ends with a blank line.
#include "report/renderer.h"

namespace edleak::report {

class TextRenderer final : public Renderer {
 public:
  enum class TimeZone { local, utc };  // of the [hh:mm:ss] header; utc makes output reproducible

  // Frames printed per stack before "... N more frames".
  static constexpr std::size_t kMaxFrames = 16;

  explicit TextRenderer(TimeZone zone = TimeZone::local) : zone_(zone) {}
  void render(const Report& report, std::ostream& out) override;

 private:
  TimeZone zone_;
};

}  // namespace edleak::report
