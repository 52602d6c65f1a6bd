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
/* Benchmarks only (--empty-programs): every program returns at once, so the cost measured is
 * the floor of the probes themselves at the same placements (the verifier drops the rest). */
const volatile bool empty_programs = false;
/* Deepest a user stack may be for a frame-pointer walk to trust a frame (bytes above sp). */
const volatile __u64 max_stack_depth = 8ULL << 20;

/* Processes are traced where their probes are: in every process mapping a file (all-process
 * mode), or per process (the kernel filters). `followed` marks the processes whose fork, exec
 * and exit matter; children of a followed process are followed from their fork
 * (follow_children): the fork tracepoint adds them before they run. */
const volatile bool follow_children = false;
/* Process events (fork, exec, exit) for every process (all-process mode), else for followed
 * ones only. */
const volatile bool events_for_all = false;
/* Followed processes are held at their first allocator call after fork and exec
 * (hold_followed: set when userspace is their ptrace tracer), see `holds`. */
const volatile bool hold_followed = false;

/* Per-thread state of the outermost allocator call in flight, and what the thread's process
 * is (read once per thread and program image, not at every call). */
struct thread_state {
	__u32 depth;      /* allocator calls in flight on this thread */
	__u32 kind;       /* enum edleak_call_kind of the outermost */
	__u64 entry_sp;   /* sp at the outermost entry: a deeper call is nested in it */
	__u64 size;       /* requested bytes */
	__u64 arg;        /* realloc: old block; posix_memalign: where the block is written */
	struct edleak_block old_block; /* realloc: the old block, taken out at entry */
	__u32 has_old_block;
	__u32 incarnation; /* of the process's current history */
	__u32 ready;       /* incarnation read for this program image */
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

/* The age clock: userspace bumps it right after each read of the sites map (one sample, one
 * epoch), so a block's birth epoch says in which sample interval it was allocated (1 at load:
 * userspace sets it). A plain load from the object's .bss. */
volatile __u32 age_epoch = 0;

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

/* Processes over their share of the sites map / the blocks map (edleak_abi.h, edleak_caps): set
 * by userspace, the value counts the allocations refused. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EDLEAK_MAX_CAPS);
	__type(key, struct edleak_history);
	__type(value, __u64);
} site_caps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EDLEAK_MAX_CAPS);
	__type(key, struct edleak_history);
	__type(value, __u64);
} block_caps SEC(".maps");

/* Which of site_caps and block_caps hold any entry (EDLEAK_CAPS_*), set by userspace. */
volatile __u32 caps_active = 0;

/* Userspace makes room in the sites map once a tick; a process creating thousands of stacks
 * between two ticks (a compiler starting) would fill it before then, and every other process's
 * new stack would be lost. So, while userspace sets site_burst_limit (the map is half full),
 * between two snapshots a process history creates at most site_burst_limit sites, and all of
 * them together at most site_burst_budget beyond each one's first site_burst_floor (a process
 * with a few stacks always gets them). The allocations of new stacks beyond are refused,
 * counted in the history's entry here (read by userspace). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, EDLEAK_MAX_BURSTS);
	__type(key, struct edleak_history);
	__type(value, struct edleak_site_burst);
} site_bursts SEC(".maps");

volatile __u32 site_burst_limit = 0; /* 0: none */
volatile __u32 site_burst_budget = 0;
volatile __u32 site_burst_floor = 0;
volatile __u32 site_burst_created = 0; /* by every history since the snapshot (reset by userspace) */

/* Site serials are numbered per CPU (count << 10 | cpu), as histories are (see
 * history_counters): they need only differ between the sites of one (process, stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} site_serials SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EDLEAK_CTR_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

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

/* ---- processes ------------------------------------------------------------------------- */

/* The incarnation of each process's current history (edleak_abi.h), set at fork and exec,
 * removed at exit; processes that started before tracing have none (0). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 17);
	__type(key, __u32);
	__type(value, __u32);
} incarnations SEC(".maps");

/* Histories are numbered per CPU (count << 10 | cpu): no atomic is needed (clang's default BPF
 * target has no fetch-and-add), and numbers need only differ for one pid, whose fork, exec and
 * exit never run at once. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} history_counters SEC(".maps");

/* Followed processes (tgid -> 1): named by userspace, or children of followed ones. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 16);
	__type(key, __u32);
	__type(value, __u8);
} followed SEC(".maps");

/* Processes to stop with SIGSTOP at their next allocator call (tgid -> HOLD_ARMED), where their
 * libraries are mapped but their unwind tables not yet known, so that their stacks are whole
 * from the first one. Userspace, their ptrace tracer, sees the stop, finds HOLD_SIGNALLED here,
 * reads their mappings, deletes the entry and resumes them without the signal. */
#define HOLD_ARMED 1
#define HOLD_SIGNALLED 2
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 12);
	__type(key, __u32);
	__type(value, __u64); /* 64 bits: the compare-and-swap needs them */
} holds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} process_events SEC(".maps");

static __always_inline bool is_followed(__u32 tgid)
{
	return bpf_map_lookup_elem(&followed, &tgid) != NULL;
}

static __always_inline void emit_event(struct task_struct *task, __u32 kind, __u32 tgid, __u32 incarnation,
				       __u32 old_incarnation, __u32 parent_tgid, __s32 exit_code)
{
	struct edleak_process_event *e = bpf_ringbuf_reserve(&process_events, sizeof(*e), 0);

	if (!e) {
		count(EDLEAK_CTR_LOST_EVENTS);
		return;
	}
	e->kind = kind;
	e->tgid = tgid;
	e->incarnation = incarnation;
	e->old_incarnation = old_incarnation;
	e->parent_tgid = parent_tgid;
	e->exit_code = exit_code;
	e->time_ns = bpf_ktime_get_ns();
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	bpf_ringbuf_submit(e, 0);
}

/* A new history for tgid: its number, recorded for its threads to read. */
static __always_inline __u32 start_history(__u32 tgid)
{
	__u32 zero = 0, incarnation;
	__u32 *count = bpf_map_lookup_elem(&history_counters, &zero);

	if (!count)
		return 0;
	*count += 1;
	incarnation = *count << 10 | (bpf_get_smp_processor_id() & 1023);
	bpf_map_update_elem(&incarnations, &tgid, &incarnation, BPF_ANY);
	return incarnation;
}

/* Stops the process at this allocator call when userspace asked to hold it. */
static __always_inline void take_hold(__u32 tgid)
{
	__u64 *hold = bpf_map_lookup_elem(&holds, &tgid);

	if (hold && __sync_val_compare_and_swap(hold, HOLD_ARMED, HOLD_SIGNALLED) == HOLD_ARMED)
		bpf_send_signal(19 /* SIGSTOP */);
}

/* The calling thread's state, created on its first call; its process's incarnation is read
 * once per thread and program image. */
static __always_inline struct thread_state *current_thread(__u32 tgid)
{
	struct thread_state *state;
	__u32 *incarnation;

	state = bpf_task_storage_get(&thread_states, bpf_get_current_task_btf(), NULL,
				     BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!state) {
		count(EDLEAK_CTR_STATE_ERRORS);
		return NULL;
	}
	if (!state->ready) {
		state->ready = 1;
		incarnation = bpf_map_lookup_elem(&incarnations, &tgid);
		state->incarnation = incarnation ? *incarnation : 0;
		take_hold(tgid);
	}
	return state;
}

/* The incarnation of the calling thread's process history. */
static __always_inline __u32 thread_incarnation(__u32 tgid)
{
	struct thread_state *state = current_thread(tgid);

	return state ? state->incarnation : 0;
}

/* ---- unwinding ------------------------------------------------------------------------- */

/* Unwind rows of every file traced (edleak_abi.h), packed one table after another; userspace
 * places each file's table once and points every process that maps the file at it. Sized by
 * --max-unwind-rows. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 21);
	__type(key, __u32);
	__type(value, struct edleak_unwind_row);
} unwind_rows SEC(".maps");

/* Executable mappings of each traced process (tgid -> edleak_proc_mappings). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 14);
	__type(key, __u32);
	__type(value, struct edleak_proc_mappings);
} proc_mappings SEC(".maps");

/* Processes whose mappings userspace should (re)read: one with no entry yet, or a return
 * address outside every mapping it knows (a library dlopen()ed since). The entry deduplicates
 * requests until userspace has handled it; the ring buffer wakes userspace at once. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 12);
	__type(key, __u32);
	__type(value, __u8); /* unused: the key is the request */
} mapping_requests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} mapping_events SEC(".maps");

