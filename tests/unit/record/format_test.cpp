#include "record/format.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "record/varint.h"
#include "sample_recording.h"

namespace edleak::record {
namespace {

void expect_same_frame(const symbolize::Frame& a, const symbolize::Frame& b) {
  EXPECT_EQ(a.addr, b.addr);
  EXPECT_EQ(a.symbol, b.symbol);
  EXPECT_EQ(a.offset, b.offset);
  EXPECT_EQ(a.module, b.module);
  EXPECT_EQ(a.module_offset, b.module_offset);
  EXPECT_EQ(a.nearest_symbol, b.nearest_symbol);
  EXPECT_EQ(a.nearest_offset, b.nearest_offset);
  EXPECT_EQ(a.file, b.file);
  EXPECT_EQ(a.line, b.line);
  ASSERT_EQ(a.inlined.size(), b.inlined.size());
  for (std::size_t i = 0; i < a.inlined.size(); ++i) {
    EXPECT_EQ(a.inlined[i].symbol, b.inlined[i].symbol);
    EXPECT_EQ(a.inlined[i].file, b.inlined[i].file);
    EXPECT_EQ(a.inlined[i].line, b.inlined[i].line);
  }
}

void expect_same_series(const RecordedSeries& a, const RecordedSeries& b) {
  ASSERT_EQ(a.points.size(), b.points.size());
  for (std::size_t p = 0; p < a.points.size(); ++p) {
    EXPECT_EQ(a.points[p].t_s, b.points[p].t_s);
    EXPECT_EQ(a.points[p].bytes, b.points[p].bytes);
  }
  EXPECT_EQ(a.lows, b.lows);
  EXPECT_EQ(a.min, b.min);
  EXPECT_EQ(a.max, b.max);
  EXPECT_EQ(a.samples_seen, b.samples_seen);
  EXPECT_EQ(a.samples_per_point, b.samples_per_point);
  ASSERT_EQ(a.first.has_value(), b.first.has_value());
  ASSERT_EQ(a.last.has_value(), b.last.has_value());
  if (a.first) {
    EXPECT_EQ(a.first->t_s, b.first->t_s);
    EXPECT_EQ(a.first->bytes, b.first->bytes);
  }
  if (a.last) {
    EXPECT_EQ(a.last->t_s, b.last->t_s);
    EXPECT_EQ(a.last->bytes, b.last->bytes);
  }
}

TEST(RecordFormat, RoundTripsEveryField) {
  const Recording in = test_data::sample_recording();
  const std::string bytes = encode(in);
  EXPECT_EQ(bytes.substr(0, 8), "EDLKREC\n");
  auto out = decode(bytes);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->time, in.time);
  EXPECT_EQ(out->elapsed_s, in.elapsed_s);
  EXPECT_EQ(out->interval_s, in.interval_s);
  EXPECT_EQ(out->samples, in.samples);
  EXPECT_EQ(out->final, in.final);
  EXPECT_EQ(out->counters.unknown_frees, 3u);
  EXPECT_EQ(out->command, in.command);
  EXPECT_EQ(out->build_ids, in.build_ids);
  ASSERT_EQ(out->processes.size(), 1u);
  EXPECT_EQ(out->processes[0].pid, 1234u);
  EXPECT_EQ(out->processes[0].comm, "server");
  EXPECT_TRUE(out->processes[0].exited);
  ASSERT_EQ(out->sites.size(), in.sites.size());
  for (std::size_t i = 0; i < in.sites.size(); ++i) {
    const RecordedSite &a = out->sites[i], &b = in.sites[i];
    EXPECT_EQ(a.latest.tgid, b.latest.tgid);
    EXPECT_EQ(a.latest.stack_id, b.latest.stack_id);
    EXPECT_EQ(a.latest.outstanding_bytes, b.latest.outstanding_bytes);
    EXPECT_EQ(a.latest.outstanding_blocks, b.latest.outstanding_blocks);
    EXPECT_EQ(a.latest.total_allocs, b.latest.total_allocs);
    EXPECT_EQ(a.latest.total_frees, b.latest.total_frees);
    EXPECT_EQ(a.stack_complete, b.stack_complete);
    EXPECT_EQ(a.mmap, b.mmap);
    ASSERT_EQ(a.frames.size(), b.frames.size());
    for (std::size_t f = 0; f < a.frames.size(); ++f) expect_same_frame(a.frames[f], b.frames[f]);
    for (auto [x, y] : {std::pair{&a.bytes, &b.bytes}, {&a.blocks, &b.blocks}, {&a.frees, &b.frees},
                        {&a.old_blocks, &b.old_blocks}})
      expect_same_series(*x, *y);
    EXPECT_EQ(a.old_bytes, b.old_bytes);
  }
  // Version 3: what the sample sets of it is not at its default.
  EXPECT_FALSE(in.sites[0].bytes.lows.empty());
  EXPECT_FALSE(in.sites[0].old_blocks.points.empty());
  EXPECT_TRUE(in.sites[1].mmap);
  // Version 2: the rest of the counters, the verdicts' settings, the options, the scans.
  EXPECT_EQ(out->counters.overwritten_blocks, 4u);
  EXPECT_EQ(out->counters.lost_events, 5u);
  EXPECT_TRUE(out->attached);
  EXPECT_EQ(out->min_leak_bytes, 2048u);
  EXPECT_EQ(out->min_leak_share, 0.25);
  EXPECT_EQ(out->options, in.options);
  ASSERT_TRUE(out->processes[0].scan.has_value());
  const RecordedScan &scan = *out->processes[0].scan, &scan_in = *in.processes[0].scan;
  EXPECT_EQ(scan.summary.time, scan_in.summary.time);
  EXPECT_TRUE(scan.summary.at_exit);
  EXPECT_EQ(scan.summary.frozen_ms, 12.5);
  EXPECT_EQ(scan.summary.blocks_scanned, 21u);
  EXPECT_EQ(scan.summary.bytes_scanned, 65536u);
  EXPECT_FALSE(scan.summary.aborted);
  EXPECT_EQ(scan.summary.total, scan_in.summary.total);
  EXPECT_EQ(scan.per_stack, scan_in.per_stack);
  // Version 3: the process as the report showed it, and watch mode's heaps.
  const RecordedProcess &p = out->processes[0], &p_in = in.processes[0];
  EXPECT_EQ(p.exec_ended, p_in.exec_ended);
  EXPECT_EQ(p.named, p_in.named);
  EXPECT_EQ(p.parent_pid, 1200u);
  EXPECT_EQ(p.command, p_in.command);
  EXPECT_EQ(p.exit_status, 256);
  EXPECT_EQ(p.ns_pid, 7u);
  EXPECT_EQ(p.cgroup, p_in.cgroup);
  EXPECT_EQ(p.notes, p_in.notes);
  ASSERT_EQ(p.allocators.size(), 1u);
  EXPECT_EQ(p.allocators[0].name, "jemalloc");
  EXPECT_EQ(p.allocators[0].path, p_in.allocators[0].path);
  EXPECT_FALSE(p.allocators[0].in_executable);
  EXPECT_EQ(p.allocators[0].symbol_prefix, "je_");
  EXPECT_TRUE(p.allocators[0].traced);
  EXPECT_EQ(p.allocators[0].description, p_in.allocators[0].description);
  ASSERT_TRUE(out->watch.has_value());
  const RecordedWatch &w = *out->watch, &w_in = *in.watch;
  EXPECT_EQ(w.now_s, w_in.now_s);
  EXPECT_EQ(w.min_growth_bytes, w_in.min_growth_bytes);
  EXPECT_EQ(w.unwatched, 2u);
  ASSERT_EQ(w.processes.size(), w_in.processes.size());
  for (std::size_t i = 0; i < w.processes.size(); ++i) {
    const RecordedHeap &a = w.processes[i], &b = w_in.processes[i];
    EXPECT_EQ(a.pid, b.pid);
    EXPECT_EQ(a.incarnation, b.incarnation);
    EXPECT_EQ(a.comm, b.comm);
    EXPECT_EQ(a.bytes, b.bytes);
    EXPECT_EQ(a.zoomed, b.zoomed);
    EXPECT_EQ(a.zoom_started_s, b.zoom_started_s);
    EXPECT_EQ(a.zoom_until_s, b.zoom_until_s);
    EXPECT_EQ(a.bytes_at_zoom, b.bytes_at_zoom);
    EXPECT_EQ(a.zooms, b.zooms);
    EXPECT_EQ(a.cleared, b.cleared);
    EXPECT_EQ(a.note, b.note);
    expect_same_series(a.heap, b.heap);
  }
}

// A version 1 record (written before scans, options and the other series were kept) still reads:
// those come back empty or at their defaults.
TEST(RecordFormat, ReadsVersionOne) {
  const auto path = std::filesystem::path(EDLEAK_TEST_DATA_DIR) / "demo.edlk";
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 12u);
  ASSERT_EQ(bytes[8], 1) << path << " is not a version 1 record any more";
  auto r = decode(bytes);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->sites.empty());
  EXPECT_TRUE(r->options.empty());
  EXPECT_EQ(r->min_leak_bytes, 1024u);
  for (const auto& p : r->processes) EXPECT_FALSE(p.scan.has_value());
  for (const auto& s : r->sites) EXPECT_TRUE(s.blocks.points.empty() && s.frees.points.empty());
  // Re-encoded, it is a current record with the same sites.
  auto again = decode(encode(*r));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->sites.size(), r->sites.size());
}

