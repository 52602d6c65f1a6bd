#pragma once
// Folded stacks, the input of flamegraph.pl, inferno and speedscope: one line per stack,
// "comm;outermost;...;allocation_site VALUE", frames separated by ';', the value after the
// last space. Identical lines are merged (their values summed); stacks of value 0 are left out.
#include <ostream>
#include <vector>

#include "report/profile.h"

namespace edleak::report {

enum class FoldedValue {
  outstanding_bytes,  // --folded: what each stack holds now
  leak_bytes,         // --folded-leaks: what each stack leaked (the leak factor's size)
};

void write_folded(const std::vector<ProfileStack>& stacks, FoldedValue value, std::ostream& out);

}  // namespace edleak::report
