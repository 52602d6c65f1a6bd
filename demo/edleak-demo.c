// The demo `sudo scripts/run` traces: a toy server with a real leak, a cache that fills up,
// and steady request churn. Usage: edleak-demo [SECONDS]   (default 20)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

struct session {
  struct session* next;
  char user[120];
};

static struct session* sessions;  // never pruned: the leak
static void* cache[1024];  // filled once, then only read: a cache, not a leak
static unsigned cache_used;

// Every request allocates a session that nobody frees.
NOINLINE static void open_session(unsigned id) {
  struct session* s = malloc(sizeof *s);
  snprintf(s->user, sizeof s->user, "user-%u", id);
  s->next = sessions;
  sessions = s;
}

// Fills quickly at first, then rarely misses: grows like a logarithm and saturates.
NOINLINE static void cache_lookup(unsigned key) {
  unsigned slot = key % 1024;
  if (cache[slot]) return;
  cache[slot] = malloc(512);
  memset(cache[slot], 0, 512);
  cache_used++;
}

// Allocated and freed within the request: churn, never a leak.
NOINLINE static void handle_request(unsigned id) {
  char* buffer = malloc(2048);
  snprintf(buffer, 2048, "GET /item/%u", id);
  volatile size_t n = strlen(buffer);
  (void)n;
  free(buffer);
}

static unsigned next_key(void) {
  // Uniform keys: misses thin out as the cache fills (xorshift64, deterministic).
  static unsigned long long state = 88172645463325252ULL;
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return (unsigned)(state % 1024);
}

int main(int argc, char** argv) {
  int seconds = argc > 1 ? atoi(argv[1]) : 20;
  struct timespec tick = {0, 10 * 1000 * 1000};  // 100 requests a second
  printf("edleak-demo: serving for %d s (pid %d)\n", seconds, (int)getpid());
  fflush(stdout);
  for (unsigned id = 0; id < (unsigned)seconds * 100; ++id) {
    handle_request(id);
    open_session(id);
    cache_lookup(next_key());
    nanosleep(&tick, NULL);
  }
  printf("edleak-demo: done, %u cache entries\n", cache_used);
  return 0;
}
