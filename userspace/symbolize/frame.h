#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace edleak::symbolize {

// A function inlined at an address, innermost first.
// file:line is its call site: where it was inlined, in the function that encloses it (the next
// InlinedFrame, or for the last one the Frame's own symbol). The location inside the innermost
// inlined function is the Frame's file:line.
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
  // The file's own (ELF virtual) address of addr, when the module could be read.
  std::optional<std::uint64_t> module_offset;
  // Without a symbol (a stripped file): the closest exported symbol before addr, and how far
  // past it addr is; empty when there is none.
  std::string nearest_symbol;
  std::uint64_t nearest_offset = 0;
  std::string file;          // source file of addr (innermost), empty when no debug info
  int line = 0;              // 0 when unknown
  std::vector<InlinedFrame> inlined;  // functions inlined at addr, innermost first
};

// Each function at a frame's address with the location inside that very function, innermost
// first; the last one is the frame's own symbol. (Frame and InlinedFrame store call sites, which
// pair a function with its caller's line: this pairs each with its own.)
struct FunctionLocation {
  std::string symbol;  // empty when unknown
  std::string file;    // may be empty
  int line = 0;        // 0 when unknown
};
std::vector<FunctionLocation> function_locations(const Frame& frame);

// "symbol+0xoff (file:line) [module]", leaving out what is unknown. Without a symbol, as perf
// and heaptrack print it: "libfoo.so.1+0x1f504 (after foo_init+0x1a0) [module]" in a file
// (the nearest exported symbol when there is one), "0x7f12ab34" outside any.
std::string format_frame(const Frame& frame);

// One line per function at the address, innermost first, each with its own location (as
// eu-addr2line -i prints them): the inlined functions as "symbol (file:line) [inlined]", then
// the frame's symbol with the call site of the outermost inlined function, offset and module.
// Without inlined functions this is { format_frame(frame) }.
std::vector<std::string> format_frame_with_inlined(const Frame& frame);

}  // namespace edleak::symbolize
