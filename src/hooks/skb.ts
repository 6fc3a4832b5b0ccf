/**
 * skb — the sk_buff the TC hook runs on, backed by VM memory, and the `__sk_buff` struct programs
 * see, field by field with the kernel's access rules for SCHED_CLS / SCHED_ACT.
 *
 * The packet lives in one large VM region standing for skb->head .. skb->end; `data` and `len`
 * move inside it as helpers push and pull headers (the kernel reallocates the head when room runs
 * out; that only changes addresses, which programs must reload after such helpers anyway). The
 * skb is always linear (BPF_PROG_TEST_RUN builds a linear skb and no helper makes it
 * non-linear). Header offsets (mac/network/transport) are relative to head, ~0 when unset, like
 * the kernel's u16 offsets.
 *
 * `__sk_buff` fields that programs may write (mark, priority, tc_index, tc_classid, cb[],
 * queue_mapping, tstamp) are stored in the ctx region, which the access plan (skbTcCtxPlan) keeps
 * holding what the kernel would read back (u16 fields truncate, a queue_mapping of 0xffff or more
 * is ignored: store hooks); `pullCtx` takes them back into the skb and `pushCtx` writes every
 * field (the read-only ones only where they changed). Helpers that change what __sk_buff shows call both around their work, the others only
 * settleCtx (see onSkb in src/helpers/skb.ts); hooks call pullCtx after the program returns.
 */
import { type Memory, type Region, RegionKind } from '../vm/memory.js';
import { CtxKind, CtxPlan, plainLoad, plainStore, REFUSE, type CtxAccessPolicy, type CtxStoreHook } from '../vm/ctx-plan.js';
import { ETH_HLEN } from './xdp.js';
import type { NetDevice } from './datapath.js';

/** SkBuffField gives the byte offsets of `struct __sk_buff` (include/uapi/linux/bpf.h). */
export const SkBuffField = {
  len: 0,
  pkt_type: 4,
  mark: 8,
  queue_mapping: 12,
  protocol: 16,
  vlan_present: 20,
  vlan_tci: 24,
  vlan_proto: 28,
  priority: 32,
  ingress_ifindex: 36,
  ifindex: 40,
  tc_index: 44,
  cb: 48,
  hash: 68,
  tc_classid: 72,
  data: 76,
  data_end: 80,
  napi_id: 84,
  family: 88,
  remote_ip4: 92,
  local_ip4: 96,
  remote_ip6: 100,
  local_ip6: 116,
  remote_port: 132,
  local_port: 136,
  data_meta: 140,
  flow_keys: 144,
  tstamp: 152,
  wire_len: 160,
  gso_segs: 164,
  sk: 168,
  gso_size: 176,
  tstamp_type: 180,
  hwtstamp: 184,
  SIZE: 192,
} as const;

/** CB_SIZE: cb[5] is 20 bytes (QDISC_CB_PRIV_LEN). */
export const CB_SIZE = 20;

/** PacketType holds skb->pkt_type values (include/uapi/linux/if_packet.h). */
export const PacketType = { HOST: 0, BROADCAST: 1, MULTICAST: 2, OTHERHOST: 3, OUTGOING: 4, LOOPBACK: 5 } as const;

/** ChecksumState holds skb->ip_summed values. */
export const ChecksumState = { NONE: 0, UNNECESSARY: 1, COMPLETE: 2, PARTIAL: 3 } as const;

/** ETH_P_* values used by the hooks (host order). */
export const EthP = {
  IP: 0x0800,
  ARP: 0x0806,
  IPV6: 0x86dd,
  TEB: 0x6558,
  P8021Q: 0x8100,
  P8021AD: 0x88a8,
  P802_3: 0x0001,
  P802_2: 0x0004,
  P802_3_MIN: 0x0600,
} as const;

/** UNSET_HEADER marks a header offset that was never set ((u16)~0U). */
export const UNSET_HEADER = 0xffff;

/**
 * SKB_NARROW_FIELDS lists the __sk_buff fields the kernel stores narrower than their 4-byte slot:
 * [offset, target_size] as bpf_convert_ctx_access reports it (pkt_type is a 3-bit field read as a
 * byte; the others are u16 in sk_buff, qdisc_skb_cb or skb_shared_info). vlan_present reads the
 * u32 vlan_all and every other field is a u32, so a narrow read of those shifts and masks.
 */
const SKB_NARROW_FIELDS: ReadonlyArray<readonly [number, number]> = [
  [SkBuffField.pkt_type, 1],
  [SkBuffField.queue_mapping, 2],
  [SkBuffField.protocol, 2],
  [SkBuffField.vlan_tci, 2],
  [SkBuffField.vlan_proto, 2],
  [SkBuffField.tc_index, 2],
  [SkBuffField.tc_classid, 2],
  [SkBuffField.gso_segs, 2],
  [SkBuffField.gso_size, 2],
];

