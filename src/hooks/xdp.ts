/**
 * xdp — the XDP hook's context as the kernel lays it out: an `xdp_buff` over one 4 KiB page in VM
 * memory, and the `xdp_md` struct programs see.
 *
 * Page layout (include/net/xdp.h, net/bpf/test_run.c bpf_prog_test_run_xdp):
 *
 *   hard_start                 data_meta  data          data_end        hard_end       start+4096
 *   |<- headroom (256 - meta) ->|<- meta ->|<-- frame -->|<- tailroom -->|<- skb_shared_info (320) ->|
 *
 * The first sizeof(struct xdp_frame) = 40 bytes of headroom are reserved (bpf_xdp_adjust_head /
 * adjust_meta never move data below them). The last SKB_DATA_ALIGN(sizeof(struct
 * skb_shared_info)) = 320 bytes are reserved for the shared info (xdp_data_hard_end). A frame
 * longer than the linear part (4096 - 256 - 320 = 3520 bytes) continues in fragments of up to a
 * page each, at most MAX_SKB_FRAGS = 17 (multi-buffer XDP); fragments are only reachable through
 * bpf_xdp_load_bytes/store_bytes/adjust_tail/get_buff_len, so they live outside VM memory.
 *
 * xdp_md fields are real u32 VM addresses, so no context rewriting is needed; the region of the
 * packet is kept at [data_meta, data_end) so that a direct access outside it faults.
 */
import { type Memory, type Region, RegionKind, PAGE_SIZE } from '../vm/memory.js';
import { CtxKind, CtxPlan, plainLoad, REFUSE, type CtxAccessPolicy } from '../vm/ctx-plan.js';

/** XDP_PACKET_HEADROOM (include/uapi/linux/bpf.h). */
export const XDP_PACKET_HEADROOM = 256;
/** SKB_SHARED_INFO_SIZE: SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86_64. */
export const SKB_SHARED_INFO_SIZE = 320;
/** XDP_FRAME_SIZE: sizeof(struct xdp_frame), reserved at the start of the headroom. */
export const XDP_FRAME_SIZE = 40;
/** XDP_BUFF_SIZE is the frame size (xdp->frame_sz) of one buffer: a page. */
export const XDP_BUFF_SIZE = PAGE_SIZE;
/** MAX_SKB_FRAGS (CONFIG_MAX_SKB_FRAGS default). */
export const MAX_SKB_FRAGS = 17;
/**
 * XDP_METADATA_MAX: metadata must be a multiple of 4 and fit skb_shared_info's u8 meta_len
 * (xdp_metalen_invalid; measured on 6.18: adjust_meta(-216) succeeds).
 */
export const XDP_METADATA_MAX = 255;
/** ETH_HLEN. */
export const ETH_HLEN = 14;

/** XdpAction holds the XDP verdicts (enum xdp_action). */
export const XdpAction = {
  ABORTED: 0,
  DROP: 1,
  PASS: 2,
  TX: 3,
  REDIRECT: 4,
} as const;
export type XdpAction = (typeof XdpAction)[keyof typeof XdpAction];

/** xdpActionName returns "XDP_PASS" etc., or "XDP_UNKNOWN(n)" for a value the kernel warns about. */
export function xdpActionName(v: number): string {
  for (const [k, n] of Object.entries(XdpAction)) if (n === v) return `XDP_${k}`;
  return `XDP_UNKNOWN(${v >>> 0})`;
}

/** XdpMd gives the byte offsets of `struct xdp_md` fields. */
export const XdpMd = {
  data: 0,
  data_end: 4,
  data_meta: 8,
  ingress_ifindex: 12,
  rx_queue_index: 16,
  egress_ifindex: 20,
  SIZE: 24,
} as const;

/**
 * xdpCtxPlan is the xdp_md access plan, xdp_is_valid_access (net/core/filter.c): only 4-byte,
 * 4-aligned reads of the six fields, each a plain read (xdp_convert_ctx_access loads a u32 or a
 * pointer); no sign-extending read of data, data_end or data_meta; no writes (those are only for
 * offloaded programs) and no atomics; egress_ifindex only for programs attached to a devmap
 * (expected_attach_type BPF_XDP_DEVMAP).
 */
