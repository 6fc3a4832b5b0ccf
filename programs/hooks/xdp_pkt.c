// SPDX-License-Identifier: GPL-2.0
/* xdp_pkt — exercises the XDP packet helpers for the kernel-parity suite.
 *
 * The frame's source MAC is the request: byte 6 selects the operation, bytes 7-8 are a signed
 * 16-bit big-endian argument A, bytes 9-11 are small arguments P1..P3. The program returns the
 * helper's result (negative errno as u32) or a value derived from what it observed, and leaves
 * its effect in the output frame, so retval and data_out show every difference. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* Redirect targets for operation 13; the parity test points slot 0 at lo. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} tx_port SEC(".maps");

SEC("xdp")
int xdp_pkt(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *p = data;
	__u8 buf[16];
	__u32 mtu;
	long rc;
	int a;

	if (data + 12 > data_end)
		return XDP_ABORTED;
	a = (__s16)((p[7] << 8) | p[8]);
	switch (p[6] & 0x1f) {
	case 0:
		return XDP_PASS;
	case 1:
		return bpf_xdp_adjust_head(ctx, a);
	case 2: {
		__u32 v = 0xdeadbe00 | p[9];

		rc = bpf_xdp_adjust_meta(ctx, a);
		if (rc)
			return rc;
		void *meta = (void *)(long)ctx->data_meta;
		data = (void *)(long)ctx->data;
		if (meta + 4 <= data)
			__builtin_memcpy(meta, &v, 4);
		return 0;
	}
	case 3:
		return bpf_xdp_adjust_tail(ctx, a);
	case 4:
		return bpf_xdp_get_buff_len(ctx);
	case 5:
		rc = bpf_xdp_load_bytes(ctx, (__u32)a, buf, sizeof(buf));
		if (rc)
			return rc;
		return buf[0] | (buf[7] << 8) | (buf[15] << 16);
	case 6:
		__builtin_memcpy(buf, "ABCDEFGHIJKLMNOP", 16);
		return bpf_xdp_store_bytes(ctx, (__u32)a, buf, sizeof(buf));
	case 7:
		mtu = (__u32)a & 0xffff;
		rc = bpf_check_mtu(ctx, p[9], &mtu, (__s8)p[10] * 100, p[11]);
		return (rc << 24) ^ mtu;
	case 8:
		return bpf_redirect(5, p[9]);
	case 9:
		rc = bpf_xdp_adjust_head(ctx, a);
		if (rc)
			return rc;
		return bpf_xdp_adjust_tail(ctx, -a);
	case 10:
		return (ctx->ingress_ifindex << 24) | (ctx->rx_queue_index << 16) |
		       (__u16)(ctx->data_end - ctx->data);
	case 11:
		rc = bpf_xdp_adjust_meta(ctx, -8);
		if (rc)
			return rc;
		rc = bpf_xdp_adjust_head(ctx, a);
		if (rc)
			return rc;
		{
			__u32 *meta = (void *)(long)ctx->data_meta;
			data = (void *)(long)ctx->data;
			if ((void *)(meta + 2) <= data) {
				meta[0] = 0x11223344;
				meta[1] = ctx->data_end - ctx->data;
			}
		}
		return XDP_PASS;
	case 12:
		/* Grow or shrink the tail, then write a marker over the last two bytes. */
		rc = bpf_xdp_adjust_tail(ctx, a);
		if (rc)
			return rc;
		buf[0] = 0xee;
		buf[1] = 0xff;
		rc = bpf_xdp_store_bytes(ctx, bpf_xdp_get_buff_len(ctx) - 2, buf, 2);
		return rc ? rc : XDP_TX;
	case 13:
		return bpf_redirect_map(&tx_port, (__u32)a, p[9]);
	default:
		return p[6];
	}
}
