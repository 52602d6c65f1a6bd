// One leak site (malloc(16) in leak16) whose caller keeps a pointer to a stack local in %rbp, as
// gcc -O2 code without frame pointers often does: a frame-pointer walk takes the local's second
// word (a struct timespec's tv_nsec) for a return address and splits the one site into as many
// stacks as there were nanosecond readings. Usage: rbp_local ITERATIONS PERIOD_MS
#include <stdlib.h>
#include <time.h>

static void* volatile sink;

__attribute__((noinline)) void leak16(void) { sink = malloc(16); }

__attribute__((noinline)) void leak_beside_local(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  // rbp = &now for the call, as the register allocator would leave it.
  register struct timespec* local asm("rbp") = &now;
  asm volatile("" : : "r"(local) : "memory");
  leak16();
  asm volatile("" : : "r"(local) : "memory");
}

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? atoi(argv[1]) : 30;
  const long period_ms = argc > 2 ? atol(argv[2]) : 60;
  const struct timespec period = {0, period_ms * 1000000L};
  for (int i = 0; i < iterations; i++) {
    for (int k = 0; k < 100; k++) leak_beside_local();
    nanosleep(&period, NULL);
  }
  return 0;
}