/* enum edleak_unwind_mode (--unwind). */
const volatile __u32 unwind_mode = EDLEAK_UNWIND_AUTO;
/* Frames walked at most (--max-frames), <= EDLEAK_MAX_FRAMES. */
const volatile __u32 max_frames = EDLEAK_MAX_FRAMES;

/* Bytes of user stack copied at once: one copy usually holds several frames, and each copy
 * (bpf_probe_read_user) costs ~100 ns, more than the frame itself. */
#define STACK_WINDOW 512

/* The last walk of this CPU, to skip the next one when it would repeat it: a walk is a function
 * of the registers it starts from (ip, sp, and rbp where it used it), the tables (the
 * mappings' generation) and the stack words it read. Allocations in a loop repeat all of them,
 * so one copy of the stack and a comparison replace the walk. */
#define MEMO_WINDOW 1024 /* bytes above sp a memoized walk may have read */
#define MEMO_SLOTS 64
struct stack_memo {
	__u64 ip, sp, bp, hash, flags;
	__u32 tgid, generation, depth, slots;
	__u32 span;    /* bytes above sp to read back: past the highest slot */
	__u8 valid;
	__u8 needs_bp; /* the walk used rbp as it was at the probe */
	__u16 slot_off[MEMO_SLOTS]; /* stack words read, as offsets from sp... */
	__u64 slot_val[MEMO_SLOTS]; /* ...and what they held */
	__u64 check[MEMO_WINDOW / 8];
};

/* The state of one walk, in this CPU's scratch rather than on the BPF stack: the verifier tracks
 * the values of stack slots, not of map values, so each unwind step starts, to it, from the same
 * state, and the bpf_loop() callback is checked once. On the stack, every mix of the flags and
 * counters a step leaves was a new state: kernels whose verifier re-checks a callback until
 * its states converge (6.18.44) walked ~500 of them and refused the program (1M instructions). */
struct unwind_walk {
	__u64 pc;   /* of the frame being added (a return address, or the interrupted pc) */
	__u64 sp;   /* at pc */
	__u64 bp;   /* rbp at pc */
	__u64 hash; /* FNV-1a over the frames so far */
	__u64 window_start, window_end; /* user addresses held in scratch->window */
	__u64 start_sp;
	__u32 tgid;
	__u32 slots;       /* stack words recorded in scratch->memo */
	__u8 memo_ok;      /* this walk can be memoized */
	__u8 needs_bp;     /* it used rbp as it was at the probe */
	__u8 bp_from_regs; /* w->bp is still the probe's rbp */
	__u8 bp_known;  /* false once a frame's CFI lost rbp */
	__u8 exact_pc;  /* pc is not a return address (frame 0, or after a signal frame) */
	__u8 requested; /* a mapping refresh was asked for during this walk */
};

/* Scratch space for a stack being captured (too big for the 512-byte BPF stack). */
struct stack_scratch {
	struct unwind_walk walk;
	struct edleak_stack stack;
	__u32 depth; /* frames of `stack` filled by the last capture; the rest is stale */
	__u32 pad;
	__u64 window[STACK_WINDOW / 8];
	struct stack_memo memo;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_scratch);
} stack_scratch SEC(".maps");

/* What the tables say of one frame's pc, cached per CPU: a program allocates from a few hundred
 * places, and each walk would otherwise search the mapping list and the rows again for every
 * frame. An entry holds for one process's mapping list (its generation). */
#define PC_CACHE_SIZE 1024 /* 24 KiB: per-CPU values are limited to 32 KiB */
struct pc_rule {
	__u64 key; /* pc << 1 | exact_pc; 0: empty */
	__u32 tgid;
	__u32 generation;
	struct edleak_unwind_row row;
	__u8 in_code;  /* pc lies in an executable mapping of the process */
	__u8 has_rows; /* that mapping's file has CFI */
	__u8 has_row;  /* and a row covers pc */
	__u8 pad[5];
};

struct pc_cache {
	struct pc_rule rules[PC_CACHE_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pc_cache);
} pc_cache SEC(".maps");

/* What the unwind steps share through bpf_loop(): pointers only, the same at every step. */
struct unwind_ctx {
	struct stack_scratch *scratch; /* holds the walk's state (scratch->walk) */
	struct pc_cache *cache;
	struct edleak_proc_mappings *maps; /* NULL: the process's mappings are not known yet */
};

static __always_inline void request_mappings(struct unwind_walk *w)
{
	__u8 asked = 1;
	__u32 *event;

	if (w->requested)
		return;
	w->requested = true;
	w->memo_ok = false; /* the next walk will see other mappings */
	if (bpf_map_update_elem(&mapping_requests, &w->tgid, &asked, BPF_NOEXIST))
		return; /* already asked (or the request table is full: userspace polls it anyway) */
	event = bpf_ringbuf_reserve(&mapping_events, sizeof(*event), 0);
	if (event) {
		*event = w->tgid;
		bpf_ringbuf_submit(event, 0);
	}
}

/* The binary search for the executable mapping holding pc, one bpf_loop() step at a time: the
 * verifier checks a callback once, where it would walk every path of an unrolled search (the
 * index into the mapping array makes each step's bounds precise, so no path is pruned). */
struct mapping_search {
	struct edleak_proc_mappings *maps;
	__u64 pc;
	__u32 lo, hi;
	struct edleak_mapping *found;
};

static long mapping_search_step(__u32 index, void *ctx)
{
	struct mapping_search *s = ctx;
	struct edleak_proc_mappings *maps = s->maps;
	struct edleak_mapping *m;
	__u32 mid;

	if (!maps || s->lo >= s->hi)
		return 1;
	mid = (s->lo + s->hi) / 2;
	m = &maps->mappings[mid & (EDLEAK_MAX_MAPPINGS - 1)];
	if (s->pc < m->start) {
		s->hi = mid;
	} else if (s->pc >= m->end) {
		s->lo = mid + 1;
	} else {
		s->found = m;
		return 1;
	}
	return 0;
}

/* The executable mapping of the process holding pc, or NULL. */
static __always_inline struct edleak_mapping *find_mapping(struct edleak_proc_mappings *maps, __u64 pc)
{
	struct mapping_search s = { .maps = maps, .pc = pc, .lo = 0, .hi = maps->count };

	if (s.hi > EDLEAK_MAX_MAPPINGS)
		s.hi = EDLEAK_MAX_MAPPINGS;
	bpf_loop(11, mapping_search_step, &s, 0); /* 2^11 > EDLEAK_MAX_MAPPINGS */
	return s.found;
}

/* The binary search for a row, one bpf_loop() step at a time (checked once by the verifier). */
struct row_search {
	__u64 addr;
	__u32 lo, hi; /* the answer is in [lo, hi) */
};

static long row_search_step(__u32 index, void *ctx)
{
	struct row_search *s = ctx;
	struct edleak_unwind_row *r;
	__u32 mid;

	if (s->lo + 1 >= s->hi)
		return 1;
	mid = s->lo + (s->hi - s->lo) / 2;
	r = bpf_map_lookup_elem(&unwind_rows, &mid);
	if (!r)
		return 1;
	if (r->pc <= s->addr)
		s->lo = mid;
	else
		s->hi = mid;
	return 0;
}

/* The row of `m`'s table in force at file address `addr` (the last row at or below it), or
 * NULL when addr is below the table's first row. */
static __always_inline struct edleak_unwind_row *find_row(const struct edleak_mapping *m, __u64 addr)
{
	struct row_search s = { .addr = addr, .lo = m->first_row, .hi = m->first_row + m->row_count };
	struct edleak_unwind_row *row = bpf_map_lookup_elem(&unwind_rows, &s.lo);

	if (!row || row->pc > addr || addr >= (1ULL << 32))
		return NULL;
	bpf_loop(24, row_search_step, &s, 0); /* tables of up to 2^24 rows */
	return bpf_map_lookup_elem(&unwind_rows, &s.lo);
}

