// SPDX-License-Identifier: GPL-2.0
/*
 * icmp_echo.c — an XDP ICMP echo responder: an IPv4 echo request (type 8) addressed to anyone is
 * answered in place (MACs and IP addresses swapped, type 0, ICMP checksum updated incrementally
 * per RFC 1624) and sent back with XDP_TX. No helpers: the checksum arithmetic is the program's.
 *
 * Benchmark note: BPF_PROG_TEST_RUN's repeat loop does not restore the frame between runs, so a
 * responder would see its own reply from the second run on. To do the same work on every
 * repetition, this program also turns an echo reply (type 0) back into a request (type 8) the
 * same way; xdpsim's bench runs it the same way, so both sides execute identical paths.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* struct icmphdr's echo form (linux/icmp.h pulls in libc headers the BPF target lacks). */
struct icmp_echo_hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 sequence;
};

#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

SEC("xdp")
int xdp_icmp_echo(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct icmp_echo_hdr *icmp;

	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_ICMP || ip->ihl != 5)
		return XDP_PASS;
	icmp = (void *)(ip + 1);
	if ((void *)(icmp + 1) > data_end)
		return XDP_PASS;
	if (icmp->type != ICMP_ECHO && icmp->type != ICMP_ECHOREPLY)
		return XDP_PASS;
	if (icmp->code != 0)
		return XDP_PASS;

	__u8 new_type = icmp->type == ICMP_ECHO ? ICMP_ECHOREPLY : ICMP_ECHO;
	/* RFC 1624: HC' = ~(~HC + ~m + m'), over the 16-bit word holding type and code. */
	__u16 old_word = bpf_htons((__u16)icmp->type << 8);
	__u16 new_word = bpf_htons((__u16)new_type << 8);
	__u32 sum = (__u16)~icmp->checksum + (__u16)~old_word + new_word;
	icmp->checksum = ~csum_fold(sum);
	icmp->type = new_type;

	__u32 addr = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = addr; /* swapping the addresses leaves the IP header checksum unchanged */

	unsigned char mac[ETH_ALEN];
	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
