// A library that deep_stacks loads with dlopen() after tracing started, leaking from inside.
#include <stdlib.h>

static void* volatile sink;
static volatile int guard;

__attribute__((noinline)) static void dlopened_inner(void) {
  sink = malloc(56);
  guard++;
}

void dlopened_leak(void) {
  dlopened_inner();
  guard++;
}
