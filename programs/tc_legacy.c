// SPDX-License-Identifier: GPL-2.0
/* tc_legacy — an iproute2-style TC classifier: maps in the legacy "maps" section as struct
 * bpf_elf_map (with pinning, and an ARRAY_OF_MAPS wired to its inner map by inner_id/inner_idx),
 * programs in sections whose names the user picks with `tc filter ... bpf obj X sec S`, and a
 * tail-call target in section "2/0" (slot 0 of the PROG_ARRAY whose id is 2). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "bpf_elf.h"

char __license[] SEC("license") = "GPL";

struct bpf_elf_map SEC("maps") acc_bytes = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u64),
	.max_elem = 2,
	.pinning = PIN_GLOBAL_NS,
};

struct bpf_elf_map SEC("maps") proto_count = {
	.type = BPF_MAP_TYPE_HASH,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u64),
	.max_elem = 64,
	.pinning = PIN_NONE,
};

struct bpf_elf_map SEC("maps") inner_tpl = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 1,
	.id = 1,
	.inner_idx = 0,
};

struct bpf_elf_map SEC("maps") outer = {
	.type = BPF_MAP_TYPE_ARRAY_OF_MAPS,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 1,
	.inner_id = 1,
};

/* iproute2 tail calls: a PROG_ARRAY with id 2; the program in section "2/0" goes to its slot 0. */
struct bpf_elf_map SEC("maps") jmp_tc = {
	.type = BPF_MAP_TYPE_PROG_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 2,
	.id = 2,
};

static __always_inline void add(void *map, __u32 key, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(map, &key);

	if (p)
		__sync_fetch_and_add(p, v);
	else
		bpf_map_update_elem(map, &key, &v, BPF_NOEXIST);
}

SEC("classifier")
int cls_main(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u32 *mark;
	void *inner;

	add(&acc_bytes, skb->ingress_ifindex ? 0 : 1, skb->len);
	add(&proto_count, bpf_ntohs(skb->protocol), 1);
	inner = bpf_map_lookup_elem(&outer, &zero);
	if (inner) {
		mark = bpf_map_lookup_elem(inner, &zero);
		if (mark && *mark)
			skb->mark = *mark;
	}
	if (skb->len < 64)
		bpf_tail_call(skb, &jmp_tc, 0);
	return TC_ACT_OK;
}

SEC("2/0")
int tail_small(struct __sk_buff *skb)
{
	add(&proto_count, 0xffff, 1);
	return TC_ACT_SHOT;
}

SEC("ingress_drop_big")
int cls_drop_big(struct __sk_buff *skb)
{
	if (skb->len > 1000)
		return TC_ACT_SHOT;
	add(&acc_bytes, 1, skb->len);
	return TC_ACT_UNSPEC;
}

SEC("action")
int act_mark(struct __sk_buff *skb)
{
	skb->mark = 0x42;
	return TC_ACT_PIPE;
}
