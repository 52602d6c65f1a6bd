// A forking server for `-p PID -f` (tests/runtime/lifecycle_test.cpp): prints "ready", waits
// WAIT_MS (the tracer attaches), then starts WORKERS workers one after the other; each leaks N
// blocks of 500 bytes from worker_leak(), one every 20 ms, and exits.
// Usage: fork_server WAIT_MS WORKERS N
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void* volatile sink;

__attribute__((noinline)) void worker_leak(void) {
  char* block = malloc(500);
  memset(block, 2, 500);
  sink = block;
}

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

int main(int argc, char** argv) {
  if (argc < 4) return 2;
  const long wait_ms = atol(argv[1]);
  const int workers = atoi(argv[2]), n = atoi(argv[3]);
  printf("ready\n");
  fflush(stdout);
  sleep_ms(wait_ms);
  for (int w = 0; w < workers; w++) {
    pid_t pid = fork();
    if (pid == 0) {
      for (int i = 0; i < n; i++) {
        worker_leak();
        sleep_ms(20);
      }
      _exit(0);
    }
    waitpid(pid, NULL, 0);
  }
  return 0;
}