export function xdpCtxPlan(devmapProgram = false): CtxPlan {
  return new CtxPlan('xdp_md', (off, size, kind) => {
    if (kind !== CtxKind.Load && kind !== CtxKind.LoadSx) return REFUSE;
    if (off === XdpMd.egress_ifindex && !devmapProgram) return REFUSE;
    if (kind === CtxKind.LoadSx && (off === XdpMd.data || off === XdpMd.data_end || off === XdpMd.data_meta)) return REFUSE;
    return off >= 0 && off < XdpMd.SIZE && size === 4 && off % 4 === 0 ? plainLoad(off, size) : REFUSE;
  });
}

/** xdpCtxPolicy is xdpCtxPlan as a boolean policy. */
export function xdpCtxPolicy(devmapProgram = false): CtxAccessPolicy {
  return xdpCtxPlan(devmapProgram).policy();
}

/** XdpFrag is one fragment of a multi-buffer frame: a page and how much of it holds data. */
export interface XdpFrag {
  readonly page: Uint8Array;
  size: number;
}

/** XdpRxq is the receive queue a buffer arrived on (xdp->rxq). */
export interface XdpRxq {
  ifindex: number;
  queueIndex: number;
  /** rxq->frag_size: how far a fragment may grow (0 means it may not). */
  fragSize: number;
}

/** XdpLoadOptions says how to place a frame in the buffer. */
export interface XdpLoadOptions {
  /** Bytes of metadata at the start of `bytes` (they go before `data`); default 0. */
  metaLen?: number;
  /** Whether the driver supports metadata; when false data_meta is data + 1 (invalid). */
  metaValid?: boolean;
  rxq?: Partial<XdpRxq>;
  egressIfindex?: number;
}

/**
 * XdpBuff is the kernel's `struct xdp_buff` backed by VM memory: a packet page and an xdp_md.
 * One instance is reused for frame after frame (regions are never unmapped).
 */
export class XdpBuff {
  readonly mem: Memory;
  /** The packet page; lo/hi track [data_meta, data_end). */
  readonly pkt: Region;
  /** The xdp_md the program receives in r1. */
  readonly ctx: Region;
  hardStart: number;
  frameSize = XDP_BUFF_SIZE;
  data = 0;
  dataEnd = 0;
  dataMeta = 0;
  frags: XdpFrag[] = [];
  rxq: XdpRxq = { ifindex: 1, queueIndex: 0, fragSize: 0 };
  egressIfindex = 0;

  constructor(mem: Memory, opts: { devmapProgram?: boolean } = {}) {
    this.mem = mem;
    this.pkt = mem.map(RegionKind.Packet, 'xdp_buff', XDP_BUFF_SIZE);
    this.ctx = mem.map(RegionKind.Context, 'xdp_md', XdpMd.SIZE, { ctxPlan: xdpCtxPlan(opts.devmapProgram ?? false) });
    this.hardStart = this.pkt.start;
  }

  /** ctxAddr is the address of the xdp_md (the program's r1). */
  get ctxAddr(): number {
    return this.ctx.start;
  }

  /** hardEnd is xdp_data_hard_end: where the shared info begins. */
  get hardEnd(): number {
    return this.hardStart + this.frameSize - SKB_SHARED_INFO_SIZE;
  }

  /** metaValid is the negation of xdp_data_meta_unsupported. */
  get metaValid(): boolean {
    return this.dataMeta <= this.data;
  }

  /** metaLen is xdp_get_metalen. */
  get metaLen(): number {
    return this.metaValid ? this.data - this.dataMeta : 0;
  }

  /** linearLen is data_end - data. */
  get linearLen(): number {
    return this.dataEnd - this.data;
  }

  /** fragsSize is sinfo->xdp_frags_size. */
  get fragsSize(): number {
    let n = 0;
    for (const f of this.frags) n += f.size;
    return n;
  }

