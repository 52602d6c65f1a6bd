// C++ allocation sites: each leaks through a different operator new at a known rate; churn
// news and deletes. Usage: new_sites ITERATIONS PERIOD_MS
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <thread>

#define NOINLINE __attribute__((noinline))

namespace {
struct Record {
  char payload[96];
};
struct alignas(64) AlignedRecord {
  char payload[128];
};
}  // namespace

void* volatile sink;

namespace sites {
NOINLINE void leak_new() { sink = new Record; }                         // operator new(size_t)
NOINLINE void leak_new_array() { sink = new char[112]; }                // operator new[] -> new
NOINLINE void leak_new_nothrow() { sink = new (std::nothrow) char[120]; }
NOINLINE void leak_new_aligned() { sink = new AlignedRecord; }          // aligned new
NOINLINE void churn_new() {
  auto* r = new Record;
  sink = r;
  delete r;
}
}  // namespace sites

int main(int argc, char** argv) {
  long iterations = argc > 1 ? std::atol(argv[1]) : 40;
  long period_ms = argc > 2 ? std::atol(argv[2]) : 50;
  std::setvbuf(stdout, nullptr, _IONBF, 0);
  std::printf("ready\n");
  for (long i = 0; i < iterations; ++i) {
    sites::leak_new();
    sites::leak_new_array();
    sites::leak_new_nothrow();
    sites::leak_new_aligned();
    sites::churn_new();
    std::this_thread::sleep_for(std::chrono::milliseconds(period_ms));
  }
  std::printf("done %ld\n", iterations);
  return 0;
}
