#include "symbolize/demangle.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

namespace edleak::symbolize {

std::string demangle(std::string_view name) {
  // Only Itanium mangled names: __cxa_demangle would also "demangle" plain C names that happen
  // to spell a type, e.g. "f" -> "float".
  if (!name.starts_with("_Z")) return std::string(name);
  std::string mangled(name);  // __cxa_demangle wants a NUL-terminated string
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> demangled(
      abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status), &std::free);
  if (status != 0 || demangled == nullptr) return mangled;
  return demangled.get();
}

}  // namespace edleak::symbolize
