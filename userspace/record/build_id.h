#pragma once
// GNU build IDs of ELF files, recorded with the stacks so that a profile names the exact build
// of each module (pprof mappings), even when replayed where the files are gone.
#include <string>
#include <unordered_map>

namespace edleak::record {

// The NT_GNU_BUILD_ID note of an ELF file as lowercase hex; "" when the file cannot be read or
// has none.
std::string read_build_id(const std::string& path);

// read_build_id, once per path.
class BuildIds {
 public:
  const std::string& of(const std::string& path);

 private:
  std::unordered_map<std::string, std::string> cache_;
};

}  // namespace edleak::record
