#pragma once
// A pprof profile (github.com/google/pprof, proto/profile.proto), gzip-compressed, as go tool
// pprof, Pyroscope and Parca read it: one sample per stack with the values inuse_objects
// (count), inuse_space (bytes, the default) and leak_space (bytes the leak factor sizes);
// labels pid and comm; locations with their inlined functions as lines; functions; mappings per
// process and module with the module's build ID.
#include <string>
#include <vector>

#include "record/recording.h"
#include "report/profile.h"
#include "util/result.h"

namespace edleak::report {

// The profile, uncompressed (the protobuf message).
std::string encode_pprof(const std::vector<ProfileStack>& stacks, const record::Recording& recording);
// gzip of `bytes` (zlib), what pprof files hold.
Result<std::string> gzip(std::string_view bytes);
Result<void> write_pprof_file(const std::string& path, const std::vector<ProfileStack>& stacks,
                              const record::Recording& recording);

}  // namespace edleak::report
