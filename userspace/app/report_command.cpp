#include "app/report_command.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "app/recording.h"
#include "record/format.h"
#include "report/folded_writer.h"
#include "report/html_renderer.h"
#include "report/pprof_writer.h"
#include "report/profile.h"
#include "util/atomic_file.h"

namespace edleak::app {

int run_report_command(const cli::ReplayOptions& options, std::ostream& out, std::ostream& err) {
  auto recording = record::read_file(options.input);
  if (!recording) {
    err << "edleak-bpf: " << recording.error().message << '\n';
    return 1;
  }
  const report::Report report = replay_report(*recording, options.top, options.all_stacks);

  std::ostringstream text;
  using F = cli::ReplayOptions::Format;
  switch (options.format) {
    case F::text: report::make_renderer(report::Format::text)->render(report, text); break;
    case F::json: report::make_renderer(report::Format::json)->render(report, text); break;
    case F::html: report::HtmlRenderer().render(report, text); break;
    case F::folded:
    case F::folded_leaks:
      report::write_folded(report::profile_stacks(*recording),
                           options.format == F::folded ? report::FoldedValue::outstanding_bytes
                                                       : report::FoldedValue::leak_bytes,
                           text);
      break;
    case F::pprof: {
      auto gz = report::gzip(report::encode_pprof(report::profile_stacks(*recording), *recording));
      if (!gz) {
        err << "edleak-bpf: " << gz.error().message << '\n';
        return 1;
      }
      text << *gz;
      break;
    }
  }
  if (options.output_path.empty()) {
    out << text.str();
    out.flush();
    return out ? 0 : 1;
  }
  if (auto r = write_file_atomically(options.output_path, text.str()); !r) {
    err << "edleak-bpf: " << r.error().message << '\n';
    return 1;
  }
  return 0;
}

}  // namespace edleak::app
