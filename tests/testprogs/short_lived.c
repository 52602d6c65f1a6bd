// Allocates ten 4242-byte blocks and exits with status 7 at once, long before a tracer's first
// sample: what the tracer knows of it, it learns at the exit stop.
// With the argument "wait": prints "ready", waits for SIGUSR1 (a -p tracer attached meanwhile),
// then does the same.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void* volatile sink;

__attribute__((noinline)) void quick_leak(void) { sink = malloc(4242); }

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "wait") == 0) {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    printf("ready\n");
    fflush(stdout);
    int sig = 0;
    sigwait(&usr1, &sig);
  }
  for (int i = 0; i < 10; i++) quick_leak();
  return 7;
}