/* Reads the user word at addr through the window, copying a new window when addr is outside:
 * stack frames are read upwards, so the window starts a little below addr (CFA-16 and CFA-8 are
 * read together) and holds the next frames too. */
static __always_inline bool read_word(const struct unwind_ctx *u, __u64 addr, __u64 *out)
{
	struct unwind_walk *w = &u->scratch->walk;
	struct stack_scratch *scratch = u->scratch;
	__u64 index;

	if (addr & 7)
		return false;
	if (addr < w->window_start || addr + 8 > w->window_end) {
		__u64 start = addr - 8;

		/* Near the top of the stack a whole window may not be mapped: then two words. */
		if (bpf_probe_read_user(scratch->window, STACK_WINDOW, (const void *)start) == 0) {
			w->window_end = start + STACK_WINDOW;
		} else if (bpf_probe_read_user(scratch->window, 16, (const void *)start) == 0) {
			w->window_end = start + 16;
		} else {
			return false;
		}
		w->window_start = start;
	}
	index = (addr - w->window_start) / 8;
	if (index >= STACK_WINDOW / 8)
		return false;
	*out = scratch->window[index];
	/* Remembered for the memo (see struct stack_memo). */
	if (w->memo_ok) {
		__u64 off = addr - w->start_sp;

		if (w->slots >= MEMO_SLOTS || off >= MEMO_WINDOW - 8) {
			w->memo_ok = false;
		} else {
			scratch->memo.slot_off[w->slots & (MEMO_SLOTS - 1)] = off;
			scratch->memo.slot_val[w->slots & (MEMO_SLOTS - 1)] = *out;
			w->slots++;
			if (off + 8 > scratch->memo.span)
				scratch->memo.span = off + 8;
		}
	}
	return true;
}

/* The caller of a frame without CFI, by frame pointer: rbp must point into the stack above sp,
 * and is trusted only as far as the return address it leads to lies in an executable mapping of
 * the process (checked when that frame is added). */
static __always_inline bool step_frame_pointer(const struct unwind_ctx *u)
{
	struct unwind_walk *w = &u->scratch->walk;
	__u64 next_bp, ret;

	if (!w->bp_known || w->bp < w->sp || w->bp - w->sp > max_stack_depth)
		return false;
	if (w->bp_from_regs)
		w->needs_bp = true;
	if (!read_word(u, w->bp, &next_bp) || !read_word(u, w->bp + 8, &ret))
		return false;
	w->sp = w->bp + 16;
	w->bp = next_bp;
	w->bp_from_regs = false;
	w->pc = ret;
	w->exact_pc = false;
	return true;
}

/* The caller's registers from the signal frame that __restore_rt returns through: the
 * ucontext_t sits at rsp (its uc_mcontext at 40; rbp, rsp, rip at 120, 160, 168). */
static __always_inline bool step_signal_frame(const struct unwind_ctx *u)
{
	struct unwind_walk *w = &u->scratch->walk;
	__u64 bp, sp, pc;

	if (!read_word(u, w->sp + 120, &bp) || !read_word(u, w->sp + 160, &sp) ||
	    !read_word(u, w->sp + 168, &pc))
		return false;
	w->window_end = 0; /* the interrupted stack may be elsewhere (sigaltstack) */
	w->memo_ok = false;
	w->bp = bp;
	w->bp_from_regs = false;
	w->bp_known = true;
	w->sp = sp;
	w->pc = pc;
	w->exact_pc = true;
	return true;
}

/* One step of CFI: the CFA from the row, the return address below it, rbp where it was saved. */
static __always_inline bool step_cfi(const struct unwind_ctx *u, const struct edleak_unwind_row *row)
{
	struct unwind_walk *w = &u->scratch->walk;
	__u32 cfa_kind = row->kinds & 0xf, rbp_kind = row->kinds >> 4;
	__u64 cfa, ret, bp = w->bp;

	switch (cfa_kind) {
	case EDLEAK_CFA_RSP:
		cfa = w->sp + row->cfa_offset;
		break;
	case EDLEAK_CFA_RBP:
		if (!w->bp_known)
			return false;
		if (w->bp_from_regs)
			w->needs_bp = true;
		cfa = w->bp + row->cfa_offset;
		break;
	case EDLEAK_CFA_PLT:
		/* cfa_offset holds the byte of the 16-byte entry from which the stub has pushed */
		cfa = w->sp + 8 + ((w->pc & 15) >= row->cfa_offset ? 8 : 0);
		break;
	default:
		return false;
	}
	if (cfa <= w->sp || cfa - w->sp > max_stack_depth)
		return false;
	if (rbp_kind == EDLEAK_RBP_AT_CFA) {
		if (!read_word(u, cfa + (__s64)row->rbp_offset * 8, &bp))
			return false;
		w->bp_from_regs = false;
	}
	if (!read_word(u, cfa - 8, &ret))
		return false;
	if (rbp_kind == EDLEAK_RBP_UNDEFINED)
		w->bp_known = false;
	w->bp = bp;
	w->sp = cfa;
	w->pc = ret;
	w->exact_pc = false;
	return true;
}

static __always_inline void add_frame(const struct unwind_ctx *u, __u32 index)
{
	struct unwind_walk *w = &u->scratch->walk;
	u->scratch->stack.frames[index & (EDLEAK_MAX_FRAMES - 1)] = w->pc;
	u->scratch->depth = index + 1;
	w->hash = (w->hash ^ w->pc) * 0x100000001b3ULL;
}

/* The rule for w->pc, from the cache or from the tables (then cached). */
static __always_inline void rule_of(const struct unwind_ctx *u, struct pc_rule *out)
{
	struct unwind_walk *w = &u->scratch->walk;
	__u64 key = w->pc << 1 | (w->exact_pc ? 1 : 0);
	struct pc_rule *slot = NULL;
	struct edleak_mapping *m;
	struct edleak_unwind_row *row;

	out->in_code = 0;
	out->has_rows = 0;
	out->has_row = 0;
	if (!u->maps)
		return;
	if (u->cache) {
		slot = &u->cache->rules[(w->pc ^ (w->pc >> 12)) & (PC_CACHE_SIZE - 1)];
		if (slot->key == key && slot->tgid == w->tgid && slot->generation == u->maps->generation) {
			*out = *slot;
			return;
		}
	}
	m = find_mapping(u->maps, w->pc);
	if (m) {
		out->in_code = 1;
		out->has_rows = m->row_count != 0;
		if (out->has_rows && unwind_mode != EDLEAK_UNWIND_FP) {
			row = find_row(m, w->pc - m->bias - (w->exact_pc ? 0 : 1));
			if (row) {
				out->row = *row;
				out->has_row = 1;
			}
		}
	}
	if (slot) {
		out->key = key;
		out->tgid = w->tgid;
		out->generation = u->maps->generation;
		*slot = *out;
	}
}

/* bpf_loop() step: adds the frame at w->pc when it is code of the process, then finds its
 * caller. Returns 1 to end the stack. */
static long unwind_step(__u32 index, void *ctx)
{
	const struct unwind_ctx *u = ctx;
	struct unwind_walk *w = &u->scratch->walk;
	struct pc_rule rule = {};

	if (w->pc < 4096 || w->pc >= (1ULL << 47))
		return 1;
	rule_of(u, &rule);
	if (!rule.in_code) {
		/* Frame 0 is the return address the kernel saw: always true. Deeper, an address
		 * outside the process's code ends the stack (a garbage frame, or a library mapped
		 * since userspace last looked: then it is asked to look again). */
		if (index == 0 || !u->maps)
			add_frame(u, index);
		request_mappings(w);
		return 1;
	}
	add_frame(u, index);
	if (index + 1 >= max_frames) {
		u->scratch->stack.flags |= EDLEAK_STACK_TRUNCATED;
		return 1;
	}
	if (rule.has_row) {
		switch (rule.row.kinds & 0xf) {
		case EDLEAK_CFA_GAP:
			break; /* no CFI here: the frame-pointer walk below, unless --unwind dwarf */
		case EDLEAK_CFA_END:
			u->scratch->stack.flags |= EDLEAK_STACK_COMPLETE;
			return 1;
		case EDLEAK_CFA_SIGNAL:
			return step_signal_frame(u) ? 0 : 1;
		default:
			return step_cfi(u, &rule.row) ? 0 : 1;
		}
	}
	if (unwind_mode == EDLEAK_UNWIND_DWARF && rule.has_rows)
		return 1;
	return step_frame_pointer(u) ? 0 : 1;
}

