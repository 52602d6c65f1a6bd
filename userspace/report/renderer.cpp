#include "report/renderer.h"

#include "report/json_renderer.h"
#include "report/text_renderer.h"

namespace edleak::report {

std::unique_ptr<Renderer> make_renderer(Format format) {
  switch (format) {
    case Format::text: return std::make_unique<TextRenderer>();
    case Format::json: return std::make_unique<JsonRenderer>();
  }
  return std::make_unique<TextRenderer>();  // unreachable: every Format is handled above
}

}  // namespace edleak::report
