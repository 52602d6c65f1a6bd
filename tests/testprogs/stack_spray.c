// A process with thousands of distinct allocation stacks, as a C++ compiler has: block i is
// allocated at the end of a 13-deep descent whose path (left or right call at each level) spells
// i in binary, so N blocks have N different stacks (up to 8192). Used by the live tests of room
// in the kernel maps (tests/runtime/room_test.cpp).
//
// Usage: stack_spray N SPREAD_MS HOLD_MS keep|free
// Allocates one block from each of N stacks over SPREAD_MS, keeping them (keep) or freeing each
// at once (free), prints "sprayed", waits HOLD_MS and exits.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEPTH 13
#define NOINLINE __attribute__((noinline))

void* volatile sink;
static volatile int guard;
static void** kept;
static int keep_blocks;

NOINLINE void descend(unsigned path, int level, int index);

// Two call sites per level, each doing work after its call so neither is a tail call.
NOINLINE void go_left(unsigned path, int level, int index) {
  descend(path, level + 1, index);
  guard += level;
}

NOINLINE void go_right(unsigned path, int level, int index) {
  descend(path, level + 1, index);
  guard -= level;
}

NOINLINE void spray_block(int index) {
  void* p = malloc(64);
  sink = p;
  if (keep_blocks) kept[index] = p;
  else free(p);
}

NOINLINE void descend(unsigned path, int level, int index) {
  if (level == DEPTH) {
    spray_block(index);
    return;
  }
  if (path >> level & 1) go_right(path, level, index);
  else go_left(path, level, index);
  guard += 1;
}

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: stack_spray N SPREAD_MS HOLD_MS keep|free\n");
    return 2;
  }
  const int n = atoi(argv[1]) < (1 << DEPTH) ? atoi(argv[1]) : (1 << DEPTH);
  const long spread_ms = atol(argv[2]), hold_ms = atol(argv[3]);
  keep_blocks = strcmp(argv[4], "keep") == 0;
  kept = calloc((size_t)n, sizeof *kept);
  setvbuf(stdout, NULL, _IONBF, 0);
  // In 100 rounds, so the stacks come at a steady rate over SPREAD_MS.
  for (int round = 0, i = 0; round < 100; ++round) {
    for (; i < (long)n * (round + 1) / 100; ++i) descend((unsigned)i, 0, i);
    sleep_ms(spread_ms / 100);
  }
  printf("sprayed\n");
  sleep_ms(hold_ms);
  return 0;
}
