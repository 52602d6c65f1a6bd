/* The contract between bpf/edleak.bpf.c and userspace/capture: map keys, values and counters.
 * Fixed-width types only; included by the BPF side after vmlinux.h and by C++ after
 * <linux/types.h>. */
#ifndef EDLEAK_ABI_H
#define EDLEAK_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Frames kept per stack at most (--max-frames sets how many are walked): the allocation site
 * first, then the callers found from CFI (or a checked frame-pointer walk where there is none). */
#define EDLEAK_MAX_FRAMES 64

/* How callers are found (--unwind): CFI where a file has it, else the checked frame-pointer
 * walk (auto); CFI only (dwarf); frame pointers only (fp). */
enum edleak_unwind_mode {
	EDLEAK_UNWIND_AUTO = 0,
	EDLEAK_UNWIND_DWARF = 1,
	EDLEAK_UNWIND_FP = 2,
};

/* ---- unwind tables ---------------------------------------------------------------------- */

/* How the caller's frame is found at an address (edleak_unwind_row.kinds, low 4 bits). */
enum edleak_cfa_kind {
	EDLEAK_CFA_GAP = 0,         /* no CFI covers this address (code without FDE): use the
				     * checked frame-pointer walk */
	EDLEAK_CFA_RSP = 1,         /* CFA = rsp + cfa_offset */
	EDLEAK_CFA_RBP = 2,         /* CFA = rbp + cfa_offset */
	EDLEAK_CFA_PLT = 3,         /* PLT stub: CFA = rsp + 8, + 8 more when (rip & 15) >= cfa_offset */
	EDLEAK_CFA_SIGNAL = 4,      /* signal trampoline (__restore_rt): the interrupted rip, rsp and
				     * rbp are in the ucontext at rsp */
	EDLEAK_CFA_END = 5,         /* return address undefined: the outermost frame (_start,
				     * clone3, start_thread's caller) */
	EDLEAK_CFA_UNSUPPORTED = 6, /* CFI we cannot evaluate in BPF (an expression, a CFA from
				     * another register, an offset beyond 16 bits): the stack ends */
};

/* Where the caller's rbp is (edleak_unwind_row.kinds, high 4 bits). */
enum edleak_rbp_kind {
	EDLEAK_RBP_SAME = 0,      /* unchanged (same value, or no rule) */
	EDLEAK_RBP_AT_CFA = 1,    /* saved at CFA + rbp_offset * 8 */
	EDLEAK_RBP_UNDEFINED = 2, /* lost (a rule we cannot evaluate): a later CFA from rbp fails */
};

/* One row of a file's unwind table, valid from `pc` to the next row's pc. Addresses are the
 * ELF file's own virtual addresses (st_value, p_vaddr); rows are sorted by pc and a table ends
 * with a GAP row at the end of its last FDE. 8 bytes, so a 2M-row array is 16 MiB. */
struct edleak_unwind_row {
	__u32 pc;
	__u16 cfa_offset;
	__u8 kinds;      /* enum edleak_cfa_kind | enum edleak_rbp_kind << 4 */
	__s8 rbp_offset; /* in 8-byte units from the CFA (usually -2: rbp pushed after the call) */
};

/* An executable mapping of a traced process: [start, end) holds code whose table is the rows
 * [first_row, first_row + row_count) of the unwind_rows array, looked up with pc - bias.
 * row_count 0: a file without CFI (or JIT code): only the checked frame-pointer walk. */
struct edleak_mapping {
	__u64 start;
	__u64 end;
	__u64 bias; /* start - the ELF virtual address mapped at start */
	__u32 first_row;
	__u32 row_count;
};

/* Executable mappings of one process, sorted by start. */
#define EDLEAK_MAX_MAPPINGS 1024
struct edleak_proc_mappings {
	__u32 count;
	__u32 generation; /* bumped by userspace at every rewrite */
	struct edleak_mapping mappings[EDLEAK_MAX_MAPPINGS];
};

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
	EDLEAK_CALL_REALLOC_OWNED = 8,  /* realloc of an allocator that frees the old block itself
					 * (realloc(p, 0) included): arg0 old block, arg1 size */
	EDLEAK_CALL_XALLOCX = 9,        /* jemalloc xallocx: arg0 block resized in place to
					 * min(returned size, arg1 + extra); allocates nothing */
	EDLEAK_CALL_EXPAND = 10,        /* mimalloc mi_expand: arg0 block resized in place to arg1
					 * when it returns arg0; allocates nothing */
	EDLEAK_CALL_STRING = 11,        /* a string copy (mi_heap_strdup, strndup, realpath): the
					 * returned block holds a string, its size is its length + 1;
					 * arg 1: returns the caller's buffer, no block */
};

