// SPDX-License-Identifier: GPL-2.0
/* drop.c — the smallest XDP program: every frame is dropped. Measures per-run overhead. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
