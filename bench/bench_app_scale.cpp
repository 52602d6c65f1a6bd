// Userspace cost of one report at scale (issue 4): a snapshot of STACKS live stacks is
// ingested into series that already hold HISTORY samples, every stack is classified, leakers
// are ranked and the report is rendered (text and JSON). Measures process CPU time per report.
// With RECORD (a path): the --record file is rebuilt and rewritten too at each report, as the
// tracer does (app/outputs.cpp), and its cost is given apart.
//   bench_app_scale [STACKS=100000] [HISTORY=255] [REPORTS=5] [RECORD|-] [AGES=1]
// AGES=0: snapshots without the age ring (as before it, or a replay), for comparison.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sstream>
#include <string_view>
#include <vector>

#include "app/recording.h"
#include "app/report_builder.h"
#include "record/format.h"
#include "util/atomic_file.h"
#include "report/renderer.h"
#include "sample/site_table.h"

namespace {

double cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// Stack i of process (i % processes): 1 in 100 leaks linearly, the rest churn around a level.
// The age ring as the capture fills it: a churning stack's blocks are freed within the interval
// they are born in (their cohorts net 0), a leaking one keeps one block of 64 bytes a tick.
edleak::sample::Snapshot make_snapshot(std::uint32_t stacks, std::uint32_t processes, std::uint64_t tick, bool ages) {
  edleak::sample::Snapshot snap;
  snap.t_s = static_cast<double>(tick);
  snap.age_epoch = ages ? static_cast<std::uint32_t>(tick + 1) : 0;
  snap.sites.reserve(stacks);
  for (std::uint32_t i = 0; i < stacks; ++i) {
    edleak::sample::SiteSample s;
    s.tgid = 1000 + i % processes;
    s.stack_id = 0x9e3779b97f4a7c15ULL * (i + 1);
    bool leaks = i % 100 == 0;
    std::int64_t bytes = leaks ? 64 * static_cast<std::int64_t>(tick + 1) : 4096 + ((tick * 7 + i) % 5) * 64;
    s.outstanding_bytes = bytes;
    s.outstanding_blocks = bytes / 64;
    s.total_allocs = tick * 3 + s.outstanding_blocks;
    s.total_frees = tick * 3;
    if (leaks)
      for (std::uint32_t slot = 0; slot < edleak::sample::kAgeSlots && slot <= tick; ++slot) {
        s.age.blocks[slot] = static_cast<std::uint32_t>((tick - slot) / edleak::sample::kAgeSlots + 1);
        s.age.bytes[slot] = 64 * s.age.blocks[slot];
      }
    snap.sites.push_back(s);
    if (tick == 0) snap.new_stacks[s.stack_id] = {{0x401000 + i, 0x402000, 0x403000}, true, false};
  }
  return snap;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint32_t stacks = argc > 1 ? std::atoi(argv[1]) : 100000;
  const std::uint32_t history = argc > 2 ? std::atoi(argv[2]) : 255;
  const int reports = argc > 3 ? std::atoi(argv[3]) : 5;
  const char* record_path = argc > 4 && std::string_view(argv[4]) != "-" ? argv[4] : nullptr;
  const bool ages = argc > 5 ? std::atoi(argv[5]) != 0 : true;
  const std::uint32_t processes = 10;

  edleak::sample::SiteTable table;
  for (std::uint64_t tick = 0; tick < history; ++tick) table.ingest(make_snapshot(stacks, processes, tick, ages));

  edleak::app::ProcessInfos infos;
  for (std::uint32_t p = 0; p < processes; ++p) infos[1000 + p] = {"bench", false};
  std::vector<edleak::symbolize::Frame> frames(3);
  for (auto& f : frames) {
    f.addr = 0x401000;
    f.symbol = "function_name";
    f.offset = 0x10;
    f.module = "/usr/bin/bench";
    f.file = "bench.c";
    f.line = 42;
  }
  auto resolve = [&](const edleak::sample::ProcessKey&, std::uint64_t) { return frames; };
  auto text = edleak::report::make_renderer(edleak::report::Format::text);
  auto json = edleak::report::make_renderer(edleak::report::Format::json);

  std::vector<double> ingest_ms, report_ms, total_ms, record_ms, build_ms, encode_ms;
  std::size_t record_bytes = 0;
  std::size_t leakers = 0;
  for (int r = 0; r < reports; ++r) {
    auto snap = make_snapshot(stacks, processes, history + r, ages);  // built outside the timing
    double t0 = cpu_ms();
    table.ingest(snap);
    double t1 = cpu_ms();
    edleak::app::ReportContext context;
    context.elapsed_s = static_cast<double>(history + r);
    context.interval_s = 1;
    auto report = edleak::app::build_report(table, infos, resolve, context);
    std::ostringstream out;
    text->render(report, out);
    json->render(report, out);
    double t2 = cpu_ms();
    if (record_path) {
      edleak::app::RecordingContext rc;
      rc.elapsed_s = context.elapsed_s;
      rc.interval_s = 1;
      const auto recording = edleak::app::make_recording(table, infos, resolve, rc);
      const double t3 = cpu_ms();
      const std::string bytes = edleak::record::encode(recording);
      const double t4 = cpu_ms();
      record_bytes = bytes.size();
      if (auto w = edleak::write_file_atomically(record_path, bytes); !w) {
        std::fprintf(stderr, "%s\n", w.error().message.c_str());
        return 1;
      }
      record_ms.push_back(cpu_ms() - t2);
      build_ms.push_back(t3 - t2);
      encode_ms.push_back(t4 - t3);
    }
    leakers = 0;
    for (const auto& p : report.processes) leakers += p.leaking_stacks;
    ingest_ms.push_back(t1 - t0);
    report_ms.push_back(t2 - t1);
    total_ms.push_back(t2 - t0);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  // A report reuses the verdicts of stacks whose series took no point since the last one
  // (classify/remembered_verdict.h): every stack here was born at once, so all take their points
  // at the same reports, one in samples_per_point (4 at 256 samples), and those are the slowest.
  std::printf("stacks %u, %u samples each, %zu leaking: CPU per report median %.1f ms, slowest %.1f ms "
              "(ingest %.1f ms, classify+rank+render %.1f ms, slowest %.1f ms) over %d reports\n",
              stacks, history + 1, leakers, median(total_ms), *std::max_element(total_ms.begin(), total_ms.end()),
              median(ingest_ms), median(report_ms), *std::max_element(report_ms.begin(), report_ms.end()), reports);
  if (record_path)
    std::printf("record rebuilt and written at each report: median %.1f ms CPU (build %.1f, encode %.1f, "
                "write the rest), %.1f MB\n",
                median(record_ms), median(build_ms), median(encode_ms), static_cast<double>(record_bytes) / 1e6);
  return 0;
}
