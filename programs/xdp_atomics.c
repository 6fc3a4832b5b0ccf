// SPDX-License-Identifier: GPL-2.0
/* xdp_atomics — BPF atomic instructions on one shared ARRAY value, for `xdpsim replay --workers`:
 * every frame adds 1 to a 64-bit and a 32-bit counter and fetch-adds a third, 32 times each. On
 * several CPUs (worker threads) the totals are exact only if the engines' atomics are atomic.
 * xdp_atomics runs the loop inline (a single function: the jit's JavaScript back end);
 * xdp_atomics_call runs it in a bpf-to-bpf call (the jit's WebAssembly back end). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct counters {
	__u64 add64;
	__u32 add32;
	__u32 pad;
	__u64 fetch64;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} totals SEC(".maps");

#define ROUNDS 32

/* BUMP is the body of both variants: ROUNDS atomic adds of each kind. */
#define BUMP(c)                                                                 \
	for (int i = 0; i < ROUNDS; i++) {                                      \
		__sync_fetch_and_add(&(c)->add64, 1);                           \
		__sync_fetch_and_add(&(c)->add32, 1);                           \
		if (__sync_fetch_and_add(&(c)->fetch64, 1) > (1ULL << 40))      \
			return XDP_ABORTED;                                     \
	}                                                                       \
	return XDP_PASS

static __always_inline int bump_inline(struct counters *c)
{
	BUMP(c);
}

static __noinline int bump_call(struct counters *c)
{
	BUMP(c);
}

SEC("xdp")
int xdp_atomics(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct counters *c = bpf_map_lookup_elem(&totals, &key);

	if (!c)
		return XDP_ABORTED;
	return bump_inline(c);
}

SEC("xdp")
int xdp_atomics_call(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct counters *c = bpf_map_lookup_elem(&totals, &key);

	if (!c)
		return XDP_ABORTED;
	return bump_call(c);
}
