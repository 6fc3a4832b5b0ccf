// SPDX-License-Identifier: GPL-2.0
/*
 * tc_dnat.c — a TC ingress destination NAT with skb helpers: IPv4 TCP to 10.0.0.2:80 is
 * rewritten to 10.0.0.3:8080 with bpf_skb_store_bytes, and the IP and TCP checksums are fixed
 * with bpf_l3_csum_replace / bpf_l4_csum_replace (BPF_F_PSEUDO_HDR for the address).
 *
 * Benchmark note: like icmp_echo.c, the mapping is applied in both directions (8080 <-> 80 and
 * .3 <-> .2) so every repetition of BPF_PROG_TEST_RUN (which keeps the rewritten packet) does the
 * same work.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <stddef.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define IP_OFF ETH_HLEN
#define TCP_OFF (ETH_HLEN + sizeof(struct iphdr))
#define DADDR_OFF (IP_OFF + offsetof(struct iphdr, daddr))
#define IPCSUM_OFF (IP_OFF + offsetof(struct iphdr, check))
#define DPORT_OFF (TCP_OFF + offsetof(struct tcphdr, dest))
#define TCPCSUM_OFF (TCP_OFF + offsetof(struct tcphdr, check))

SEC("tc")
int tc_dnat(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip + 1);

	if ((void *)(tcp + 1) > data_end)
		return TC_ACT_OK;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_TCP || ip->ihl != 5)
		return TC_ACT_OK;

	__be32 old_addr = ip->daddr, new_addr;
	__be16 old_port = tcp->dest, new_port;
	if (old_addr == bpf_htonl(0x0a000002) && old_port == bpf_htons(80)) {
		new_addr = bpf_htonl(0x0a000003);
		new_port = bpf_htons(8080);
	} else if (old_addr == bpf_htonl(0x0a000003) && old_port == bpf_htons(8080)) {
		new_addr = bpf_htonl(0x0a000002);
		new_port = bpf_htons(80);
	} else {
		return TC_ACT_OK;
	}
	bpf_l4_csum_replace(skb, TCPCSUM_OFF, old_addr, new_addr, BPF_F_PSEUDO_HDR | sizeof(new_addr));
	bpf_l4_csum_replace(skb, TCPCSUM_OFF, old_port, new_port, sizeof(new_port));
	bpf_l3_csum_replace(skb, IPCSUM_OFF, old_addr, new_addr, sizeof(new_addr));
	bpf_skb_store_bytes(skb, DADDR_OFF, &new_addr, sizeof(new_addr), 0);
	bpf_skb_store_bytes(skb, DPORT_OFF, &new_port, sizeof(new_port), 0);
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
