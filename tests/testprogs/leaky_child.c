// A child process of the lifecycle tests (tests/runtime/lifecycle_test.cpp): leaks N blocks of
// 1000 bytes from leak_in_child(), one every PERIOD_MS. Usage: leaky_child N PERIOD_MS
#include <stdlib.h>
#include <string.h>
#include <time.h>

void* volatile sink;

__attribute__((noinline)) void leak_in_child(void) {
  char* block = malloc(1000);
  memset(block, 1, 1000);
  sink = block;
}

int main(int argc, char** argv) {
  const int n = argc > 1 ? atoi(argv[1]) : 50;
  const struct timespec period = {0, (argc > 2 ? atol(argv[2]) : 20) * 1000000L};
  for (int i = 0; i < n; i++) {
    leak_in_child();
    nanosleep(&period, NULL);
  }
  return 0;
}
