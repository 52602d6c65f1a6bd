#pragma once
// A hand-built recording shared by the record and output tests: one process with a leaking
// stack (an inlined frame, a stripped one) and a churning one, and every field of the current
// version.
#include "record/recording.h"

namespace edleak::record::test_data {

inline Recording sample_recording() {
  Recording r;
  r.time = std::chrono::system_clock::time_point(std::chrono::seconds(1795514412));
  r.elapsed_s = 20;
  r.interval_s = 1;
  r.samples = 20;
  r.final = true;
  r.targets_named = true;
  r.counters.unknown_frees = 3;
  r.command = {"./server", "--port", "80"};
  r.processes = {{1234, 0, "server", true}};
  // Version 3: the rest of the process.
  RecordedProcess& p = r.processes[0];
  p.exec_ended = false;
  p.named = true;
  p.parent_pid = 1200;
  p.command = "./server --port 80";
  p.exit_status = 256;
  p.ns_pid = 7;
  p.cgroup = "/system.slice/server.service";
  p.notes = {"a note"};
  p.allocators = {{"jemalloc", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", false, "je_", true, "jemalloc (...)"}};
  // Version 3: watch mode's heaps.
  RecordedWatch& w = r.watch.emplace();
  w.now_s = 20.25;
  w.min_growth_bytes = 1 << 20;
  w.unwatched = 2;
  RecordedHeap heap;
  heap.pid = 1234, heap.comm = "server", heap.bytes = 30 << 20;
  for (int t = 1; t <= 20; ++t) heap.heap.points.push_back({double(t), double(t) * (1 << 20)});
  for (int t = 1; t <= 20; ++t) heap.heap.lows.push_back(double(t) * (1 << 20) - (1 << 19));
  heap.heap.min = 1 << 20, heap.heap.max = 20 << 20, heap.heap.samples_seen = 20, heap.heap.samples_per_point = 1;
  heap.zoomed = true, heap.zoom_started_s = 10, heap.zoom_until_s = 130, heap.bytes_at_zoom = 10 << 20;
  heap.zooms = 2, heap.cleared = 1, heap.note = "its allocator was traced for 2m: no leaking stack";
  w.processes.push_back(heap);
  RecordedHeap quiet;
  quiet.pid = 99, quiet.incarnation = 3, quiet.comm = "quiet", quiet.bytes = 4096;
  w.processes.push_back(quiet);
  r.build_ids["/usr/bin/server"] = "0123456789abcdef";
  r.counters.overwritten_blocks = 4;
  r.counters.lost_events = 5;
  r.attached = true;
  r.min_leak_bytes = 2048;
  r.min_leak_share = 0.25;
  r.options = {{"interval", "1s"}, {"top", "10"}, {"all-stacks", "no"}, {"command", "./server --port 80"}};
  RecordedScan& scan = r.processes[0].scan.emplace();
  scan.summary.time = r.time - std::chrono::seconds(1);
  scan.summary.at_exit = true;
  scan.summary.frozen_ms = 12.5;
  scan.summary.blocks_scanned = 21;
  scan.summary.bytes_scanned = 65536;
  scan.summary.total.definitely_lost = {1500, 15};
  scan.summary.total.still_reachable = {4596, 6};
  scan.per_stack = {{0xa, {{1500, 15}, {0, 0}, {0, 0}, {500, 5}}}, {0xb, {{0, 0}, {0, 0}, {0, 0}, {4096, 1}}}};

  RecordedSite leak;
  leak.latest = {1234, 0xa, 2000, 20, 20, 0};
  for (int t = 1; t <= 20; ++t) leak.bytes.points.push_back({double(t), 100.0 * t});
  leak.bytes.min = 100, leak.bytes.max = 2000, leak.bytes.samples_seen = 20;
  // Version 3: the lows, the resolution and the end samples, and the old blocks.
  for (int t = 1; t <= 20; ++t) leak.bytes.lows.push_back(100.0 * t - 50);
  leak.bytes.samples_per_point = 1;
  leak.bytes.first = series::Point{1, 100};
  leak.bytes.last = series::Point{20.5, 2050};
  for (int t = 1; t <= 20; ++t) leak.old_blocks.points.push_back({double(t), t < 9 ? 0.0 : t - 8.0});
  leak.old_blocks.min = 0, leak.old_blocks.max = 12, leak.old_blocks.samples_seen = 20;
  leak.old_blocks.samples_per_point = 1;
  leak.old_bytes = 1200;
  leak.stack_complete = true;
  for (int t = 1; t <= 20; ++t) leak.blocks.points.push_back({double(t), double(t)});
  leak.blocks.min = 1, leak.blocks.max = 20, leak.blocks.samples_seen = 20;
  symbolize::Frame site;
  site.addr = 0x55d0c2a1b191, site.symbol = "leak_here", site.offset = 24, site.module = "/usr/bin/server";
  site.module_offset = 0x1191, site.file = "list.h", site.line = 12;
  site.inlined = {{"push_item", "server.c", 42}};
  symbolize::Frame main_frame;
  main_frame.addr = 0x55d0c2a1b2ca, main_frame.symbol = "main", main_frame.offset = 0x4a;
  main_frame.module = "/usr/bin/server", main_frame.file = "server.c", main_frame.line = 90;
  symbolize::Frame stripped;
  stripped.addr = 0x7f12a0c3b191, stripped.module = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  stripped.module_offset = 0x27191, stripped.nearest_symbol = "__libc_start_main", stripped.nearest_offset = 0x85;
  leak.frames = {site, main_frame, stripped};
  r.sites.push_back(leak);

  RecordedSite churn;
  churn.latest = {1234, 0xb, 4096, 1, 200, 199};
  for (int t = 1; t <= 20; ++t) churn.bytes.points.push_back({double(t), 4096});
  churn.bytes.min = churn.bytes.max = 4096, churn.bytes.samples_seen = 20;
  churn.mmap = true;
  for (int t = 1; t <= 20; ++t) churn.frees.points.push_back({double(t), 10.0 * t});
  churn.frees.min = 10, churn.frees.max = 200, churn.frees.samples_seen = 20;
  symbolize::Frame churn_site = main_frame;
  churn_site.addr = 0x55d0c2a1b300, churn_site.symbol = "handle_request", churn_site.line = 70;
  churn.frames = {churn_site, main_frame};
  r.sites.push_back(churn);
  return r;
}

}  // namespace edleak::record::test_data
