#include "record/format.h"

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <unordered_map>

#include <fmt/format.h>

#include "record/varint.h"
#include "util/atomic_file.h"

namespace edleak::record {
namespace {

constexpr std::string_view kMagic = "EDLKREC\n";
constexpr std::string_view kEnd = "END\n";

void put_fixed(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

class Encoder {
 public:
  std::string encode(const Recording& r) {
    std::string body;
    // Strings first, so that the reader has the table before the frames that index it.
    intern("");
    for (const RecordedSite& site : r.sites)
      for (const symbolize::Frame& f : site.frames) {
        intern(f.symbol), intern(f.module), intern(f.nearest_symbol), intern(f.file);
        for (const auto& inl : f.inlined) intern(inl.symbol), intern(inl.file);
      }

    std::string out(kMagic);
    put_fixed(out, kFormatVersion, 4);
    put_time(out, r.time);
    put_double(out, r.elapsed_s);
    put_double(out, r.interval_s);
    put_varint(out, r.samples);
    out.push_back(r.final ? 1 : 0);
    out.push_back(r.targets_named ? 1 : 0);
    const sample::Counters& c = r.counters;
    for (std::uint64_t v : {c.lost_allocs, c.lost_sites, c.stack_errors, c.unknown_frees, c.failed_allocs,
                            c.state_errors})
      put_varint(out, v);
    put_varint(out, r.command.size());
    for (const std::string& arg : r.command) put_string(out, arg);
    put_varint(out, c.overwritten_blocks);
    put_varint(out, c.lost_events);
    out.push_back(r.attached ? 1 : 0);
    put_varint(out, r.min_leak_bytes);
    put_double(out, r.min_leak_share);
    put_varint(out, r.options.size());
    for (const auto& [name, value] : r.options) put_string(out, name), put_string(out, value);

    put_varint(out, strings_.size());
    for (const std::string* s : strings_) put_string(out, *s);

    put_varint(out, r.processes.size());
    for (const RecordedProcess& p : r.processes) {
      put_varint(out, p.pid);
      put_varint(out, p.incarnation);
      put_string(out, p.comm);
      out.push_back(p.exited ? 1 : 0);
      out.push_back(p.scan ? 1 : 0);
      if (p.scan) put_scan(out, *p.scan);
      put_process_info(out, p);
    }
    put_varint(out, r.sites.size());
    for (const RecordedSite& site : r.sites) put_site(out, site);
    put_varint(out, r.build_ids.size());
    for (const auto& [path, id] : r.build_ids) put_string(out, path), put_string(out, id);
    out.push_back(r.watch ? 1 : 0);
    if (r.watch) put_watch(out, *r.watch);
    out += kEnd;
    return out;
  }

 private:
  // The table points at the index's own keys (stable in a node-based map), never at the
  // caller's strings: intern("") is a temporary.
  void intern(const std::string& s) {
    auto [it, inserted] = index_.try_emplace(s, strings_.size());
    if (inserted) strings_.push_back(&it->first);
  }
  std::uint64_t ref(const std::string& s) const { return index_.at(s); }

  static void put_double(std::string& out, double v) { put_fixed(out, std::bit_cast<std::uint64_t>(v), 8); }
  static void put_string(std::string& out, const std::string& s) {
    put_varint(out, s.size());
    out += s;
  }

  static void put_time(std::string& out, std::chrono::system_clock::time_point time) {
    put_varint(out, zigzag(std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count()));
  }
  static void put_points(std::string& out, const std::vector<series::Point>& points) {
    put_varint(out, points.size());
    for (const series::Point& p : points) put_double(out, p.t_s), put_double(out, p.bytes);
  }
  // What version 3 adds to a series: its lows, resolution and end samples.
  static void put_series_tail(std::string& out, const RecordedSeries& s) {
    const bool has_lows = s.lows.size() == s.points.size();
    put_varint(out, has_lows ? s.lows.size() : 0);
    if (has_lows)
      for (double low : s.lows) put_double(out, low);
    put_varint(out, s.samples_per_point);
    const bool has_ends = s.first && s.last;
    out.push_back(has_ends ? 1 : 0);
    if (has_ends)
      for (const series::Point* p : {&*s.first, &*s.last}) put_double(out, p->t_s), put_double(out, p->bytes);
  }
  // A series as version 2 has it: points, extremes, samples.
  static void put_series_head(std::string& out, const RecordedSeries& s) {
    put_points(out, s.points);
    put_double(out, s.min);
    put_double(out, s.max);
    put_varint(out, s.samples_seen);
  }
  static void put_series(std::string& out, const RecordedSeries& s) {
    put_series_head(out, s);
    put_series_tail(out, s);
  }
  static void put_process_info(std::string& out, const RecordedProcess& p) {
    out.push_back(p.exec_ended ? 1 : 0);
    out.push_back(p.named ? 1 : 0);
    put_varint(out, p.parent_pid);
    put_string(out, p.command);
    out.push_back(p.exit_status ? 1 : 0);
    if (p.exit_status) put_varint(out, zigzag(*p.exit_status));
    put_varint(out, p.ns_pid);
    put_string(out, p.cgroup);
    put_varint(out, p.notes.size());
    for (const std::string& note : p.notes) put_string(out, note);
    put_varint(out, p.allocators.size());
    for (const report::AllocatorInfo& a : p.allocators) {
      put_string(out, a.name);
      put_string(out, a.path);
      out.push_back(a.in_executable ? 1 : 0);
      put_string(out, a.symbol_prefix);
      out.push_back(a.traced ? 1 : 0);
      put_string(out, a.description);
    }
  }
  static void put_watch(std::string& out, const RecordedWatch& w) {
    put_double(out, w.now_s);
    put_varint(out, w.min_growth_bytes);
    put_varint(out, w.unwatched);
    put_varint(out, w.processes.size());
    for (const RecordedHeap& h : w.processes) {
      put_varint(out, h.pid);
      put_varint(out, h.incarnation);
      put_string(out, h.comm);
      put_varint(out, h.bytes);
      out.push_back(h.zoomed ? 1 : 0);
      put_double(out, h.zoom_started_s);
      put_double(out, h.zoom_until_s);
      put_varint(out, h.bytes_at_zoom);
      put_varint(out, h.zooms);
      put_varint(out, h.cleared);
      put_string(out, h.note);
      put_series(out, h.heap);
    }
  }
  static void put_reachability(std::string& out, const report::Reachability& r) {
    for (const report::BlockTotals* t : {&r.definitely_lost, &r.indirectly_lost, &r.possibly_lost, &r.still_reachable})
      put_varint(out, t->bytes), put_varint(out, t->blocks);
  }
  static void put_scan(std::string& out, const RecordedScan& scan) {
    const report::ScanSummary& s = scan.summary;
    put_time(out, s.time);
    out.push_back(s.at_exit ? 1 : 0);
    put_double(out, s.frozen_ms);
    put_varint(out, s.blocks_scanned);
    put_varint(out, s.bytes_scanned);
    out.push_back(s.aborted ? 1 : 0);
    put_string(out, s.error);
    put_reachability(out, s.total);
    put_varint(out, scan.per_stack.size());
    for (const auto& [stack_id, r] : scan.per_stack) put_fixed(out, stack_id, 8), put_reachability(out, r);
  }

  void put_site(std::string& out, const RecordedSite& site) {
    const sample::SiteCounts& l = site.latest;
    put_varint(out, l.tgid);
    put_varint(out, site.incarnation);
    put_fixed(out, l.stack_id, 8);
    put_varint(out, zigzag(l.outstanding_bytes));
    put_varint(out, zigzag(l.outstanding_blocks));
    put_varint(out, l.total_allocs);
    put_varint(out, l.total_frees);
    out.push_back(site.stack_complete ? 1 : 0);
    out.push_back(site.stack_truncated ? 1 : 0);
    put_double(out, site.bytes.min);
    put_double(out, site.bytes.max);
    put_varint(out, site.bytes.samples_seen);
    put_points(out, site.bytes.points);
    put_varint(out, site.frames.size());
    for (const symbolize::Frame& f : site.frames) {
      put_varint(out, f.addr);
      put_varint(out, ref(f.symbol));
      put_varint(out, f.offset);
      put_varint(out, ref(f.module));
      out.push_back(f.module_offset ? 1 : 0);
      if (f.module_offset) put_varint(out, *f.module_offset);
      put_varint(out, ref(f.nearest_symbol));
      put_varint(out, f.nearest_offset);
      put_varint(out, ref(f.file));
      put_varint(out, static_cast<std::uint64_t>(std::max(f.line, 0)));
      put_varint(out, f.inlined.size());
      for (const auto& inl : f.inlined) {
        put_varint(out, ref(inl.symbol));
        put_varint(out, ref(inl.file));
        put_varint(out, static_cast<std::uint64_t>(std::max(inl.line, 0)));
      }
    }
    for (const RecordedSeries* series : {&site.blocks, &site.frees}) put_series_head(out, *series);
    out.push_back(site.mmap ? 1 : 0);
    for (const RecordedSeries* series : {&site.bytes, &site.blocks, &site.frees}) put_series_tail(out, *series);
    put_series(out, site.old_blocks);
    put_varint(out, zigzag(site.old_bytes));
  }

  std::unordered_map<std::string, std::uint64_t> index_;
  std::vector<const std::string*> strings_;
};

// A failed read: what was expected, at which byte.
struct Corrupt {
  std::size_t offset;
  std::string what;
};

// A cursor over untrusted bytes: every read is bounds-checked and throws Corrupt (caught in
// decode(), never escaping it) with the offset of the field being read.
class Decoder {
 public:
  explicit Decoder(std::string_view bytes) : bytes_(bytes) {}

  Recording decode() {
    if (bytes_.substr(0, kMagic.size()) != kMagic) fail(0, "not an edleak-bpf record (bad magic)");
    pos_ = kMagic.size();
    const std::size_t version_at = pos_;
    version_ = fixed(4, "the format version");
    if (version_ == 0 || version_ > kFormatVersion)
      fail(version_at, fmt::format("format version {} (this edleak-bpf reads versions 1 to {})", version_,
                                   kFormatVersion));
    Recording r;
    r.time = time("the record time");
    r.elapsed_s = finite("elapsed_s");
    r.interval_s = finite("interval_s");
    r.samples = varint("samples");
    r.final = boolean("final");
    r.targets_named = boolean("targets_named");
    sample::Counters& c = r.counters;
    for (std::uint64_t* v : {&c.lost_allocs, &c.lost_sites, &c.stack_errors, &c.unknown_frees, &c.failed_allocs,
                             &c.state_errors})
      *v = varint("a capture counter");
    r.command.resize(count(1, "command arguments"));
    for (std::string& arg : r.command) arg = string("a command argument");
    if (version_ >= 2) {
      c.overwritten_blocks = varint("a capture counter");
      c.lost_events = varint("a capture counter");
      r.attached = boolean("attached");
      r.min_leak_bytes = varint("min_leak_bytes");
      r.min_leak_share = finite("min_leak_share");
      r.options.resize(count(2, "options"));
      for (auto& [name, value] : r.options) {
        name = string("an option name");
        value = string("an option value");
      }
    }

    strings_.resize(count(1, "strings"));
    for (std::string& s : strings_) s = string("a string of the table");
    if (strings_.empty() || !strings_[0].empty()) fail(pos_, "string table does not start with the empty string");

    r.processes.resize(count(4, "processes"));
    for (RecordedProcess& p : r.processes) {
      p.pid = u32("a pid");
      p.incarnation = u32("an incarnation");
      p.comm = string("a process name");
      p.exited = boolean("exited");
      if (version_ >= 2 && boolean("has_scan")) p.scan = read_scan();
      if (version_ >= 3) read_process_info(p);
    }
    r.sites.resize(count(34, "sites"));
    for (RecordedSite& site : r.sites) read_site(site);
    for (std::size_t n = count(2, "build IDs"); n > 0; --n) {
      std::string path = string("a module path");
      r.build_ids[std::move(path)] = string("a build ID");
    }
    if (version_ >= 3 && boolean("has_watch")) r.watch = read_watch();
    if (bytes_.substr(pos_, kEnd.size()) != kEnd) fail(pos_, "missing end marker");
    pos_ += kEnd.size();
    if (pos_ != bytes_.size()) fail(pos_, fmt::format("{} bytes after the end marker", bytes_.size() - pos_));
    return r;
  }

 private:
  [[noreturn]] static void fail(std::size_t offset, std::string what) { throw Corrupt{offset, std::move(what)}; }

  void need(std::size_t n, std::string_view what) {
    if (bytes_.size() - pos_ < n) fail(pos_, fmt::format("truncated: {} needs {} bytes, {} left", what, n,
                                                         bytes_.size() - pos_));
  }

  std::uint64_t varint(std::string_view what) {
    const std::size_t at = pos_;
    std::uint64_t value = 0;
    for (int shift = 0;; shift += 7) {
      if (pos_ >= bytes_.size()) fail(at, fmt::format("truncated: {} ends inside a varint", what));
      const auto byte = static_cast<std::uint8_t>(bytes_[pos_++]);
      if (shift == 63 && byte > 1) fail(at, fmt::format("{}: varint longer than 64 bits", what));
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return value;
      if (shift == 63) fail(at, fmt::format("{}: varint longer than 64 bits", what));
    }
  }

  std::uint64_t fixed(int n, std::string_view what) {
    need(static_cast<std::size_t>(n), what);
    std::uint64_t value = 0;
    for (int i = 0; i < n; ++i) value |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(bytes_[pos_++])) << (8 * i);
    return value;
  }

  std::uint32_t u32(std::string_view what) {
    const std::size_t at = pos_;
    const std::uint64_t v = varint(what);
    if (v > UINT32_MAX) fail(at, fmt::format("{} {} does not fit 32 bits", what, v));
    return static_cast<std::uint32_t>(v);
  }

  int line(std::string_view what) {
    const std::size_t at = pos_;
    const std::uint64_t v = varint(what);
    if (v > INT32_MAX) fail(at, fmt::format("{} {} out of range", what, v));
    return static_cast<int>(v);
  }

  // Nanoseconds since the Unix epoch, zigzag: within +-2^62 (146 years), which a system_clock
  // time point holds.
  std::chrono::system_clock::time_point time(std::string_view what) {
    const std::size_t at = pos_;
    const std::int64_t ns = unzigzag(varint(what));
    if (ns < -(std::int64_t{1} << 62) || ns > (std::int64_t{1} << 62)) fail(at, fmt::format("{} out of range", what));
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(ns)));
  }

