/* percpu_update: bpf_map_update_elem(map, key, value, flags) with key, value and flags from the
 * packet, on whatever CPU runs it; the result goes to `ret`. The map is replaced at load by the
 * one under test (bpftool prog load ... map name pcpu pinned PATH). Built by
 * test/maps/kernel-parity.test.ts. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} ret SEC(".maps");

SEC("xdp")
int percpu_update(struct xdp_md *ctx)
{
	__u32 *d = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 key, value, k = 0;
	__s64 r;

	if ((void *)(d + 4) > end)
		return XDP_ABORTED;
	key = d[0];
	value = d[1];
	r = bpf_map_update_elem(&pcpu, &key, &value, d[2]);
	bpf_map_update_elem(&ret, &k, &r, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
