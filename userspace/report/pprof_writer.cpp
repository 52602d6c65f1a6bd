#include "report/pprof_writer.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <unordered_map>

#include "report/protobuf_writer.h"
#include "util/atomic_file.h"

namespace edleak::report {
namespace {

using protobuf::put_bytes;
using protobuf::put_packed;
using protobuf::put_uint;

// Field numbers of profile.proto.
namespace field {
enum Profile : std::uint32_t {
  sample_type = 1, sample = 2, mapping = 3, location = 4, function = 5, string_table = 6,
  time_nanos = 9, duration_nanos = 10, period_type = 11, period = 12, default_sample_type = 14
};
enum ValueType : std::uint32_t { vt_type = 1, vt_unit = 2 };
enum Sample : std::uint32_t { s_location_id = 1, s_value = 2, s_label = 3 };
enum Label : std::uint32_t { l_key = 1, l_str = 2, l_num = 3 };
enum Mapping : std::uint32_t {
  m_id = 1, m_memory_start = 2, m_memory_limit = 3, m_file_offset = 4, m_filename = 5, m_build_id = 6,
  m_has_functions = 7, m_has_filenames = 8, m_has_line_numbers = 9, m_has_inline_frames = 10
};
enum Location : std::uint32_t { loc_id = 1, loc_mapping_id = 2, loc_address = 3, loc_line = 4 };
enum Line : std::uint32_t { line_function_id = 1, line_line = 2 };
enum Function : std::uint32_t { f_id = 1, f_name = 2, f_system_name = 3, f_filename = 4 };
}  // namespace field

class ProfileBuilder {
 public:
  explicit ProfileBuilder(const record::Recording& recording) : recording_(recording) { str(""); }

  std::string build(const std::vector<ProfileStack>& stacks) {
    std::string samples;
    for (const ProfileStack& s : stacks) {
      std::string sample;
      std::vector<std::uint64_t> locations;
      for (const symbolize::Frame& f : *s.frames) locations.push_back(location(s.pid, f));
      put_packed(sample, field::s_location_id, locations);
      put_packed(sample, field::s_value, {s.outstanding_blocks, s.outstanding_bytes, s.leak_bytes});
      std::string label;
      put_uint(label, field::l_key, str("pid"));
      put_uint(label, field::l_num, s.pid);
      put_bytes(sample, field::s_label, label);
      label.clear();
      put_uint(label, field::l_key, str("comm"));
      put_uint(label, field::l_str, str(s.comm));
      put_bytes(sample, field::s_label, label);
      put_bytes(samples, field::sample, sample);
    }

    std::string out;
    for (auto [type, unit] : {std::pair{"inuse_objects", "count"}, {"inuse_space", "bytes"}, {"leak_space", "bytes"}})
      put_bytes(out, field::sample_type, value_type(type, unit));
    out += samples;
    // In id order: pprof takes the first mapping for the main binary, the first one a sample hit.
    std::vector<const MappingInfo*> mappings;
    for (const auto& [key, m] : mappings_) mappings.push_back(&m);
    std::sort(mappings.begin(), mappings.end(), [](auto* a, auto* b) { return a->id < b->id; });
    for (const MappingInfo* m : mappings) out += m->message;
    out += locations_;
    out += functions_;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(recording_.time.time_since_epoch()).count();
    put_uint(out, field::time_nanos, static_cast<std::uint64_t>(std::max<std::int64_t>(ns, 0)));
    put_uint(out, field::duration_nanos, static_cast<std::uint64_t>(std::max(recording_.elapsed_s, 0.0) * 1e9));
    put_bytes(out, field::period_type, value_type("space", "bytes"));
    put_uint(out, field::period, 1);
    put_uint(out, field::default_sample_type, str("inuse_space"));
    // The string table last: every index above has been handed out.
    for (const std::string* s : strings_) put_bytes(out, field::string_table, *s);
    return out;
  }

 private:
  std::uint64_t str(const std::string& s) {
    auto [it, inserted] = string_index_.try_emplace(s, strings_.size());
    if (inserted) strings_.push_back(&it->first);
    return it->second;
  }

  std::string value_type(const std::string& type, const std::string& unit) {
    std::string vt;
    put_uint(vt, field::vt_type, str(type));
    put_uint(vt, field::vt_unit, str(unit));
    return vt;
  }

