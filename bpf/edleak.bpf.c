// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* edleak-bpf capture: outstanding bytes and blocks of every (process, user call stack).
 *
 * Probes (placed by userspace/probe at the first instruction the kernel emulates):
 *   entry of each allocating function   -> alloc_*_enter: note size/arguments, nesting depth
 *   return of each allocating function  -> alloc_return: record the block under its stack
 *   free (after its NULL test)          -> free_enter: forget the block, credit its stack
 * Only the outermost allocator call of a thread counts (realloc(NULL, n) enters malloc,
 * operator new calls malloc, memalign with a small alignment calls malloc...), so every byte is
 * counted once. The stack is captured at the outermost return, where the instruction pointer is
 * the return address: frame 0 is the true caller even in code without frame pointers.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "edleak_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Tunables, set by userspace between open and load. */
const volatile __u32 self_tgid = 0;     /* the tracer itself: never traced */
const volatile __u64 page_size = 4096;  /* for pvalloc's rounding */
/* Deepest a user stack may be for a frame-pointer walk to trust a frame (bytes above sp). */
const volatile __u64 max_stack_depth = 8ULL << 20;

/* Per-thread state of the outermost allocator call in flight. */
struct thread_state {
	__u32 depth;      /* allocator calls in flight on this thread */
	__u32 kind;       /* enum edleak_call_kind of the outermost */
	__u64 entry_sp;   /* sp at the outermost entry: a deeper call is nested in it */
	__u64 size;       /* requested bytes */
	__u64 arg;        /* realloc: old block; posix_memalign: where the block is written */
	struct edleak_block old_block; /* realloc: the old block, taken out at entry */
	__u32 has_old_block;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} thread_states SEC(".maps");

/* The hash maps allocate their entries as they fill (BPF_F_NO_PREALLOC) rather than all at
 * load: the same speed within noise here (medians of 7 runs, ns a malloc+free pair: 2,583 vs
 * 2,604 preallocated, and 2,591 vs 2,556 in a second comparison), and kernel memory in
 * proportion to what is traced: 18 MiB instead of 120 MiB at the default sizes. */

/* Live blocks. Sized by --max-allocs. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 20);
	__type(key, struct edleak_block_key);
	__type(value, struct edleak_block);
} blocks SEC(".maps");

/* Per (process, stack) aggregates. Sized by --max-stacks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 16);
	__type(key, struct edleak_site_key);
	__type(value, struct edleak_site);
} sites SEC(".maps");

/* Frames of each stack, by hash. Sized by --max-stacks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 16);
	__type(key, __u64);
	__type(value, struct edleak_stack);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EDLEAK_CTR_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Bytes of user stack copied at once by the frame-pointer walk: one copy usually holds several
 * frames, and each copy (bpf_probe_read_user) costs ~100 ns, more than the frame itself. */
#define STACK_WINDOW 256

/* Scratch space for a stack being captured (too big for the 512-byte BPF stack). */
struct stack_scratch {
	struct edleak_stack stack;
	__u32 depth; /* frames of `stack` filled by the last capture; the rest is stale */
	__u32 pad;
	__u64 window[STACK_WINDOW / 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_scratch);
} stack_scratch SEC(".maps");

static __always_inline void count(__u32 counter)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &counter);

	if (value)
		*value += 1;
}

static __always_inline bool is_self(__u32 tgid)
{
	return tgid == self_tgid;
}

/* ---- stacks ---------------------------------------------------------------------------- */

/* Captures the user stack at a return probe: frame 0 is the return address (the allocator's
 * caller), deeper frames come from a frame-pointer walk that stops at the first frame that
 * cannot be one (outside the stack, misaligned, not growing upwards), because code built
 * without frame pointers leaves anything in %rbp. The frames stay in this CPU's scratch (see
 * store_stack); returns the stack's id (a hash of the frames), 0 on failure. */
static __always_inline __u64 capture_stack(struct pt_regs *ctx)
{
	__u32 zero = 0;
	struct stack_scratch *scratch = bpf_map_lookup_elem(&stack_scratch, &zero);
	__u64 sp = PT_REGS_SP(ctx);
	__u64 bp = PT_REGS_FP(ctx);
	__u64 hash = 0xcbf29ce484222325ULL; /* FNV-1a over whole frames */
	__u64 window_start = 0, window_end = 0; /* user addresses held in scratch->window */
	struct edleak_stack *stack;

	if (!scratch)
		return 0;
	stack = &scratch->stack;
	stack->frames[0] = PT_REGS_IP(ctx);
	scratch->depth = 1;
	hash = (hash ^ stack->frames[0]) * 0x100000001b3ULL;

	for (int i = 1; i < EDLEAK_MAX_FRAMES; i++) {
		__u64 index, next_bp, ret;

		if (bp < sp || bp - sp > max_stack_depth || (bp & 7))
			break;
		if (bp < window_start || bp + 16 > window_end) {
			/* Near the top of the stack a whole window may not be mapped: then one frame. */
			if (bpf_probe_read_user(scratch->window, STACK_WINDOW, (const void *)bp) == 0) {
				window_end = bp + STACK_WINDOW;
			} else if (bpf_probe_read_user(scratch->window, 16, (const void *)bp) == 0) {
				window_end = bp + 16;
			} else {
				break;
			}
			window_start = bp;
		}
		index = (bp - window_start) / 8;
		if (index > STACK_WINDOW / 8 - 2)
			break;
		next_bp = scratch->window[index];
		ret = scratch->window[index + 1];
		if (ret < 4096 || ret >= (1ULL << 47))
			break;
		stack->frames[i] = ret;
		scratch->depth = i + 1;
		hash = (hash ^ ret) * 0x100000001b3ULL;
		if (next_bp <= bp)
			break;
		bp = next_bp;
	}
	if (hash == 0)
		hash = 1;
	return hash;
}

