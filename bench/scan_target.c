// The reachability scan's benchmark target (bench/scan_bench.sh): N blocks of SIZE bytes, every
// page written (real memory), chained by their first word from a global head, one in ten dropped
// from the chain (definitely lost). MODE "exit": exits at once (the scan at the exit stop);
// "signal": prints "waiting", waits for SIGUSR2 (a -p tracer attached), allocates, prints "ready"
// and sleeps SECONDS.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void* volatile head;

static void build(long n, long size) {
  void* previous = NULL;
  for (long i = 0; i < n; i++) {
    unsigned long* block = malloc(size);
    if (!block) {
      perror("malloc");
      exit(1);
    }
    for (long w = 1; w < size / 8; w++) block[w] = (unsigned long)(i * 7 + w);  // no pointers
    if (i % 10 == 9) {
      block[0] = 0;  // dropped: nothing points to it
      continue;
    }
    block[0] = (unsigned long)previous;
    previous = block;
  }
  head = previous;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: scan_target N SIZE exit|signal [SECONDS]\n");
    return 2;
  }
  long n = atol(argv[1]), size = atol(argv[2]);
  if (strcmp(argv[3], "exit") == 0) {
    build(n, size);
    return 0;
  }
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  sigprocmask(SIG_BLOCK, &usr2, NULL);
  printf("waiting\n");
  fflush(stdout);
  int sig;
  sigwait(&usr2, &sig);
  build(n, size);
  printf("ready\n");
  fflush(stdout);
  sleep(argc > 4 ? atoi(argv[4]) : 60);
  return 0;
}
