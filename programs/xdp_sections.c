// SPDX-License-Identifier: GPL-2.0
/* xdp_sections — one program in each XDP section flavour libbpf knows: xdp.frags (multi-buffer
 * aware), xdp/devmap and xdp/cpumap (run by a DEVMAP/CPUMAP entry after a redirect), and
 * xdp.frags/devmap. Their bodies are small; the loader test checks the section → attach mapping. */
#include "parse.h"

char LICENSE[] SEC("license") = "GPL";

SEC("xdp.frags")
int xdp_frags_len(struct xdp_md *ctx)
{
	/* With frags, data_end - data covers only the linear part of the frame. */
	return ctx->data_end - ctx->data >= 14 ? XDP_PASS : XDP_DROP;
}

SEC("xdp/devmap")
int xdp_on_devmap(struct xdp_md *ctx)
{
	return ctx->egress_ifindex != 0 ? XDP_PASS : XDP_DROP;
}

SEC("xdp.frags/devmap")
int xdp_frags_on_devmap(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp/cpumap")
int xdp_on_cpumap(struct xdp_md *ctx)
{
	return ctx->rx_queue_index < 64 ? XDP_PASS : XDP_DROP;
}
