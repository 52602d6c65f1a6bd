// A process with work to finish, for the test that kills the tracer in the middle of a scan: prints
// "ready", then for ARG1 tenths of a second allocates and frees, and exits 0 when it got through.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

void* volatile sink;

int main(int argc, char** argv) {
  int tenths = argc > 1 ? atoi(argv[1]) : 30;
  printf("ready\n");
  fflush(stdout);
  for (int i = 0; i < tenths; i++) {
    sink = malloc(64 + i);  // kept: a block for the scan to find
    struct timespec t = {0, 100 * 1000 * 1000};
    nanosleep(&t, NULL);
  }
  printf("done\n");
  fflush(stdout);
  return 0;
}
