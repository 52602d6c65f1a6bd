#pragma once
// The leak factor as JSON, with edLeak's names: {"class": "linear", "coef": [a, b, c],
// "leak": 15009, "min_size": 2000, "max_size": 18000}, then ours: "leak_edleak" (edLeak's size
// formula, whatever the class), "leak_blocks", "evidence" ("none", "trend", "floor", "blocks",
// "warmup", "noise_floor") and "confidence" (the evidence over what the rule requires: >= 1
// for a leak; 1e9 for a rise without noise). Shared by `classify` and the report.
#include <nlohmann/json.hpp>

#include "classify/leak_factor.h"

namespace edleak::classify {

nlohmann::ordered_json to_json(const LeakFactor& f);

}  // namespace edleak::classify
