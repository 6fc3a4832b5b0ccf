/* parse.h — bounds-checked header parsing shared by the xdpsim example programs. Every helper
 * takes a cursor and data_end, advances the cursor past the header and returns NULL when the
 * header does not fit, the way the verifier wants packet accesses checked. */
#ifndef XDPSIM_PARSE_H
#define XDPSIM_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

struct cursor {
	void *pos;
	void *end;
};

static __always_inline void *take(struct cursor *c, __u32 len)
{
	void *p = c->pos;

	if (p + len > c->end)
		return NULL;
	c->pos = p + len;
	return p;
}

/* parse_eth returns the EtherType in host order after up to two VLAN tags (802.1Q, 802.1ad),
 * or -1 when the frame is too short. */
static __always_inline int parse_eth(struct cursor *c)
{
	struct ethhdr *eth = take(c, sizeof(*eth));
	__u16 proto;

	if (!eth)
		return -1;
	proto = bpf_ntohs(eth->h_proto);
#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct vlan_hdr *vh;

		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		vh = take(c, sizeof(*vh));
		if (!vh)
			return -1;
		proto = bpf_ntohs(vh->encap_proto);
	}
	return proto;
}

#endif
