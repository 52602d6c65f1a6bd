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
    }
    put_varint(out, r.sites.size());
    for (const RecordedSite& site : r.sites) put_site(out, site);
    put_varint(out, r.build_ids.size());
    for (const auto& [path, id] : r.build_ids) put_string(out, path), put_string(out, id);
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
    const sample::SiteSample& l = site.latest;
    put_varint(out, l.tgid);
    put_varint(out, site.incarnation);
    put_fixed(out, l.stack_id, 8);
    put_varint(out, zigzag(l.outstanding_bytes));
    put_varint(out, zigzag(l.outstanding_blocks));
    put_varint(out, l.total_allocs);
    put_varint(out, l.total_frees);
    out.push_back(site.stack_complete ? 1 : 0);
    out.push_back(site.stack_truncated ? 1 : 0);
    put_double(out, site.min_bytes);
    put_double(out, site.max_bytes);
    put_varint(out, site.samples_seen);
    put_points(out, site.points);
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
    for (const RecordedSeries* series : {&site.blocks, &site.frees}) {
      put_points(out, series->points);
      put_double(out, series->min);
      put_double(out, series->max);
      put_varint(out, series->samples_seen);
    }
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
    }
    r.sites.resize(count(34, "sites"));
    for (RecordedSite& site : r.sites) read_site(site);
    for (std::size_t n = count(2, "build IDs"); n > 0; --n) {
      std::string path = string("a module path");
      r.build_ids[std::move(path)] = string("a build ID");
    }
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
    sample::SiteSample& l = site.latest;
    l.tgid = u32("a site's pid");
    site.incarnation = u32("a site's incarnation");
    l.stack_id = fixed(8, "a stack id");
    l.outstanding_bytes = unzigzag(varint("outstanding bytes"));
    l.outstanding_blocks = unzigzag(varint("outstanding blocks"));
    l.total_allocs = varint("total allocs");
    l.total_frees = varint("total frees");
    site.stack_complete = boolean("stack_complete");
    site.stack_truncated = boolean("stack_truncated");
    site.min_bytes = finite("min_bytes");
    site.max_bytes = finite("max_bytes");
    site.samples_seen = varint("samples_seen");
    site.points = points("points");
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
    for (RecordedSeries* series : {&site.blocks, &site.frees}) {
      series->points = points("a series' points");
      series->min = finite("a series' minimum");
      series->max = finite("a series' maximum");
      series->samples_seen = varint("a series' samples");
    }
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
