#pragma once
// tests/data/demo.edlk: a record of the bundled demo (`edleak-bpf --interval 1s --record
// demo.edlk -- build/edleak-demo 20`), replayed by the output tests.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "app/recording.h"
#include "record/format.h"

namespace edleak::test {

inline std::filesystem::path data_path(const std::string& name) {
  return std::filesystem::path(EDLEAK_TEST_DATA_DIR) / name;
}

inline record::Recording demo_recording() {
  auto r = record::read_file(data_path("demo.edlk"));
  if (!r) ADD_FAILURE() << r.error().message;
  return r ? std::move(*r) : record::Recording{};
}

inline report::Report demo_report(std::size_t top = 10, bool all = false) {
  return app::replay_report(demo_recording(), top, all);
}

}  // namespace edleak::test