/* Stores the frames capture_stack() left in this CPU's scratch under their id, unless another
 * process or CPU stored the same stack first. */
static __always_inline void store_stack(__u64 stack_id)
{
	__u32 zero = 0;
	struct stack_scratch *scratch = bpf_map_lookup_elem(&stack_scratch, &zero);
	long err;

	if (!scratch || bpf_map_lookup_elem(&stacks, &stack_id))
		return;
	/* Stored frames end at the first 0: clear what an earlier, deeper capture left (here, on
	 * new stacks only, rather than on every allocation). */
	for (__u32 i = 1; i < EDLEAK_MAX_FRAMES; i++) {
		if (i >= scratch->depth)
			scratch->stack.frames[i] = 0;
		asm volatile("" ::: "memory"); /* keeps clang from turning this into a memset */
	}
	err = bpf_map_update_elem(&stacks, &stack_id, &scratch->stack, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST: another CPU stored it first */)
		count(EDLEAK_CTR_STACK_ERRORS);
}

/* ---- accounting ------------------------------------------------------------------------ */

static __always_inline struct edleak_site *site_of(__u32 tgid, __u64 stack_id, bool create)
{
	struct edleak_site_key key = { .tgid = tgid, .stack_id = stack_id };
	struct edleak_site *site = bpf_map_lookup_elem(&sites, &key);
	struct edleak_site zero = {};

	if (site || !create)
		return site;
	bpf_map_update_elem(&sites, &key, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&sites, &key);
}

/* Records a new live block under the current stack. The block goes in first: a block the
 * blocks map cannot hold is lost (and counted), never credited to a stack it could not leave. */
static __always_inline void record_block(struct pt_regs *ctx, __u32 tgid, __u64 addr, __u64 size)
{
	struct edleak_block_key key = { .tgid = tgid, .addr = addr };
	struct edleak_block block = { .size = size };
	struct edleak_site *site;

	block.stack_id = capture_stack(ctx);
	/* A known site implies a stored stack: the stacks map is only touched for new sites. */
	site = site_of(tgid, block.stack_id, false);
	if (!site) {
		store_stack(block.stack_id);
		site = site_of(tgid, block.stack_id, true);
		if (!site) {
			count(EDLEAK_CTR_LOST_SITES);
			return;
		}
	}
	if (bpf_map_update_elem(&blocks, &key, &block, BPF_ANY)) {
		count(EDLEAK_CTR_LOST_ALLOCS);
		return;
	}
	/* Outstanding blocks are total_allocs - total_frees: one atomic less on each path. */
	__sync_fetch_and_add(&site->outstanding_bytes, size);
	__sync_fetch_and_add(&site->total_allocs, 1);
}

/* Credits the release of a block to the stack that allocated it. */
static __always_inline void release_block(__u32 tgid, const struct edleak_block *block)
{
	struct edleak_site *site = site_of(tgid, block->stack_id, false);

	if (site) {
		__sync_fetch_and_add(&site->outstanding_bytes, -(__s64)block->size);
		__sync_fetch_and_add(&site->total_frees, 1);
	}
}

/* Takes a block out of the live set; false when it was not there (allocated before we
 * attached, or already taken out by a realloc). */
static __always_inline bool take_block(__u32 tgid, __u64 addr, struct edleak_block *out)
{
	struct edleak_block_key key = { .tgid = tgid, .addr = addr };
	struct edleak_block *block = bpf_map_lookup_elem(&blocks, &key);

	if (!block)
		return false;
	*out = *block;
	/* Only the deleter owns the block (two racing frees of one address: one wins). */
	return bpf_map_delete_elem(&blocks, &key) == 0;
}

/* ---- entry ----------------------------------------------------------------------------- */

