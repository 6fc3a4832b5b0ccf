// SPDX-License-Identifier: GPL-2.0
/*
 * parse.c — the benchmark's header parser: Ethernet -> IPv4 / IPv6 -> TCP / UDP ports.
 * Drops TCP or UDP traffic to port 23 (telnet) or from port 19 (chargen), passes everything else,
 * drops frames too short for the headers they announce. No maps, no helpers.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int xdp_parse(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 proto;
	void *l4;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end)
			return XDP_DROP;
		proto = ip->protocol;
		l4 = (void *)ip + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end)
			return XDP_DROP;
		proto = ip6->nexthdr;
		l4 = ip6 + 1;
	} else {
		return XDP_PASS;
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return XDP_PASS;
	/* Source and destination ports sit at the same offsets in TCP and UDP. */
	struct udphdr *ports = l4;
	if ((void *)(ports + 1) > data_end)
		return XDP_DROP;
	if (ports->dest == bpf_htons(23) || ports->source == bpf_htons(19))
		return XDP_DROP;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
