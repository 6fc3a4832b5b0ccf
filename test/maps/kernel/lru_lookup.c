/* lru_lookup: looks up the u32 key at the start of the packet in `lru` (setting its reference bit,
 * as a program lookup does) and returns XDP_PASS. Built by test/maps/kernel-parity.test.ts. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} lru SEC(".maps");

SEC("xdp")
int lru_lookup(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 key;

	if (data + sizeof(key) > end)
		return XDP_ABORTED;
	key = *(__u32 *)data;
	bpf_map_lookup_elem(&lru, &key);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
