#include "app/main_entry.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>

#include "app/classify_command.h"
#include "app/report_command.h"
#include "app/tracer.h"
#include "cli/options.h"
#include "util/log.h"

namespace edleak::app {

int main_entry(int argc, char** argv) {
  // libdwfl would otherwise ask debuginfod servers for debug files, stalling the report.
  unsetenv("DEBUGINFOD_URLS");
  auto parsed = cli::parse_options(argc, argv, std::cout, std::cerr);
  if (!parsed.options) return parsed.exit_code;
  const cli::Options& options = *parsed.options;

  if (options.mode == cli::Options::Mode::classify)
    return run_classify(options.classify.input, options.classify.format, std::cin, std::cout, std::cerr);

  if (options.mode == cli::Options::Mode::replay) return run_report_command(options.replay, std::cout, std::cerr);

  const auto& trace = options.trace;
  log::set_level(trace.verbosity >= 2   ? log::Level::debug
                 : trace.verbosity == 1 ? log::Level::verbose
                                        : log::Level::info);
  if (trace.output_path.empty()) return run_tracer(trace, std::cout);
  std::ofstream file(trace.output_path, std::ios::out | std::ios::trunc);
  if (!file) {
    log::error("cannot write '{}': {}", trace.output_path, std::strerror(errno));
    return 1;
  }
  return run_tracer(trace, file);
}

}  // namespace edleak::app