  double finite(std::string_view what) {
    const std::size_t at = pos_;
    const double v = std::bit_cast<double>(fixed(8, what));
    if (!std::isfinite(v)) fail(at, fmt::format("{} is not a finite number", what));
    return v;
  }

  bool boolean(std::string_view what) {
    need(1, what);
    const auto byte = static_cast<std::uint8_t>(bytes_[pos_]);
    if (byte > 1) fail(pos_, fmt::format("{} is {}, not a boolean (0 or 1)", what, byte));
    ++pos_;
    return byte == 1;
  }

  // A count of items of at least `min_item_bytes` each: more than the bytes left can hold is
  // corrupt, which also bounds what the reader allocates by the size of its input.
  std::size_t count(std::size_t min_item_bytes, std::string_view what) {
    const std::size_t at = pos_;
    const std::uint64_t n = varint(what);
    if (n > (bytes_.size() - pos_) / min_item_bytes)
      fail(at, fmt::format("{} {} cannot fit in the {} bytes left", n, what, bytes_.size() - pos_));
    return static_cast<std::size_t>(n);
  }

  std::string string(std::string_view what) {
    const std::size_t n = count(1, what);
    std::string s(bytes_.substr(pos_, n));
    pos_ += n;
    return s;
  }

  const std::string& ref(std::string_view what) {
    const std::size_t at = pos_;
    const std::uint64_t i = varint(what);
    if (i >= strings_.size())
      fail(at, fmt::format("{}: string index {} past the table of {}", what, i, strings_.size()));
    return strings_[i];
  }