/** NO_QUEUE_MAPPING (include/net/sock.h): the queue_mapping value meaning "none". */
export const NO_QUEUE_MAPPING = 0xffff;

/**
 * storeU16 is the converted store of tc_index and tc_classid (BPF_EMIT_STORE(BPF_H, ...) in
 * bpf_convert_ctx_access): the field keeps the value's low 16 bits.
 */
const storeU16: CtxStoreHook = (dv, at, lo) => dv.setUint32(at, lo & 0xffff, true);

/**
 * storeQueueMapping is the converted queue_mapping store (bpf_convert_ctx_access): BPF_STX stores
 * the low 16 bits unless the whole 64-bit register is >= NO_QUEUE_MAPPING (BPF_JGE on src_reg);
 * BPF_ST is dropped at load time when its immediate, as a signed 32-bit number, is >=
 * NO_QUEUE_MAPPING, so a negative immediate is stored truncated.
 */
const storeQueueMapping: CtxStoreHook = (dv, at, lo, hi, kind) => {
  const ignored = kind === CtxKind.StoreImm ? (lo | 0) >= NO_QUEUE_MAPPING : hi !== 0 || lo >>> 0 >= NO_QUEUE_MAPPING;
  if (!ignored) dv.setUint32(at, lo & 0xffff, true);
};

/**
 * skbTcAllowed is tc_cls_act_is_valid_access over bpf_skb_is_valid_access (net/core/filter.c) for
 * SCHED_CLS and SCHED_ACT programs.
 */
function skbTcAllowed(off: number, size: number, write: boolean, sx: boolean): boolean {
  const F = SkBuffField;
  if (write) {
    const ok =
      (off >= F.mark && off < F.mark + 4) ||
      (off >= F.tc_index && off < F.tc_index + 4) ||
      (off >= F.priority && off < F.priority + 4) ||
      (off >= F.tc_classid && off < F.tc_classid + 4) ||
      (off >= F.cb && off < F.cb + CB_SIZE) ||
      (off >= F.tstamp && off < F.tstamp + 8) ||
      (off >= F.queue_mapping && off < F.queue_mapping + 4);
    if (!ok) return false;
  }
  // tc_cls_act_is_valid_access: the socket fields are not available to TC.
  if (off >= F.family && off < F.local_port + 4) return false;
  if (off === F.tstamp_type) return !write && size === 1;
  // bpf_skb_is_valid_access
  if (off < 0 || off >= F.SIZE) return false;
  if (off % size !== 0) return false;
  if (off >= F.cb && off < F.cb + CB_SIZE) return off + size <= F.cb + CB_SIZE;
  if (
    (off >= F.data && off < F.data + 4) ||
    (off >= F.data_end && off < F.data_end + 4) ||
    (off >= F.data_meta && off < F.data_meta + 4)
  ) {
    return !sx && size === 4;
  }
  if (off >= F.flow_keys && off < F.flow_keys + 8) return false;
  if (off >= F.hwtstamp && off < F.hwtstamp + 8) return !write && size === 8;
  if (off >= F.tstamp && off < F.tstamp + 8) return size === 8;
  if (off >= F.sk && off < F.sk + 8) return !write && size === 8 && off === F.sk;
  if (off > F.tstamp_type && off < F.hwtstamp) return false;
  if (write) return size === 4;
  // Narrow reads: 1, 2 or 4 bytes, aligned (bpf_ctx_narrow_access_ok).
  return size === 1 || size === 2 || size === 4;
}

/**
 * skbTcCtxPlan is the __sk_buff access plan of SCHED_CLS / SCHED_ACT programs: what
 * tc_cls_act_is_valid_access allows, converted as tc_cls_act_convert_ctx_access /
 * bpf_convert_ctx_access do it. Reads are plain mirror reads except a narrow read at least as wide
 * as the kernel's storage of a narrow field (SKB_NARROW_FIELDS): convert_ctx_accesses
 * (kernel/bpf/verifier.c) loads the field from its start and shifts/masks only when size <
 * target_size, so such a read returns the whole field (e.g. a u16 read of protocol + 2 gives
 * protocol, a u8 read of pkt_type + 3 gives pkt_type). Stores to tc_index, tc_classid and
 * queue_mapping go through hooks with the kernel's store semantics; atomics are refused
 * (check_atomic: no BPF_ATOMIC into ctx).
 */
