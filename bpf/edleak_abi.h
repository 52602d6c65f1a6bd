/* The contract between bpf/edleak.bpf.c and userspace/capture: map keys, values and counters.
 * Fixed-width types only; included by the BPF side after vmlinux.h and by C++ after
 * <linux/types.h>. */
#ifndef EDLEAK_ABI_H
#define EDLEAK_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Frames kept per stack: the allocation site first, then a frame-pointer walk. */
#define EDLEAK_MAX_FRAMES 32

/* What the outermost allocator call of a thread is doing (edleak_thread_state.kind). */
enum edleak_call_kind {
	EDLEAK_CALL_NONE = 0,
	EDLEAK_CALL_MALLOC = 1,         /* malloc, valloc, operator new: size in arg0 */
	EDLEAK_CALL_CALLOC = 2,         /* arg0 * arg1 */
	EDLEAK_CALL_MEMALIGN = 3,       /* memalign, aligned_alloc: size in arg1 */
	EDLEAK_CALL_PVALLOC = 4,        /* arg0 rounded up to a page */
	EDLEAK_CALL_POSIX_MEMALIGN = 5, /* block written to *arg0, size arg2, returns 0 */
	EDLEAK_CALL_REALLOC = 6,        /* arg0 old block, arg1 size */
	EDLEAK_CALL_REALLOCARRAY = 7,   /* arg0 old block, arg1 * arg2 */
};

/* A live block: blocks map key (process, address) -> value. */
struct edleak_block_key {
	__u32 tgid;
	__u32 pad;
	__u64 addr;
};

struct edleak_block {
	__u64 size;
	__u64 stack_id; /* hash of the frames, key of the stacks map */
};

/* Per (process, stack) aggregates: updated atomically by every thread of the process. */
struct edleak_site_key {
	__u32 tgid;
	__u32 pad;
	__u64 stack_id;
};

struct edleak_site {
	__s64 outstanding_bytes;
	__u64 total_allocs; /* outstanding blocks = total_allocs - total_frees */
	__u64 total_frees;
	__u64 pad;
};

/* stacks map: stack_id -> frames; frames[0] is the allocation site (the allocator's caller). */
struct edleak_stack {
	__u64 frames[EDLEAK_MAX_FRAMES];
};

/* Indexes of the counters array (per-CPU; userspace sums the CPUs). */
enum edleak_counter {
	EDLEAK_CTR_LOST_ALLOCS = 0,   /* blocks map full: allocation not recorded */
	EDLEAK_CTR_LOST_SITES,        /* sites map full: allocation not recorded */
	EDLEAK_CTR_STACK_ERRORS,      /* stacks map full or stack unreadable */
	EDLEAK_CTR_UNKNOWN_FREES,     /* free of a block not seen allocated (before attach) */
	EDLEAK_CTR_FAILED_ALLOCS,     /* the allocator returned NULL / an error */
	EDLEAK_CTR_STATE_ERRORS,      /* no per-thread state (task storage allocation failed) */
	EDLEAK_CTR_COUNT,
};

/* A live block of one process, as bpf/edleak_iter.bpf.c lists them for a reachability scan. */
struct edleak_live_block {
	__u64 addr;
	__u64 size;
	__u64 stack_id;
};

#endif /* EDLEAK_ABI_H */