/* A process's history runs from its fork (or exec) to its next exec or its exit; the BPF side
 * numbers each one (its incarnation) so that an exec'd program or a reused pid never shares
 * blocks or sites with what came before. 0: a process that started before tracing did. */

/* A live block: blocks map key (process history, address) -> value. */
struct edleak_block_key {
	__u32 tgid;
	__u32 incarnation;
	__u64 addr;
};

struct edleak_block {
	__u64 size;
	__u64 stack_id;    /* hash of the frames, key of the stacks map */
	__u32 birth;       /* the age epoch it was allocated in (see edleak_site) */
	__u32 site_serial; /* edleak_site.serial of the site it was counted in */
};

/* Per (process, stack) aggregates: updated atomically by every thread of the process. */
struct edleak_site_key {
	__u32 tgid;
	__u32 incarnation;
	__u64 stack_id;
};

/* The age of live blocks. Userspace advances `age_epoch` (a BPF global) by one right after each
 * read of the sites map, so an epoch is a sample interval and each block is stamped with the
 * epoch it was born in. A site keeps a ring of EDLEAK_AGE_SLOTS slots: slot e % SLOTS sums the
 * bytes and blocks allocated in epoch e, minus those of them freed while they are young (fewer
 * than SLOTS epochs old); a block freed older than that leaves its slot alone. The slots are
 * cumulative and wrap: during epochs e .. e + SLOTS - 1 only epoch e's blocks touch slot
 * e % SLOTS, so the slot's value minus its value when epoch e began is what is live of that
 * cohort. What a site holds in blocks older than the ring (allocated SLOTS samples ago or
 * more) is then its outstanding totals minus its young cohorts, with no work in the kernel when
 * a block grows old (userspace/sample/age_ring.h decodes it). */
#define EDLEAK_AGE_SLOTS 8

/* Userspace evicts sites to make room when the map is nearly full (userspace/sample/room_policy.h):
 * an empty one, whose counts it keeps, or one of a process over its share of the map, with its
 * blocks. Each site is numbered at creation (`serial`) and each block notes the number of the
 * site it was counted in, so that the free of a block whose site was evicted (and perhaps created
 * again since) is never credited to a site that did not count it (EDLEAK_CTR_ORPHAN_FREES). */
struct edleak_site {
	__s64 outstanding_bytes;
	__u64 total_allocs; /* outstanding blocks = total_allocs - total_frees */
	__u64 total_frees;
	__u32 serial;       /* nonzero, different for each site created */
	__u32 pad;
	__u64 young_bytes[EDLEAK_AGE_SLOTS];  /* wrapping sums (two's complement) */
	__u32 young_blocks[EDLEAK_AGE_SLOTS];
};

/* How a stack's walk ended (edleak_stack.flags). */
enum edleak_stack_flags {
	EDLEAK_STACK_COMPLETE = 1,  /* reached the outermost frame (_start, a thread's start) */
	EDLEAK_STACK_TRUNCATED = 2, /* stopped at --max-frames */
	EDLEAK_STACK_MMAP = 4,      /* a direct anonymous mmap's stack (frame 0: the caller of the
				     * libc wrapper that made the system call), not an allocator's */
};

/* Direct anonymous mappings of one process (mmap_regions map, tgid -> this): the program's own
 * mmap()s, not the allocator's (those are made inside an allocator call). Few: a linear scan. */
#define EDLEAK_MAX_MMAP_REGIONS 512
struct edleak_mmap_region {
	__u64 start;
	__u64 end;
	__u64 stack_id; /* site (tgid, stack_id) whose outstanding bytes hold end - start */
	__u32 birth;       /* age epoch of the mmap (see edleak_site) */
	__u32 site_serial; /* of the site that counted it (see edleak_site) */
};

struct edleak_mmap_regions {
	__u32 count;
	__u32 pad;
	struct edleak_mmap_region regions[EDLEAK_MAX_MMAP_REGIONS];
};