/* Whether the walk about to start would repeat the memoized one: same registers, tables and
 * stack words (read back in one copy). */
static __always_inline bool memo_matches(struct stack_memo *memo, const struct edleak_proc_mappings *maps,
					 __u32 tgid, __u64 ip, __u64 sp, __u64 bp)
{
	__u32 span = memo->span;

	if (!memo->valid || memo->ip != ip || memo->sp != sp || memo->tgid != tgid ||
	    memo->generation != maps->generation || (memo->needs_bp && memo->bp != bp))
		return false;
	if (span == 0 || span > MEMO_WINDOW)
		return false;
	if (bpf_probe_read_user(memo->check, span, (const void *)sp))
		return false;
	for (int i = 0; i < MEMO_SLOTS; i++) {
		if (i >= memo->slots)
			break;
		if (memo->check[(memo->slot_off[i] / 8) & (MEMO_WINDOW / 8 - 1)] != memo->slot_val[i])
			return false;
	}
	return true;
}

/* Captures the user stack at a return probe: frame 0 is the return address (the allocator's
 * caller), deeper frames come from the CFI tables of the process's files, or from a checked
 * frame-pointer walk in code without CFI. Every frame but the first must lie in an executable
 * mapping of the process, so garbage (a stack local taken for a frame pointer) never becomes a
 * frame. The frames stay in this CPU's scratch (see store_stack); returns the stack's id (a
 * hash of the frames), 0 on failure. */
static __always_inline __u64 capture_stack(struct pt_regs *ctx, __u32 tgid)
{
	__u32 zero = 0;
	__u64 ip = PT_REGS_IP(ctx), sp = PT_REGS_SP(ctx), bp = PT_REGS_FP(ctx);
	struct unwind_ctx u = {};
	struct unwind_walk *w;
	struct stack_memo *memo;

	u.scratch = bpf_map_lookup_elem(&stack_scratch, &zero);
	if (!u.scratch)
		return 0;
	memo = &u.scratch->memo;
	u.maps = bpf_map_lookup_elem(&proc_mappings, &tgid);
	u.cache = bpf_map_lookup_elem(&pc_cache, &zero);
	if (u.maps && memo_matches(memo, u.maps, tgid, ip, sp, bp))
		return memo->hash;

	w = &u.scratch->walk;
	w->pc = ip;
	w->sp = sp;
	w->bp = bp;
	w->hash = 0xcbf29ce484222325ULL;
	w->window_start = 0;
	w->window_end = 0;
	w->start_sp = sp;
	w->tgid = tgid;
	w->slots = 0;
	/* Slots are compared as words at sp + offset: only for a word-aligned sp. */
	w->memo_ok = u.maps != NULL && !(sp & 7);
	w->needs_bp = false;
	w->bp_from_regs = true;
	w->bp_known = true;
	w->exact_pc = true; /* the return probe fires at the return address itself */
	w->requested = false;
	u.scratch->depth = 0;
	u.scratch->stack.flags = 0;
	memo->valid = 0;
	memo->span = 0;
	bpf_loop(EDLEAK_MAX_FRAMES, unwind_step, &u, 0);
	if (u.scratch->depth == 0)
		return 0;
	if (w->hash == 0)
		w->hash = 1;
	if (w->memo_ok && u.maps) {
		memo->ip = ip;
		memo->sp = sp;
		memo->bp = bp;
		memo->hash = w->hash;
		memo->flags = u.scratch->stack.flags;
		memo->tgid = tgid;
		memo->generation = u.maps->generation;
		memo->depth = u.scratch->depth;
		memo->slots = w->slots;
		memo->needs_bp = w->needs_bp;
		memo->valid = 1;
	}
	return w->hash;
}

/* Stores the frames capture_stack() left in this CPU's scratch under their id, unless another
 * process or CPU stored the same stack first. */
static __always_inline bool store_stack(__u64 stack_id)
{
	__u32 zero = 0;
	struct stack_scratch *scratch = bpf_map_lookup_elem(&stack_scratch, &zero);
	long err;

	if (!scratch || bpf_map_lookup_elem(&stacks, &stack_id))
		return false;
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
	return err == 0;
}

/* ---- accounting ------------------------------------------------------------------------ */

static __always_inline struct edleak_site *site_of(__u32 tgid, __u32 incarnation, __u64 stack_id,
						   bool create)
{
	struct edleak_site_key key = { .tgid = tgid, .incarnation = incarnation, .stack_id = stack_id };
	struct edleak_site *site = bpf_map_lookup_elem(&sites, &key);
	struct edleak_site zero = {};
	__u32 first = 0, *serial;

	if (site || !create)
		return site;
	serial = bpf_map_lookup_elem(&site_serials, &first);
	if (!serial)
		return NULL;
	*serial += 1;
	zero.serial = *serial << 10 | (bpf_get_smp_processor_id() & 1023);
	bpf_map_update_elem(&sites, &key, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&sites, &key);
}

/* The site that counted a block (or a mapping) whose site had serial `serial`: NULL when that
 * site was evicted since, even if the same (process, stack) has a new one, which did not count
 * the block. */
static __always_inline struct edleak_site *site_that_counted(__u32 tgid, __u32 incarnation, __u64 stack_id,
							     __u32 serial)
{
	struct edleak_site *site = site_of(tgid, incarnation, stack_id, false);

	return site && site->serial == serial ? site : NULL;
}

/* When the process history is in a caps map (over its share): the refusal counted, true. */
static __always_inline bool refused(void *caps, __u32 tgid, __u32 incarnation, __u32 counter)
{
	struct edleak_history key = { .tgid = tgid, .incarnation = incarnation };
	__u64 *refusals = bpf_map_lookup_elem(caps, &key);

	if (!refusals)
		return false;
	__sync_fetch_and_add(refusals, 1);
	count(counter);
	return true;
}

/* A change of (bytes, blocks) to live blocks born in epoch `birth`, noted in the site's age ring
 * while they are young (fewer than EDLEAK_AGE_SLOTS epochs old): the slot of their birth epoch.
 * Older blocks are left out: userspace gets what the site holds in old blocks as its outstanding
 * totals minus the young cohorts (see edleak_site). Two atomics, on a cache line the site's
 * totals share or its neighbour. */
static __always_inline void note_age(struct edleak_site *site, __u32 birth, __s64 bytes, __s32 blocks)
{
	__u32 slot;

	if (age_epoch - birth >= EDLEAK_AGE_SLOTS)
		return;
	slot = birth & (EDLEAK_AGE_SLOTS - 1);
	__sync_fetch_and_add(&site->young_bytes[slot], bytes);
	if (blocks)
		__sync_fetch_and_add(&site->young_blocks[slot], blocks);
}

/* Whether the history has created its share of sites since the last snapshot (the refusal then
 * counted: see site_bursts), else counts the site about to be created. */
static __always_inline bool over_site_burst(__u32 tgid, __u32 incarnation)
{
	struct edleak_history key = { .tgid = tgid, .incarnation = incarnation };
	struct edleak_site_burst fresh = {}, *burst;
	__u32 limit = site_burst_limit, epoch = age_epoch;

	if (!limit)
		return false;
	burst = bpf_map_lookup_elem(&site_bursts, &key);
	if (!burst) {
		fresh.epoch = epoch;
		bpf_map_update_elem(&site_bursts, &key, &fresh, BPF_NOEXIST);
		burst = bpf_map_lookup_elem(&site_bursts, &key);
		if (!burst)
			return false; /* the table is full: this history is not limited */
	}
	if (burst->epoch != epoch) {
		burst->epoch = epoch;
		burst->created = 0;
	}
	if (burst->created >= limit ||
	    (burst->created >= site_burst_floor && site_burst_created >= site_burst_budget)) {
		__sync_fetch_and_add(&burst->refused, 1);
		count(EDLEAK_CTR_REFUSED_SITE_ALLOCS);
		return true;
	}
	__sync_fetch_and_add(&burst->created, 1);
	__sync_fetch_and_add(&site_burst_created, 1);
	return false;
}

