// Two children with the same pid, one after the other (tests/runtime/lifecycle_test.cpp): the
// first leaks 20 blocks from leak_first(); once it is reaped, its pid is asked for again through
// /proc/sys/kernel/ns_last_pid, and the child that gets it leaks 30 blocks from leak_second().
// Prints "reused PID" or "not reused".
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void* volatile sink;

__attribute__((noinline)) void leak_first(void) { sink = malloc(111); }
__attribute__((noinline)) void leak_second(void) { sink = malloc(222); }

static void leak(void (*f)(void), int n) {
  const struct timespec period = {0, 20 * 1000000L};
  for (int i = 0; i < n; i++) {
    f();
    nanosleep(&period, NULL);
  }
}

int main(void) {
  pid_t first = fork();
  if (first == 0) {
    leak(leak_first, 20);
    _exit(0);
  }
  waitpid(first, NULL, 0);
  for (int attempt = 0; attempt < 500; attempt++) {
    int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
    if (fd < 0) {
      perror("ns_last_pid");
      return 1;
    }
    char text[32];
    int len = snprintf(text, sizeof text, "%d", (int)first - 1);
    if (write(fd, text, (size_t)len) != len) perror("write ns_last_pid");
    close(fd);
    pid_t child = fork();
    if (child == 0) {
      if (getpid() == first) leak(leak_second, 30);
      _exit(0);
    }
    waitpid(child, NULL, 0);
    if (child == first) {
      printf("reused %d\n", (int)first);
      return 0;
    }
  }
  printf("not reused\n");
  return 0;
}
