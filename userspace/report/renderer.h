#pragma once
#include <memory>
#include <ostream>

#include "report/report.h"

namespace edleak::report {

enum class Format { text, json };

// Writes reports to a stream: text for people, JSON lines (one object per report) for tools.
class Renderer {
 public:
  virtual ~Renderer() = default;
  virtual void render(const Report& report, std::ostream& out) = 0;
};

std::unique_ptr<Renderer> make_renderer(Format format);

}  // namespace edleak::report