/* Credits the release of a block to the stack that allocated it. */
static __always_inline void release_block(__u32 tgid, __u32 incarnation, const struct edleak_block *block)
{
	struct edleak_site *site = site_that_counted(tgid, incarnation, block->stack_id, block->site_serial);

	if (!site) {
		count(EDLEAK_CTR_ORPHAN_FREES);
		return;
	}
	__sync_fetch_and_add(&site->outstanding_bytes, -(__s64)block->size);
	__sync_fetch_and_add(&site->total_frees, 1);
	note_age(site, block->birth, -(__s64)block->size, -1);
}

/* Records a new live block under the current stack. The block goes in first: a block the
 * blocks map cannot hold is lost (and counted), never credited to a stack it could not leave. */
/* The site of the stack capture_stack() just returned, created (and its frames stored) when new;
 * NULL when the sites map is full (counted). */
static __always_inline struct edleak_site *site_for_capture(__u32 tgid, __u32 incarnation, __u64 stack_id)
{
	/* A known site implies a stored stack: the stacks map is only touched for new sites. */
	struct edleak_site *site = site_of(tgid, incarnation, stack_id, false);
	bool stored;

	if (!site) {
		if ((caps_active & EDLEAK_CAPS_SITES) &&
		    refused(&site_caps, tgid, incarnation, EDLEAK_CTR_REFUSED_SITE_ALLOCS))
			return NULL;
		if (over_site_burst(tgid, incarnation))
			return NULL;
		stored = store_stack(stack_id);
		site = site_of(tgid, incarnation, stack_id, true);
		if (!site) {
			count(EDLEAK_CTR_LOST_SITES);
			/* No site will ever name these frames: they would hold a stacks entry for good. */
			if (stored)
				bpf_map_delete_elem(&stacks, &stack_id);
		}
	}
	return site;
}

static __always_inline void record_block(struct pt_regs *ctx, __u32 tgid, __u32 incarnation, __u64 addr,
					 __u64 size)
{
	struct edleak_block_key key = { .tgid = tgid, .incarnation = incarnation, .addr = addr };
	struct edleak_block block = { .size = size, .birth = age_epoch };
	struct edleak_block *live;
	struct edleak_site *site;
	long err;

	/* Before the walk: a refused block costs no unwinding. */
	if ((caps_active & EDLEAK_CAPS_BLOCKS) &&
	    refused(&block_caps, tgid, incarnation, EDLEAK_CTR_REFUSED_BLOCK_ALLOCS))
		return;
	block.stack_id = capture_stack(ctx, tgid);
	site = site_for_capture(tgid, incarnation, block.stack_id);
	if (!site)
		return;
	block.site_serial = site->serial;
	err = bpf_map_update_elem(&blocks, &key, &block, BPF_NOEXIST);
	if (err == -17 /* EEXIST */) {
		/* The allocator handed out a live block again: its free was missed (a free through an
		 * entry point we do not probe). Its bytes leave its stack instead of staying forever. */
		live = bpf_map_lookup_elem(&blocks, &key);
		if (live) {
			release_block(tgid, incarnation, live);
			count(EDLEAK_CTR_OVERWRITTEN_BLOCKS);
		}
		err = bpf_map_update_elem(&blocks, &key, &block, BPF_ANY);
	}
	if (err) {
		count(EDLEAK_CTR_LOST_ALLOCS);
		return;
	}
	/* Outstanding blocks are total_allocs - total_frees: one atomic less on each path. */
	__sync_fetch_and_add(&site->outstanding_bytes, size);
	__sync_fetch_and_add(&site->total_allocs, 1);
	note_age(site, block.birth, size, 1);
}

/* Takes a block out of the live set; false when it was not there (allocated before we
 * attached, or already taken out by a realloc). */
static __always_inline bool take_block(__u32 tgid, __u32 incarnation, __u64 addr, struct edleak_block *out)
{
	struct edleak_block_key key = { .tgid = tgid, .incarnation = incarnation, .addr = addr };
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
	state = current_thread(tgid);
	if (!state)
		return NULL;
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

SEC("uprobe.multi")
int BPF_KPROBE(malloc_enter, __u64 size)
{
	if (empty_programs)
		return 0;
	enter(ctx, EDLEAK_CALL_MALLOC, size, 0);
	return 0;
}

SEC("uprobe.multi")
int BPF_KPROBE(calloc_enter, __u64 count, __u64 size)
{
	if (empty_programs)
		return 0;
	enter(ctx, EDLEAK_CALL_CALLOC, count * size, 0);
	return 0;
}

SEC("uprobe.multi")
int BPF_KPROBE(memalign_enter, __u64 alignment, __u64 size)
{
	if (empty_programs)
		return 0;
	enter(ctx, EDLEAK_CALL_MEMALIGN, size, 0);
	return 0;
}

SEC("uprobe.multi")
int BPF_KPROBE(pvalloc_enter, __u64 size)
{
	if (empty_programs)
		return 0;
	enter(ctx, EDLEAK_CALL_PVALLOC, (size + page_size - 1) & ~(page_size - 1), 0);
	return 0;
}

SEC("uprobe.multi")
int BPF_KPROBE(posix_memalign_enter, void **memptr, __u64 alignment, __u64 size)
{
	if (empty_programs)
		return 0;
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
		state->has_old_block = take_block(tgid, state->incarnation, old, &state->old_block);
}

SEC("uprobe.multi")
int BPF_KPROBE(realloc_enter, __u64 old, __u64 size)
{
	if (empty_programs)
		return 0;
	realloc_enter_common(ctx, EDLEAK_CALL_REALLOC, old, size);
	return 0;
}

SEC("uprobe.multi")
int BPF_KPROBE(reallocarray_enter, __u64 old, __u64 count, __u64 size)
{
	if (empty_programs)
		return 0;
	realloc_enter_common(ctx, EDLEAK_CALL_REALLOCARRAY, old, count * size);
	return 0;
}

/* ---- other allocators (jemalloc, tcmalloc, mimalloc: probe/probe_plan.cpp) ----------------- */

/* Their realloc frees the old block without a free() we probe (realloc(p, 0) too), or through
 * their own free nested in the realloc (mimalloc): the old block leaves at entry whatever the size. */
static __always_inline void realloc_owned_common(struct pt_regs *ctx, __u64 old, __u64 size)
{
	struct thread_state *state = enter(ctx, EDLEAK_CALL_REALLOC_OWNED, size, old);

	if (state && old)
		state->has_old_block = take_block(bpf_get_current_pid_tgid() >> 32, state->incarnation, old,
						  &state->old_block);
}

SEC("uprobe.multi")
int BPF_KPROBE(realloc_owned_enter, __u64 old, __u64 size)
{
	if (!empty_programs)
		realloc_owned_common(ctx, old, size);
	return 0;
}

/* The same calls probed where their arguments moved one register on (probe/probe_plan.h):
 * mimalloc's mi_realloc and mi_calloc_aligned at their jump to mi_heap_*(heap, ...). */
SEC("uprobe.multi")
int BPF_KPROBE(heap_realloc_owned_enter, __u64 heap, __u64 old, __u64 size)
{
	if (!empty_programs)
		realloc_owned_common(ctx, old, size);
	return 0;
}

SEC("uprobe.multi")
int BPF_KPROBE(heap_calloc_enter, __u64 heap, __u64 count, __u64 size)
{
	if (!empty_programs)
		enter(ctx, EDLEAK_CALL_CALLOC, count * size, 0);
	return 0;
}

/* xallocx(ptr, size, extra, flags): resizes ptr in place, returns its real size (the old one when it
 * could not). */
SEC("uprobe.multi")
int BPF_KPROBE(xallocx_enter, __u64 ptr, __u64 size, __u64 extra)
{
	struct thread_state *state;

	if (empty_programs)
		return 0;
	state = enter(ctx, EDLEAK_CALL_XALLOCX, size, ptr);
	if (state) {
		/* old_block.size carries `extra` to the return (old_block is unused otherwise). */
		state->old_block.size = extra;
		state->has_old_block = 0;
	}
	return 0;
}

/* mi_expand(p, size): p when it now holds size bytes in place, NULL when it cannot (p unchanged). */
SEC("uprobe.multi")
int BPF_KPROBE(expand_enter, __u64 ptr, __u64 size)
{
	struct thread_state *state;

	if (empty_programs)
		return 0;
	state = enter(ctx, EDLEAK_CALL_EXPAND, size, ptr);
	if (state) {
		state->old_block.size = 0; /* no `extra`: resize_block gives it exactly size */
		state->has_old_block = 0;
	}
	return 0;
}

/* mi_heap_strdup(heap, s), mi_heap_strndup(heap, s, n): a new block sized by the string copied
 * into it, known at the return (strndup's n bounds it, so the copy is what counts). */
SEC("uprobe.multi")
int BPF_KPROBE(heap_string_enter, __u64 heap, __u64 string)
{
	if (!empty_programs)
		enter(ctx, EDLEAK_CALL_STRING, 0, 0);
	return 0;
}

/* mi_heap_realpath(heap, name, resolved): a new block only when resolved is NULL; else it writes
 * into the caller's buffer (the call is still entered: its nested calls are its own). */
SEC("uprobe.multi")
int BPF_KPROBE(heap_realpath_enter, __u64 heap, __u64 name, __u64 resolved)
{
	if (!empty_programs)
		enter(ctx, EDLEAK_CALL_STRING, 0, resolved != 0);
	return 0;
}

/* The length of the user string at addr, read EDLEAK_STRING_CHUNK bytes at a time, one bpf_loop()
 * step per chunk; stops at an unreadable byte (what was read is the length). */
#define EDLEAK_STRING_CHUNK 128
#define EDLEAK_STRING_MAX_CHUNKS 1024 /* strings up to 127 KiB: realpath's are PATH_MAX at most */

struct strlen_walk {
	__u64 addr;
	__u64 length;
};

static long strlen_step(__u64 index, void *data)
{
	struct strlen_walk *w = data;
	char chunk[EDLEAK_STRING_CHUNK];
	long n = bpf_probe_read_user_str(chunk, sizeof(chunk), (const void *)(w->addr + w->length));

	if (n <= 0)
		return 1;
	/* n counts the NUL; a full chunk may end the string exactly: the next read then gives 1. */
	w->length += n - 1;
	return n < (long)sizeof(chunk);
}

static __always_inline __u64 user_strlen(__u64 addr)
{
	struct strlen_walk w = { .addr = addr };

	bpf_loop(EDLEAK_STRING_MAX_CHUNKS, strlen_step, &w, 0);
	return w.length;
}

/* The new size of a block xallocx kept in place: what the caller asked for (size + extra at
 * most), once the allocator says the block holds at least `size`; unchanged otherwise. */
static __always_inline void resize_block(__u32 tgid, struct thread_state *state, __u64 real_size)
{
	struct edleak_block_key key = { .tgid = tgid, .incarnation = state->incarnation, .addr = state->arg };
	struct edleak_block *block;
	struct edleak_site *site;
	__u64 want = state->size + state->old_block.size;
	__u64 new_size;

	if (real_size < state->size)
		return; /* not resized (or not enough): the block keeps its size */
	new_size = real_size < want ? real_size : want;
	block = bpf_map_lookup_elem(&blocks, &key);
	if (!block)
		return;
	site = site_that_counted(tgid, state->incarnation, block->stack_id, block->site_serial);
	if (site) {
		__sync_fetch_and_add(&site->outstanding_bytes, (__s64)new_size - (__s64)block->size);
		note_age(site, block->birth, (__s64)new_size - (__s64)block->size, 0);
	}
	block->size = new_size;
}

/* free (sdallocx, dallocx, sized and aligned delete) of an allocator whose own calls may free
 * through it: a free nested in an allocator call (lower sp than the outermost call in flight) is
 * the allocator's, already accounted for by that call. */
SEC("uprobe.multi")
int BPF_KPROBE(free_outer_enter, __u64 addr)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct thread_state *state;
	struct edleak_block block;

	if (empty_programs)
		return 0;
	if (addr == 0 || is_self(tgid))
		return 0;
	state = current_thread(tgid);
	if (!state || (state->depth > 0 && PT_REGS_SP(ctx) < state->entry_sp))
		return 0;
	if (!take_block(tgid, state->incarnation, addr, &block)) {
		count(EDLEAK_CTR_UNKNOWN_FREES);
		return 0;
	}
	release_block(tgid, state->incarnation, &block);
	return 0;
}

