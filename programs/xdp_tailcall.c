// SPDX-License-Identifier: GPL-2.0
/* xdp_tailcall — a dispatcher that tail-calls per-EtherType handlers through a PROG_ARRAY filled
 * declaratively (libbpf's `.values`), so no user space has to populate it. */
#include "parse.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *p = bpf_map_lookup_elem(&hits, &slot);

	if (p)
		*p += 1;
}

SEC("xdp")
int handle_ipv4(struct xdp_md *ctx)
{
	count(0);
	return XDP_PASS;
}

SEC("xdp")
int handle_ipv6(struct xdp_md *ctx)
{
	count(1);
	return XDP_PASS;
}

SEC("xdp")
int handle_arp(struct xdp_md *ctx)
{
	count(2);
	return XDP_TX;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int (struct xdp_md *));
} jump_table SEC(".maps") = {
	.values = {
		[0] = (void *)&handle_ipv4,
		[1] = (void *)&handle_ipv6,
		[3] = (void *)&handle_arp,
	},
};

SEC("xdp")
int xdp_dispatch(struct xdp_md *ctx)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	int proto = parse_eth(&c);

	if (proto == ETH_P_IP)
		bpf_tail_call(ctx, &jump_table, 0);
	else if (proto == ETH_P_IPV6)
		bpf_tail_call(ctx, &jump_table, 1);
	else if (proto == ETH_P_ARP)
		bpf_tail_call(ctx, &jump_table, 3);
	else
		bpf_tail_call(ctx, &jump_table, 2); /* empty slot: falls through */
	count(3);
	return XDP_DROP;
}
