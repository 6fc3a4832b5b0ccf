// SPDX-License-Identifier: GPL-2.0
/* dp_lock — XDP and TC programs that take a bpf_spin_lock and then read data[100] without a
 * bounds check (the kernel's verifier would refuse both), so a short frame faults while the lock
 * is held: the datapath must release it, or every later frame faults on bpf_spin_lock. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct locked {
	struct bpf_spin_lock lock;
	__u32 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked);
} lockmap SEC(".maps");

static __always_inline int locked_read(unsigned char *data)
{
	__u32 key = 0;
	struct locked *v = bpf_map_lookup_elem(&lockmap, &key);
	int hit;

	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	v->count++;
	hit = data[100] == 0xff;
	bpf_spin_unlock(&v->lock);
	return hit;
}

SEC("xdp")
int xdp_lock(struct xdp_md *ctx)
{
	return locked_read((unsigned char *)(long)ctx->data) ? XDP_DROP : XDP_PASS;
}

SEC("tc")
int tc_lock(struct __sk_buff *skb)
{
	return locked_read((unsigned char *)(long)skb->data) ? 2 /* TC_ACT_SHOT */ : 0 /* TC_ACT_OK */;
}
