// Leaks whose callers are only found by unwinding (built -O2 with and without frame pointers):
// a 10-deep call chain, leaks through libc helpers (strdup, asprintf), a worker thread, a signal
// handler, and a library loaded with dlopen() after tracing started. One iteration every
// PERIOD ms, ITERATIONS times; prints "ready" once the library is loaded.
//
// Usage: deep_stacks ITERATIONS PERIOD_MS LIBRARY
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void* volatile sink;
static volatile int depth_guard;

// Each level does work after its call, so none of them is a tail call the compiler could
// turn into a jump (which would take the caller off the stack for real).
#define LEVEL(name, next)                     \
  __attribute__((noinline)) void name(int n) { \
    next(n + 1);                              \
    depth_guard += n;                         \
  }

__attribute__((noinline)) void chain_10(int n) {
  sink = malloc(48);
  depth_guard += n;
}
LEVEL(chain_9, chain_10)
LEVEL(chain_8, chain_9)
LEVEL(chain_7, chain_8)
LEVEL(chain_6, chain_7)
LEVEL(chain_5, chain_6)
LEVEL(chain_4, chain_5)
LEVEL(chain_3, chain_4)
LEVEL(chain_2, chain_3)
LEVEL(chain_1, chain_2)

__attribute__((noinline)) void leak_strdup(void) { sink = strdup("a string leaked through strdup"); }

__attribute__((noinline)) void leak_asprintf(int i) {
  char* s = NULL;
  if (asprintf(&s, "leaked through asprintf %d", i) > 0) sink = s;
}

__attribute__((noinline)) void thread_leak(void) {
  sink = malloc(72);
  depth_guard++;
}

static void* worker(void* arg) {
  (void)arg;
  thread_leak();
  return NULL;
}

__attribute__((noinline)) void handler_leak(void) {
  sink = malloc(88);
  depth_guard++;
}

static void on_signal(int sig) {
  handler_leak();  // raise() delivers it synchronously: safe enough for a test
  depth_guard += sig;  // not a tail call: on_signal stays on the stack
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s ITERATIONS PERIOD_MS LIBRARY\n", argv[0]);
    return 2;
  }
  const int iterations = atoi(argv[1]);
  const struct timespec period = {0, atol(argv[2]) * 1000000L};
  signal(SIGUSR1, on_signal);
  void (*lib_leak)(void) = NULL;
  for (int i = 0; i < iterations; i++) {
    if (i == 2) {  // after tracing started: its tables are read when its first stack asks
      void* lib = dlopen(argv[3], RTLD_NOW);
      if (!lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
      }
      lib_leak = (void (*)(void))dlsym(lib, "dlopened_leak");
      printf("ready\n");
      fflush(stdout);
    }
    chain_1(0);
    leak_strdup();
    leak_asprintf(i);
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) == 0) pthread_join(t, NULL);
    raise(SIGUSR1);
    if (lib_leak) lib_leak();
    nanosleep(&period, NULL);
  }
  return 0;
}
