#include "series/series.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "util/prefetch.h"

namespace edleak::series {
namespace {

std::uint64_t new_layout() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

Series::Series(std::size_t capacity) : capacity_(std::max(capacity, kMinCapacity)), layout_(new_layout()) {
  // Storage grows by doubling up to capacity_ (see append), never past it: most series of an
  // all-process run are short (a compiler's stacks live seconds), and reserving capacity_ points
  // for each of 50,000 of them held ~350 MB.
  reserve_points(std::min(capacity_, kMinCapacity));
}

void Series::reserve_points(std::size_t n) {
  points_.reserve(n);
  weights_.reserve(n);
  lows_.reserve(n);
}

void Series::append(double t_s, double bytes) {
  if (!std::isfinite(t_s) || !std::isfinite(bytes)) return;
  if (samples_seen_ > 0 && t_s < last_.t_s) return;
  if (samples_seen_ == 0) {
    first_ = {t_s, bytes};
    min_bytes_ = max_bytes_ = bytes;
  }
  ++samples_seen_;
  last_ = {t_s, bytes};
  min_bytes_ = std::min(min_bytes_, bytes);
  max_bytes_ = std::max(max_bytes_, bytes);

  pending_low_ = pending_count_ == 0 ? bytes : std::min(pending_low_, bytes);
  pending_high_ = pending_count_ == 0 ? bytes : std::max(pending_high_, bytes);
  ++pending_count_;
  pending_t_sum_ += t_s;
  pending_bytes_sum_ += bytes;
  if (pending_count_ < bucket_samples_) return;
  if (points_.size() == capacity_) {
    halve();  // doubles bucket_samples_: the pending bucket goes on filling to the new size
    return;
  }
  if (points_.size() == points_.capacity()) reserve_points(std::min(capacity_, 2 * points_.size()));
  const std::size_t at = points_.size();
  if (pending_low_ != pending_high_) {
    unchanged_from_ = at + 1;
  } else if (unchanged_from_ == at || unchanged_value_ != pending_low_) {
    unchanged_from_ = at;
    unchanged_value_ = pending_low_;
  }
  const double count = static_cast<double>(pending_count_);
  points_.push_back({pending_t_sum_ / count, pending_bytes_sum_ / count});
  weights_.push_back(static_cast<std::uint32_t>(pending_count_));
  lows_.push_back(pending_low_);
  in_points_ += pending_count_;
  ++revision_;
  pending_count_ = 0;
  pending_t_sum_ = pending_bytes_sum_ = 0;
}

void Series::prefetch_lows() const { util::prefetch(lows_.data(), lows_.size() * sizeof(double)); }

void Series::prefetch_next_point() const {
  if (pending_count_ + 1 < bucket_samples_ || points_.size() >= points_.capacity()) return;
  util::prefetch(points_.data() + points_.size(), sizeof(Point), true);
  util::prefetch(weights_.data() + weights_.size(), sizeof(std::uint32_t), true);
  util::prefetch(lows_.data() + lows_.size(), sizeof(double), true);
}

void Series::prefetch_ends() const {
  if (points_.empty()) return;
  util::prefetch(&points_.front(), sizeof(Point));
  util::prefetch(&points_.back(), sizeof(Point));
}

// Merges points pairwise into weighted means and doubles the resolution; an odd point out
// stays as it is (it will pair up at the next halving).
void Series::halve() {
  const std::size_t n = points_.size();
  std::size_t out = 0;
  for (std::size_t i = 0; i < n; i += 2, ++out) {
    if (i + 1 == n) {
      points_[out] = points_[i];
      weights_[out] = weights_[i];
      lows_[out] = lows_[i];
      continue;
    }
    const double wa = static_cast<double>(weights_[i]), wb = static_cast<double>(weights_[i + 1]);
    const double share_a = wa / (wa + wb), share_b = 1.0 - share_a;
    points_[out] = {points_[i].t_s * share_a + points_[i + 1].t_s * share_b,
                    points_[i].bytes * share_a + points_[i + 1].bytes * share_b};
    weights_[out] = weights_[i] + weights_[i + 1];
    lows_[out] = std::min(lows_[i], lows_[i + 1]);
  }
  points_.resize(out);
  weights_.resize(out);
  lows_.resize(out);
  unchanged_from_ = (unchanged_from_ + 1) / 2;  // a merged point is unchanged when both halves were
  bucket_samples_ *= 2;
  ++revision_;
  layout_ = new_layout();
}

Series Series::restored(std::size_t capacity, SeriesState state) {
  Series s(std::max(capacity, state.points.size()));
  if (state.points.empty()) return s;
  const std::size_t n = state.points.size();
  s.points_ = std::move(state.points);
  s.points_.reserve(s.capacity_);
  s.weights_.assign(n, 1);
  s.weights_.reserve(s.capacity_);
  if (state.lows.size() == n) {
    s.lows_ = std::move(state.lows);
  } else {
    // Unknown: each point is its own lowest sample, which the leak factor's floor reads as it
    // reads points without lows.
    s.lows_.clear();
    for (const Point& p : s.points_) s.lows_.push_back(p.bytes);
  }
  s.lows_.reserve(s.capacity_);
  // A point whose mean is its lowest sample holds one value only.
  s.unchanged_value_ = s.points_.back().bytes;
  s.unchanged_from_ = n;
  while (s.unchanged_from_ > 0 && s.points_[s.unchanged_from_ - 1].bytes == s.unchanged_value_ &&
         s.lows_[s.unchanged_from_ - 1] == s.unchanged_value_)
    --s.unchanged_from_;
  s.first_ = state.first.value_or(s.points_.front());
  s.last_ = state.last.value_or(s.points_.back());
  s.min_bytes_ = state.min;
  s.max_bytes_ = state.max;
  s.samples_seen_ = std::max<std::uint64_t>(state.samples_seen, n);
  s.in_points_ = n;
  s.bucket_samples_ = state.samples_per_point > 0 ? state.samples_per_point
                                                  : std::max<std::uint64_t>(1, s.samples_seen_ / n);
  s.revision_ = 1;
  return s;
}

SeriesState Series::state() const {
  SeriesState out;
  out.points = points_;
  out.lows = lows_;
  out.min = min_bytes_;
  out.max = max_bytes_;
  out.samples_seen = samples_seen_;
  out.samples_per_point = bucket_samples_;
  if (samples_seen_ > 0) out.first = first_, out.last = last_;
  return out;
}

const std::vector<Point>& Series::points() const { return points_; }
const std::vector<double>& Series::lows() const { return lows_; }
std::uint64_t Series::samples_in_points() const { return in_points_; }
std::size_t Series::size() const { return points_.size(); }
std::size_t Series::capacity() const { return capacity_; }
std::uint64_t Series::samples_seen() const { return samples_seen_; }
bool Series::empty() const { return samples_seen_ == 0; }
Point Series::first() const { return first_; }
Point Series::last() const { return last_; }
double Series::min_bytes() const { return min_bytes_; }
double Series::max_bytes() const { return max_bytes_; }
std::uint64_t Series::samples_per_point() const { return bucket_samples_; }
std::size_t Series::unchanged_from() const { return unchanged_from_; }

std::size_t Series::memory_bytes() const {
  return sizeof(*this) + points_.capacity() * sizeof(Point) +
         weights_.capacity() * sizeof(weights_[0]) + lows_.capacity() * sizeof(double);
}

}  // namespace edleak::series
