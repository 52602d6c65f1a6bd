/* A process for the watch mode's live test (tests/runtime/watch_test.cpp): it churns, and with
 * MODE leak it also leaks, so that its heap (anonymous resident memory) grows.
 *
 *   heap_grower MODE SECONDS
 *
 * Every tick (10 ms) churn() replaces one block of a ring of 64 (1 to 32 KiB, written: resident);
 * the heap is flat once the ring is full. MODE leak: leak_chunk() also keeps a written 32 KiB
 * block every other tick (about 1.6 MiB/s). MODE sbrk: grow_break() moves the program break by
 * 32 KiB every other tick and writes it, no allocator call at all (growth the allocator probes
 * cannot explain). MODE wide: leak_deep() leaks the same 32 KiB blocks, each from one of 576
 * distinct stacks (its recursion depths), to fill a small stack table. Prints "ready" once the
 * ring is full. */
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 64
#define TICK_NS 10000000L

static void *ring[RING];
static void *volatile sink;

__attribute__((noinline, noclone)) static void churn(unsigned long n)
{
	const size_t size = 1024 + (n * 7919 % 32) * 1024;
	char *block = malloc(size);
	memset(block, (int)n, size);
	free(ring[n % RING]);
	ring[n % RING] = block;
}

__attribute__((noinline, noclone)) static void leak_chunk(void)
{
	char *block = malloc(32 * 1024);
	memset(block, 1, 32 * 1024);
	sink = block;
}

/* A distinct stack for each (outer, inner) pair of recursion depths, each at most 23: 576
 * stacks, none deeper than the 64 frames the capture keeps (deeper ones would all look alike). */
__attribute__((noinline, noclone)) static void leak_inner(int depth)
{
	if (depth > 0) {
		leak_inner(depth - 1);
		__asm__ volatile("" ::: "memory"); /* not a tail call: the frame stays */
		return;
	}
	leak_chunk();
}

__attribute__((noinline, noclone)) static void leak_deep(int outer, int inner)
{
	if (outer > 0) {
		leak_deep(outer - 1, inner);
		__asm__ volatile("" ::: "memory");
		return;
	}
	leak_inner(inner);
}

__attribute__((noinline, noclone)) static void grow_break(void)
{
	char *top = sbrk(32 * 1024);
	if (top != (void *)-1)
		memset(top, 1, 32 * 1024);
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "steady") && strcmp(argv[1], "leak") && strcmp(argv[1], "sbrk") &&
			  strcmp(argv[1], "wide"))) {
		fprintf(stderr, "usage: heap_grower steady|leak|sbrk|wide SECONDS\n");
		return 2;
	}
	const int leak = !strcmp(argv[1], "leak"), raw = !strcmp(argv[1], "sbrk"), wide = !strcmp(argv[1], "wide");
	const long ticks = atol(argv[2]) * (1000000000L / TICK_NS);
	const struct timespec tick = {0, TICK_NS};
	unsigned long n = 0;
	for (; n < RING; n++)
		churn(n);
	printf("ready\n");
	fflush(stdout);
	for (long t = 0; t < ticks; t++, n++) {
		churn(n);
		if (leak && t % 2 == 0)
			leak_chunk();
		if (wide && t % 2 == 0)
			leak_deep((int)(t / 2 % 576 / 24), (int)(t / 2 % 24));
		if (raw && t % 2 == 0)
			grow_break();
		nanosleep(&tick, NULL);
	}
	return 0;
}