/* Notes an allocator entry; returns the state when this call is the thread's outermost. */
static __always_inline struct thread_state *enter(struct pt_regs *ctx, __u32 kind, __u64 size,
						  __u64 arg)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct thread_state *state;
	__u64 sp = PT_REGS_SP(ctx);

	if (is_self(tgid))
		return NULL;
	state = bpf_task_storage_get(&thread_states, bpf_get_current_task_btf(), NULL,
				     BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!state) {
		count(EDLEAK_CTR_STATE_ERRORS);
		return NULL;
	}
	/* A call is nested when it runs deeper (lower sp) than the outermost one in flight. If it
	 * does not, the outermost call's return was never seen (a probe attached between its entry
	 * and its return): start afresh instead of staying stuck. */
	if (state->depth > 0 && sp < state->entry_sp) {
		state->depth++;
		return NULL;
	}
	state->depth = 1;
	state->kind = kind;
	state->entry_sp = sp;
	state->size = size;
	state->arg = arg;
	state->has_old_block = 0;
	return state;
}

SEC("uprobe")
int BPF_KPROBE(malloc_enter, __u64 size)
{
	enter(ctx, EDLEAK_CALL_MALLOC, size, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(calloc_enter, __u64 count, __u64 size)
{
	enter(ctx, EDLEAK_CALL_CALLOC, count * size, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(memalign_enter, __u64 alignment, __u64 size)
{
	enter(ctx, EDLEAK_CALL_MEMALIGN, size, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(pvalloc_enter, __u64 size)
{
	enter(ctx, EDLEAK_CALL_PVALLOC, (size + page_size - 1) & ~(page_size - 1), 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(posix_memalign_enter, void **memptr, __u64 alignment, __u64 size)
{
	enter(ctx, EDLEAK_CALL_POSIX_MEMALIGN, size, (__u64)memptr);
	return 0;
}

/* realloc's old block leaves the live set at entry, not at return: once realloc has freed it,
 * another thread may get the same address back before this thread's return probe runs. */
static __always_inline void realloc_enter_common(struct pt_regs *ctx, __u32 kind, __u64 old,
						 __u64 size)
{
	struct thread_state *state = enter(ctx, kind, size, old);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	/* realloc(p, 0) frees p through free(), whose probe releases the block. */
	if (state && old && size)
		state->has_old_block = take_block(tgid, old, &state->old_block);
}

SEC("uprobe")
int BPF_KPROBE(realloc_enter, __u64 old, __u64 size)
{
	realloc_enter_common(ctx, EDLEAK_CALL_REALLOC, old, size);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(reallocarray_enter, __u64 old, __u64 count, __u64 size)
{
	realloc_enter_common(ctx, EDLEAK_CALL_REALLOCARRAY, old, count * size);
	return 0;
}

/* ---- return ---------------------------------------------------------------------------- */

SEC("uretprobe")
int BPF_KRETPROBE(alloc_return, __u64 ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct edleak_block_key key = { .tgid = tgid };
	struct thread_state *state;
	__u64 addr = ret;

	if (is_self(tgid))
		return 0;
	state = bpf_task_storage_get(&thread_states, bpf_get_current_task_btf(), NULL, 0);
	/* No state or depth 0: a return whose entry fired before we attached. */
	if (!state || state->depth == 0)
		return 0;
	if (--state->depth > 0)
		return 0;

	switch (state->kind) {
	case EDLEAK_CALL_POSIX_MEMALIGN:
		addr = 0;
		if (ret == 0 && bpf_probe_read_user(&addr, sizeof(addr), (const void *)state->arg))
			addr = 0;
		break;
	case EDLEAK_CALL_REALLOC:
	case EDLEAK_CALL_REALLOCARRAY:
		if (!state->has_old_block) /* none, or realloc(p, 0): free() releases p */
			break;
		if (addr == 0) {
			/* Failed: the old block is still the caller's. */
			key.addr = state->arg;
			bpf_map_update_elem(&blocks, &key, &state->old_block, BPF_ANY);
			count(EDLEAK_CTR_FAILED_ALLOCS);
			return 0;
		}
		/* Moved or resized in place. */
		release_block(tgid, &state->old_block);
		break;
	default:
		break;
	}
	if (addr == 0) {
		if (!(state->kind == EDLEAK_CALL_REALLOC || state->kind == EDLEAK_CALL_REALLOCARRAY) ||
		    state->size != 0)
			count(EDLEAK_CTR_FAILED_ALLOCS);
		return 0;
	}
	record_block(ctx, tgid, addr, state->size);
	return 0;
}

/* ---- free ------------------------------------------------------------------------------ */

SEC("uprobe")
int BPF_KPROBE(free_enter, __u64 addr)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct edleak_block block;

	/* No nesting check: glibc's allocator functions release blocks internally without
	 * free() (realloc's old block: see realloc_enter_common), so every free() is the
	 * program's own. */
	if (addr == 0 || is_self(tgid))
		return 0;
	if (!take_block(tgid, addr, &block)) {
		count(EDLEAK_CTR_UNKNOWN_FREES);
		return 0;
	}
	release_block(tgid, &block);
	return 0;
}
