// SPDX-License-Identifier: GPL-2.0
/* xdp_workers — what `xdpsim replay --workers N` must keep consistent across worker threads.
 *
 * For every IPv4/UDP frame: a HASH entry keyed by (UDP source port << 16 | IPv4 id), with a value
 * derived from the key, inserted with bpf_map_update_elem (BPF_NOEXIST), looked up (the frame is
 * aborted unless it is found with its value) and deleted again right
 * away when the IPv4 TOS is 1 (churn on the shared table and its free list); a per-flow ARRAY
 * counter indexed by the source port's low byte (a flow's frames all run on one worker, so a
 * plain increment is exact); a PERCPU_ARRAY frame counter (each worker counts on its own CPU).
 * The test (test/cli/replay-workers.test.ts) generates frames whose keys are all different.
 *
 * xdp_lpm_update inserts every IPv4 source into an LPM_TRIE from the program, which --workers
 * refuses (each worker holds its own copy of the trie). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} per_flow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} frames SEC(".maps");

struct lpm_v4_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, __u64);
} sources SEC(".maps");

SEC("xdp")
int xdp_workers(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	__u32 zero = 0, key, flow;
	__u64 value, *c;

	if ((void *)(udp + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	key = ((__u32)bpf_ntohs(udp->source) << 16) | bpf_ntohs(ip->id);
	value = ((__u64)key << 32) | (key ^ 0x5a5a5a5a);
	if (bpf_map_update_elem(&seen, &key, &value, BPF_NOEXIST) != 0)
		return XDP_ABORTED;
	/* Found again, intact, while the other workers insert and delete. */
	c = bpf_map_lookup_elem(&seen, &key);
	if (!c || *c != value)
		return XDP_ABORTED;
	if (ip->tos == 1 && bpf_map_delete_elem(&seen, &key) != 0)
		return XDP_ABORTED;
	flow = bpf_ntohs(udp->source) & 0xff;
	c = bpf_map_lookup_elem(&per_flow, &flow);
	if (c)
		*c += 1;
	c = bpf_map_lookup_elem(&frames, &zero);
	if (c)
		*c += 1;
	return XDP_PASS;
}

SEC("xdp")
int xdp_lpm_update(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct lpm_v4_key k = { .prefixlen = 32 };
	__u64 one = 1;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	k.addr = ip->saddr;
	bpf_map_update_elem(&sources, &k, &one, BPF_ANY);
	return XDP_PASS;
}
