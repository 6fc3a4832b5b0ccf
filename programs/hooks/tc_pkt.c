// SPDX-License-Identifier: GPL-2.0
/* tc_pkt — exercises the TC (SCHED_CLS) packet helpers and __sk_buff fields for the
 * kernel-parity suite. Same request encoding as xdp_pkt.c: source MAC byte 6 is the operation,
 * bytes 7-8 a signed 16-bit big-endian argument A, bytes 9-11 small arguments P1..P3. Results go
 * to retval, to the frame (data_out) and to mark/priority/cb (ctx_out). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int tc_pkt(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u8 *p = data;
	__u8 buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	__u32 mtu;
	long rc;
	int a;
	__u8 p1, p2, p3;

	if (data + 12 > data_end)
		return TC_ACT_SHOT;
	a = (__s16)((p[7] << 8) | p[8]);
	p1 = p[9];
	p2 = p[10];
	p3 = p[11];
	switch (p[6] & 0x1f) {
	case 0:
		return TC_ACT_OK;
	case 1:
		return bpf_skb_store_bytes(skb, (__u32)a, buf, sizeof(buf), p1);
	case 2:
		rc = bpf_skb_load_bytes(skb, (__u32)a, buf, sizeof(buf));
		skb->cb[0] = buf[0] | (buf[7] << 8);
		return rc;
	case 3:
		rc = bpf_skb_load_bytes_relative(skb, (__u32)a, buf, sizeof(buf), p1);
		skb->cb[0] = buf[0] | (buf[7] << 8);
		return rc;
	case 4:
		return bpf_l3_csum_replace(skb, (__u32)a, 0x1234 * p2, 0xabcd0000 | p3, p1);
	case 5:
		return bpf_l4_csum_replace(skb, (__u32)a, 0x1234 * p2, 0xabcd0000 | p3, p1);
	case 6:
		return bpf_skb_change_proto(skb, p1 ? bpf_htons(0x86dd) : bpf_htons(0x0800), p2);
	case 7:
		return bpf_skb_change_type(skb, p1);
	case 8:
		return bpf_skb_change_tail(skb, (__u32)a, p1);
	case 9:
		return bpf_skb_change_head(skb, (__u32)a, p1);
	case 10:
		return bpf_skb_pull_data(skb, (__u32)a);
	case 11:
		return bpf_skb_adjust_room(skb, a, p1, ((__u64)p3 << 56) | p2 | ((__u64)(p1 & 0xfe) << 7));
	case 12:
		rc = bpf_skb_vlan_push(skb, p1 ? bpf_htons(0x88a8) : bpf_htons(0x8100), (__u16)a);
		if (rc || !p2)
			return rc;
		rc = bpf_skb_vlan_push(skb, bpf_htons(0x8100), (__u16)a + 1);
		skb->cb[0] = skb->vlan_present | (skb->vlan_tci << 8);
		skb->cb[1] = skb->protocol | (skb->vlan_proto << 16);
		return rc;
	case 13:
		rc = bpf_skb_vlan_pop(skb);
		skb->cb[0] = skb->vlan_present | (skb->vlan_tci << 8);
		skb->cb[1] = skb->protocol | (skb->vlan_proto << 16);
		if (rc || !p1)
			return rc;
		rc = bpf_skb_vlan_pop(skb);
		skb->cb[2] = skb->vlan_present | (skb->vlan_tci << 8);
		skb->cb[3] = skb->len;
		return rc;
	case 14:
		bpf_set_hash(skb, (__u32)a * 2654435761u);
		return bpf_get_hash_recalc(skb);
	case 15:
		rc = bpf_csum_level(skb, p1);
		skb->cb[0] = rc;
		return bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY);
	case 16:
		return bpf_skb_ecn_set_ce(skb);
	case 17:
		mtu = (__u32)a & 0xffff;
		rc = bpf_check_mtu(skb, p1, &mtu, (__s8)p2 * 100, p3);
		return (rc << 24) ^ mtu;
	case 18:
		skb->cb[0] = skb->len;
		skb->cb[1] = skb->pkt_type | (skb->protocol << 8) | (skb->vlan_present << 24);
		skb->cb[2] = skb->ifindex | (skb->ingress_ifindex << 16);
		skb->cb[3] = skb->wire_len;
		skb->cb[4] = skb->data_end - skb->data;
		skb->mark = skb->queue_mapping | (skb->tc_index << 16);
		skb->priority = skb->gso_segs + skb->gso_size + skb->napi_id + skb->tc_classid;
		return skb->hash ^ *(__u8 *)((void *)skb + 1) ^ (*(__u16 *)((void *)skb + 18) << 8);
	case 19:
		return bpf_redirect(a, p1);
	case 20:
		skb->mark = 0x1000000 | a;
		skb->tc_index = 0x12345;
		skb->queue_mapping = p1 ? 0xffff : 7;
		skb->tc_classid = 0xabcdef;
		skb->priority = 99;
		return skb->tc_index ^ (skb->queue_mapping << 20);
	case 21: {
		__u32 from[2] = { 0x01020304, 0x05060708 };
		__u32 to[2] = { 0x0a0b0c0d, 0x0e0f1011 };
		__s64 d = bpf_csum_diff(from, 8, to, 8, p1);
		skb->cb[0] = d;
		return bpf_csum_update(skb, d);
	}
	case 22:
		rc = bpf_skb_change_tail(skb, (__u32)a, 0);
		if (rc)
			return rc;
		return bpf_skb_store_bytes(skb, skb->len - 2, buf, 2, 0);
	case 23:
		return bpf_redirect_peer(a, p1) ^ (bpf_get_cgroup_classid(skb) << 8);
	case 24:
		/* Read back narrowed fields right after writing them. */
		skb->tc_index = 0x12345;
		skb->tc_classid = 0xabcdef;
		skb->queue_mapping = p1 ? 0xffff : 0x10003;
		asm volatile("" ::: "memory");
		skb->cb[0] = skb->tc_index;
		skb->cb[1] = skb->tc_classid;
		skb->cb[2] = skb->queue_mapping;
		return TC_ACT_OK;
	case 25:
		rc = bpf_clone_redirect(skb, (__u32)a, p1);
		skb->cb[0] = skb->len;
		return rc;
	case 26: {
		/* Set a tunnel key taken from the frame (bytes 14..57, size A, flags P1), read it back
		 * (size P2 ? 44 : 28, flags P3) and write what came back over the frame. */
		struct bpf_tunnel_key key;
		__u32 size = (__u32)a;

		if (data + 14 + sizeof(key) > data_end)
			return TC_ACT_SHOT;
		__builtin_memcpy(&key, data + 14, sizeof(key));
		if (size > sizeof(key))
			size = sizeof(key);
		if (size == 0)
			size = 4;
		rc = bpf_skb_set_tunnel_key(skb, &key, size, p1);
		skb->cb[0] = rc;
		__builtin_memset(&key, 0x5a, sizeof(key));
		rc = bpf_skb_get_tunnel_key(skb, &key, p2 ? sizeof(key) : 28, p3);
		bpf_skb_store_bytes(skb, 14, &key, sizeof(key), 0);
		return rc;
	}
	case 27: {
		struct bpf_tunnel_key key = { .tunnel_id = 7, .remote_ipv4 = 0x0a000001 };
		__u8 opt[16];

		if (data + 14 + sizeof(opt) > data_end)
			return TC_ACT_SHOT;
		__builtin_memcpy(opt, data + 14, sizeof(opt));
		if (p1)
			skb->cb[0] = bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 0);
		skb->cb[1] = bpf_skb_set_tunnel_opt(skb, opt, p2 & 1 ? 12 : p2 & 2 ? 6 : 16);
		__builtin_memset(opt, 0x5a, sizeof(opt));
		rc = bpf_skb_get_tunnel_opt(skb, opt, p3 ? 8 : 16);
		bpf_skb_store_bytes(skb, 14, opt, sizeof(opt), 0);
		skb->cb[2] = bpf_skb_get_tunnel_key(skb, &key, sizeof(key), BPF_F_TUNINFO_FLAGS);
		skb->cb[3] = key.tunnel_flags;
		return rc;
	}
	case 28: {
		struct bpf_sock *sk = skb->sk;

		if (!sk)
			return 0xdead;
		skb->cb[0] = sk->family;
		skb->cb[1] = sk->src_ip4 ^ sk->src_ip6[3];
		skb->cb[2] = sk->dst_ip4 ^ sk->dst_ip6[0];
		skb->cb[3] = sk->state | (sk->src_port << 8) | (sk->dst_port << 16);
		skb->cb[4] = sk->rx_queue_mapping;
		return sk->src_ip6[1] ^ sk->dst_ip6[2];
	}
	default:
		return p[6];
	}
}