export function skbTcCtxPlan(): CtxPlan {
  return new CtxPlan('__sk_buff', (off, size, kind) => {
    if (kind === CtxKind.Atomic) return REFUSE;
    const write = kind === CtxKind.Store || kind === CtxKind.StoreImm;
    if (!skbTcAllowed(off, size, write, kind === CtxKind.LoadSx)) return REFUSE;
    const F = SkBuffField;
    if (write) {
      if (off === F.tc_index || off === F.tc_classid) return plainStore(off, size, storeU16);
      if (off === F.queue_mapping) return plainStore(off, size, storeQueueMapping);
      return plainStore(off, size);
    }
    if (size < 4) {
      for (const [field, target] of SKB_NARROW_FIELDS) {
        if (off >= field && off < field + 4) return size >= target ? plainLoad(field, size) : plainLoad(off, size);
      }
    }
    return plainLoad(off, size);
  });
}

/** skbTcCtxPolicy is skbTcCtxPlan as a boolean policy (plain loads and STX stores). */
export function skbTcCtxPolicy(): CtxAccessPolicy {
  return skbTcCtxPlan().policy();
}

/** BpfSockField gives the byte offsets of `struct bpf_sock` (include/uapi/linux/bpf.h). */
export const BpfSockField = {
  bound_dev_if: 0,
  family: 4,
  type: 8,
  protocol: 12,
  mark: 16,
  priority: 20,
  src_ip4: 24,
  src_ip6: 28,
  src_port: 44,
  dst_port: 48,
  dst_ip4: 52,
  dst_ip6: 56,
  state: 72,
  rx_queue_mapping: 76,
  SIZE: 80,
} as const;

/** sockCommonAllowed is bpf_sock_common_is_valid_access over bpf_sock_is_valid_access (net/core/filter.c). */
function sockCommonAllowed(off: number, size: number): boolean {
  const F = BpfSockField;
  if (off < 0 || off >= F.SIZE || off % size !== 0) return false;
  if (off >= F.type && off < F.priority + 4) return false;
  // dst_port is a __be16 followed by padding: a u32 read of the whole, or narrow reads of the u16.
  if (off >= F.dst_port && off < F.dst_port + 4) return size === 4 ? off === F.dst_port : (size === 1 || size === 2) && off + size <= F.dst_port + 2;
  const narrow =
    off === F.state || off === F.family || off === F.src_port || off === F.rx_queue_mapping ||
    (off >= F.src_ip4 && off < F.src_ip4 + 4) || (off >= F.src_ip6 && off < F.src_ip6 + 16) ||
    (off >= F.dst_ip4 && off < F.dst_ip4 + 4) || (off >= F.dst_ip6 && off < F.dst_ip6 + 16);
  if (narrow) return size === 1 || size === 2 || size === 4;
  return size === 4;
}

/**
 * sockCommonPlan is the bpf_sock plan of what a program may read through __sk_buff->sk
 * (PTR_TO_SOCK_COMMON): bpf_sock_common_is_valid_access, converted by bpf_sock_convert_ctx_access.
 * No writes or atomics. Every read is a plain mirror read but rx_queue_mapping's: the kernel loads
 * the u16 sk_rx_queue_mapping and turns NO_QUEUE_MAPPING into BPF_MOV64_IMM(-1), so a 4-byte read,
 * and a 2-byte one (not narrower than the u16 field, so not masked), give a 64-bit -1; the mirror
 * holds the s32 value, read sign-extended. A 1-byte read is masked to 0xff.
 */
export function sockCommonPlan(): CtxPlan {
  return new CtxPlan('bpf_sock', (off, size, kind) => {
    if (kind !== CtxKind.Load && kind !== CtxKind.LoadSx) return REFUSE;
    if (!sockCommonAllowed(off, size)) return REFUSE;
    if (off === BpfSockField.rx_queue_mapping && size >= 2) return { op: 'load', off, size: 4, signed: true };
    return plainLoad(off, size);
  });
}

/** sockCommonPolicy is sockCommonPlan as a boolean policy. */
export function sockCommonPolicy(): CtxAccessPolicy {
  return sockCommonPlan().policy();
}

/** SockInfo is what a test run's dummy socket holds (bpf_prog_test_run_skb, sock_init_data). */
export interface SockInfo {
  family: number;
  /** Source (sk_rcv_saddr) and destination (sk_daddr) addresses, network order: 4 or 16 bytes. */
  src: Uint8Array;
  dst: Uint8Array;
}

/** SKB_REGION_SIZE: room for the largest skb (BPF_SKB_MAX_LEN) pushed and pulled either way. */
export const SKB_REGION_SIZE = 0x10000;
/** SKB_HEAD_RESERVE: where data starts within the region when an skb is built. */
export const SKB_HEAD_RESERVE = 0x6000;
/** BPF_SKB_MAX_LEN is SKB_MAX_ALLOC: 4 pages minus the shared info (net/core/filter.c). */
export const BPF_SKB_MAX_LEN = 4 * 4096 - 320;