  std::vector<series::Point> points(std::string_view what) {
    std::vector<series::Point> out(count(16, what));
    double last_t = -INFINITY;
    for (series::Point& p : out) {
      const std::size_t at = pos_;
      p.t_s = finite("a point's time");
      p.bytes = finite("a point's bytes");
      if (p.t_s < last_t) fail(at, "points out of time order");
      last_t = p.t_s;
    }
    return out;
  }

  report::Reachability reachability() {
    report::Reachability r;
    for (report::BlockTotals* t : {&r.definitely_lost, &r.indirectly_lost, &r.possibly_lost, &r.still_reachable}) {
      t->bytes = varint("a reachability's bytes");
      t->blocks = varint("a reachability's blocks");
    }
    return r;
  }

  RecordedScan read_scan() {
    RecordedScan scan;
    report::ScanSummary& s = scan.summary;
    s.time = time("a scan's time");
    s.at_exit = boolean("at_exit");
    s.frozen_ms = finite("frozen_ms");
    s.blocks_scanned = varint("blocks_scanned");
    s.bytes_scanned = varint("bytes_scanned");
    s.aborted = boolean("aborted");
    s.error = string("a scan error");
    s.total = reachability();
    scan.per_stack.resize(count(16, "scanned stacks"));
    for (auto& [stack_id, r] : scan.per_stack) {
      stack_id = fixed(8, "a scanned stack id");
      r = reachability();
    }
    return scan;
  }