  /** buffLen is xdp_get_buff_len: the linear part plus every fragment. */
  get buffLen(): number {
    return this.linearLen + this.fragsSize;
  }

  /**
   * load places a frame with `headroom` bytes before its first byte (metadata included, as the
   * kernel counts it), linear part first and the rest in fragments; the page is zeroed first as
   * kzalloc would. Callers enforce the size limits.
   */
  load(bytes: Uint8Array, headroom: number, linearMax: number, opts: XdpLoadOptions = {}): void {
    const u8 = this.mem.u8;
    u8.fill(0, this.pkt.start, this.pkt.start + XDP_BUFF_SIZE);
    const metaLen = opts.metaLen ?? 0;
    const linear = Math.min(bytes.length, linearMax);
    u8.set(bytes.subarray(0, linear), this.hardStart + headroom);
    this.dataMeta = this.hardStart + headroom;
    this.data = this.dataMeta + metaLen;
    this.dataEnd = this.dataMeta + linear;
    if (opts.metaValid === false) this.dataMeta = this.data + 1;
    this.frags = [];
    for (let off = linear; off < bytes.length; off += PAGE_SIZE) {
      const size = Math.min(PAGE_SIZE, bytes.length - off);
      const page = new Uint8Array(PAGE_SIZE);
      page.set(bytes.subarray(off, off + size));
      this.frags.push({ page, size });
    }
    this.rxq = { ifindex: opts.rxq?.ifindex ?? 1, queueIndex: opts.rxq?.queueIndex ?? 0, fragSize: opts.rxq?.fragSize ?? 0 };
    this.egressIfindex = opts.egressIfindex ?? 0;
    this.sync();
  }

  /** sync writes the xdp_md fields and moves the packet region's bounds; call after any change. */
  sync(): void {
    const dv = this.mem.dv;
    const c = this.ctx.start;
    dv.setUint32(c + XdpMd.data, this.data, true);
    dv.setUint32(c + XdpMd.data_end, this.dataEnd, true);
    dv.setUint32(c + XdpMd.data_meta, this.dataMeta, true);
    dv.setUint32(c + XdpMd.ingress_ifindex, this.rxq.ifindex, true);
    dv.setUint32(c + XdpMd.rx_queue_index, this.rxq.queueIndex, true);
    dv.setUint32(c + XdpMd.egress_ifindex, this.egressIfindex, true);
    this.pkt.lo = this.metaValid ? this.dataMeta : this.data;
    this.pkt.hi = this.dataEnd;
  }

  /** copyFrom returns the bytes from `from` (an address inside the page, e.g. data_meta) to the end, fragments included. */
  copyFrom(from: number): Uint8Array {
    const lin = this.dataEnd - from;
    const out = new Uint8Array(lin + this.fragsSize);
    out.set(this.mem.u8.subarray(from, this.dataEnd));
    let o = lin;
    for (const f of this.frags) {
      out.set(f.page.subarray(0, f.size), o);
      o += f.size;
    }
    return out;
  }

  /**
   * copyBuf is bpf_xdp_copy_buf: copies `len` bytes at frame offset `off` (from data) between the
   * buffer and `buf`, across fragments; `flush` writes into the buffer.
   */
  copyBuf(off: number, buf: Uint8Array, flush: boolean): void {
    const u8 = this.mem.u8;
    let len = buf.length;
    let b = 0;
    let ptrOff = 0;
    let ptrLen = this.linearLen;
    let src: Uint8Array = u8.subarray(this.data, this.dataEnd);
    let next = 0;
    for (;;) {
      if (off < ptrOff + ptrLen) {
        const copyOff = off - ptrOff;
        const copyLen = Math.min(len, ptrLen - copyOff);
        if (flush) src.set(buf.subarray(b, b + copyLen), copyOff);
        else buf.set(src.subarray(copyOff, copyOff + copyLen), b);
        off += copyLen;
        len -= copyLen;
        b += copyLen;
      }
      if (len === 0 || next === this.frags.length) break;
      ptrOff += ptrLen;
      const f = this.frags[next++];
      src = f.page;
      ptrLen = f.size;
    }
  }
}
