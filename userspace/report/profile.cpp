#include "report/profile.h"

#include <unordered_map>

#include <fmt/format.h>

#include "classify/leak_factor.h"

namespace edleak::report {

std::vector<ProfileStack> profile_stacks(const record::Recording& recording) {
  std::unordered_map<std::uint32_t, const std::string*> comms;
  for (const auto& p : recording.processes) comms[p.pid] = &p.comm;
  std::vector<ProfileStack> out;
  for (const record::RecordedSite& site : recording.sites) {
    ProfileStack s;
    s.pid = site.latest.tgid;
    if (auto it = comms.find(s.pid); it != comms.end()) s.comm = *it->second;
    s.stack_id = site.latest.stack_id;
    s.frames = &site.frames;
    s.outstanding_bytes = site.latest.outstanding_bytes > 0 ? static_cast<std::uint64_t>(site.latest.outstanding_bytes) : 0;
    s.outstanding_blocks = site.latest.outstanding_blocks > 0 ? static_cast<std::uint64_t>(site.latest.outstanding_blocks) : 0;
    s.leak_bytes = classify::compute_leak_factor(site.bytes.points, site.bytes.min, site.bytes.max).leak;
    if (s.outstanding_bytes == 0 && s.leak_bytes == 0) continue;
    out.push_back(s);
  }
  return out;
}

std::vector<std::string> frame_names(const symbolize::Frame& frame) {
  std::vector<std::string> names;
  for (auto it = frame.inlined.rbegin(); it != frame.inlined.rend(); ++it)
    if (!it->symbol.empty()) names.push_back(it->symbol);
  if (!frame.symbol.empty()) names.insert(names.begin(), frame.symbol);
  else if (!frame.module.empty() && frame.module_offset) {
    auto slash = frame.module.rfind('/');
    names.insert(names.begin(), fmt::format("{}+{:#x}", frame.module.substr(slash == std::string::npos ? 0 : slash + 1),
                                            *frame.module_offset));
  } else
    names.insert(names.begin(), fmt::format("{:#x}", frame.addr));
  return names;
}

}  // namespace edleak::report
