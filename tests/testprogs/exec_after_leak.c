// Leaks 10 blocks of 64 bytes from leak_before_exec(), then execs its arguments under the same
// pid (tests/runtime/lifecycle_test.cpp). Usage: exec_after_leak PROGRAM [ARGS...]
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

void* volatile sink;

__attribute__((noinline)) void leak_before_exec(void) { sink = malloc(64); }

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const struct timespec period = {0, 30 * 1000000L};
  for (int i = 0; i < 10; i++) {
    leak_before_exec();
    nanosleep(&period, NULL);
  }
  execv(argv[1], argv + 1);
  perror("execv");
  return 1;
}
