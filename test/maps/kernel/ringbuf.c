/* ringbuf: one ring buffer operation per run, chosen by the packet's first byte, with payload
 * bytes from the packet; the helper's result goes to `ret`. Built by
 * test/maps/kernel-parity.test.ts, which compares the ring's bytes and positions with xdpsim's. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} ret SEC(".maps");

SEC("xdp")
int ringbuf_prog(struct xdp_md *ctx)
{
	__u8 *d = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__s64 r = 0;
	__u8 *p;
	__u32 k = 0;
	__u8 buf[64];

	if ((void *)(d + 72) > end)
		return XDP_ABORTED;
	/* ring buffer helpers may not read the packet (no pkt_access): copy to the stack */
	__builtin_memcpy(buf, d + 8, 64);
	switch (d[0]) {
	case 0:
		r = bpf_ringbuf_output(&rb, buf, 5, 0);
		break;
	case 1:
		r = bpf_ringbuf_output(&rb, buf, 40, 0);
		break;
	case 2:
		p = bpf_ringbuf_reserve(&rb, 12, 0);
		if (!p) {
			r = -1;
			break;
		}
		__builtin_memcpy(p, buf, 12);
		bpf_ringbuf_submit(p, 0);
		break;
	case 3:
		p = bpf_ringbuf_reserve(&rb, 20, 0);
		if (!p) {
			r = -1;
			break;
		}
		__builtin_memcpy(p, buf, 20);
		bpf_ringbuf_discard(p, 0);
		break;
	default:
		p = bpf_ringbuf_reserve(&rb, 1000, 0);
		if (!p) {
			r = -1;
			break;
		}
		__builtin_memcpy(p, buf, 56);
		bpf_ringbuf_submit(p, 0);
		break;
	}
	bpf_map_update_elem(&ret, &k, &r, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
