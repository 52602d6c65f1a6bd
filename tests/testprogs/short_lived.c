// Allocates ten 4242-byte blocks and exits with status 7 at once, long before a tracer's first
// sample: what the tracer knows of it, it learns at the exit stop.
#include <stdlib.h>

static void* volatile sink;

__attribute__((noinline)) void quick_leak(void) { sink = malloc(4242); }

int main(void) {
  for (int i = 0; i < 10; i++) quick_leak();
  return 7;
}
