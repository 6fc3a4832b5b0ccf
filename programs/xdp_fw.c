// SPDX-License-Identifier: GPL-2.0
/* xdp_fw — a small stateless XDP firewall.
 *
 * Parses Ethernet (up to two VLAN tags), IPv4 (with options) and IPv6 (fixed header), then TCP
 * and UDP. A packet is dropped when its IPv4 source is in blocklist_v4 or inside a prefix of
 * blocknet_v4 (LPM trie), its IPv6 source is in blocklist_v6, or its L4 protocol and destination
 * port are in blocked_ports; malformed IP headers (truncated, bad IHL, non-first fragments of
 * blocked ports cannot be checked and pass) are dropped too. Every blocklist hit counts up in the
 * entry's value; every verdict counts packets and bytes in the per-CPU array verdict_stats. */
#include "parse.h"

char LICENSE[] SEC("license") = "GPL";

/* A blocked IPv6 source address. */
struct in6_key {
	__u8 addr[16];
};

/* A blocked L4 destination: IPPROTO_TCP or IPPROTO_UDP and a port in host order. */
struct port_key {
	__u8 proto;
	__u8 pad;
	__u16 port;
};

/* An LPM trie key: prefix length then the IPv4 address in network order. */
struct lpm_v4_key {
	__u32 prefixlen;
	__u32 addr;
};

struct counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* IPv4 source, network order */
	__type(value, __u64); /* hits */
} blocklist_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct in6_key);
	__type(value, __u64);
} blocklist_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, __u64);
} blocknet_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct port_key);
	__type(value, __u64);
} blocked_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDP_REDIRECT + 1);
	__type(key, __u32);
	__type(value, struct counters);
} verdict_stats SEC(".maps");

static __always_inline int hit(__u64 *hits)
{
	if (!hits)
		return 0;
	__sync_fetch_and_add(hits, 1);
	return 1;
}

static __always_inline int check_ports(struct cursor *c, __u8 proto)
{
	struct port_key pk = { .proto = proto };

	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = take(c, sizeof(*th));

		if (!th)
			return XDP_DROP;
		pk.port = bpf_ntohs(th->dest);
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *uh = take(c, sizeof(*uh));

		if (!uh)
			return XDP_DROP;
		pk.port = bpf_ntohs(uh->dest);
	} else {
		return XDP_PASS;
	}
	if (hit(bpf_map_lookup_elem(&blocked_ports, &pk)))
		return XDP_DROP;
	return XDP_PASS;
}

static __always_inline int check_ipv4(struct cursor *c)
{
	struct iphdr *iph = take(c, sizeof(*iph));
	struct lpm_v4_key lk;
	__u32 hlen;

	if (!iph)
		return XDP_DROP;
	if (iph->version != 4 || iph->ihl < 5)
		return XDP_DROP;
	hlen = iph->ihl * 4;
	if (hlen > sizeof(*iph) && !take(c, hlen - sizeof(*iph)))
		return XDP_DROP;

	if (hit(bpf_map_lookup_elem(&blocklist_v4, &iph->saddr)))
		return XDP_DROP;
	lk.prefixlen = 32;
	lk.addr = iph->saddr;
	if (hit(bpf_map_lookup_elem(&blocknet_v4, &lk)))
		return XDP_DROP;

	/* Only the first fragment carries the L4 header. */
	if (iph->frag_off & bpf_htons(0x1fff))
		return XDP_PASS;
	return check_ports(c, iph->protocol);
}

static __always_inline int check_ipv6(struct cursor *c)
{
	struct ipv6hdr *ip6h = take(c, sizeof(*ip6h));
	struct in6_key k;

	if (!ip6h)
		return XDP_DROP;
	if (ip6h->version != 6)
		return XDP_DROP;
	__builtin_memcpy(k.addr, &ip6h->saddr, sizeof(k.addr));
	if (hit(bpf_map_lookup_elem(&blocklist_v6, &k)))
		return XDP_DROP;
	return check_ports(c, ip6h->nexthdr);
}

static __always_inline int classify(struct xdp_md *ctx)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	int proto = parse_eth(&c);

	if (proto < 0)
		return XDP_DROP;
	if (proto == ETH_P_IP)
		return check_ipv4(&c);
	if (proto == ETH_P_IPV6)
		return check_ipv6(&c);
	return XDP_PASS;
}

SEC("xdp")
int xdp_fw(struct xdp_md *ctx)
{
	__u32 verdict = classify(ctx);
	struct counters *cnt = bpf_map_lookup_elem(&verdict_stats, &verdict);

	if (cnt) {
		cnt->packets++;
		cnt->bytes += ctx->data_end - ctx->data;
	}
	return verdict;
}
