// SPDX-License-Identifier: GPL-2.0
/* xdp_glob — global data: .data, .bss, .rodata with `const volatile` knobs set before load (as a
 * libbpf skeleton does), and a string in .rodata.str1.1 through bpf_printk. libbpf turns each
 * section into a one-value array map named `<obj>.<section>`: xdp_glob.data, xdp_glob.bss,
 * xdp_glob.rodata. */
#include "parse.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Knobs: settable before load, read-only for the program. */
const volatile __u16 drop_ethertype = 0;      /* 0: drop nothing by EtherType */
const volatile __u32 max_len = 1514;          /* longer frames are dropped */
const volatile __u8 verbose = 0;              /* bpf_printk each verdict */

/* .data: initialised, writable. */
__u64 packets_seen = 1000;                     /* starts at 1000 to prove the initial value */
__u32 last_len = 0xdeadbeef;

/* .bss: zero, writable. */
__u64 dropped;
__u64 passed;
__u64 bytes_by_proto[4];                       /* other, IPv4, IPv6, ARP */

static __always_inline int slot(int proto)
{
	switch (proto) {
	case ETH_P_IP:
		return 1;
	case ETH_P_IPV6:
		return 2;
	case ETH_P_ARP:
		return 3;
	default:
		return 0;
	}
}

SEC("xdp")
int xdp_glob(struct xdp_md *ctx)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	__u32 len = ctx->data_end - ctx->data;
	int proto = parse_eth(&c);

	packets_seen++;
	last_len = len;
	if (proto < 0 || len > max_len || (drop_ethertype && proto == drop_ethertype)) {
		dropped++;
		if (verbose)
			bpf_printk("drop len=%u proto=%x", len, proto);
		return XDP_DROP;
	}
	bytes_by_proto[slot(proto)] += len;
	passed++;
	return XDP_PASS;
}