  void read_site(RecordedSite& site) {
    sample::SiteCounts& l = site.latest;
    l.tgid = u32("a site's pid");
    site.incarnation = u32("a site's incarnation");
    l.stack_id = fixed(8, "a stack id");
    l.outstanding_bytes = unzigzag(varint("outstanding bytes"));
    l.outstanding_blocks = unzigzag(varint("outstanding blocks"));
    l.total_allocs = varint("total allocs");
    l.total_frees = varint("total frees");
    site.stack_complete = boolean("stack_complete");
    site.stack_truncated = boolean("stack_truncated");
    site.bytes.min = finite("min_bytes");
    site.bytes.max = finite("max_bytes");
    site.bytes.samples_seen = varint("samples_seen");
    site.bytes.points = points("points");
    site.frames.resize(count(10, "frames"));
    for (symbolize::Frame& f : site.frames) {
      f.addr = varint("a frame address");
      f.symbol = ref("a frame symbol");
      f.offset = varint("a frame offset");
      f.module = ref("a frame module");
      if (boolean("has_module_offset")) f.module_offset = varint("a module offset");
      f.nearest_symbol = ref("a nearest symbol");
      f.nearest_offset = varint("a nearest offset");
      f.file = ref("a frame file");
      f.line = line("a frame line");
      f.inlined.resize(count(3, "inlined frames"));
      for (auto& inl : f.inlined) {
        inl.symbol = ref("an inlined symbol");
        inl.file = ref("an inlined file");
        inl.line = line("an inlined line");
      }
    }
    if (version_ < 2) return;
    for (RecordedSeries* series : {&site.blocks, &site.frees}) *series = series_head("a series' points");
    if (version_ < 3) return;
    site.mmap = boolean("mmap");
    for (RecordedSeries* series : {&site.bytes, &site.blocks, &site.frees}) series_tail(*series);
    site.old_blocks = full_series("the old blocks' series");
    site.old_bytes = unzigzag(varint("old bytes"));
  }