// A version 2 record (the corpus seed written by version 2, before the low points, the old
// blocks, the processes' details and the heaps were kept) still reads: those come back empty or
// at their defaults (every process named, as version 2 replays listed them).
TEST(RecordFormat, ReadsVersionTwo) {
  const auto path =
      std::filesystem::path(EDLEAK_TEST_DATA_DIR) / ".." / "fuzz" / "corpus" / "record" / "seed-v2-sample";
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 12u);
  ASSERT_EQ(bytes[8], 2) << path << " is not a version 2 record";
  auto r = decode(bytes);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->sites.size(), 2u);
  EXPECT_FALSE(r->options.empty());
  EXPECT_TRUE(r->processes[0].scan.has_value());
  EXPECT_FALSE(r->sites[0].blocks.points.empty());
  for (const auto& s : r->sites) {
    EXPECT_TRUE(s.bytes.lows.empty() && s.blocks.lows.empty());
    EXPECT_EQ(s.bytes.samples_per_point, 0u);
    EXPECT_FALSE(s.bytes.last.has_value());
    EXPECT_TRUE(s.old_blocks.points.empty());
    EXPECT_FALSE(s.mmap);
  }
  EXPECT_TRUE(r->processes[0].named);
  EXPECT_EQ(r->processes[0].parent_pid, 0u);
  EXPECT_FALSE(r->watch.has_value());
}

