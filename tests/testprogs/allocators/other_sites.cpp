// Calls an allocator's standard and extended entry points, each from its own function, at a
// known rate, so the live tests can check exact bytes, call counts and call sites per entry
// point. Built once per allocator (see CMakeLists.txt): EDLEAK_JEMALLOC, EDLEAK_TCMALLOC,
// EDLEAK_MIMALLOC add that allocator's own API; the plain build is run under LD_PRELOAD.
// Usage: other_sites ITERATIONS PERIOD_MS [PAUSE_MS]. Prints "ready" first and "done N" at exit;
// PAUSE_MS before the first and after the last iteration (a tracer probing it once its exec is seen,
// and reading its stacks while it still runs).
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <new>

#if defined(EDLEAK_JEMALLOC)
#include <jemalloc/jemalloc.h>
#elif defined(EDLEAK_TCMALLOC)
#include <gperftools/tcmalloc.h>
#elif defined(EDLEAK_MIMALLOC)
#include <mimalloc.h>
#endif

#define NOINLINE __attribute__((noinline))

// Stores go through a volatile so the compiler can neither drop an allocation nor turn a call
// into a tail call (which would make the caller of the site the allocation site).
static void* volatile sink;

struct Object96 {
  char bytes[96];
};

extern "C" {
NOINLINE void leak_malloc() { sink = malloc(100); }
NOINLINE void leak_calloc() { sink = calloc(10, 12); }
NOINLINE void leak_realloc() {
  void* p = realloc(nullptr, 16);  // a malloc: counted once, as realloc
  sink = p;
  sink = realloc(p, 140);          // moves (or grows) the block: 140 bytes outstanding
}
NOINLINE void leak_posix_memalign() {
  void* p = nullptr;
  if (posix_memalign(&p, 64, 160) == 0) sink = p;
}
NOINLINE void leak_aligned_alloc() { sink = aligned_alloc(64, 192); }
NOINLINE void free_null() { free(nullptr); }
NOINLINE void churn_warm_up() { free(malloc(1)); }
NOINLINE void churn() {
  void* p = malloc(300);
  sink = p;
  free(p);
}
}

namespace sites {
NOINLINE void leak_new() { sink = new Object96; }
NOINLINE void leak_new_array() { sink = new char[112]; }
NOINLINE void churn_new() {
  Object96* p = new Object96;  // deleted with the sized operator delete (C++14)
  sink = p;
  delete p;
}
}  // namespace sites

