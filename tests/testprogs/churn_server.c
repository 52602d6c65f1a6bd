/* A steady server for the classifier's live tests: requests whose buffers are recycled through
 * a ring (hundreds of blocks live), a batch buffer filled and emptied, and zero-byte blocks.
 *
 *   churn_server MODE LEAK SECONDS
 *
 * MODE ring: every request allocates a 256-byte buffer at one call site (handle_request) and
 *   puts it in a ring of 400, freeing the one it replaces; with LEAK=1, one request in 100
 *   forgets its buffer instead (an error path without free).
 * MODE batch: every tick fill_batch allocates a 1 KiB block; every 50 ticks (half a second,
 *   five samples at 100 ms) the batch is emptied; with LEAK=1, 5 blocks of each batch are kept
 *   (the emptied level rises).
 * MODE zero: every tick leak_zero keeps 20 malloc(0) blocks (LEAK ignored).
 * MODE aging: the ring of MODE ring, running until SIGUSR1; from then on, with LEAK=N, one
 *   request in 100 forgets its buffer until N are forgotten, then the ring goes on recycling
 *   without leaking for SECONDS (the tracer's last reports: every leaked block is old); it prints
 *   "leaked N" when the N-th is forgotten. LEAK=0: the ring alone, SECONDS after SIGUSR1.
 * (A tick is 10 ms.)
 * Prints "ready" once the ring is full (or at once), then runs for SECONDS. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 400
#define TICK_NS 10000000L /* 10 ms */

static void *ring[RING];
static void *volatile sink;

__attribute__((noinline, noclone)) static void handle_request(unsigned long n, int leak)
{
	char *buffer = malloc(256);
	memset(buffer, (int)n, 256);
	if (leak && n % 100 == 0) {
		sink = buffer; /* forgotten: overwritten by the next leaked one */
		return;
	}
	free(ring[n % RING]);
	ring[n % RING] = buffer;
}

__attribute__((noinline, noclone)) static void fill_batch(void **batch, int *count)
{
	batch[(*count)++] = malloc(1024);
}

__attribute__((noinline, noclone)) static void leak_zero(void)
{
	for (int i = 0; i < 20; i++)
		sink = malloc(0);
}

static volatile sig_atomic_t started;

static void on_start(int sig)
{
	(void)sig;
	started = 1;
}

static void tick(void)
{
	struct timespec ts = { 0, TICK_NS };
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: churn_server ring|batch|zero LEAK SECONDS\n");
		return 2;
	}
	const char *mode = argv[1];
	int leak = atoi(argv[2]);
	long ticks = atol(argv[3]) * 100;
	unsigned long n = 0;
	static void *batch[500];
	int count = 0;

	if (strcmp(mode, "ring") == 0 || strcmp(mode, "aging") == 0) /* fill the ring first: a server running for a while */
		while (n < RING)
			handle_request(n++, 0);
	if (strcmp(mode, "aging") == 0) {
		/* Leaks counted from the signal (after the tracer attached); handle_request leaks at
		 * n % 100 == 0. One call site, so every request is one stack. */
		long to_leak = leak, leaked = 0, after = 0;

		signal(SIGUSR1, on_start);
		printf("ready\n");
		fflush(stdout);
		while (after < ticks) {
			int leaking = started && leaked < to_leak;

			for (int i = 0; i < 40; i++) {
				int keep = leaking && leaked < to_leak;

				leaked += keep && n % 100 == 0;
				handle_request(n++, keep);
			}
			if (leaking && leaked == to_leak) {
				printf("leaked %ld\n", leaked);
				fflush(stdout);
			}
			after += started && leaked == to_leak;
			tick();
		}
		return 0;
	}
	printf("ready\n");
	fflush(stdout);
	for (long t = 0; t < ticks; t++) {
		if (strcmp(mode, "ring") == 0) {
			for (int i = 0; i < 40; i++) /* 4000 requests a second */
				handle_request(n++, leak);
		} else if (strcmp(mode, "batch") == 0) {
			fill_batch(batch, &count);
			if (t % 50 == 49) {
				for (int i = leak ? 5 : 0; i < count; i++)
					free(batch[i]);
				count = 0;
			}
		} else if (strcmp(mode, "zero") == 0) {
			leak_zero();
		} else {
			fprintf(stderr, "churn_server: unknown mode '%s'\n", mode);
			return 2;
		}
		tick();
	}
	return 0;
}
