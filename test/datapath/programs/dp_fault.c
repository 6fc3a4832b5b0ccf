// SPDX-License-Identifier: GPL-2.0
/* dp_fault — an XDP program the kernel's verifier would refuse: it reads past data_end without a
 * bounds check, so xdpsim faults on short frames (the frame is aborted, the fault reported with
 * the program, instruction and source line). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int xdp_fault(struct xdp_md *ctx)
{
	unsigned char *data = (unsigned char *)(long)ctx->data;

	return data[100] == 0xff ? XDP_DROP : XDP_PASS;
}