/** SkBuffInit describes an skb to build from a frame. */
export interface SkBuffInit {
  /** The receiving device (eth_type_trans compares the destination MAC with it). */
  dev: NetDevice;
  /** Metadata bytes kept before the frame (XDP data_meta carried into the skb). */
  meta?: Uint8Array;
  /** True when the skb has an owning socket (BPF_PROG_TEST_RUN attaches a dummy one). */
  hasSocket?: boolean;
  /** skb->tc_at_ingress. */
  atIngress?: boolean;
}

/**
 * TunnelInfo is the part of `struct ip_tunnel_info` bpf_skb_set_tunnel_key / _opt write and
 * bpf_skb_get_tunnel_key / _opt read (a metadata dst attached to the skb).
 */
export interface TunnelInfo {
  /** IP_TUNNEL_INFO_TX is always set; ipv6 tells the address family. */
  ipv6: boolean;
  /** tun_id as the u64 the kernel keeps in network order, here as a number (it comes from a u32). */
  tunId: number;
  tos: number;
  ttl: number;
  /** IP_TUNNEL_*_BIT flags, bits 0..15 (the part ip_tunnel_flags_to_be16 reports). */
  flags: number;
  /** key.u.ipv4/ipv6 src and dst, network order (4 or 16 bytes). */
  src: Uint8Array;
  dst: Uint8Array;
  /** key.label, host order. */
  label: number;
  options: Uint8Array;
}

/** SkBuff is the kernel's sk_buff for one packet, in VM memory. */
export class SkBuff {
  readonly mem: Memory;
  readonly pkt: Region;
  readonly ctx: Region;
  /** skb->head as a VM address. */
  readonly head: number;
  data = 0;
  len = 0;
  metaLen = 0;
  macHeader = UNSET_HEADER;
  networkHeader = UNSET_HEADER;
  transportHeader = UNSET_HEADER;
  macLen = 0;
  /** skb->protocol in host order (e.g. 0x0800). */
  protocol = 0;
  pktType: number = PacketType.HOST;
  mark = 0;
  priority = 0;
  queueMapping = 0;
  tcIndex = 0;
  tcClassid = 0;
  hash = 0;
  l4Hash = false;
  swHash = false;
  vlanPresent = false;
  vlanTci = 0;
  /** vlan_proto in host order. */
  vlanProto = 0;
  dev: NetDevice;
  skbIif = 0;
  napiId = 0;
  /** skb->tstamp as u32 halves (the `tstamp` accessor gives the u64): no BigInt per packet. */
  tstampLo = 0;
  tstampHi = 0;
  /** skb_hwtstamps(skb)->hwtstamp as u32 halves (see `hwtstamp`). */
  hwtstampLo = 0;
  hwtstampHi = 0;
  wireLen = 0;
  gsoSegs = 0;
  gsoSize = 0;
  ipSummed: number = ChecksumState.NONE;
  csum = 0;
  csumLevel = 0;
  encapsulation = false;
  hasSocket = false;
  atIngress = false;
  /** Tunnel metadata attached by bpf_skb_set_tunnel_key (or a tunnel device), if any. */
  tunnel: TunnelInfo | undefined = undefined;
  /** Address of the bpf_sock __sk_buff->sk points at (setSock), or 0. */
  private sockAddr = 0;
  private sockRegion: Region | undefined;
  /**
   * [dirtyLo, dirtyHi) covers every byte of the packet region written since it was last zeroed:
   * each window [data - metaLen, data + len) the skb has had (reset, push, pull, pushCtx — helpers
   * move the bounds only between pullCtx and pushCtx, and programs write only inside the bounds
   * pushCtx set), plus where moveMeta copies to. Starts as the whole region.
   */
  private dirtyLo: number;
  private dirtyHi: number;
  /**
   * u32 views the VM memory as host-order u32 words (little-endian, like the VM and WebAssembly),
   * for the __sk_buff sync; re-made when memory growth replaces the buffer. Measured: DataView
   * setters with a BigInt for the u64 fields made pushCtx most of a TC run's fixed cost.
   */
  private u32: Uint32Array;
  /** The `mem.u8` that `u32` was made alongside (Memory replaces its views when it grows). */
  private u32Of: Uint8Array;
  /** ctxWord is the index of the __sk_buff's first word in `u32` (ctx.start / 4). */
  private readonly ctxWord: number;
  /**
   * Shadows of the read-only __sk_buff words: the u32 each word of the ctx holds, or -1 when not
   * known (no u32 equals -1, so the next pushCtx writes it). Programs cannot store into these words
   * (skbTcCtxPlan refuses it) and neither can helpers writing guest memory (they go through the
   * same plan), so only pushCtx and reset (which zeroes the ctx) change them, and pushCtx writes a
   * word only when its value differs from the shadow. Measured: the 20 compares cost under half
   * of the 20 stores into VM memory they replace, on a TC run that syncs the ctx in and out.
   */
  private shLen = -1;
  private shPktType = -1;
  private shProtocol = -1;
  private shVlanPresent = -1;
  private shVlanTci = -1;
  private shVlanProto = -1;
  private shIngressIfindex = -1;
  private shIfindex = -1;
  private shHash = -1;
  private shData = -1;
  private shDataEnd = -1;
  private shNapiId = -1;
  private shDataMeta = -1;
  private shWireLen = -1;
  private shGsoSegs = -1;
  private shSkLo = -1;
  private shSkHi = -1;
  private shGsoSize = -1;
  private shHwtstampLo = -1;
  private shHwtstampHi = -1;