/* ---- return ---------------------------------------------------------------------------- */

SEC("uretprobe.multi")
int BPF_KRETPROBE(alloc_return, __u64 ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct edleak_block_key key = { .tgid = tgid };
	struct thread_state *state;
	__u64 addr = ret;
	__u32 incarnation;

	if (empty_programs)
		return 0;
	if (is_self(tgid))
		return 0;
	state = bpf_task_storage_get(&thread_states, bpf_get_current_task_btf(), NULL, 0);
	/* No state or depth 0: a return whose entry fired before we attached. */
	if (!state || state->depth == 0)
		return 0;
	if (--state->depth > 0)
		return 0;
	incarnation = state->incarnation;
	key.incarnation = incarnation;

	switch (state->kind) {
	case EDLEAK_CALL_POSIX_MEMALIGN:
		addr = 0;
		if (ret == 0 && bpf_probe_read_user(&addr, sizeof(addr), (const void *)state->arg))
			addr = 0;
		break;
	case EDLEAK_CALL_XALLOCX:
		resize_block(tgid, state, ret);
		return 0;
	case EDLEAK_CALL_EXPAND:
		if (ret != 0 && ret == state->arg)
			resize_block(tgid, state, state->size);
		return 0;
	case EDLEAK_CALL_STRING:
		if (state->arg) /* realpath into the caller's buffer */
			return 0;
		if (addr)
			state->size = user_strlen(addr) + 1;
		break;
	case EDLEAK_CALL_REALLOC_OWNED:
		/* realloc(p, 0) returning NULL freed p (no free() of ours saw it). */
		if (state->has_old_block && addr == 0 && state->size == 0) {
			release_block(tgid, incarnation, &state->old_block);
			return 0;
		}
		/* fall through */
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
		release_block(tgid, incarnation, &state->old_block);
		break;
	default:
		break;
	}
	if (addr == 0) {
		if (!(state->kind == EDLEAK_CALL_REALLOC || state->kind == EDLEAK_CALL_REALLOCARRAY ||
		      state->kind == EDLEAK_CALL_REALLOC_OWNED) ||
		    state->size != 0)
			count(EDLEAK_CTR_FAILED_ALLOCS);
		return 0;
	}
	record_block(ctx, tgid, incarnation, addr, state->size);
	return 0;
}

/* ---- process events -------------------------------------------------------------------- */

/* A new process (not a thread) gets a history of its own; a child of a followed process is
 * followed (and held, see `holds`) before it runs a single instruction. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 tgid = BPF_CORE_READ(child, tgid);
	__u32 parent_tgid = BPF_CORE_READ(parent, tgid);
	__u32 incarnation;
	__u64 hold = HOLD_ARMED;
	__u8 one = 1;
	bool watched;

	if (tgid != BPF_CORE_READ(child, pid) || tgid == parent_tgid)
		return 0; /* a thread */
	incarnation = start_history(tgid);
	watched = events_for_all;
	if (follow_children && is_followed(parent_tgid)) {
		bpf_map_update_elem(&followed, &tgid, &one, BPF_ANY);
		if (hold_followed)
			bpf_map_update_elem(&holds, &tgid, &hold, BPF_ANY);
		watched = true;
	}
	if (watched)
		emit_event(child, EDLEAK_EVENT_FORK, tgid, incarnation, 0, parent_tgid, 0);
	return 0;
}