TEST(RecordFormat, NegativeValuesSurviveZigzag) {
  for (std::int64_t v : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{1}, INT64_MIN, INT64_MAX})
    EXPECT_EQ(unzigzag(zigzag(v)), v);
}

// Every prefix of a valid record is truncated somewhere: one error naming an offset within the
// prefix, never a crash or a success.
TEST(RecordFormat, EveryTruncationIsAnErrorWithItsOffset) {
  const std::string bytes = encode(test_data::sample_recording());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(r) << "prefix of " << n << " bytes decoded";
    const std::string& m = r.error().message;
    ASSERT_EQ(m.rfind("corrupt record at byte ", 0), 0u) << m;
    const std::size_t offset = std::stoul(m.substr(23));
    EXPECT_LE(offset, n) << m;
  }
}

TEST(RecordFormat, CorruptionsNameWhatAndWhere) {
  const std::string good = encode(test_data::sample_recording());
  auto error_of = [](std::string bytes) {
    auto r = decode(bytes);
    return r ? std::string("decoded") : r.error().message;
  };
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  EXPECT_EQ(error_of(bad_magic), "corrupt record at byte 0: not an edleak-bpf record (bad magic)");
  std::string future = good;
  future[8] = 4;
  EXPECT_EQ(error_of(future), "corrupt record at byte 8: format version 4 (this edleak-bpf reads versions 1 to 3)");
  EXPECT_EQ(error_of(good + "x"), fmt::format("corrupt record at byte {}: 1 bytes after the end marker", good.size()));
  // A huge count is checked against the bytes left before anything is allocated.
  std::string huge = good.substr(0, 12);
  put_varint(huge, 0);  // time
  huge += std::string(16, '\0');  // elapsed_s, interval_s
  huge += std::string(9, '\0');  // samples, final, targets_named, counters
  put_varint(huge, UINT64_MAX >> 1);  // command arguments
  EXPECT_NE(error_of(huge).find("command arguments cannot fit"), std::string::npos) << error_of(huge);
  // A series' resolution cannot exceed the samples behind it.
  Recording coarse = test_data::sample_recording();
  coarse.sites[0].old_blocks.samples_per_point = 1000;
  EXPECT_NE(error_of(encode(coarse)).find(": 1000 samples per point in a series of 20 samples"), std::string::npos)
      << error_of(encode(coarse));
}

