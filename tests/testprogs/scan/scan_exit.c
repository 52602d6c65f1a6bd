// One allocation site per case of LeakSanitizer's and valgrind's leak tests, each a function of
// its own, checked at the exit stop by the reachability scan and compared with valgrind
// (tests/runtime/scan_test.cpp). Built -O0: every pointer is where the source puts it.
//
// Nothing keeps a pointer on main's stack: at exit main's frame is gone anyway (both tools scan at
// exit), and a scrubbed stack leaves no stale copies in the frames exit() runs in.
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
  struct node* next;
  char payload[24];
};

void* volatile global_slot;
void* volatile interior_slot;
void* volatile thread_kept_slot;
void* volatile realloc_kept_slot;
static __thread void* tls_slot;
static pthread_key_t key;

#define SITE(name, size) \
  __attribute__((noinline)) void* name(void) { return malloc(size); }

SITE(direct_leak, 100)
SITE(lost_parent, 64)
SITE(lost_child, 48)
SITE(kept_in_global, 72)
SITE(kept_in_tls, 80)
SITE(kept_in_dynamic_tls, 88)
SITE(kept_in_key, 96)
SITE(only_interior, 104)
SITE(leaked_in_thread, 112)
SITE(kept_by_thread, 120)
SITE(spacer, 24)

__attribute__((noinline)) struct node* cycle_first(void) { return malloc(sizeof(struct node)); }
__attribute__((noinline)) struct node* cycle_second(void) { return malloc(sizeof(struct node)); }
__attribute__((noinline)) void* realloc_moved(void* p) { return realloc(p, 4000); }
__attribute__((noinline)) void* realloc_kept(void* p) { return realloc(p, 3000); }

// Overwrites the stack below the caller: no stale pointer stays where later frames will not write.
__attribute__((noinline)) void scrub_stack(void) {
  volatile char area[32768];
  for (size_t i = 0; i < sizeof area; i++) area[i] = 0;
}

__attribute__((noinline)) void direct(void) {
  for (int i = 0; i < 3; i++) fprintf(stderr, "direct %p\n", direct_leak());
}

__attribute__((noinline)) void indirect(void) {
  void** parent = lost_parent();
  parent[1] = lost_child();
  fprintf(stderr, "parent %p\n", (void*)parent);
  parent = NULL;
}

__attribute__((noinline)) void cycle(void) {
  struct node* a = cycle_first();
  struct node* b = cycle_second();
  a->next = b;
  b->next = a;
  fprintf(stderr, "cycle %p %p\n", (void*)a, (void*)b);
  a = b = NULL;
}

__attribute__((noinline)) void reachable(void) {
  global_slot = kept_in_global();
  tls_slot = kept_in_tls();
  pthread_key_create(&key, NULL);
  pthread_setspecific(key, kept_in_key());
  interior_slot = (char*)only_interior() + 16;
}

__attribute__((noinline)) int dynamic_tls(const char* library) {
  void* handle = dlopen(library, RTLD_NOW);
  if (!handle) {
    fprintf(stderr, "dlopen %s: %s\n", library, dlerror());
    return 1;
  }
  void (*keep)(void*) = (void (*)(void*))dlsym(handle, "scan_dtls_keep");
  keep(kept_in_dynamic_tls());
  return 0;
}

static void* thread_main(void* arg) {
  (void)arg;
  fprintf(stderr, "thread %p\n", leaked_in_thread());
  thread_kept_slot = kept_by_thread();
  scrub_stack();
  return NULL;
}

__attribute__((noinline)) void in_a_thread(void) {
  pthread_t thread;
  pthread_create(&thread, NULL, thread_main, NULL);
  pthread_join(thread, NULL);
}

__attribute__((noinline)) void reallocs(void) {
  void* p = malloc(16);
  void* fence = spacer();  // keeps realloc from growing p in place
  p = realloc_moved(p);
  fprintf(stderr, "moved %p (fence %p)\n", p, fence);
  void* q = malloc(16);
  fence = spacer();
  realloc_kept_slot = realloc_kept(q);
  p = q = fence = NULL;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: scan_exit PATH/libscan_dtls.so\n");
    return 2;
  }
  direct();
  indirect();
  cycle();
  reachable();
  if (dynamic_tls(argv[1])) return 1;
  in_a_thread();
  reallocs();
  scrub_stack();
  return 0;
}