/* exec replaces a process's code: a new history, and its old mapping list must never unwind the
 * new program's stacks (ASLR could put the new code where the old table says something else).
 * This thread reads what its process is again at its next call. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(process_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u32 *current = bpf_map_lookup_elem(&incarnations, &tgid);
	__u32 old_incarnation = current ? *current : 0;
	__u32 incarnation;
	__u64 hold = HOLD_ARMED;
	struct thread_state *state;
	bool follows = is_followed(tgid);

	bpf_map_delete_elem(&proc_mappings, &tgid);
	incarnation = start_history(tgid);
	state = bpf_task_storage_get(&thread_states, task, NULL, 0);
	if (state) {
		state->ready = 0;
		state->depth = 0;
	}
	if (follows && hold_followed)
		bpf_map_update_elem(&holds, &tgid, &hold, BPF_ANY);
	if (follows || events_for_all)
		emit_event(task, EDLEAK_EVENT_EXEC, tgid, incarnation, old_incarnation, 0, 0);
	return 0;
}

/* The last thread of a process exits: its history ends. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(process_exit, struct task_struct *task, bool group_dead)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u32 *current;
	__u32 incarnation;

	if (!group_dead)
		return 0;
	current = bpf_map_lookup_elem(&incarnations, &tgid);
	incarnation = current ? *current : 0;
	if (events_for_all || is_followed(tgid))
		emit_event(task, EDLEAK_EVENT_EXIT, tgid, incarnation, 0, 0, BPF_CORE_READ(task, exit_code));
	bpf_map_delete_elem(&incarnations, &tgid);
	bpf_map_delete_elem(&followed, &tgid);
	bpf_map_delete_elem(&holds, &tgid);
	return 0;
}

/* ---- direct anonymous mappings (syscall tracepoints) ----------------------------------- */

/* A program's own mmap/munmap/mremap of anonymous memory, as sites of their own (kind mmap).
 * The allocator's mappings are made inside an allocator call (glibc's malloc of a large block,
 * jemalloc's extents) and are already counted as the blocks it returns: skipped. Only processes
 * whose mappings userspace has given (the traced ones) are looked at. Not counted: MAP_FIXED
 * mappings (ld.so's .bss of a library; their range still ends tracked mappings it replaces) and
 * MAP_STACK (thread stacks). Sizes are in whole pages, as the kernel maps them. */

#define MMAP_ANONYMOUS 0x20
#define MMAP_FIXED 0x10
#define MMAP_FIXED_NOREPLACE 0x100000
#define MMAP_STACK 0x20000
#define MREMAP_MAYMOVE 1

enum mmap_op { MMAP_OP_MMAP = 1, MMAP_OP_MUNMAP = 2, MMAP_OP_MREMAP = 3, MMAP_OP_FIXED = 4 };

struct mmap_call {
	__u64 addr, len, new_len;
	__u32 op;
	__u32 pad;
};

/* The system call in flight per thread, from its entry to its exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 12);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct mmap_call);
} mmap_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 12);
	__type(key, __u32);
	__type(value, struct edleak_mmap_regions);
} mmap_regions SEC(".maps");

/* Zeroes, to create an entry of mmap_regions (too big for the stack). Never written. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct edleak_mmap_regions);
} mmap_regions_zero SEC(".maps");

/* A region index the verifier sees bounded (clang drops a plain mask after a range check). */
static __always_inline __u32 region_index(__u32 i)
{
	asm volatile("%0 &= 511" : "+r"(i)); /* EDLEAK_MAX_MMAP_REGIONS - 1 */
	return i;
}

static __always_inline __u64 page_up(__u64 len)
{
	return (len + page_size - 1) & ~(page_size - 1);
}

/* Whether this thread's mapping call is the program's own: a traced process, not inside an
 * allocator call. */
static __always_inline bool own_mapping_call(__u32 tgid)
{
	struct thread_state *state;

	/* (A command's mappings before its first allocator call, when userspace reads its mappings,
	 * are not seen: without them its stack could not be walked.) */
	if (is_self(tgid) || !bpf_map_lookup_elem(&proc_mappings, &tgid))
		return false;
	state = bpf_task_storage_get(&thread_states, bpf_get_current_task_btf(), NULL, 0);
	return !(state && state->depth > 0);
}

static __always_inline void note_mapping_call(__u32 op, __u64 addr, __u64 len, __u64 new_len)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct mmap_call call = { .addr = addr, .len = len, .new_len = new_len, .op = op };

	bpf_map_update_elem(&mmap_calls, &id, &call, BPF_ANY);
}

static __always_inline void credit_unmapped(__u32 tgid, __u32 incarnation, const struct edleak_mmap_region *m,
					    __u64 bytes, bool whole)
{
	struct edleak_site *site = site_that_counted(tgid, incarnation, m->stack_id, m->site_serial);

	if (!site) {
		if (whole)
			count(EDLEAK_CTR_ORPHAN_FREES);
		return;
	}
	__sync_fetch_and_add(&site->outstanding_bytes, -(__s64)bytes);
	if (whole)
		__sync_fetch_and_add(&site->total_frees, 1);
	note_age(site, m->birth, -(__s64)bytes, whole ? -1 : 0);
}

struct unmap_walk {
	struct edleak_mmap_regions *r;
	__u64 start, end; /* being unmapped */
	__u32 tgid;
	__u32 incarnation;
	__u32 count;      /* regions before this unmap (splits append after them) */
};

/* One region against the range unmapped: gone, cut at the front or back, or split in two (the
 * second piece is a block of its own from then on: one more alloc of its site). */
static long unmap_step(__u32 index, void *ctx)
{
	struct unmap_walk *w = ctx;
	struct edleak_mmap_regions *r = w->r;
	struct edleak_mmap_region *m;
	__u32 last;

	if (index >= w->count || index >= EDLEAK_MAX_MMAP_REGIONS)
		return 1;
	m = &r->regions[region_index(index)];
	if (m->end <= w->start || m->start >= w->end || m->start == m->end)
		return 0;
	if (w->start <= m->start && w->end >= m->end) {
		credit_unmapped(w->tgid, w->incarnation, m, m->end - m->start, true);
		m->start = m->end = 0; /* a hole, compacted below */
	} else if (w->start <= m->start) {
		credit_unmapped(w->tgid, w->incarnation, m, w->end - m->start, false);
		m->start = w->end;
	} else if (w->end >= m->end) {
		credit_unmapped(w->tgid, w->incarnation, m, m->end - w->start, false);
		m->end = w->start;
	} else {
		struct edleak_site *site;

		last = r->count;
		if (last >= EDLEAK_MAX_MMAP_REGIONS) {
			/* No room for the second piece: it is forgotten, as if unmapped too. */
			credit_unmapped(w->tgid, w->incarnation, m, m->end - w->start, false);
			m->end = w->start;
			return 0;
		}
		credit_unmapped(w->tgid, w->incarnation, m, w->end - w->start, false);
		r->regions[region_index(last)].start = w->end;
		r->regions[region_index(last)].end = m->end;
		r->regions[region_index(last)].stack_id = m->stack_id;
		r->regions[region_index(last)].birth = m->birth;
		r->regions[region_index(last)].site_serial = m->site_serial;
		r->count = last + 1;
		m->end = w->start;
		site = site_that_counted(w->tgid, w->incarnation, m->stack_id, m->site_serial);
		if (site) {
			__sync_fetch_and_add(&site->total_allocs, 1);
			note_age(site, m->birth, 0, 1);
		}
	}
	return 0;
}

/* Closes the holes unmap_step left: regions[j++] = each region still mapped, in order. */
struct compact_walk {
	struct edleak_mmap_regions *r;
	__u32 count, kept;
};

static long compact_step(__u32 index, void *ctx)
{
	struct compact_walk *w = ctx;
	struct edleak_mmap_region *m;

	if (index >= w->count)
		return 1;
	m = &w->r->regions[region_index(index)];
	if (m->start == m->end)
		return 0;
	if (w->kept != index)
		w->r->regions[region_index(w->kept)] = *m;
	w->kept++;
	return 0;
}

static __always_inline void unmap_range(__u32 tgid, __u64 start, __u64 len)
{
	struct edleak_mmap_regions *r = bpf_map_lookup_elem(&mmap_regions, &tgid);
	struct unmap_walk w = { .r = r, .start = start, .end = start + page_up(len), .tgid = tgid,
				.incarnation = thread_incarnation(tgid) };

	if (!r || r->count == 0)
		return;
	w.count = r->count;
	bpf_loop(EDLEAK_MAX_MMAP_REGIONS, unmap_step, &w, 0);
	struct compact_walk c = { .r = r, .count = r->count };

	if (c.count > EDLEAK_MAX_MMAP_REGIONS)
		c.count = EDLEAK_MAX_MMAP_REGIONS;
	bpf_loop(EDLEAK_MAX_MMAP_REGIONS, compact_step, &c, 0);
	r->count = c.kept;
}

