// SPDX-License-Identifier: GPL-2.0
/* xdp_ksym — a typeless __ksym variable (a kernel symbol's address): xdpsim refuses it by name. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

extern const void init_net __ksym;

SEC("xdp")
int xdp_ksym(struct xdp_md *ctx)
{
	return (long)&init_net & 1 ? XDP_DROP : XDP_PASS;
}
