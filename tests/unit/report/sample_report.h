#pragma once
// Hand-built reports shared by the renderer tests.
#include <chrono>

#include "report/report.h"

namespace edleak::report::test_data {

// 2026-11-24T10:00:12Z
inline std::chrono::system_clock::time_point sample_time() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1795514412));
}

inline symbolize::Frame frame(std::uint64_t addr, std::string symbol, std::uint64_t offset, std::string module,
                              std::string file = "", int line = 0) {
  symbolize::Frame f;
  f.addr = addr;
  f.symbol = std::move(symbol);
  f.offset = offset;
  f.module = std::move(module);
  f.file = std::move(file);
  f.line = line;
  return f;
}

inline classify::LeakFactor linear_factor() {
  classify::LeakFactor f;
  f.cls = classify::LeakClass::linear;
  f.coef = {-0.03, 0.97, 0.017};
  f.leak = 15009;
  f.min_size = 2000;
  f.max_size = 18000;
  f.growth_bytes_per_s = 1250;
  return f;
}

// One process leaking at one site (with an inlined frame and an unresolved one), one process
// without leakers.
inline Report sample_report() {
  Report r;
  r.time = sample_time();
  r.elapsed_s = 12;
  r.interval_s = 1;
  r.samples = 12;
  r.stats.unknown_frees = 3;

  Leaker leaker;
  leaker.stack_id = 0x9e3779b97f4a7c15;
  // push_item() inlined into leak_here() at server.c:42; the address is at list.h:12 in push_item().
  leaker.stack.push_back(frame(0x55d0c2a1b191, "leak_here", 24, "/usr/bin/server", "list.h", 12));
  leaker.stack[0].inlined.push_back({"push_item", "server.c", 42});
  leaker.stack.push_back(frame(0x55d0c2a1b2ca, "main", 0x4a, "/usr/bin/server", "server.c", 90));
  leaker.stack.push_back(frame(0x7f12a0c3b191, "", 0, "/usr/lib/x86_64-linux-gnu/libc.so.6"));
  leaker.stack.push_back(frame(0x1234, "", 0, ""));
  leaker.outstanding_bytes = 30000;
  leaker.outstanding_allocs = 30;
  leaker.total_allocs = 31;
  leaker.total_frees = 1;
  leaker.leak_factor = linear_factor();

  ProcessReport server;
  server.pid = 1234;
  server.comm = "server";
  server.outstanding_bytes = 1258291;  // 1.2 MiB
  server.stacks = 57;
  server.leaking_stacks = 1;
  server.total_allocs = 40;
  server.total_frees = 3;
  server.leakers.push_back(leaker);

  ProcessReport idle;
  idle.pid = 99;
  idle.comm = "idle";
  idle.exited = true;
  idle.outstanding_bytes = 1;
  idle.stacks = 1;

  r.processes = {server, idle};
  return r;
}

}  // namespace edleak::report::test_data
