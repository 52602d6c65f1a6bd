#pragma once
// Files the tool rewrites at every report (--record, --html, --folded, --pprof): written to a
// temporary file then renamed over the target, so a reader (a browser reloading, a scraper, a
// crash of the run) never sees half a file.
#include <string>
#include <string_view>

#include "util/result.h"

namespace edleak {

Result<void> write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace edleak
