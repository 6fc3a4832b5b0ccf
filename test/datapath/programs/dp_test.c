// SPDX-License-Identifier: GPL-2.0
/* dp_test — programs for the datapath tests (test/datapath). What they do is chosen at run time
 * through the cfg array, and what they saw is left in the seen array and the run counters:
 *   cfg[0] xdp action (0-4, or 10 devmap, 11 devmap broadcast excluding ingress, 12 cpumap 1,
 *          13 xskmap 0 with XDP_PASS as fallback, any other value returned as is)
 *   cfg[1] ifindex for bpf_redirect from XDP
 *   cfg[2] tc ingress action (returned as is, 7 = bpf_redirect(cfg[3], cfg[4]),
 *          100 = bpf_redirect_peer(cfg[3]), 101 = bpf_redirect_neigh(cfg[3]))
 *   cfg[5] tc egress action (same encoding, redirect target cfg[6], flags cfg[7])
 *   seen[0] the XDP metadata word TC found, seen[1] vlan_present, seen[2] vlan_tci,
 *   seen[3] skb->protocol, seen[4] whether XDP saw a VLAN ethertype, seen[5] skb->pkt_type,
 *   seen[6] the mark at egress, seen[7] egress_ifindex in the devmap program
 *   cfg[0] = 14 redirects through devs_prog slot 0 (entries with a devmap program),
 *   15 through cpus slot 1 whose entry may carry xdp_cpumap
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} ing_runs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} eg_runs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} devs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} devs_prog SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

static __always_inline __u32 get(void *map, __u32 k)
{
	__u32 *v = bpf_map_lookup_elem(map, &k);

	return v ? *v : 0;
}

static __always_inline void put(__u32 k, __u32 val)
{
	bpf_map_update_elem(&seen, &k, &val, BPF_ANY);
}

static __always_inline void count(void *map, __u32 k)
{
	__u32 *v = bpf_map_lookup_elem(map, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int xdp_act(struct xdp_md *ctx)
{
	__u32 a = get(&cfg, 0);

	switch (a) {
	case XDP_REDIRECT:
		return bpf_redirect(get(&cfg, 1), 0);
	case 10:
		return bpf_redirect_map(&devs, 0, 0);
	case 11:
		return bpf_redirect_map(&devs, 0, BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS);
	case 12:
		return bpf_redirect_map(&cpus, 1, 0);
	case 13:
		return bpf_redirect_map(&xsks, 0, XDP_PASS);
	case 14:
		return bpf_redirect_map(&devs_prog, 0, 0);
	default:
		return a;
	}
}

SEC("xdp")
int xdp_meta(struct xdp_md *ctx)
{
	void *data, *meta;

	if (bpf_xdp_adjust_meta(ctx, -4))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	meta = (void *)(long)ctx->data_meta;
	if (meta + 4 > data)
		return XDP_ABORTED;
	*(__u32 *)meta = 0xfeedbeef;
	return XDP_PASS;
}

SEC("xdp")
int xdp_vlan(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	put(4, eth->h_proto == bpf_htons(ETH_P_8021Q));
	return XDP_PASS;
}

static __always_inline int tc_do(struct __sk_buff *skb, __u32 a, __u32 tgt, __u32 flags)
{
	switch (a) {
	case TC_ACT_REDIRECT:
		return bpf_redirect(tgt, flags);
	case 100:
		return bpf_redirect_peer(tgt, 0);
	case 101:
		return bpf_redirect_neigh(tgt, NULL, 0, 0);
	default:
		return a;
	}
}

SEC("tc")
int tc_act(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *meta = (void *)(long)skb->data_meta;

	count(&ing_runs, skb->ifindex);
	if (meta + 4 <= data)
		put(0, *(__u32 *)meta);
	put(1, skb->vlan_present);
	put(2, skb->vlan_tci);
	put(3, bpf_ntohs(skb->protocol));
	put(5, skb->pkt_type);
	skb->mark = 42;
	return tc_do(skb, get(&cfg, 2), get(&cfg, 3), get(&cfg, 4));
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	count(&eg_runs, skb->ifindex);
	put(6, skb->mark);
	return tc_do(skb, get(&cfg, 5), get(&cfg, 6), get(&cfg, 7));
}

SEC("tc")
int tc_pass(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

SEC("xdp/devmap")
int xdp_devmap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	put(7, ctx->egress_ifindex);
	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	/* Rewrite the source MAC to say the program ran; drop when cfg[5] says so. */
	eth->h_source[5] = 0xdd;
	return get(&cfg, 5) == 1 ? XDP_DROP : XDP_PASS;
}

SEC("xdp/cpumap")
int xdp_cpumap(struct xdp_md *ctx)
{
	return get(&cfg, 5) == 1 ? XDP_DROP : XDP_PASS;
}
