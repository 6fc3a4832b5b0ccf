// SPDX-License-Identifier: GPL-2.0
/* xdp_kconfig — externs resolved at load time from the kernel configuration (libbpf's .kconfig
 * map): the kernel version, a boolean option, a tristate, a string, and a weak option that may be
 * absent (it then reads as zero). */
#include <stdbool.h>
#include "parse.h"

char LICENSE[] SEC("license") = "GPL";

extern __u32 LINUX_KERNEL_VERSION __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern enum libbpf_tristate CONFIG_VETH __kconfig __weak;
extern char CONFIG_DEFAULT_HOSTNAME[16] __kconfig __weak;
extern int CONFIG_XDPSIM_NOT_A_REAL_OPTION __kconfig __weak;

__u64 seen[5];

SEC("xdp")
int xdp_kconfig(struct xdp_md *ctx)
{
	seen[0] = LINUX_KERNEL_VERSION;
	seen[1] = CONFIG_BPF_SYSCALL;
	seen[2] = CONFIG_VETH;
	seen[3] = CONFIG_DEFAULT_HOSTNAME[0];
	seen[4] = CONFIG_XDPSIM_NOT_A_REAL_OPTION;
	return LINUX_KERNEL_VERSION >= ((5 << 16) | (8 << 8)) ? XDP_PASS : XDP_DROP;
}
