#pragma once
// `edleak-bpf report FILE`: a capture saved by --record, replayed through the report builder,
// the classifier and the renderers of a live run.
#include <ostream>

#include "cli/options.h"

namespace edleak::app {

// Exit status: 0, or 1 after one line on `err` saying why (an unreadable or corrupt record
// names the byte offset).
int run_report_command(const cli::ReplayOptions& options, std::ostream& out, std::ostream& err);

}  // namespace edleak::app
