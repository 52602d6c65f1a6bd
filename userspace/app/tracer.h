#pragma once
#include <ostream>

#include "cli/options.h"

namespace edleak::app {

// Traces the processes the options name (or every process), reporting every interval to
// `out`, until the targets exit, the duration passes or SIGINT/SIGTERM arrives; then a final
// report. Returns the exit code: 0, or 1 with one line on stderr; with `-- CMD`, the
// command's own exit status.
int run_tracer(const cli::TraceOptions& options, std::ostream& out);

}  // namespace edleak::app