TEST(RecordFormat, FlippedBytesNeverCrash) {
  const std::string good = encode(test_data::sample_recording());
  for (std::size_t i = 0; i < good.size(); ++i)
    for (unsigned char v : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      std::string bytes = good;
      bytes[i] = static_cast<char>(v);
      auto r = decode(bytes);
      if (!r) {
        EXPECT_EQ(r.error().message.rfind("corrupt record at byte ", 0), 0u);
      }
    }
}

TEST(RecordFile, WritesAtomicallyAndReadsBack) {
  const std::string path = testing::TempDir() + "/edleak_record_test.edlk";
  ASSERT_TRUE(write_file(path, test_data::sample_recording()));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto r = read_file(path);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->sites.size(), 2u);
  auto missing = read_file(path + ".missing");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot read record"), std::string::npos);
  std::filesystem::remove(path);
}

// The corpus has a seed of the current version: the sample recording (EDLEAK_UPDATE_GOLDEN=1
// rewrites it after a format change).
TEST(RecordFormat, CorpusSeedOfTheCurrentVersion) {
  const auto path = std::filesystem::path(EDLEAK_TEST_DATA_DIR) / ".." / "fuzz" / "corpus" / "record" /
                    fmt::format("seed-v{}-sample", kFormatVersion);
  const std::string bytes = encode(test_data::sample_recording());
  if (std::getenv("EDLEAK_UPDATE_GOLDEN")) std::ofstream(path, std::ios::binary) << bytes;
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << path << " is missing: run with EDLEAK_UPDATE_GOLDEN=1";
  const std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, bytes) << path << " is out of date: run with EDLEAK_UPDATE_GOLDEN=1";
}

// Inputs the fuzzer found (tests/fuzz/corpus/record) decode or fail cleanly, and the seeds decode.
TEST(RecordFormat, FuzzCorpus) {
  const auto dir = std::filesystem::path(EDLEAK_TEST_DATA_DIR) / ".." / "fuzz" / "corpus" / "record";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto r = decode(bytes);
    if (entry.path().filename().string().rfind("seed-", 0) == 0) {
      EXPECT_TRUE(r) << entry.path();
    }
    ++files;
  }
  EXPECT_GT(files, 0u);
}

}  // namespace
}  // namespace edleak::record
