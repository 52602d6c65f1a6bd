#pragma once
// `edleak-bpf classify`: see classify/command.h, which does the work.
#include <istream>
#include <ostream>
#include <string>

#include "report/renderer.h"

namespace edleak::app {

// input is a path or "-" for stdin_stream; returns the process exit code (0, or 1 on bad input
// after one "edleak-bpf: classify: ..." line on err).
int run_classify(const std::string& input, report::Format format, std::istream& stdin_stream,
                 std::ostream& out, std::ostream& err);

}  // namespace edleak::app
