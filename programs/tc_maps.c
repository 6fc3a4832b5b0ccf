// SPDX-License-Identifier: GPL-2.0
/* tc_maps — libbpf-style TC programs in every TC section name libbpf knows (tc, tc/ingress,
 * tc/egress, tcx/ingress, tcx/egress, classifier, action), a CGROUP_ARRAY, and a program in a
 * section of the user's choosing. All are BPF_PROG_TYPE_SCHED_CLS (action: SCHED_ACT). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} tc_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroups SEC(".maps");

static __always_inline int bump(__u32 slot, struct __sk_buff *skb)
{
	__u64 *v = bpf_map_lookup_elem(&tc_counts, &slot);

	if (v)
		__sync_fetch_and_add(v, skb->len);
	return TC_ACT_OK;
}

SEC("tc")
int tc_plain(struct __sk_buff *skb) { return bump(0, skb); }

SEC("tc/ingress")
int tc_in(struct __sk_buff *skb) { return bump(1, skb); }

SEC("tc/egress")
int tc_out(struct __sk_buff *skb) { return bump(2, skb); }

SEC("tcx/ingress")
int tcx_in(struct __sk_buff *skb) { return bump(3, skb); }

SEC("tcx/egress")
int tcx_out(struct __sk_buff *skb) { return bump(4, skb); }

SEC("classifier")
int cls(struct __sk_buff *skb)
{
	if (bpf_skb_under_cgroup(skb, &cgroups, 0) == 1)
		return TC_ACT_SHOT;
	return bump(5, skb);
}

SEC("action")
int act(struct __sk_buff *skb) { return bump(6, skb); }

SEC("my_custom_section")
int custom(struct __sk_buff *skb)
{
	return skb->protocol == bpf_htons(ETH_P_IP) ? bump(7, skb) : TC_ACT_UNSPEC;
}
