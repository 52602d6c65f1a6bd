#include "classify/remembered_verdict.h"

namespace edleak::classify {

VerdictKey verdict_key(const series::Series& bytes, const series::Series& blocks, const series::Series& frees,
                       const series::Series& old_blocks, bool attached) {
  return {revisions_of(bytes, blocks, frees, old_blocks),
          {bytes.min_bytes(), bytes.max_bytes(), blocks.min_bytes(), blocks.max_bytes()},
          attached};
}

LeakFactor RememberedVerdict::classify(const StackSeries& stack, const VerdictKey& key) {
  // Described, or without the extremes a Series has: judged afresh.
  if (stack.describe || !stack.bytes_extremes) return classify_stack(stack);
  auto as_kept = [&] {
    LeakFactor out;
    out.cls = cls_;
    out.evidence = evidence_;
    out.confidence = confidence_;
    out.min_size = stack.bytes_extremes->first;
    out.max_size = stack.bytes_extremes->second;
    return out;
  };
  if (held_ && key_ == key) return as_kept();
  const LeakFactor judged = classify_stack(stack);
  held_ = !judged.is_leak();
  if (!held_) return judged;
  key_ = key;
  cls_ = judged.cls;
  evidence_ = judged.evidence;
  confidence_ = judged.confidence;
  return as_kept();
}

std::size_t RememberedSettling::point(const StackSeries& stack, std::uint64_t blocks_layout,
                                      std::uint64_t frees_layout) {
  if (blocks_layout != blocks_layout_ || frees_layout != frees_layout_ || stack.attached != attached_) {
    blocks_layout_ = blocks_layout;
    frees_layout_ = frees_layout;
    attached_ = stack.attached;
    scan_ = {};
  }
  scan_.advance(stack);
  return scan_.point();
}

}  // namespace edleak::classify