/* stacks map: stack_id -> frames; frames[0] is the allocation site (the allocator's caller),
 * the frames end at the first 0. */
struct edleak_stack {
	__u64 frames[EDLEAK_MAX_FRAMES];
	__u64 flags; /* enum edleak_stack_flags */
};

/* Indexes of the counters array (per-CPU; userspace sums the CPUs). */
enum edleak_counter {
	EDLEAK_CTR_LOST_ALLOCS = 0,   /* blocks map full: allocation not recorded */
	EDLEAK_CTR_LOST_SITES,        /* sites map full: allocation not recorded */
	EDLEAK_CTR_STACK_ERRORS,      /* stacks map full or stack unreadable */
	EDLEAK_CTR_UNKNOWN_FREES,     /* free of a block not seen allocated: allocated before
				       * tracing, or glibc returning the blocks of a thread's cache
				       * to its arena at thread exit (already freed by the program) */
	EDLEAK_CTR_FAILED_ALLOCS,     /* the allocator returned NULL / an error */
	EDLEAK_CTR_STATE_ERRORS,      /* no per-thread state (task storage allocation failed) */
	EDLEAK_CTR_OVERWRITTEN_BLOCKS, /* a block recorded at the address of a live one (its free
					* was missed): the old one is credited to its stack */
	EDLEAK_CTR_LOST_EVENTS,       /* process events ring buffer full: an event dropped */
	EDLEAK_CTR_REFUSED_SITE_ALLOCS,  /* allocation not recorded: a new stack of a process over
					  * its share of the sites map (site_caps), or over its
					  * new sites for one tick (site_bursts) */
	EDLEAK_CTR_REFUSED_BLOCK_ALLOCS, /* allocation not recorded: a process over its share of
					  * the blocks map (block_caps) */
	EDLEAK_CTR_ORPHAN_FREES,      /* free (or unmap) of a block whose site was evicted while
				       * it was live: not credited to any site */
	EDLEAK_CTR_COUNT,
};

/* Shares of the maps (userspace/sample/room_policy.h): processes over their share of the sites
 * map get no new site (site_caps), those over their share of the blocks map no new block
 * (block_caps); both keyed by struct edleak_history, the value counts the allocations refused.
 * The global caps_active (EDLEAK_CAPS_*) says which of them hold any, so that a run without caps
 * never looks them up. */
enum edleak_caps {
	EDLEAK_CAPS_SITES = 1,
	EDLEAK_CAPS_BLOCKS = 2,
};
#define EDLEAK_MAX_CAPS 4096

/* New sites of one process history since the last snapshot (site_bursts, keyed by struct
 * edleak_history), while userspace sets a limit on them (bpf/edleak.bpf.c, site_burst_limit). */
struct edleak_site_burst {
	__u32 epoch;   /* age_epoch when `created` was last reset: the snapshot it counts from */
	__u32 created; /* sites created since */
	__u64 refused; /* allocations of new stacks refused over the limit, in all */
};
#define EDLEAK_MAX_BURSTS 16384

/* ---- process events (process_events ring buffer) ------------------------------------------ */

enum edleak_event_kind {
	EDLEAK_EVENT_FORK = 1, /* a new process: tgid, incarnation; parent_tgid its parent */
	EDLEAK_EVENT_EXEC = 2, /* tgid exec'd: incarnation is the new history, old_incarnation ended */
	EDLEAK_EVENT_EXIT = 3, /* the last thread of tgid exited (history incarnation ended) */
};

struct edleak_process_event {
	__u32 kind;
	__u32 tgid;
	__u32 incarnation;
	__u32 old_incarnation;
	__u32 parent_tgid;
	__s32 exit_code; /* EXIT: the wait status (exit code << 8 | signal) */
	__u64 time_ns;   /* bpf_ktime_get_ns() */
	char comm[16];   /* the process's name (after exec: the new program's) */
};

/* A live block of one process, as bpf/edleak_iter.bpf.c lists them for a reachability scan. */
/* Histories whose block keys one pass of the iterator's list_block_keys lists, at most. */
#define EDLEAK_ITER_HISTORIES 4096

struct edleak_history {
	__u32 tgid;
	__u32 incarnation;
};

struct edleak_live_block {
	__u64 addr;
	__u64 size;
	__u64 stack_id;
};

#endif /* EDLEAK_ABI_H */
