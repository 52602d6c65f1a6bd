#pragma once
// The few protobuf wire-format primitives a pprof profile needs (varint and length-delimited
// fields, packed repeated varints). Hand-encoded rather than through libprotobuf: profile.proto
// uses five message types of plain integer and string fields, which this writes in 40 lines
// with no generated code, no protoc step in the build and no runtime library; go tool pprof
// checks the result in tests/unit/report/pprof_writer_test.cpp.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "record/varint.h"

namespace edleak::report::protobuf {

enum WireType : std::uint32_t { kVarint = 0, kLengthDelimited = 2 };

inline void put_key(std::string& out, std::uint32_t field, WireType type) {
  record::put_varint(out, (static_cast<std::uint64_t>(field) << 3) | type);
}

// An int64/uint64/bool field; proto3 leaves zero values out.
inline void put_uint(std::string& out, std::uint32_t field, std::uint64_t value) {
  if (value == 0) return;
  put_key(out, field, kVarint);
  record::put_varint(out, value);
}

// A string, bytes or embedded-message field (always written: an empty string in the string
// table must be present).
inline void put_bytes(std::string& out, std::uint32_t field, std::string_view bytes) {
  put_key(out, field, kLengthDelimited);
  record::put_varint(out, bytes.size());
  out.append(bytes);
}

inline void put_packed(std::string& out, std::uint32_t field, const std::vector<std::uint64_t>& values) {
  if (values.empty()) return;
  std::string packed;
  for (std::uint64_t v : values) record::put_varint(packed, v);
  put_bytes(out, field, packed);
}

}  // namespace edleak::report::protobuf
