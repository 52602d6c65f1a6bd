// An allocator edleak-bpf does not know: malloc from a bump arena, free a no-op. Run under
// LD_PRELOAD, a process's malloc is then this library's, which the report must say it cannot
// trace (rather than show an empty, reassuring section).
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

static char* arena;
static size_t used;
// Nothing is ever freed, and edleak-bpf itself runs under the same LD_PRELOAD: a large arena,
// reserved lazily (MAP_NORESERVE), only touched as it is used.
#define ARENA_SIZE (16ull << 30)

static void* bump(size_t size, size_t alignment) {
  if (arena == NULL) {
    void* p = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    arena = p;
  }
  size_t start = (used + alignment - 1) & ~(alignment - 1);
  if (start + size > ARENA_SIZE) return NULL;
  used = start + size;
  return arena + start;
}

void* malloc(size_t size) { return bump(size, 16); }
void free(void* p) { (void)p; }
void* calloc(size_t n, size_t size) { return bump(n * size, 16); }  // fresh mmap memory is zero
void* realloc(void* p, size_t size) {
  void* q = bump(size, 16);
  if (p != NULL && q != NULL) memcpy(q, p, size);  // the old block is at least as far from the end
  return q;
}
void* aligned_alloc(size_t alignment, size_t size) { return bump(size, alignment < 16 ? 16 : alignment); }
void* memalign(size_t alignment, size_t size) { return aligned_alloc(alignment, size); }
int posix_memalign(void** out, size_t alignment, size_t size) {
  *out = aligned_alloc(alignment, size);
  return *out ? 0 : 12;
}
