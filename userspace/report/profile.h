#pragma once
// Every stack of a capture with what it holds and leaks: the input of the profile outputs
// (folded stacks for flame graphs, pprof), which show all stacks rather than the --top leakers.
#include <cstdint>
#include <string>
#include <vector>

#include "record/recording.h"
#include "symbolize/frame.h"

namespace edleak::report {

struct ProfileStack {
  std::uint32_t pid = 0;
  std::string comm;
  std::uint64_t stack_id = 0;
  const std::vector<symbolize::Frame>* frames = nullptr;  // allocation site first; owned by the recording
  std::uint64_t outstanding_bytes = 0;
  std::uint64_t outstanding_blocks = 0;
  std::uint64_t leak_bytes = 0;  // the leak factor's size (0 for a stack that does not leak)
};

// Stacks with outstanding or leaked bytes, classified by the same leak factor as the report.
// The result points into `recording`, which must outlive it.
std::vector<ProfileStack> profile_stacks(const record::Recording& recording);

// The name a frame goes by in a profile: its symbol, else "module+0xoffset", else the address;
// then the functions inlined into it down to the innermost, as separate frames (outermost first).
std::vector<std::string> frame_names(const symbolize::Frame& frame);

}  // namespace edleak::report