/* The stack of the program's call, taken from the user registers at the system call: frame 0
 * there is the libc wrapper (mmap64), which the site drops so that frame 0 is its caller, as for
 * an allocator. The walk is not memoized (the frames in scratch no longer match it). */
static __always_inline __u64 capture_mapping_stack(__u32 tgid)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	struct stack_scratch *scratch;
	__u32 zero = 0, depth;
	__u64 hash = 0xcbf29ce484222325ULL;

	if (!regs)
		return 0;
	if (!capture_stack(regs, tgid))
		return 0;
	scratch = bpf_map_lookup_elem(&stack_scratch, &zero);
	if (!scratch)
		return 0;
	scratch->memo.valid = 0;
	depth = scratch->depth;
	if (depth < 2)
		return 0;
	for (__u32 i = 0; i + 1 < EDLEAK_MAX_FRAMES; i++) {
		__u64 pc;

		if (i + 1 >= depth)
			break;
		pc = scratch->stack.frames[(i + 1) & (EDLEAK_MAX_FRAMES - 1)];
		scratch->stack.frames[i & (EDLEAK_MAX_FRAMES - 1)] = pc;
		hash = (hash ^ pc) * 0x100000001b3ULL;
	}
	scratch->depth = depth - 1;
	scratch->stack.flags |= EDLEAK_STACK_MMAP;
	/* Never equal to an allocator stack's id (those have no MMAP flag stored). */
	hash ^= 0x6d6d6170ULL; /* "mmap" */
	return hash ? hash : 1;
}

static __always_inline void record_mapping(__u32 tgid, __u64 start, __u64 len)
{
	struct edleak_mmap_regions *r;
	struct edleak_site *site;
	__u64 stack_id, size = page_up(len);
	__u32 zero = 0, n;

	r = bpf_map_lookup_elem(&mmap_regions, &tgid);
	if (!r) {
		struct edleak_mmap_regions *zeroes = bpf_map_lookup_elem(&mmap_regions_zero, &zero);

		if (!zeroes)
			return;
		bpf_map_update_elem(&mmap_regions, &tgid, zeroes, BPF_NOEXIST);
		r = bpf_map_lookup_elem(&mmap_regions, &tgid);
		if (!r) {
			count(EDLEAK_CTR_LOST_ALLOCS);
			return;
		}
	}
	n = r->count;
	if (n >= EDLEAK_MAX_MMAP_REGIONS) {
		count(EDLEAK_CTR_LOST_ALLOCS);
		return;
	}
	stack_id = capture_mapping_stack(tgid);
	site = site_for_capture(tgid, thread_incarnation(tgid), stack_id);
	if (!site)
		return;
	r->regions[region_index(n)].start = start;
	r->regions[region_index(n)].end = start + size;
	r->regions[region_index(n)].stack_id = stack_id;
	r->regions[region_index(n)].birth = age_epoch;
	r->regions[region_index(n)].site_serial = site->serial;
	r->count = n + 1;
	__sync_fetch_and_add(&site->outstanding_bytes, size);
	__sync_fetch_and_add(&site->total_allocs, 1);
	note_age(site, r->regions[region_index(n)].birth, size, 1);
}

struct remap_walk {
	struct edleak_mmap_regions *r;
	__u64 old, new_addr, new_size;
	__u32 tgid;
	__u32 incarnation;
};

/* mremap of a region from its start: the region moves and takes its new size. */
static long remap_step(__u32 index, void *ctx)
{
	struct remap_walk *w = ctx;
	struct edleak_mmap_region *m;
	struct edleak_site *site;

	if (index >= w->r->count || index >= EDLEAK_MAX_MMAP_REGIONS)
		return 1;
	m = &w->r->regions[region_index(index)];
	if (m->start != w->old)
		return 0;
	site = site_that_counted(w->tgid, w->incarnation, m->stack_id, m->site_serial);
	if (site) {
		__sync_fetch_and_add(&site->outstanding_bytes, (__s64)w->new_size - (__s64)(m->end - m->start));
		note_age(site, m->birth, (__s64)w->new_size - (__s64)(m->end - m->start), 0);
	}
	m->start = w->new_addr;
	m->end = w->new_addr + w->new_size;
	return 1;
}

SEC("tracepoint/syscalls/sys_enter_mmap")
int mmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 flags = ctx->args[3];

	if (empty_programs || !(flags & MMAP_ANONYMOUS) || !own_mapping_call(tgid))
		return 0;
	if (flags & (MMAP_FIXED | MMAP_FIXED_NOREPLACE))
		note_mapping_call(MMAP_OP_FIXED, ctx->args[0], ctx->args[1], 0);
	else if (!(flags & MMAP_STACK))
		note_mapping_call(MMAP_OP_MMAP, 0, ctx->args[1], 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_munmap")
int munmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	/* Inside an allocator call too: an allocator never unmaps what the program mapped itself,
	 * and a region it reuses after the program unmapped it is no longer the program's. */
	if (empty_programs || is_self(tgid) || !bpf_map_lookup_elem(&mmap_regions, &tgid))
		return 0;
	note_mapping_call(MMAP_OP_MUNMAP, ctx->args[0], ctx->args[1], 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_mremap")
int mremap_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (empty_programs || is_self(tgid) || !bpf_map_lookup_elem(&mmap_regions, &tgid))
		return 0;
	note_mapping_call(MMAP_OP_MREMAP, ctx->args[0], ctx->args[1], ctx->args[2]);
	return 0;
}

/* The call noted at entry, taken out; false when there is none or it failed. */
static __always_inline bool take_mapping_call(long ret, struct mmap_call *out)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct mmap_call *call = bpf_map_lookup_elem(&mmap_calls, &id);

	if (!call)
		return false;
	*out = *call;
	bpf_map_delete_elem(&mmap_calls, &id);
	return !(ret < 0 && ret > -4096); /* failed: nothing changed */
}

/* Only this exit walks a stack: each program that does costs ~1 s of verification at start-up
 * on a loaded 2-CPU machine, so munmap's and mremap's exits below do not share it. */
SEC("tracepoint/syscalls/sys_exit_mmap")
int mmap_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mmap_call c;

	if (!take_mapping_call(ctx->ret, &c))
		return 0;
	if (c.op == MMAP_OP_MMAP)
		record_mapping(tgid, (__u64)ctx->ret, c.len);
	else if (c.op == MMAP_OP_FIXED)
		unmap_range(tgid, (__u64)ctx->ret, c.len); /* replaces whatever was mapped there */
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_munmap")
int munmap_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct mmap_call c;

	if (take_mapping_call(ctx->ret, &c) && c.op == MMAP_OP_MUNMAP)
		unmap_range(bpf_get_current_pid_tgid() >> 32, c.addr, c.len);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mremap")
int mremap_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mmap_call c;
	struct remap_walk w = { .tgid = tgid, .incarnation = thread_incarnation(tgid) };

	if (!take_mapping_call(ctx->ret, &c) || c.op != MMAP_OP_MREMAP)
		return 0;
	w.old = c.addr;
	w.new_addr = (__u64)ctx->ret;
	w.new_size = page_up(c.new_len);
	w.r = bpf_map_lookup_elem(&mmap_regions, &tgid);
	if (w.r)
		bpf_loop(EDLEAK_MAX_MMAP_REGIONS, remap_step, &w, 0);
	return 0;
}

/* ---- free ------------------------------------------------------------------------------ */

SEC("uprobe.multi")
int BPF_KPROBE(free_enter, __u64 addr)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct thread_state *state;
	struct edleak_block block;

	if (empty_programs)
		return 0;
	/* No nesting check: glibc's allocator functions release blocks internally without
	 * free() (realloc's old block: see realloc_enter_common), so every free() is the
	 * program's own. */
	if (addr == 0 || is_self(tgid))
		return 0;
	state = current_thread(tgid);
	if (!state)
		return 0;
	if (!take_block(tgid, state->incarnation, addr, &block)) {
		count(EDLEAK_CTR_UNKNOWN_FREES);
		return 0;
	}
	release_block(tgid, state->incarnation, &block);
	return 0;
}
