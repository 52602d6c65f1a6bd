#include "series/series.h"

#include <algorithm>
#include <cmath>

namespace edleak::series {

Series::Series(std::size_t capacity) : capacity_(std::max(capacity, kMinCapacity)) {
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
  ++pending_count_;
  pending_t_sum_ += t_s;
  pending_bytes_sum_ += bytes;
  if (pending_count_ < bucket_samples_) return;
  if (points_.size() == capacity_) {
    halve();  // doubles bucket_samples_: the pending bucket goes on filling to the new size
    return;
  }
  if (points_.size() == points_.capacity()) reserve_points(std::min(capacity_, 2 * points_.size()));
  const double count = static_cast<double>(pending_count_);
  points_.push_back({pending_t_sum_ / count, pending_bytes_sum_ / count});
  weights_.push_back(static_cast<std::uint32_t>(pending_count_));
  lows_.push_back(pending_low_);
  in_points_ += pending_count_;
  pending_count_ = 0;
  pending_t_sum_ = pending_bytes_sum_ = 0;
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
  bucket_samples_ *= 2;
}

Series Series::restored(std::size_t capacity, std::vector<Point> points, double min_bytes, double max_bytes,
                        std::uint64_t samples_seen) {
  Series s(std::max(capacity, points.size()));
  if (points.empty()) return s;
  s.points_ = std::move(points);
  s.points_.reserve(s.capacity_);
  s.weights_.assign(s.points_.size(), 1);
  s.first_ = s.points_.front();
  s.last_ = s.points_.back();
  s.min_bytes_ = min_bytes;
  s.max_bytes_ = max_bytes;
  s.samples_seen_ = std::max<std::uint64_t>(samples_seen, s.points_.size());
  s.bucket_samples_ = std::max<std::uint64_t>(1, s.samples_seen_ / s.points_.size());
  return s;
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

std::size_t Series::memory_bytes() const {
  return sizeof(*this) + points_.capacity() * sizeof(Point) +
         weights_.capacity() * sizeof(weights_[0]) + lows_.capacity() * sizeof(double);
}

}  // namespace edleak::series
