#include "app/classify_command.h"

#include "classify/command.h"

namespace edleak::app {

int run_classify(const std::string& input, report::Format format, std::istream& stdin_stream,
                 std::ostream& out, std::ostream& err) {
  return classify::run_classify_command(input, format == report::Format::json, stdin_stream, out, err);
}

}  // namespace edleak::app
