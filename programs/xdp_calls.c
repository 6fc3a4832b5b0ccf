// SPDX-License-Identifier: GPL-2.0
/* xdp_calls — bpf-to-bpf calls. Static and global functions in .text are called from two XDP
 * programs that share one section (the loader splits them by symbol and appends the called
 * subprograms to each); bpf_loop takes a callback (a BPF_PSEUDO_FUNC lddw). */
#include "parse.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static __noinline __u64 fold(__u64 acc, __u8 byte)
{
	return (acc * 31) ^ byte;
}

/* checksum_prefix folds the first bytes of the frame; a global function, verified on its own. */
__noinline int checksum_prefix(struct xdp_md *ctx, __u32 n)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	__u64 acc = 7;

	if (!ctx)
		return 0;
	for (__u32 i = 0; i < 16 && i < n; i++) {
		if (data + i + 1 > end)
			break;
		acc = fold(acc, data[i]);
	}
	return (int)(acc & 0x7fffffff);
}

static __noinline void store(__u32 slot, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&results, &slot);

	if (p)
		*p = v;
}

struct loop_ctx {
	__u64 sum;
	__u32 limit;
};

static long add_step(__u64 index, void *data)
{
	struct loop_ctx *lc = data;

	lc->sum += index * index;
	return index + 1 >= lc->limit;
}

SEC("xdp")
int xdp_sum(struct xdp_md *ctx)
{
	int h = checksum_prefix(ctx, 14);

	store(0, h);
	store(1, fold(h, 0x5a));
	return h & 1 ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int xdp_loop(struct xdp_md *ctx)
{
	struct loop_ctx lc = { .sum = 0, .limit = (ctx->data_end - ctx->data) & 15 };

	bpf_loop(16, add_step, &lc, 0);
	store(2, lc.sum);
	store(3, checksum_prefix(ctx, 6));
	return XDP_PASS;
}