  constructor(mem: Memory, dev: NetDevice) {
    this.mem = mem;
    this.pkt = mem.map(RegionKind.Packet, 'sk_buff', SKB_REGION_SIZE);
    this.ctx = mem.map(RegionKind.Context, '__sk_buff', SkBuffField.SIZE, { ctxPlan: skbTcCtxPlan() });
    this.head = this.pkt.start;
    this.dev = dev;
    this.dirtyLo = this.pkt.start;
    this.dirtyHi = this.pkt.start + SKB_REGION_SIZE;
    this.u32 = new Uint32Array(mem.u8.buffer);
    this.u32Of = mem.u8;
    this.ctxWord = this.ctx.start >>> 2;
  }

  /** tstamp is skb->tstamp as a u64. */
  get tstamp(): bigint {
    return (BigInt(this.tstampHi) << 32n) | BigInt(this.tstampLo);
  }

  set tstamp(v: bigint) {
    this.tstampLo = Number(v & 0xffffffffn);
    this.tstampHi = Number((v >> 32n) & 0xffffffffn);
  }

  /** hwtstamp is skb_hwtstamps(skb)->hwtstamp as a u64. */
  get hwtstamp(): bigint {
    return (BigInt(this.hwtstampHi) << 32n) | BigInt(this.hwtstampLo);
  }

  set hwtstamp(v: bigint) {
    this.hwtstampLo = Number(v & 0xffffffffn);
    this.hwtstampHi = Number((v >> 32n) & 0xffffffffn);
  }

  /**
   * ctxWords returns the u32 view of VM memory, re-made after the memory grew (checked by view
   * identity: reading `.buffer` of a view on WebAssembly memory is a slow builtin call).
   */
  private ctxWords(): Uint32Array {
    const u8 = this.mem.u8;
    if (this.u32Of !== u8) {
      this.u32 = new Uint32Array(u8.buffer);
      this.u32Of = u8;
    }
    return this.u32;
  }

  /** markDirty extends the dirty window by the skb's current [data - metaLen, data + len). */
  private markDirty(): void {
    const lo = this.data - this.metaLen;
    const hi = this.data + this.len;
    if (lo < this.dirtyLo) this.dirtyLo = lo;
    if (hi > this.dirtyHi) this.dirtyHi = hi;
  }

  /** ctxAddr is the address of the __sk_buff (the program's r1). */
  get ctxAddr(): number {
    return this.ctx.start;
  }

  /** dataOff is skb->data - skb->head. */
  get dataOff(): number {
    return this.data - this.head;
  }

  /** bytes returns a live view of the packet, [data, data + len). */
  bytes(): Uint8Array {
    return this.mem.u8.subarray(this.data, this.data + this.len);
  }

