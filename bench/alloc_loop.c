// The allocation-heavy loop of the overhead benchmark: PAIRS malloc+free pairs over a 64-slot
// working set, sizes 16..215 bytes. Prints "ns_per_pair <value>" for its timed loop only, so
// tracer start-up is not counted. Usage: alloc_loop PAIRS [STACKS [HOLD SECONDS]]
//   STACKS > 1 spreads the allocations over that many distinct call stacks (for the
//   many-stacks measurements); the default is one call site.
//   ALLOC_LOOP_DEPTH=N in the environment: one call site N frames below main (for the cost of
//   unwinding a deep stack), instead of STACKS.
//   HOLD > 0: after the loop, allocate HOLD 32-byte blocks over the same stacks, keep them,
//   print "holding", and sleep SECONDS (for the tracer's memory at many live blocks).
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static void* slots[64];

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

NOINLINE static void* alloc_leaf(size_t size) {
  void* p = malloc(size);
  __asm__ volatile("" : : "r"(p) : "memory");  // keep the call a call, not a tail call
  return p;
}

// Distinct stacks: the bits of `path` choose between two frames at each level, one frame per
// level, so 17 levels give 131,072 stacks within the tracer's 32 frames.
NOINLINE static void* alloc_via_a(unsigned path, int depth, size_t size);
NOINLINE static void* alloc_via_b(unsigned path, int depth, size_t size);
// Two functions with one body: what tells the stacks apart is which of them is on the stack.
#define ALLOC_VIA(name)                                                          \
  NOINLINE static void* name(unsigned path, int depth, size_t size) {           \
    void* p = depth == 0 ? alloc_leaf(size)                                       \
              : (path & 1) ? alloc_via_a(path >> 1, depth - 1, size)              \
                           : alloc_via_b(path >> 1, depth - 1, size);             \
    __asm__ volatile("" : : "r"(p) : "memory");                                   \
    return p;                                                                     \
  }
ALLOC_VIA(alloc_via_a)
ALLOC_VIA(alloc_via_b)
NOINLINE static void* alloc_path(unsigned path, int depth, size_t size) {
  void* p = (path & 1) ? alloc_via_a(path >> 1, depth - 1, size) : alloc_via_b(path >> 1, depth - 1, size);
  __asm__ volatile("" : : "r"(p) : "memory");
  return p;
}

int main(int argc, char** argv) {
  long pairs = argc > 1 ? atol(argv[1]) : 1000000;
  unsigned stacks = argc > 2 ? (unsigned)atol(argv[2]) : 1;
  int depth = 0;
  while ((1u << depth) < stacks) depth++;
  if (getenv("ALLOC_LOOP_DEPTH")) {
    depth = atoi(getenv("ALLOC_LOOP_DEPTH"));
    stacks = 1;  // path 0 at every level: one stack
  }
  double start = now_ns();
  for (long i = 0; i < pairs; ++i) {
    unsigned slot = i & 63;
    free(slots[slot]);
    size_t size = 16 + (size_t)(i * 7 % 200);
    slots[slot] = depth ? alloc_path((unsigned)(i % stacks), depth, size) : alloc_leaf(size);
  }
  double elapsed = now_ns() - start;
  for (int s = 0; s < 64; ++s) free(slots[s]);
  printf("ns_per_pair %.1f\n", elapsed / (double)pairs);
  long hold = argc > 3 ? atol(argv[3]) : 0;
  int seconds = argc > 4 ? atoi(argv[4]) : 0;
  if (hold > 0) {
    for (long i = 0; i < hold; ++i) {
      void* p = depth ? alloc_path((unsigned)(i % stacks), depth, 32) : alloc_leaf(32);
      __asm__ volatile("" : : "r"(p) : "memory");  // held until exit, on purpose
    }
    printf("holding %ld\n", hold);
    fflush(stdout);
    sleep((unsigned)seconds);
  }
  return 0;
}
