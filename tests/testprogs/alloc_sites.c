// Calls every libc allocation function from its own function, at a known rate, so the live
// tests can check classes, bytes and call sites. Usage:
//   alloc_sites ITERATIONS PERIOD_MS [HOLD_MS]
// Each iteration calls every site once; the program then waits HOLD_MS and exits. It prints
// "ready" once its allocator is warm and, at exit, "done N".
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

// Stores go through a volatile so the compiler can neither drop an allocation nor turn a
// call into a tail call (which would make the caller of the site the allocation site).
static void* volatile sink;

NOINLINE void leak_malloc(void) { sink = malloc(100); }
NOINLINE void leak_calloc(void) { sink = calloc(10, 12); }
NOINLINE void leak_realloc(void) {
  void* p = realloc(NULL, 16);  // enters malloc: counted once, as realloc
  sink = realloc(p, 140);       // the 16 bytes move to the new block
}
NOINLINE void leak_reallocarray(void) { sink = reallocarray(NULL, 10, 15); }
NOINLINE void leak_posix_memalign(void) {
  void* p = NULL;
  if (posix_memalign(&p, 64, 160) == 0) sink = p;
}
NOINLINE void leak_aligned_alloc(void) { sink = aligned_alloc(64, 192); }
NOINLINE void leak_memalign(void) { sink = memalign(128, 176); }
NOINLINE void leak_valloc(void) { sink = valloc(200); }
NOINLINE void leak_pvalloc(void) { sink = pvalloc(100); }       // rounded up to a page
NOINLINE void leak_small_aligned(void) { sink = aligned_alloc(16, 208); }  // glibc calls malloc
NOINLINE void realloc_to_zero(void) {
  void* p = malloc(64);
  sink = p;
  sink = realloc(p, 0);  // frees p and returns NULL: nothing outstanding
}
NOINLINE void free_null(void) { free(NULL); }
NOINLINE void churn(void) {
  void* p = malloc(300);
  sink = p;
  free(p);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

int main(int argc, char** argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 40;
  long period_ms = argc > 2 ? atol(argv[2]) : 50;
  long hold_ms = argc > 3 ? atol(argv[3]) : 0;
  setvbuf(stdout, NULL, _IONBF, 0);
  printf("ready\n");
  for (long i = 0; i < iterations; ++i) {
    leak_malloc();
    leak_calloc();
    leak_realloc();
    leak_reallocarray();
    leak_posix_memalign();
    leak_aligned_alloc();
    leak_memalign();
    leak_valloc();
    leak_pvalloc();
    leak_small_aligned();
    realloc_to_zero();
    free_null();
    churn();
    sleep_ms(period_ms);
  }
  if (hold_ms > 0) sleep_ms(hold_ms);
  printf("done %ld\n", iterations);
  return 0;
}
