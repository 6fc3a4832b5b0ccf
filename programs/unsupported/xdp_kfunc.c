// SPDX-License-Identifier: GPL-2.0
/* xdp_kfunc — a kfunc call (bpf_xdp_metadata_rx_hash, an XDP metadata kfunc): resolved against
 * kernel BTF by libbpf; xdpsim refuses it naming the function. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

extern int bpf_xdp_metadata_rx_hash(const struct xdp_md *ctx, __u32 *hash, int *rss_type) __ksym;

SEC("xdp")
int xdp_kfunc(struct xdp_md *ctx)
{
	__u32 hash = 0;
	int type = 0;

	if (bpf_xdp_metadata_rx_hash(ctx, &hash, &type))
		return XDP_PASS;
	return hash & 1 ? XDP_DROP : XDP_PASS;
}
