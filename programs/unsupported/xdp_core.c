// SPDX-License-Identifier: GPL-2.0
/* xdp_core — a CO-RE field access (preserve_access_index): libbpf would relocate it against the
 * running kernel's BTF; xdpsim has no kernel BTF and refuses it by name. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct xdp_md___local {
	__u32 data;
	__u32 data_end;
} __attribute__((preserve_access_index));

SEC("xdp")
int xdp_core(struct xdp_md *ctx)
{
	struct xdp_md___local *c = (void *)ctx;

	return c->data_end - c->data > 60 ? XDP_PASS : XDP_DROP;
}
