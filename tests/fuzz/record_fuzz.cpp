// libFuzzer target of the record reader (record/format.h): any input either decodes or gives
// one "corrupt record at byte N" error; never a crash, a hang or an allocation beyond the input's
// size. A decoded record re-encodes to bytes that decode again.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "record/format.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto r = edleak::record::decode(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!r) {
    if (r.error().message.rfind("corrupt record at byte ", 0) != 0) std::abort();
    return 0;
  }
  if (!edleak::record::decode(edleak::record::encode(*r))) std::abort();
  return 0;
}
