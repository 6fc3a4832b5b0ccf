// SPDX-License-Identifier: GPL-2.0
/* xdp_pinned — a map pinned by name (LIBBPF_PIN_BY_NAME): libbpf pins it as
 * /sys/fs/bpf/xdpsim_pinned_counts and reuses it on the next load. Kept out of the top-level objects
 * because loading it has that side effect on the shared bpffs. */
#include "parse.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpsim_pinned_counts SEC(".maps");

SEC("xdp")
int xdp_pinned(struct xdp_md *ctx)
{
	__u32 key = ctx->data_end - ctx->data > 100;
	__u64 *v = bpf_map_lookup_elem(&xdpsim_pinned_counts, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	return XDP_PASS;
}
