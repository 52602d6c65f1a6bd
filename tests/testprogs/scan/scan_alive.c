// Pointers that only a scan of the running process can see (LeakSanitizer's "not a leak" cases
// that live on a stack, in a register, in a thread's TLS), plus one block dropped at once. Prints
// "waiting" and waits for SIGUSR2 (the tracer attached: -p only sees what is allocated after),
// then allocates, prints "ready" once everything is in place, stays so for ARG1 seconds and exits 0.
//
// Built -O0. Each pointer is kept in one place only: stale copies the allocations leave on the
// stacks are scrubbed, and the register one is moved by assembly, out of reach of the compiler.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile int keep_spinning = 1;
static volatile int register_ready, tls_ready;
static __thread void* thread_tls_slot;

#define SITE(name, size) \
  __attribute__((noinline)) void* name(void) { return malloc(size); }

SITE(dropped, 144)
SITE(on_stack, 128)
SITE(in_register, 136)
SITE(in_thread_tls, 152)

__attribute__((noinline)) void scrub_stack(void) {
  volatile char area[32768];
  for (size_t i = 0; i < sizeof area; i++) area[i] = 0;
}

__attribute__((noinline)) void register_scrubbed(void) {
  scrub_stack();
  register_ready = 1;
}

// The pointer lives in r12 only: in_register()'s result moves there, rax is cleared, the stack
// below is scrubbed, and the thread spins without touching memory but the flag.
void* register_holder(void* arg);
__asm__(
    ".text\n"
    ".globl register_holder\n"
    ".type register_holder, @function\n"
    "register_holder:\n"
    "  push %r12\n"
    "  call in_register\n"
    "  mov %rax, %r12\n"
    "  xor %eax, %eax\n"
    "  call register_scrubbed\n"
    "1:\n"
    "  pause\n"
    "  cmpl $0, keep_spinning(%rip)\n"
    "  jne 1b\n"
    "  mov %r12, %rax\n"
    "  pop %r12\n"
    "  ret\n"
    ".size register_holder, .-register_holder\n");

static void* tls_holder(void* arg) {
  thread_tls_slot = in_thread_tls();
  scrub_stack();
  tls_ready = 1;
  while (keep_spinning) usleep(10000);
  return arg;
}

static int seconds;

__attribute__((noinline)) void hold_on_stack(void) {
  void* volatile held = on_stack();
  printf("ready\n");
  fflush(stdout);
  for (int i = 0; i < seconds * 10; i++) usleep(100000);
  (void)held;
}

int main(int argc, char** argv) {
  seconds = argc > 1 ? atoi(argv[1]) : 10;
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  sigprocmask(SIG_BLOCK, &usr2, NULL);  // before the threads: they inherit the mask
  printf("waiting\n");
  fflush(stdout);
  int sig = 0;
  sigwait(&usr2, &sig);
  fprintf(stderr, "dropped %p\n", dropped());
  pthread_t reg, tls;
  pthread_create(&reg, NULL, register_holder, NULL);
  pthread_create(&tls, NULL, tls_holder, NULL);
  while (!register_ready || !tls_ready) usleep(1000);
  scrub_stack();
  hold_on_stack();
  keep_spinning = 0;
  pthread_join(reg, NULL);
  pthread_join(tls, NULL);
  return 0;
}
