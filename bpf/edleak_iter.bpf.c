// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* edleak-bpf block listing: the live blocks of one process, for a reachability scan.
 *
 * A BPF iterator over edleak.bpf.c's blocks map (attached to its fd by userspace/capture): every
 * block of process `iter_tgid` is written out as a struct edleak_live_block. A batch lookup of a
 * map of a million blocks costs ~0.6 s in the kernel, this pass a fraction of it, and it runs
 * while the process is frozen. A separate object: the tracing programs stay as they are.
 *
 * list_block_keys writes out the keys of every block of the histories in `histories`: the
 * blocks of ended processes, which userspace then deletes (a batch read of the whole map for
 * them cost ~0.5 s a report on a busy machine).
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "edleak_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__u32 iter_tgid = 0; /* the process history listed, set by userspace before each pass */
__u32 iter_incarnation = 0;

SEC("iter/bpf_map_elem")
int list_blocks(struct bpf_iter__bpf_map_elem *ctx)
{
	struct edleak_block_key *key = ctx->key;
	struct edleak_block *block = ctx->value;
	struct edleak_live_block out;

	if (!key || !block || key->tgid != iter_tgid || key->incarnation != iter_incarnation)
		return 0;
	out.addr = key->addr;
	out.size = block->size;
	out.stack_id = block->stack_id;
	bpf_seq_write(ctx->meta->seq, &out, sizeof(out));
	return 0;
}

/* The histories whose block keys list_block_keys writes out: (tgid, incarnation) -> 1, filled by
 * userspace before each pass. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EDLEAK_ITER_HISTORIES);
	__type(key, struct edleak_history);
	__type(value, __u8);
} histories SEC(".maps");

SEC("iter/bpf_map_elem")
int list_block_keys(struct bpf_iter__bpf_map_elem *ctx)
{
	struct edleak_block_key *key = ctx->key;
	struct edleak_history history;

	if (!key)
		return 0;
	history.tgid = key->tgid;
	history.incarnation = key->incarnation;
	if (!bpf_map_lookup_elem(&histories, &history))
		return 0;
	bpf_seq_write(ctx->meta->seq, key, sizeof(*key));
	return 0;
}
