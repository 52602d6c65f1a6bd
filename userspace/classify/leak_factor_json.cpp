#include "classify/leak_factor_json.h"

#include <cmath>

namespace edleak::classify {
namespace {

// Sizes are whole bytes in practice: write them as integers (edLeak's 18000.0 reads as 18000
// in JSON anyway), and keep a fraction only when the input had one.
nlohmann::ordered_json size_value(double bytes) {
  if (std::isfinite(bytes) && bytes == std::floor(bytes) && std::fabs(bytes) < 0x1.0p53)
    return static_cast<std::int64_t>(bytes);
  return bytes;
}

}  // namespace

nlohmann::ordered_json to_json(const LeakFactor& f) {
  return nlohmann::ordered_json{
      {"class", std::string(to_string(f.cls))},
      {"coef", {f.coef[0], f.coef[1], f.coef[2]}},
      {"leak", f.leak},
      {"min_size", size_value(f.min_size)},
      {"max_size", size_value(f.max_size)},
  };
}

}  // namespace edleak::classify