  /**
   * reset rebuilds the skb around `frame` with data at the frame's first byte and every field
   * cleared, as build_skb + skb_put would; the caller then runs ethTypeTrans and pushes as needed.
   * The region is left as if zeroed whole, but only the bytes earlier skbs may have written (the
   * dirty window, and the last packet bounds a program saw) and the new frame and metadata will
   * not overwrite are cleared: measured, zeroing all 64 KiB was most of the per-frame cost of XDP
   * + TC ingress, and zeroing the previous frame's bytes just before copying the next one over
   * them was most of what remained for large frames.
   */
  reset(frame: Uint8Array, init: SkBuffInit): void {
    const u8 = this.mem.u8;
    const meta = init.meta ?? EMPTY;
    const data = this.head + SKB_HEAD_RESERVE;
    const lo0 = this.pkt.lo < this.dirtyLo ? this.pkt.lo : this.dirtyLo;
    const hi0 = this.pkt.hi > this.dirtyHi ? this.pkt.hi : this.dirtyHi;
    const start = this.pkt.start;
    const end = start + SKB_REGION_SIZE;
    const lo = lo0 > start ? lo0 : start;
    const hi = hi0 < end ? hi0 : end;
    // [keepLo, keepHi) is about to be overwritten with the metadata and the frame.
    const keepLo = data - meta.length;
    const keepHi = data + frame.length;
    if (hi > lo) {
      if (keepLo > lo) u8.fill(0, lo, keepLo < hi ? keepLo : hi);
      if (keepHi < hi) u8.fill(0, keepHi > lo ? keepHi : lo, hi);
    }
    // The ctx, cb[] included, is zero until pushCtx fills it.
    u8.fill(0, this.ctx.start, this.ctx.start + SkBuffField.SIZE);
    this.setShadows(0);
    this.data = data;
    u8.set(frame, data);
    this.len = frame.length;
    if (meta.length !== 0) u8.set(meta, keepLo);
    this.metaLen = meta.length;
    this.dirtyLo = keepLo;
    this.dirtyHi = keepHi;
    this.macHeader = UNSET_HEADER;
    this.networkHeader = UNSET_HEADER;
    this.transportHeader = UNSET_HEADER;
    this.macLen = 0;
    this.protocol = 0;
    this.pktType = PacketType.HOST;
    this.mark = 0;
    this.priority = 0;
    this.queueMapping = 0;
    this.tcIndex = 0;
    this.tcClassid = 0;
    this.hash = 0;
    this.l4Hash = false;
    this.swHash = false;
    this.vlanPresent = false;
    this.vlanTci = 0;
    this.vlanProto = 0;
    this.dev = init.dev;
    this.skbIif = 0;
    this.napiId = 0;
    this.tstampLo = 0;
    this.tstampHi = 0;
    this.hwtstampLo = 0;
    this.hwtstampHi = 0;
    this.wireLen = 0;
    this.gsoSegs = 0;
    this.gsoSize = 0;
    this.ipSummed = ChecksumState.NONE;
    this.csum = 0;
    this.csumLevel = 0;
    this.encapsulation = false;
    this.hasSocket = init.hasSocket ?? false;
    this.atIngress = init.atIngress ?? false;
    this.tunnel = undefined;
    this.sockAddr = 0;
  }

  /** cb returns the live 20 bytes of qdisc_skb_cb->data (stored in the ctx). */
  cb(): Uint8Array {
    return this.mem.u8.subarray(this.ctx.start + SkBuffField.cb, this.ctx.start + SkBuffField.cb + CB_SIZE);
  }

  /**
   * ethTypeTrans is eth_type_trans (net/ethernet/eth.c): sets the mac header at data, pulls
   * ETH_HLEN, classifies pkt_type against the device's address, sets the network header and
   * returns skb->protocol. Callers guarantee len >= ETH_HLEN.
   */
  ethTypeTrans(): number {
    const u8 = this.mem.u8;
    const d = this.data;
    this.macHeader = this.dataOff;
    this.pull(ETH_HLEN);
    const dev = this.dev;
    let same = true;
    for (let i = 0; i < 6; i++) if (u8[d + i] !== dev.mac[i]) same = false;
    if (!same) {
      if ((u8[d] & 1) !== 0) {
        let bcast = true;
        for (let i = 0; i < 6; i++) if (u8[d + i] !== dev.broadcast[i]) bcast = false;
        this.pktType = bcast ? PacketType.BROADCAST : PacketType.MULTICAST;
      } else {
        this.pktType = PacketType.OTHERHOST;
      }
    }
    const proto = (u8[d + 12] << 8) | u8[d + 13];
    if (proto >= EthP.P802_3_MIN) this.protocol = proto;
    else if (this.len >= 2 && u8[this.data] === 0xff && u8[this.data + 1] === 0xff) this.protocol = EthP.P802_3;
    else this.protocol = EthP.P802_2;
    this.networkHeader = this.dataOff;
    return this.protocol;
  }

  /** push is __skb_push: data moves back `n` bytes (the metadata stays where it is). */
  push(n: number): void {
    this.data -= n;
    this.len += n;
    this.markDirty();
  }

  /** pull is __skb_pull: data moves forward `n` bytes (the metadata stays where it is). */
  pull(n: number): void {
    this.data += n;
    this.len -= n;
    this.markDirty();
  }

  /**
   * pushHeader / pullHeader are push / pull for helpers that insert or remove header bytes
   * while data is at the MAC header (vlan push/pop, adjust_room, change_proto, change_head):
   * the metadata in front of the MAC header moves along so it stays there.
   */
  pushHeader(n: number): void {
    this.moveMeta(-n);
    this.push(n);
  }

  /** pullHeader: see pushHeader. */
  pullHeader(n: number): void {
    this.moveMeta(n);
    this.pull(n);
  }

  /** moveMeta moves the metadata in front of data by `delta` bytes. */
  private moveMeta(delta: number): void {
    if (this.metaLen === 0) return;
    const u8 = this.mem.u8;
    const to = this.data - this.metaLen + delta;
    if (to < this.dirtyLo) this.dirtyLo = to;
    if (to + this.metaLen > this.dirtyHi) this.dirtyHi = to + this.metaLen;
    u8.copyWithin(to, this.data - this.metaLen, this.data);
  }

