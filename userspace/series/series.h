#pragma once
// One allocation point's outstanding-bytes-over-time series, in bounded memory.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace edleak::series {

struct Point {
  double t_s = 0;    // seconds, any origin
  double bytes = 0;  // outstanding bytes at t_s
};

// What a Series is, as far as anything reading it can tell (points, lows, extremes, resolution,
// first and last samples): what a record keeps (record/) and Series::restored takes back, so
// that a replayed series classifies as the live one did.
struct SeriesState {
  std::vector<Point> points;
  std::vector<double> lows;  // the lowest sample behind each point; empty: unknown
  double min = 0, max = 0;   // true extremes of the samples
  std::uint64_t samples_seen = 0;
  std::uint64_t samples_per_point = 0;  // the resolution; 0: unknown (samples_seen / points)
  std::optional<Point> first, last;     // the first and latest samples; unknown: the end points
};

// Holds at most `capacity` points whatever the run length: when full, neighbouring points are
// merged pairwise so the series keeps its shape at half the time resolution. The true first,
// last, minimum and maximum samples are always kept exactly (first(), last(), min_bytes(),
// max_bytes()).
//
// Every point is the mean, in time and bytes, of the same number of consecutive samples (the
// current resolution; one sample each until the series first fills up). Equal weights keep the
// series statistically even: noise shrinks alike everywhere as the series ages, so a fit and a
// noise estimate over the points are not skewed by a few raw samples among averaged ones. The
// samples of a bucket not yet full wait outside points() (at most one bucket's worth, the
// last 1/128 of the run or less once the series has filled up at the default capacity). A
// short spike therefore shows in points() as a smaller bump; its true height stays in
// max_bytes(). memory_bytes() is bounded: storage doubles as points come, up to capacity
// points, and stays there.
class Series {
 public:
  static constexpr std::size_t kDefaultCapacity = 256;
  static constexpr std::size_t kMinCapacity = 8;  // the leak factor needs 8 points
  // A capacity below kMinCapacity is raised to it.
  explicit Series(std::size_t capacity = kDefaultCapacity);

  // A series as recorded (record/): its points (time order; the capacity is raised to hold
  // them) and what else the state has. What the state does not know is taken from the points
  // (a lowest sample per point: the point itself; the first and last samples: the end points).
  // The points are taken as they are, each of weight one: a replay classifies them again, it
  // does not append to them (an append still keeps every invariant).
  static Series restored(std::size_t capacity, SeriesState state);
  SeriesState state() const;

  // Appends a sample; t_s must not go backwards (a sample at an earlier time is ignored, as is a
  // sample whose time or bytes is not a finite number).
  void append(double t_s, double bytes);

  const std::vector<Point>& points() const;  // in time order, size() <= capacity()
  // The lowest sample behind each point, parallel to points(): the lower envelope at any
  // resolution (a batch buffer's emptied level survives the averaging that hides it).
  const std::vector<double>& lows() const;
  std::uint64_t samples_in_points() const;  // samples behind points(), the rest are pending
  std::size_t size() const;
  std::size_t capacity() const;
  std::uint64_t samples_seen() const;  // appended, before merging
  bool empty() const;                  // no sample appended
  Point first() const;                 // the first sample appended
  Point last() const;                  // the latest sample appended
  double min_bytes() const;
  double max_bytes() const;
  std::uint64_t samples_per_point() const;  // the current resolution
  // The first point from which every sample behind the points is the same value (so those
  // points and their lows all are): size() when the last point's samples differ. The
  // classifier asks whether a series moved at all after some point without reading it.
  std::size_t unchanged_from() const;
  // Changes whenever the points, their lows or the resolution change (a bucket filled, or the
  // points were merged): between two changes only the pending bucket, the latest sample and the
  // extremes moved, so a verdict on the points taken at one revision holds at it.
  std::uint32_t revision() const { return revision_; }
  // Changes when points already in the series change (a halving merges them) or it is restored,
  // not when points are appended: points [0, n) read at one layout are the same at any later
  // read at that layout. Unique to this series' history in the process (a copy shares it).
  std::uint64_t layout() const { return layout_; }
  std::size_t memory_bytes() const;  // heap + object, for the bounded-memory tests
  // Ask the CPU to bring the lows, or the first and last points, into cache ahead of a read.
  void prefetch_lows() const;
  void prefetch_ends() const;
  // Where the next append() writes, when it completes a point: the ends of the point, weight
  // and low arrays (three allocations of their own, not in cache when a table of many series
  // is ingested in turn).
  void prefetch_next_point() const;

 private:
  void halve();
  void reserve_points(std::size_t n);

  // What the classifier reads of every series at every report comes first, together (112
  // bytes); what only append() needs follows.
  std::vector<Point> points_;  // bucket means
  std::vector<double> lows_;   // lowest sample of each point
  double min_bytes_ = 0, max_bytes_ = 0;
  Point last_{};
  std::uint64_t samples_seen_ = 0;
  std::uint64_t bucket_samples_ = 1;  // samples per point at the current resolution
  // Points [unchanged_from_, size()) hold samples of unchanged_value_ only.
  std::size_t unchanged_from_ = 0;
  double unchanged_value_ = 0;
  std::vector<std::uint32_t> weights_;  // samples per point, parallel to points_ (the current
                                        // resolution, or half of it for an odd one out)
  std::size_t capacity_;
  Point first_{};
  // The bucket being filled: sums of its samples' times and bytes.
  std::uint64_t pending_count_ = 0;
  double pending_t_sum_ = 0, pending_bytes_sum_ = 0, pending_low_ = 0, pending_high_ = 0;
  std::uint64_t in_points_ = 0;
  std::uint32_t revision_ = 0;
  std::uint64_t layout_;
};

}  // namespace edleak::series
