#include "report/folded_writer.h"

#include <map>

#include "report/format.h"

namespace edleak::report {
namespace {

// ';' separates frames and the last ' ' the value: a name keeps its spaces ("operator
// new(unsigned long)" is fine, the value is after the last one) but not its ';' nor control bytes.
std::string folded_name(const std::string& name) {
  std::string out = printable(name);
  for (char& c : out)
    if (c == ';') c = ':';
  return out.empty() ? "[unknown]" : out;
}

}  // namespace

void write_folded(const std::vector<ProfileStack>& stacks, FoldedValue value, std::ostream& out) {
  std::map<std::string, std::uint64_t> lines;  // sorted: the same capture gives the same file
  for (const ProfileStack& s : stacks) {
    const std::uint64_t v = value == FoldedValue::outstanding_bytes ? s.outstanding_bytes : s.leak_bytes;
    if (v == 0) continue;
    std::string line = folded_name(s.comm.empty() ? std::to_string(s.pid) : s.comm);
    for (auto f = s.frames->rbegin(); f != s.frames->rend(); ++f)
      for (const std::string& name : frame_names(*f)) line += ";" + folded_name(name);
    lines[line] += v;
  }
  for (const auto& [line, v] : lines) out << line << ' ' << v << '\n';
}

}  // namespace edleak::report
