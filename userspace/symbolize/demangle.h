#pragma once
#include <string>
#include <string_view>

namespace edleak::symbolize {

// The demangled form of a C++ (Itanium ABI) symbol name, e.g. "_ZN2ns3fooEi" -> "ns::foo(int)";
// any other name (C functions, names that fail to demangle) is returned unchanged.
std::string demangle(std::string_view name);

}  // namespace edleak::symbolize
