#pragma once
// One allocation point's outstanding-bytes-over-time series, in bounded memory.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace edleak::series {

struct Point {
  double t_s = 0;    // seconds, any origin
  double bytes = 0;  // outstanding bytes at t_s
};

// Holds at most `capacity` points whatever the run length: when full, neighbouring points are
// merged pairwise so the series keeps its shape at half the time resolution. The true first,
// last, minimum and maximum samples are always kept exactly.
class Series {
 public:
  static constexpr std::size_t kDefaultCapacity = 256;
  explicit Series(std::size_t capacity = kDefaultCapacity);

  // Appends a sample; t_s must not go backwards (a sample at an earlier time is ignored).
  void append(double t_s, double bytes);

  const std::vector<Point>& points() const;  // in time order, size() <= capacity()
  std::size_t size() const;
  std::size_t capacity() const;
  std::uint64_t samples_seen() const;  // appended, before merging
  bool empty() const;
  Point first() const;
  Point last() const;
  double min_bytes() const;
  double max_bytes() const;
  std::size_t memory_bytes() const;  // heap + object, for the bounded-memory tests

 private:
  // private members are the implementation's to choose
  std::vector<Point> points_;
  std::size_t capacity_;
  std::uint64_t samples_seen_ = 0;
  Point first_{}, last_{};
  double min_bytes_ = 0, max_bytes_ = 0;
  std::uint64_t merge_stride_ = 1;
  std::uint64_t pending_count_ = 0;
  Point pending_{};
};

}  // namespace edleak::series
