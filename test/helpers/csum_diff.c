/* csum_diff: bpf_csum_diff on the packet's two 64-byte halves in 8 size/seed combinations;
 * results go to `out`. Built by test/helpers/kernel-parity.test.ts. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } out SEC(".maps");
SEC("xdp")
int csum(struct xdp_md *ctx) {
  __u8 a[64], b[64];
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  if (data + 128 > end) return 1;
  __builtin_memcpy(a, data, 64);
  __builtin_memcpy(b, data + 64, 64);
  __u32 k; __u64 v;
  k = 0; v = bpf_csum_diff((void*)a, 8, (void*)b, 8, 0); bpf_map_update_elem(&out, &k, &v, 0);
  k = 1; v = bpf_csum_diff(0, 0, (void*)b, 12, 0x1234); bpf_map_update_elem(&out, &k, &v, 0);
  k = 2; v = bpf_csum_diff((void*)a, 12, 0, 0, 0xabcdef); bpf_map_update_elem(&out, &k, &v, 0);
  k = 3; v = bpf_csum_diff((void*)a, 6, (void*)b, 6, 0); bpf_map_update_elem(&out, &k, &v, 0);
  k = 4; v = bpf_csum_diff((void*)a, 4, (void*)a, 4, 0); bpf_map_update_elem(&out, &k, &v, 0);
  k = 5; v = bpf_csum_diff(0, 0, 0, 0, 0xdeadbeef); bpf_map_update_elem(&out, &k, &v, 0);
  k = 6; v = bpf_csum_diff((void*)a, 64, (void*)b, 64, 0xffffffff); bpf_map_update_elem(&out, &k, &v, 0);
  k = 7; v = bpf_csum_diff(0, 0, (void*)b, 5, 0); bpf_map_update_elem(&out, &k, &v, 0);
  return 2;
}
char _license[] SEC("license") = "GPL";
