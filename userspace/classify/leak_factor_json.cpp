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
  // edLeak's five fields first, unchanged in name and meaning (leak: see leak_factor.h), then
  // what our rule adds: edLeak's own size formula, the blocks leaked, the evidence the verdict
  // rests on and how far it stands out of the noise.
  const double confidence = std::isfinite(f.confidence) ? std::round(f.confidence * 100) / 100 : 1e9;
  return nlohmann::ordered_json{
      {"class", std::string(to_string(f.cls))},
      {"coef", {f.coef[0], f.coef[1], f.coef[2]}},
      {"leak", f.leak},
      {"min_size", size_value(f.min_size)},
      {"max_size", size_value(f.max_size)},
      {"leak_edleak", f.leak_edleak},
      {"leak_blocks", f.leak_blocks},
      {"evidence", std::string(to_string(f.evidence))},
      {"confidence", confidence},
  };
}

}  // namespace edleak::classify