  std::uint64_t function(const std::string& name, const std::string& file) {
    auto [it, inserted] = function_index_.try_emplace({name, file}, function_index_.size() + 1);
    if (inserted) {
      std::string f;
      put_uint(f, field::f_id, it->second);
      put_uint(f, field::f_name, str(name));
      put_uint(f, field::f_system_name, str(name));
      put_uint(f, field::f_filename, str(file));
      put_bytes(functions_, field::function, f);
    }
    return it->second;
  }

  // A mapping per (process, module), spanning the addresses seen in it: the capture records
  // frames, not the process's memory map. Its messages are written once every location is known.
  struct MappingInfo {
    std::uint64_t id = 0, start = UINT64_MAX, limit = 0;
    std::string message;
  };
  std::uint64_t mapping(std::uint32_t pid, const symbolize::Frame& f) {
    if (f.module.empty()) return 0;
    auto [it, inserted] = mappings_.try_emplace({pid, f.module});
    MappingInfo& m = it->second;
    if (inserted) m.id = mappings_.size();
    m.start = std::min(m.start, f.addr);
    m.limit = std::max(m.limit, f.addr + 1);
    m.message.clear();
    std::string body;
    put_uint(body, field::m_id, m.id);
    put_uint(body, field::m_memory_start, m.start);
    put_uint(body, field::m_memory_limit, m.limit);
    put_uint(body, field::m_filename, str(f.module));
    auto id = recording_.build_ids.find(f.module);
    if (id != recording_.build_ids.end()) put_uint(body, field::m_build_id, str(id->second));
    // Already symbolized: pprof must not look for the files again.
    put_uint(body, field::m_has_functions, 1);
    put_uint(body, field::m_has_filenames, 1);
    put_uint(body, field::m_has_line_numbers, 1);
    put_uint(body, field::m_has_inline_frames, 1);
    put_bytes(m.message, field::mapping, body);
    return m.id;
  }

  std::string line(const std::string& symbol, const std::string& file, int line_no) {
    std::string l;
    put_uint(l, field::line_function_id, function(symbol, file));
    put_uint(l, field::line_line, static_cast<std::uint64_t>(std::max(line_no, 0)));
    return l;
  }

  std::uint64_t location(std::uint32_t pid, const symbolize::Frame& f) {
    auto [it, inserted] = location_index_.try_emplace({pid, f.addr}, location_index_.size() + 1);
    if (!inserted) return it->second;
    std::string loc;
    put_uint(loc, field::loc_id, it->second);
    put_uint(loc, field::loc_mapping_id, mapping(pid, f));
    put_uint(loc, field::loc_address, f.addr);
    // Lines innermost first, the last one the function they were inlined into (profile.proto);
    // symbolize::function_locations gives them in that order, each with the line inside it.
    const auto functions = symbolize::function_locations(f);
    for (std::size_t i = 0; i < functions.size(); ++i) {
      const bool outer = i + 1 == functions.size();
      const std::string name = outer ? frame_names(f).front() : functions[i].symbol;
      put_bytes(loc, field::loc_line, line(name.empty() ? "[inlined]" : name, functions[i].file, functions[i].line));
    }
    put_bytes(locations_, field::location, loc);
    return it->second;
  }

  const record::Recording& recording_;
  std::map<std::string, std::uint64_t> string_index_;
  std::vector<const std::string*> strings_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> function_index_;
  std::map<std::pair<std::uint32_t, std::string>, MappingInfo> mappings_;
  std::map<std::pair<std::uint32_t, std::uint64_t>, std::uint64_t> location_index_;
  std::string functions_, locations_;
};

}  // namespace

std::string encode_pprof(const std::vector<ProfileStack>& stacks, const record::Recording& recording) {
  return ProfileBuilder(recording).build(stacks);
}

Result<std::string> gzip(std::string_view bytes) {
  z_stream z{};
  // windowBits 15 + 16: a gzip header and trailer rather than zlib's.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return make_error("gzip: deflateInit2 failed");
  std::string out(deflateBound(&z, bytes.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return make_error("gzip: deflate failed ({})", rc);
  return out;
}

Result<void> write_pprof_file(const std::string& path, const std::vector<ProfileStack>& stacks,
                              const record::Recording& recording) {
  auto compressed = gzip(encode_pprof(stacks, recording));
  if (!compressed) return compressed.error();
  return write_file_atomically(path, *compressed);
}

}  // namespace edleak::report