  /** networkOffset is skb_network_offset: network header relative to data. */
  get networkOffset(): number {
    return this.networkHeader - this.dataOff;
  }

  /** macHeaderWasSet is skb_mac_header_was_set. */
  get macHeaderWasSet(): boolean {
    return this.macHeader !== UNSET_HEADER;
  }

  /** transportHeaderWasSet is skb_transport_header_was_set. */
  get transportHeaderWasSet(): boolean {
    return this.transportHeader !== UNSET_HEADER;
  }

  /** clearHash is skb_clear_hash. */
  clearHash(): void {
    this.hash = 0;
    this.swHash = false;
    this.l4Hash = false;
  }

  /**
   * pullCtx takes the program-writable __sk_buff fields back from the ctx with the kernel's store
   * semantics (bpf_convert_ctx_access).
   */
  pullCtx(): void {
    const w = this.ctxWords();
    const c = this.ctxWord;
    const F = SkBuffField;
    this.mark = w[c + (F.mark >>> 2)];
    this.priority = w[c + (F.priority >>> 2)];
    this.tcIndex = w[c + (F.tc_index >>> 2)] & 0xffff;
    this.tcClassid = w[c + (F.tc_classid >>> 2)] & 0xffff;
    const qm = w[c + (F.queue_mapping >>> 2)];
    if (qm < 0xffff) this.queueMapping = qm;
    this.tstampLo = w[c + (F.tstamp >>> 2)];
    this.tstampHi = w[c + (F.tstamp >>> 2) + 1];
  }

  /**
   * invalidateCtx says the __sk_buff words may have been written behind the skb's back (by code
   * writing VM memory directly): the next pushCtx rewrites every field.
   */
  invalidateCtx(): void {
    this.setShadows(-1);
  }

  /** setShadows sets every read-only word's shadow to `v` (0 after the ctx was zeroed, -1 for unknown). */
  private setShadows(v: number): void {
    this.shLen = v;
    this.shPktType = v;
    this.shProtocol = v;
    this.shVlanPresent = v;
    this.shVlanTci = v;
    this.shVlanProto = v;
    this.shIngressIfindex = v;
    this.shIfindex = v;
    this.shHash = v;
    this.shData = v;
    this.shDataEnd = v;
    this.shNapiId = v;
    this.shDataMeta = v;
    this.shWireLen = v;
    this.shGsoSegs = v;
    this.shSkLo = v;
    this.shSkHi = v;
    this.shGsoSize = v;
    this.shHwtstampLo = v;
    this.shHwtstampHi = v;
  }

  /** setSock gives the skb an owning socket (a test run's dummy socket): __sk_buff->sk then points at it. */
  setSock(info: SockInfo): void {
    const r = (this.sockRegion ??= this.mem.map(RegionKind.Context, 'bpf_sock', BpfSockField.SIZE, { ctxPlan: sockCommonPlan(), writable: false }));
    const u8 = this.mem.u8;
    const dv = this.mem.dv;
    const S = BpfSockField;
    u8.fill(0, r.start, r.start + S.SIZE);
    dv.setUint32(r.start + S.family, info.family, true);
    if (info.src.length === 4) {
      u8.set(info.src, r.start + S.src_ip4);
      u8.set(info.dst, r.start + S.dst_ip4);
    } else {
      u8.set(info.src, r.start + S.src_ip6);
      u8.set(info.dst, r.start + S.dst_ip6);
    }
    // sock_init_data: TCP_CLOSE, no receive queue recorded.
    dv.setUint32(r.start + S.state, 7, true);
    dv.setInt32(r.start + S.rx_queue_mapping, -1, true);
    this.sockAddr = r.start;
  }

  /**
   * settleCtx does what pullCtx followed by pushCtx would when nothing else changed in between,
   * as far as anything can observe: the narrowed fields get the kernel's store semantics in the
   * ctx (tc_index and tc_classid truncated to u16; a queue_mapping of 0xffff or more replaced by
   * the last one stored, and a valid one kept as the skb's), with stores only where a field needs
   * one. mark, priority and tstamp stay in the ctx until the next pullCtx (last store wins for
   * them, so no intermediate value matters). For helpers that read none of these fields and change
   * nothing __sk_buff shows (onSkb in src/helpers/skb.ts). The context plan's store hooks already
   * keep these fields normalised, so this finds nothing to do unless a store bypassed the plan.
   */
  settleCtx(): void {
    const w = this.ctxWords();
    const c = this.ctxWord;
    const F = SkBuffField;
    const qm = w[c + (F.queue_mapping >>> 2)];
    if (qm < 0xffff) this.queueMapping = qm;
    else w[c + (F.queue_mapping >>> 2)] = this.queueMapping;
    const ti = w[c + (F.tc_index >>> 2)];
    if (ti > 0xffff) w[c + (F.tc_index >>> 2)] = ti & 0xffff;
    const tc = w[c + (F.tc_classid >>> 2)];
    if (tc > 0xffff) w[c + (F.tc_classid >>> 2)] = tc & 0xffff;
  }

