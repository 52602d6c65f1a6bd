#pragma once
// The leak factor as JSON, with edLeak's names: {"class": "linear", "coef": [a, b, c],
// "leak": 15009, "min_size": 2000, "max_size": 18000}. Shared by `classify` and the report.
#include <nlohmann/json.hpp>

#include "classify/leak_factor.h"

namespace edleak::classify {

nlohmann::ordered_json to_json(const LeakFactor& f);

}  // namespace edleak::classify
