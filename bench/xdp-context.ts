/**
 * xdp-context — the minimal XDP environment the benchmark runs programs in, built directly on the
 * Memory API until src/hooks/xdp.ts exists.
 *
 * What it is: one `xdp_md` context region (6 u32 fields: data, data_end, data_meta,
 * ingress_ifindex, rx_queue_index, egress_ifindex — include/uapi/linux/bpf.h) readable as
 * aligned u32s only, and one packet region laid out like the kernel's test-run buffer
 * (XDP_PACKET_HEADROOM = 256 bytes of headroom, the frame, tailroom) whose accessible bounds are
 * exactly [data, data_end), so every packet access is bounds-checked like a real run.
 *
 * What it is not: no helpers (xdp_adjust_head & co. are absent — the bench programs call none),
 * no field rewriting beyond the u32 pointers, ingress_ifindex = 1 and rx_queue_index = 0 fixed.
 * That is everything the header-parse program touches, so the measured cost is the engine's.
 */
import { Memory, RegionKind, type Region } from '../src/vm/memory.js';

/** XDP_PACKET_HEADROOM (include/uapi/linux/bpf.h). */
export const XDP_PACKET_HEADROOM = 256;
/** XDP_MD_SIZE is sizeof(struct xdp_md). */
export const XDP_MD_SIZE = 24;

/** BenchXdp is one XDP context and packet buffer in a Memory. */
export interface BenchXdp {
  readonly mem: Memory;
  readonly ctx: Region;
  readonly packet: Region;
  /** Address of the xdp_md, the program's r1. */
  readonly ctxAddr: number;
}

/** createBenchXdp lays out xdp_md and the packet for `frame` in `mem`. */
export function createBenchXdp(mem: Memory, frame: Uint8Array): BenchXdp {
  const ctx = mem.map(RegionKind.Context, 'xdp_md', XDP_MD_SIZE, {
    writable: false,
    ctxPolicy: (off, size, write) => !write && size === 4 && off % 4 === 0 && off + size <= XDP_MD_SIZE,
  });
  const packet = mem.map(RegionKind.Packet, 'packet', XDP_PACKET_HEADROOM + frame.length + 320);
  const data = packet.start + XDP_PACKET_HEADROOM;
  mem.write(data, frame);
  packet.lo = data;
  packet.hi = data + frame.length;
  const dv = mem.dv;
  dv.setUint32(ctx.start + 0, data, true); // data
  dv.setUint32(ctx.start + 4, data + frame.length, true); // data_end
  dv.setUint32(ctx.start + 8, data, true); // data_meta (no metadata)
  dv.setUint32(ctx.start + 12, 1, true); // ingress_ifindex (lo)
  dv.setUint32(ctx.start + 16, 0, true); // rx_queue_index
  dv.setUint32(ctx.start + 20, 0, true); // egress_ifindex
  return { mem, ctx, packet, ctxAddr: ctx.start };
}
