// SPDX-License-Identifier: GPL-2.0
/* xdp_maps — one XDP program per family of map types and helpers, so every map type an XDP
 * program can use is declared and touched: LRU and per-CPU hashes, QUEUE/STACK, RINGBUF,
 * PERF_EVENT_ARRAY, the redirect maps (DEVMAP, DEVMAP_HASH, CPUMAP, XSKMAP), a spin lock in a
 * map value, and the time, random, CPU, printk/vprintk, snprintf, loop, for_each and csum helpers. */
#include "parse.h"

char LICENSE[] SEC("license") = "GPL";

struct flow_key {
	__u32 len;
	__u16 proto;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8);
	__type(key, struct flow_key);
	__type(value, __u64);
} lru_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} lru_pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} pcpu_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 16);
	__type(value, __u32);
} len_queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 16);
	__type(value, __u32);
} len_stack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} tx_ports_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct locked {
	struct bpf_spin_lock lock;
	__u64 total;
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked);
} totals SEC(".maps");

struct event {
	__u64 ts;
	__u32 len;
	__u32 cpu;
};

SEC("xdp")
int xdp_lru(struct xdp_md *ctx)
{
	struct flow_key k = { .len = ctx->data_end - ctx->data, .proto = 0 };
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 one = 1, *v;

	v = bpf_map_lookup_elem(&lru_flows, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&lru_flows, &k, &one, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&lru_pcpu, &cpu);
	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&lru_pcpu, &cpu, &one, BPF_ANY);
	v = bpf_map_lookup_elem(&pcpu_hash, &k.len);
	if (v)
		*v += k.len;
	else
		bpf_map_update_elem(&pcpu_hash, &k.len, &one, BPF_ANY);
	if (k.len > 1500)
		bpf_map_delete_elem(&lru_flows, &k);
	return XDP_PASS;
}

SEC("xdp")
int xdp_queue(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data, out = 0;

	bpf_map_push_elem(&len_queue, &len, BPF_ANY);
	bpf_map_push_elem(&len_stack, &len, BPF_EXIST);
	if (len < 64) {
		bpf_map_pop_elem(&len_queue, &out);
		bpf_map_peek_elem(&len_stack, &out);
	}
	return out & 1 ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int xdp_events(struct xdp_md *ctx)
{
	struct event e = {
		.ts = bpf_ktime_get_ns(),
		.len = ctx->data_end - ctx->data,
		.cpu = bpf_get_smp_processor_id(),
	};
	struct event *r;

	bpf_ringbuf_output(&events, &e, sizeof(e), 0);
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (r) {
		r->ts = bpf_ktime_get_boot_ns();
		r->len = e.len;
		r->cpu = bpf_get_numa_node_id();
		if (e.len & 1)
			bpf_ringbuf_discard(r, 0);
		else
			bpf_ringbuf_submit(r, BPF_RB_FORCE_WAKEUP);
	}
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > 2048)
		return XDP_DROP;
	bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return XDP_PASS;
}

SEC("xdp")
int xdp_redirect(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	__u32 r = bpf_get_prandom_u32() & 3;

	switch (len & 3) {
	case 0:
		return bpf_redirect_map(&tx_ports, r, XDP_PASS);
	case 1:
		return bpf_redirect_map(&tx_ports_hash, len, XDP_DROP);
	case 2:
		return bpf_redirect_map(&cpus, r, XDP_PASS);
	default:
		return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
	}
}

static long sum_elem(void *map, __u32 *key, __u64 *value, __u64 *acc)
{
	*acc += *value;
	return 0;
}

static long count_step(__u64 index, __u64 *acc)
{
	*acc += index;
	return 0;
}

SEC("xdp")
int xdp_misc(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	__u64 acc = 0;
	struct locked *l;
	char buf[32];
	__u64 args[2];
	__s64 csum = 0;

	args[0] = bpf_ktime_get_coarse_ns();
	args[1] = bpf_jiffies64();
	bpf_snprintf(buf, sizeof(buf), "%llu/%llu", args, sizeof(args));
	bpf_printk("misc %s", buf);
	/* More than three arguments: bpf_printk becomes bpf_trace_vprintk. */
	bpf_printk("misc %llu %llu %u %d", args[0], args[1], ctx->rx_queue_index, 4);
	bpf_for_each_map_elem(&pcpu_hash, sum_elem, &acc, 0);
	bpf_loop(8, count_step, &acc, 0);
	if (data + 20 <= end)
		csum = bpf_csum_diff(0, 0, data, 20, 0);
	l = bpf_map_lookup_elem(&totals, &zero);
	if (l) {
		bpf_spin_lock(&l->lock);
		l->total += acc + (__u32)csum;
		l->count++;
		bpf_spin_unlock(&l->lock);
	}
	return XDP_PASS;
}
