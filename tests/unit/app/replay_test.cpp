// `edleak-bpf report FILE` on a recorded run of the demo: the same verdicts as the live run,
// and golden outputs (tests/data/demo.*; EDLEAK_UPDATE_GOLDEN=1 rewrites them after a change
// that is meant).
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "app/report_command.h"
#include "demo_record.h"
#include "external_tool.h"
#include "report/folded_writer.h"
#include "report/json_renderer.h"
#include "report/text_renderer.h"

namespace edleak::app {
namespace {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void expect_golden(const std::string& name, const std::string& actual) {
  const auto path = test::data_path(name);
  if (const char* update = std::getenv("EDLEAK_UPDATE_GOLDEN"); update && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  EXPECT_EQ(actual, read_text(path)) << "differs from " << path << " (EDLEAK_UPDATE_GOLDEN=1 rewrites it)";
}

TEST(Replay, DemoVerdictsAsLive) {
  const report::Report r = test::demo_report();
  ASSERT_EQ(r.processes.size(), 1u);
  const auto& p = r.processes[0];
  EXPECT_EQ(p.comm, "edleak-demo");
  EXPECT_TRUE(p.exited);
  ASSERT_EQ(p.leakers.size(), 2u);
  EXPECT_EQ(p.leakers[0].stack.front().symbol, "cache_lookup");
  EXPECT_EQ(p.leakers[0].leak_factor.cls, classify::LeakClass::logarithmic);
  EXPECT_EQ(p.leakers[1].stack.front().symbol, "open_session");
  EXPECT_EQ(p.leakers[1].leak_factor.cls, classify::LeakClass::linear);
  EXPECT_EQ(p.leakers[1].outstanding_bytes, 256000u);  // 2000 sessions of 128 bytes
  EXPECT_GE(p.leakers[1].series.size(), 16u);
}

TEST(Replay, TopCutsAndCountsTheRest) {
  const report::Report r = test::demo_report(1);
  ASSERT_EQ(r.processes.size(), 1u);
  EXPECT_EQ(r.processes[0].leakers.size(), 1u);
  EXPECT_EQ(r.processes[0].unlisted, 1u);
}

TEST(Replay, GoldenText) {
  std::ostringstream out;
  report::TextRenderer(report::TextRenderer::TimeZone::utc).render(test::demo_report(10, true), out);
  expect_golden("demo.report.txt", out.str());
}

TEST(Replay, GoldenJson) {
  std::ostringstream out;
  report::JsonRenderer().render(test::demo_report(), out);
  expect_golden("demo.report.json", out.str());
}

TEST(Replay, GoldenFolded) {
  const auto recording = test::demo_recording();
  std::ostringstream out;
  report::write_folded(report::profile_stacks(recording), report::FoldedValue::outstanding_bytes, out);
  expect_golden("demo.folded", out.str());
}

// A version 2 record keeps the run's options, its noise floor and each process's last scan:
// `report` shows them and judges with them.
TEST(ReportCommand, ShowsTheRecordedOptionsAndScans) {
  record::Recording recording = test::demo_recording();
  ASSERT_FALSE(recording.processes.empty());
  recording.options = {{"interval", "1s"}, {"all-stacks", "no"}, {"record", "demo.edlk"},
                       {"command", "build/edleak-demo 20"}};
  record::RecordedScan& scan = recording.processes[0].scan.emplace();
  scan.summary.time = recording.time;
  scan.summary.at_exit = true;
  scan.summary.frozen_ms = 3.5;
  scan.summary.blocks_scanned = 2100;
  scan.summary.bytes_scanned = 1 << 20;
  scan.summary.total.definitely_lost = {256000, 2000};
  const auto dir = test::temp_dir("recorded_options");
  ASSERT_TRUE(record::write_file(dir / "v2.edlk", recording));

  cli::ReplayOptions options;
  options.input = dir / "v2.edlk";
  std::ostringstream text, err;
  ASSERT_EQ(run_report_command(options, text, err), 0) << err.str();
  EXPECT_NE(text.str().find("recorded with: --interval 1s --record demo.edlk -- build/edleak-demo 20\n"),
            std::string::npos)
      << text.str();
  EXPECT_NE(text.str().find("scan at exit: frozen 3.5 ms"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("definitely lost: 250.0 KiB in 2000 blocks"), std::string::npos) << text.str();

  options.format = cli::ReplayOptions::Format::json;
  std::ostringstream json_out;
  ASSERT_EQ(run_report_command(options, json_out, err), 0) << err.str();
  const auto report = nlohmann::json::parse(json_out.str());
  EXPECT_EQ(report["recorded_options"]["interval"], "1s");
  EXPECT_EQ(report["recorded_options"]["command"], "build/edleak-demo 20");
  EXPECT_EQ(report["processes"][0]["scan"]["blocks_scanned"], 2100);

  // The recorded noise floor is the replay's: above every leak, none is one.
  recording.min_leak_bytes = 1ull << 40;
  ASSERT_TRUE(record::write_file(dir / "floor.edlk", recording));
  const report::Report floored = app::replay_report(*record::read_file(dir / "floor.edlk"), 10, false);
  ASSERT_EQ(floored.processes.size(), 1u);
  EXPECT_EQ(floored.processes[0].leaking_stacks, 0u);
  EXPECT_EQ(test::demo_report().processes[0].leaking_stacks, 2u);
}

TEST(ReportCommand, CorruptRecordNamesTheOffset) {
  const auto dir = test::temp_dir("corrupt_record");
  std::string bytes = read_text(test::data_path("demo.edlk"));
  bytes.resize(bytes.size() / 2);
  std::ofstream(dir / "half.edlk", std::ios::binary) << bytes;
  cli::ReplayOptions options;
  options.input = dir / "half.edlk";
  std::ostringstream out, err;
  EXPECT_EQ(run_report_command(options, out, err), 1);
  EXPECT_EQ(out.str(), "");
  EXPECT_NE(err.str().find("corrupt record at byte "), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("half.edlk"), std::string::npos) << err.str();
}

TEST(ReportCommand, WritesEachFormat) {
  const auto dir = test::temp_dir("report_formats");
  using F = cli::ReplayOptions::Format;
  for (auto [format, name, starts] : {std::tuple{F::text, "r.txt", "["}, {F::json, "r.json", "{\"time\""},
                                      {F::html, "r.html", "<!DOCTYPE html>"}, {F::folded, "r.folded", "edleak-demo;"},
                                      {F::pprof, "r.pb.gz", "\x1f\x8b"}}) {
    cli::ReplayOptions options;
    options.input = test::data_path("demo.edlk");
    options.format = format;
    options.output_path = dir / name;
    std::ostringstream out, err;
    ASSERT_EQ(run_report_command(options, out, err), 0) << err.str();
    EXPECT_EQ(read_text(dir / name).rfind(starts, 0), 0u) << name;
  }
}

}  // namespace
}  // namespace edleak::app
