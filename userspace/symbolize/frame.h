#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace edleak::symbolize {

// A function inlined at an address, innermost first.
struct InlinedFrame {
  std::string symbol;  // demangled
  std::string file;    // may be empty
  int line = 0;        // 0 when unknown
};

// One resolved address of a process.
struct Frame {
  std::uint64_t addr = 0;    // the runtime address in the process
  std::string symbol;        // demangled function name; empty when unknown
  std::uint64_t offset = 0;  // addr - symbol start
  std::string module;        // path of the mapped file as the process sees it; empty if none
  std::string file;          // source file of addr (innermost), empty when no debug info
  int line = 0;              // 0 when unknown
  std::vector<InlinedFrame> inlined;  // functions inlined at addr, innermost first
};

}  // namespace edleak::symbolize