  // Version 3's part of a series: lows (none, or one per point), resolution, end samples.
  void series_tail(RecordedSeries& s) {
    const std::size_t at = pos_;
    const std::size_t lows = count(8, "a series' lows");
    if (lows != 0 && lows != s.points.size())
      fail(at, fmt::format("{} lows for a series of {} points", lows, s.points.size()));
    s.lows.resize(lows);
    for (double& low : s.lows) low = finite("a series' low");
    const std::size_t resolution_at = pos_;
    s.samples_per_point = varint("a series' samples per point");
    if (s.samples_per_point > std::max<std::uint64_t>(s.samples_seen, 1))
      fail(resolution_at, fmt::format("{} samples per point in a series of {} samples", s.samples_per_point,
                                      s.samples_seen));
    if (boolean("a series' has_ends")) {
      series::Point first, last;
      first.t_s = finite("a series' first time");
      first.bytes = finite("a series' first bytes");
      last.t_s = finite("a series' last time");
      last.bytes = finite("a series' last bytes");
      s.first = first;
      s.last = last;
    }
  }

  RecordedSeries series_head(std::string_view what) {
    RecordedSeries s;
    s.points = points(what);
    s.min = finite("a series' minimum");
    s.max = finite("a series' maximum");
    s.samples_seen = varint("a series' samples");
    return s;
  }

