// SPDX-License-Identifier: GPL-2.0
/* xdp_mim — maps of maps. An ARRAY_OF_MAPS whose slots are filled declaratively with two inner
 * arrays, and a HASH_OF_MAPS keyed by EtherType; the program looks up the outer map, then the
 * inner one, and counts per-EtherType packets in whichever inner map it finds. */
#include "parse.h"

char LICENSE[] SEC("license") = "GPL";

struct inner_array {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
};

struct inner_array counts_a SEC(".maps");
struct inner_array counts_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_array);
} outer_arr SEC(".maps") = {
	.values = { [0] = &counts_a, [1] = &counts_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 16);
	__type(key, __u16);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_HASH);
		__uint(max_entries, 64);
		__type(key, __u32);
		__type(value, __u32);
	});
} by_proto SEC(".maps");

SEC("xdp")
int xdp_mim(struct xdp_md *ctx)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	int proto = parse_eth(&c);
	__u32 which = proto == ETH_P_IPV6;
	__u32 slot = proto == ETH_P_IP ? 1 : proto == ETH_P_IPV6 ? 2 : 0;
	__u16 key16 = proto < 0 ? 0 : proto;
	__u32 len = ctx->data_end - ctx->data;
	void *inner;
	__u64 *cnt;
	__u32 *seen;

	inner = bpf_map_lookup_elem(&outer_arr, &which);
	if (inner) {
		cnt = bpf_map_lookup_elem(inner, &slot);
		if (cnt)
			__sync_fetch_and_add(cnt, 1);
	}
	inner = bpf_map_lookup_elem(&by_proto, &key16);
	if (inner) {
		seen = bpf_map_lookup_elem(inner, &len);
		if (seen)
			*seen += 1;
		else
			bpf_map_update_elem(inner, &len, &slot, BPF_NOEXIST);
	}
	return XDP_PASS;
}
