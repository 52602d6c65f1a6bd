// Leaks anonymous memory with mmap directly (as Rust or Go programs do), beside a large malloc
// that glibc serves with its own mmap, so the live tests can check that direct mappings are
// sites of their own (kind mmap), sized in pages, and that the allocator's mappings are not
// counted twice. Usage: mmap_sites ITERATIONS PERIOD_MS. Prints "ready" and "done N".
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static void* volatile sink;

static void* map(size_t len) {
  void* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) abort();
  return p;
}

// 3 pages kept per call.
NOINLINE void leak_mapping(void) { sink = map(3 * 4096); }
// 8 pages mapped, the middle 2 unmapped (a split), then the first page: 5 pages kept in 2 pieces.
NOINLINE void leak_split_mapping(void) {
  char* p = map(8 * 4096);
  sink = p;
  if (munmap(p + 3 * 4096, 2 * 4096) != 0 || munmap(p, 4096) != 0) abort();
}
// 2 pages grown to 6 by mremap (it may move): 6 kept.
NOINLINE void leak_remapped(void) {
  void* p = map(2 * 4096);
  p = mremap(p, 2 * 4096, 6 * 4096, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) abort();
  sink = p;
}
// Mapped and unmapped again: nothing kept.
NOINLINE void churn_mapping(void) {
  void* p = map(4 * 4096);
  sink = p;
  munmap(p, 4 * 4096);
}
// 1 MiB through malloc: glibc mmaps it inside malloc; one malloc block, no mmap site.
NOINLINE void leak_large_malloc(void) { sink = malloc(1 << 20); }

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

int main(int argc, char** argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 30;
  long period_ms = argc > 2 ? atol(argv[2]) : 50;
  setvbuf(stdout, NULL, _IONBF, 0);
  // A started command's mappings are known (and so its direct mmaps seen) from its first
  // allocator call on.
  sink = malloc(1);
  free(sink);
  printf("ready\n");
  for (long i = 0; i < iterations; ++i) {
    leak_mapping();
    leak_split_mapping();
    leak_remapped();
    churn_mapping();
    leak_large_malloc();
    sleep_ms(period_ms);
  }
  printf("done %ld\n", iterations);
  return 0;
}