extern "C" {
#if defined(EDLEAK_JEMALLOC)
NOINLINE void leak_mallocx() { sink = mallocx(200, MALLOCX_ALIGN(64)); }
NOINLINE void leak_rallocx() {
  void* p = mallocx(50, 0);
  sink = p;
  sink = rallocx(p, 220, 0);
}
// A large block shrunk in place: jemalloc keeps large extents where they are.
NOINLINE void leak_xallocx() {
  void* p = mallocx(65536, 0);
  sink = p;
  if (xallocx(p, 16384, 0, 0) < 16384) abort();
}
NOINLINE void churn_sdallocx() {
  void* p = mallocx(400, 0);
  sink = p;
  sdallocx(p, 400, 0);
}
NOINLINE void churn_dallocx() {
  void* p = mallocx(500, 0);
  sink = p;
  dallocx(p, 0);
}
static void extended() {
  leak_mallocx();
  leak_rallocx();
  leak_xallocx();
  churn_sdallocx();
  churn_dallocx();
}
#elif defined(EDLEAK_TCMALLOC)
NOINLINE void leak_tc_malloc() { sink = tc_malloc(210); }
NOINLINE void leak_tc_memalign() { sink = tc_memalign(64, 176); }
NOINLINE void churn_tc_free_sized() {
  void* p = tc_malloc(410);
  sink = p;
  tc_free_sized(p, 410);
}
static void extended() {
  leak_tc_malloc();
  leak_tc_memalign();
  churn_tc_free_sized();
}
#elif defined(EDLEAK_MIMALLOC)
NOINLINE void leak_mi_malloc() { sink = mi_malloc(230); }
NOINLINE void leak_mi_zalloc() { sink = mi_zalloc(240); }
NOINLINE void leak_mi_calloc() { sink = mi_calloc(4, 62); }
NOINLINE void leak_mi_realloc() {
  void* p = mi_malloc(10);
  sink = p;
  sink = mi_realloc(p, 256);  // frees p through mi_free inside: counted once
}
NOINLINE void leak_mi_malloc_aligned() { sink = mi_malloc_aligned(264, 64); }  // (size, alignment)
NOINLINE void leak_mi_zalloc_aligned() { sink = mi_zalloc_aligned(272, 64); }
NOINLINE void leak_mi_calloc_aligned() { sink = mi_calloc_aligned(2, 140, 64); }
NOINLINE void leak_mi_realloc_aligned() {
  void* p = mi_malloc(8);
  sink = p;
  sink = mi_realloc_aligned(p, 288, 64);
}
NOINLINE void churn_mi_free() {
  void* p = mi_malloc(420);
  sink = p;
  mi_free(p);
}
// The heap API, mi_expand, mi_reallocf and the string copies.
static const char kString[] = "0123456789abcdefghijklmnopqrstuvwxyzABCD";  // 40 characters
NOINLINE void leak_mi_heap_malloc() { sink = mi_heap_malloc(mi_heap_get_default(), 296); }
NOINLINE void leak_mi_heap_calloc() { sink = mi_heap_calloc(mi_heap_get_default(), 8, 38); }
NOINLINE void leak_mi_heap_realloc() {
  void* p = mi_heap_malloc(mi_heap_get_default(), 12);
  sink = p;
  sink = mi_heap_realloc(mi_heap_get_default(), p, 312);
}
NOINLINE void leak_mi_reallocf() {
  void* p = mi_malloc(14);
  sink = p;
  sink = mi_reallocf(p, 320);
}
// Grown in place: a 1000-byte block sits in a size class of at least 1008.
NOINLINE void leak_mi_expand() {
  void* p = mi_malloc(1000);
  sink = p;
  if (mi_expand(p, 1008) != p) abort();
}
NOINLINE void leak_mi_strdup() { sink = mi_strdup(kString); }          // 41 bytes
NOINLINE void leak_mi_strndup() { sink = mi_strndup(kString, 20); }    // 21 bytes
NOINLINE void leak_mi_heap_strdup() { sink = mi_heap_strdup(mi_heap_get_default(), kString); }
NOINLINE void leak_mi_realpath() { sink = mi_realpath("/usr/lib/x86_64-linux-gnu", nullptr); }  // 26 bytes
// Into the caller's buffer: no block (and glibc's realpath inside allocates nothing of ours).
NOINLINE void churn_mi_realpath_buffer() {
  static char resolved[4096];
  sink = mi_realpath("/usr/lib/x86_64-linux-gnu", resolved);
}
static void extended() {
  leak_mi_malloc();
  leak_mi_zalloc();
  leak_mi_calloc();
  leak_mi_realloc();
  leak_mi_malloc_aligned();
  leak_mi_zalloc_aligned();
  leak_mi_calloc_aligned();
  leak_mi_realloc_aligned();
  churn_mi_free();
  leak_mi_heap_malloc();
  leak_mi_heap_calloc();
  leak_mi_heap_realloc();
  leak_mi_reallocf();
  leak_mi_expand();
  leak_mi_strdup();
  leak_mi_strndup();
  leak_mi_heap_strdup();
  leak_mi_realpath();
  churn_mi_realpath_buffer();
}
#else
static void extended() {}
#endif
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

int main(int argc, char** argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 40;
  long period_ms = argc > 2 ? atol(argv[2]) : 50;
  long pause_ms = argc > 3 ? atol(argv[3]) : 0;
  setvbuf(stdout, nullptr, _IONBF, 0);
  printf("ready\n");
  if (pause_ms > 0) {
    // A tracer that probed it after its exec reads its unwind tables at its first call: one
    // call first, so that the sites' stacks are whole from their first call on.
    sleep_ms(pause_ms / 2);
    churn_warm_up();
    sleep_ms(pause_ms / 2);
  }
  for (long i = 0; i < iterations; ++i) {
    leak_malloc();
    leak_calloc();
    leak_realloc();
    leak_posix_memalign();
    leak_aligned_alloc();
    free_null();
    churn();
    sites::leak_new();
    sites::leak_new_array();
    sites::churn_new();
    extended();
    sleep_ms(period_ms);
  }
  sleep_ms(pause_ms);
  printf("done %ld\n", iterations);
  return 0;
}
