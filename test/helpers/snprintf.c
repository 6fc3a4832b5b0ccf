/* snprintf: bpf_snprintf with a set of formats over values taken from the packet; each result
 * (return value + text) goes to `out[i]`. Built by test/helpers/kernel-parity.test.ts. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct res {
	__s64 ret;
	char text[120];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, struct res);
} out SEC(".maps");

static const char f0[] = "%d|%5u|%-4x|%08lx|%+d|% d|%X|%llu|%i";
static const char f1[] = "%c%c%% [%3c]";
static const char f2[] = "%pI4 %pi4";
static const char f3[] = "%pI6";
static const char f4[] = "%pI6c";
static const char f5[] = "<%s> <%8s> <%-8s>";
static const char f6[] = "%ld %lx %lld";
static const char f7[] = "%%%-6d%%|%6d|";

#define EMIT(i, fmt, args)                                                   \
	do {                                                                 \
		__u32 k = i;                                                 \
		struct res *r = bpf_map_lookup_elem(&out, &k);               \
		if (r)                                                       \
			r->ret = bpf_snprintf(r->text, 20 + 10 * i, fmt, args, sizeof(args)); \
	} while (0)

SEC("xdp")
int snprintf_prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 a[9];
	char str[8];

	if (data + 64 > end)
		return XDP_ABORTED;
	__builtin_memcpy(a, data, 64);
	__builtin_memcpy(str, data + 40, 7);
	str[7] = 0;
	a[8] = a[0] ^ a[1];

	EMIT(0, f0, a);
	EMIT(1, f1, a);
	__u64 p[2] = { (__u64)(long)(data + 16), (__u64)(long)(data + 16) };
	EMIT(2, f2, p);
	__u64 q[1] = { (__u64)(long)(data + 16) };
	EMIT(3, f3, q);
	EMIT(4, f4, q);
	__u64 s[3] = { (__u64)(long)str, (__u64)(long)str, (__u64)(long)str };
	EMIT(5, f5, s);
	EMIT(6, f6, a);
	__u64 one[2] = { a[0], a[1] };
	EMIT(7, f7, one);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