  RecordedSeries full_series(std::string_view what) {
    RecordedSeries s = series_head(what);
    series_tail(s);
    return s;
  }

  void read_process_info(RecordedProcess& p) {
    p.exec_ended = boolean("exec_ended");
    p.named = boolean("named");
    p.parent_pid = u32("a parent pid");
    p.command = string("a process command line");
    if (boolean("has_exit_status")) {
      const std::size_t at = pos_;
      const std::int64_t status = unzigzag(varint("an exit status"));
      if (status < INT32_MIN || status > INT32_MAX) fail(at, fmt::format("exit status {} out of range", status));
      p.exit_status = static_cast<int>(status);
    }
    p.ns_pid = u32("a namespace pid");
    p.cgroup = string("a cgroup");
    p.notes.resize(count(1, "notes"));
    for (std::string& note : p.notes) note = string("a note");
    p.allocators.resize(count(6, "allocators"));
    for (report::AllocatorInfo& a : p.allocators) {
      a.name = string("an allocator name");
      a.path = string("an allocator path");
      a.in_executable = boolean("in_executable");
      a.symbol_prefix = string("an allocator prefix");
      a.traced = boolean("traced");
      a.description = string("an allocator description");
    }
  }

  RecordedWatch read_watch() {
    RecordedWatch w;
    w.now_s = finite("the watch's time");
    w.min_growth_bytes = varint("min_growth_bytes");
    w.unwatched = varint("unwatched");
    w.processes.resize(count(40, "watched processes"));
    for (RecordedHeap& h : w.processes) {
      h.pid = u32("a watched pid");
      h.incarnation = u32("a watched incarnation");
      h.comm = string("a watched process name");
      h.bytes = varint("a heap's bytes");
      h.zoomed = boolean("zoomed");
      h.zoom_started_s = finite("zoom_started_s");
      h.zoom_until_s = finite("zoom_until_s");
      h.bytes_at_zoom = varint("bytes_at_zoom");
      h.zooms = u32("zooms");
      h.cleared = u32("cleared");
      h.note = string("a heap note");
      h.heap = full_series("a heap series");
    }
    return w;
  }

  std::string_view bytes_;
  std::size_t pos_ = 0;
  std::uint64_t version_ = 0;
  std::vector<std::string> strings_;
};

}  // namespace

std::string encode(const Recording& recording) { return Encoder().encode(recording); }

Result<Recording> decode(std::string_view bytes) {
  try {
    return Decoder(bytes).decode();
  } catch (const Corrupt& c) {
    return make_error("corrupt record at byte {}: {}", c.offset, c.what);
  }
}

Result<void> write_file(const std::string& path, const Recording& recording) {
  return write_file_atomically(path, encode(recording));
}

Result<Recording> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot read record '{}': {}", path, std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return make_error("cannot read record '{}': {}", path, std::strerror(errno));
  auto r = decode(bytes);
  if (!r) return make_error("{}: {}", path, r.error().message);
  return r;
}

}  // namespace edleak::record