  /**
   * pushCtx writes every __sk_buff field and moves the packet region to [data_meta, data_end):
   * the program-writable fields always, the read-only ones where they differ from what the ctx
   * holds (see the shadows). Values are compared as the u32 the word would hold.
   */
  pushCtx(): void {
    const w = this.ctxWords();
    const c = this.ctxWord;
    const F = SkBuffField;
    w[c + (F.mark >>> 2)] = this.mark;
    w[c + (F.queue_mapping >>> 2)] = this.queueMapping;
    w[c + (F.priority >>> 2)] = this.priority;
    w[c + (F.tc_index >>> 2)] = this.tcIndex;
    w[c + (F.tc_classid >>> 2)] = this.tcClassid;
    w[c + (F.tstamp >>> 2)] = this.tstampLo;
    w[c + (F.tstamp >>> 2) + 1] = this.tstampHi;
    const data = this.data;
    const len = this.len;
    let v = len >>> 0;
    if (v !== this.shLen) w[c + (F.len >>> 2)] = this.shLen = v;
    v = (data + len) >>> 0;
    if (v !== this.shDataEnd) w[c + (F.data_end >>> 2)] = this.shDataEnd = v;
    v = data >>> 0;
    if (v !== this.shData) w[c + (F.data >>> 2)] = this.shData = v;
    v = (data - this.metaLen) >>> 0;
    if (v !== this.shDataMeta) w[c + (F.data_meta >>> 2)] = this.shDataMeta = v;
    const proto = this.protocol;
    v = (((proto & 0xff) << 8) | ((proto >>> 8) & 0xff)) >>> 0;
    if (v !== this.shProtocol) w[c + (F.protocol >>> 2)] = this.shProtocol = v;
    v = this.pktType >>> 0;
    if (v !== this.shPktType) w[c + (F.pkt_type >>> 2)] = this.shPktType = v;
    v = this.hash >>> 0;
    if (v !== this.shHash) w[c + (F.hash >>> 2)] = this.shHash = v;
    v = this.vlanPresent ? 1 : 0;
    if (v !== this.shVlanPresent) w[c + (F.vlan_present >>> 2)] = this.shVlanPresent = v;
    v = this.vlanTci >>> 0;
    if (v !== this.shVlanTci) w[c + (F.vlan_tci >>> 2)] = this.shVlanTci = v;
    const vproto = this.vlanProto;
    v = (((vproto & 0xff) << 8) | ((vproto >>> 8) & 0xff)) >>> 0;
    if (v !== this.shVlanProto) w[c + (F.vlan_proto >>> 2)] = this.shVlanProto = v;
    v = this.skbIif >>> 0;
    if (v !== this.shIngressIfindex) w[c + (F.ingress_ifindex >>> 2)] = this.shIngressIfindex = v;
    v = this.dev.ifindex >>> 0;
    if (v !== this.shIfindex) w[c + (F.ifindex >>> 2)] = this.shIfindex = v;
    v = this.napiId >>> 0;
    if (v !== this.shNapiId) w[c + (F.napi_id >>> 2)] = this.shNapiId = v;
    v = this.wireLen >>> 0;
    if (v !== this.shWireLen) w[c + (F.wire_len >>> 2)] = this.shWireLen = v;
    v = this.gsoSegs >>> 0;
    if (v !== this.shGsoSegs) w[c + (F.gso_segs >>> 2)] = this.shGsoSegs = v;
    v = this.gsoSize >>> 0;
    if (v !== this.shGsoSize) w[c + (F.gso_size >>> 2)] = this.shGsoSize = v;
    v = this.sockAddr >>> 0;
    if (v !== this.shSkLo) w[c + (F.sk >>> 2)] = this.shSkLo = v;
    if (this.shSkHi !== 0) w[c + (F.sk >>> 2) + 1] = this.shSkHi = 0;
    v = this.hwtstampLo >>> 0;
    if (v !== this.shHwtstampLo) w[c + (F.hwtstamp >>> 2)] = this.shHwtstampLo = v;
    v = this.hwtstampHi >>> 0;
    if (v !== this.shHwtstampHi) w[c + (F.hwtstamp >>> 2) + 1] = this.shHwtstampHi = v;
    this.pkt.lo = data - this.metaLen;
    this.pkt.hi = data + len;
    this.markDirty();
  }
}

const EMPTY: Uint8Array = new Uint8Array(0);
