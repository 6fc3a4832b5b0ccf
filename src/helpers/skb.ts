/**
 * skb helpers — the packet helpers of SCHED_CLS / SCHED_ACT programs, with the kernel's semantics
 * and return codes (net/core/filter.c; net/core/skbuff.c for skb_vlan_push/pop; include/net/
 * inet_ecn.h for INET_ECN_set_ce; net/core/utils.c for inet_proto_csum_replace*). A helper that
 * changes what __sk_buff shows (withSkb) takes the program-writable fields back from the ctx first
 * and rewrites the ctx (data, data_end, len, protocol, ...) and the packet region afterwards,
 * which is what bpf_compute_data_pointers plus the verifier's pointer invalidation amount to; the
 * per-packet data-only helpers (onSkb: store/load bytes, csum_replace, ...) only settle the
 * narrowed fields, and read and write guest memory in place, without views or BigInt.
 *
 * Known differences from the kernel: get_hash_recalc computes a deterministic flow hash (the
 * kernel's is seeded with a random per-boot key, so no two kernels agree either); the skb->sk a
 * test run attaches is not exposed (reads of __sk_buff.sk give NULL).
 */
import type { RunEnv } from '../vm/program.js';
import { argHi, argLo, argPtr, argS32, guestAddr, guestBytes } from '../hooks/args.js';
import { type PacketHelperDef, packetState, skbState } from '../hooks/state.js';
import type { DatapathHooks, NetDevice } from '../hooks/datapath.js';
import { ChecksumState, EthP, PacketType, SkBuff, BPF_SKB_MAX_LEN } from '../hooks/skb.js';
import { ETH_HLEN } from '../hooks/xdp.js';
import { ProgType, TcAction } from '../hooks/tc.js';
import {
  csum16Add,
  csumAdd,
  csumBlockAdd,
  csumBlockSub,
  csumFold,
  csumFrom32to16,
  csumPartial,
  csumReplace2,
  csumReplace4,
  csumReplaceByDiff,
  csumSub,
  csumUnfold,
} from '../hooks/csum.js';
import { XDP_HELPERS, fibLookup, xdpCheckMtu, xdpRedirect } from './xdp.js';
import {
  BPF_MTU_CHK_RET_FRAG_NEEDED,
  BPF_MTU_CHK_RET_SUCCESS,
  BPF_MTU_CHK_SEGS,
  E,
  devViaIfindex,
} from './packet-common.js';

export {
  BPF_MTU_CHK_RET_FRAG_NEEDED,
  BPF_MTU_CHK_RET_SEGS_TOO_BIG,
  BPF_MTU_CHK_RET_SUCCESS,
  BPF_MTU_CHK_SEGS,
  E,
  devViaIfindex,
} from './packet-common.js';
import type { HelperImpl } from '../vm/program.js';
import { FaultCode, GuestFault } from '../vm/fault.js';

/** Flags of the store / checksum helpers (include/uapi/linux/bpf.h). */
export const BPF_F_RECOMPUTE_CSUM = 1 << 0;
export const BPF_F_INVALIDATE_HASH = 1 << 1;
export const BPF_F_HDR_FIELD_MASK = 0xf;
export const BPF_F_PSEUDO_HDR = 1 << 4;
export const BPF_F_MARK_MANGLED_0 = 1 << 5;
export const BPF_F_MARK_ENFORCE = 1 << 6;
export const BPF_F_IPV6 = 1 << 7;
/** BPF_F_INGRESS for bpf_redirect. */
export const BPF_F_INGRESS = 1;
/** BPF_HDR_START_MAC / _NET for bpf_skb_load_bytes_relative. */
export const BPF_HDR_START_MAC = 0;
export const BPF_HDR_START_NET = 1;
/** bpf_csum_level levels. */
export const BPF_CSUM_LEVEL_QUERY = 0;
export const BPF_CSUM_LEVEL_INC = 1;
export const BPF_CSUM_LEVEL_DEC = 2;
export const BPF_CSUM_LEVEL_RESET = 3;
const SKB_MAX_CSUM_LEVEL = 3;

/** bpf_skb_adjust_room flags and modes. */
export const AdjRoom = {
  FIXED_GSO: 1 << 0,
  ENCAP_L3_IPV4: 1 << 1,
  ENCAP_L3_IPV6: 1 << 2,
  ENCAP_L4_GRE: 1 << 3,
  ENCAP_L4_UDP: 1 << 4,
  NO_CSUM_RESET: 1 << 5,
  ENCAP_L2_ETH: 1 << 6,
  DECAP_L3_IPV4: 1 << 7,
  DECAP_L3_IPV6: 1 << 8,
  /** BPF_ADJ_ROOM_ENCAP_L2_SHIFT: the inner MAC length sits in bits 56..63 of flags. */
  ENCAP_L2_SHIFT: 56,
  MODE_NET: 0,
  MODE_MAC: 1,
} as const;
const ADJ_ROOM_ENCAP_L3_MASK = AdjRoom.ENCAP_L3_IPV4 | AdjRoom.ENCAP_L3_IPV6;
const ADJ_ROOM_DECAP_L3_MASK = AdjRoom.DECAP_L3_IPV4 | AdjRoom.DECAP_L3_IPV6;
/** BPF_F_ADJ_ROOM_MASK without the L2 length byte (checked separately in the high half). */
const ADJ_ROOM_MASK_LO =
  AdjRoom.FIXED_GSO | ADJ_ROOM_ENCAP_L3_MASK | AdjRoom.ENCAP_L4_GRE | AdjRoom.ENCAP_L4_UDP | AdjRoom.ENCAP_L2_ETH | ADJ_ROOM_DECAP_L3_MASK;

const IPV4_HLEN = 20;
const IPV6_HLEN = 40;
const VLAN_HLEN = 4;

function bswap16(v: number): number {
  return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
}

/** withSkb wraps a helper body: ctx fields in before, ctx and packet bounds out after. */
function withSkb(name: string, body: (env: RunEnv, skb: SkBuff) => number): (env: RunEnv) => number {
  return (env) => {
    const { skb } = skbState(env, name);
    skb.pullCtx();
    try {
      return body(env, skb);
    } finally {
      skb.pushCtx();
    }
  };
}

/**
 * onSkb wraps a helper body that reads no program-writable __sk_buff field and changes nothing
 * __sk_buff shows or the packet bounds (data, data_end, data_meta, len, hash, ...): pushCtx would
 * rewrite every field with the value it already has, except the narrowed ones (tc_index,
 * tc_classid, queue_mapping), which SkBuff.settleCtx settles as pullCtx + pushCtx would have. So
 * the ctx after the call is byte for byte what withSkb leaves, for ~3 compares instead of ~30 stores.
 * Measured: the full syncs were most of the cost of bpf_skb_store_bytes and the csum_replace helpers.
 * The per-packet helpers (store/load bytes, l3/l4_csum_replace) are written out the same way
 * instead of through this wrapper: its one call site for every body is megamorphic, so V8 inlines
 * none of them (measured on programs/bench/tc_dnat: the helpers' cost fell by about half).
 */
function onSkb(name: string, body: (env: RunEnv, skb: SkBuff) => number): (env: RunEnv) => number {
  return (env) => {
    const { skb } = skbState(env, name);
    skb.settleCtx();
    return body(env, skb);
  };
}

/** makeWritable is bpf_try_make_writable on a linear skb: -ENOMEM when write_len exceeds the packet. */
function makeWritable(skb: SkBuff, writeLen: number): number {
  return writeLen > skb.len ? -E.ENOMEM : 0;
}

/** postpullRcsum is __skb_postpull_rcsum(skb, start, len, off) for CHECKSUM_COMPLETE. */
function postpullRcsum(skb: SkBuff, bytes: Uint8Array, off: number): void {
  if (skb.ipSummed === ChecksumState.COMPLETE) skb.csum = csumBlockSub(skb.csum, csumPartial(bytes, 0), off);
  else if (skb.ipSummed === ChecksumState.PARTIAL) skb.ipSummed = ChecksumState.NONE;
}

/** postpushRcsum is __skb_postpush_rcsum. */
function postpushRcsum(skb: SkBuff, bytes: Uint8Array, off: number): void {
  if (skb.ipSummed === ChecksumState.COMPLETE) skb.csum = csumBlockAdd(skb.csum, csumPartial(bytes, 0), off);
}

/** STORE_BYTES_FLAGS: the flags bpf_skb_store_bytes accepts. */
const STORE_BYTES_FLAGS = BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH;

/**
 * skbStoreBytes is bpf_skb_store_bytes (net/core/filter.c): flags, then offset > INT_MAX, then
 * bpf_try_make_writable(skb, offset + len) (on a linear, unshared skb: offset + len within the
 * packet, else -EFAULT), then the copy between __skb_postpull_rcsum and __skb_postpush_rcsum for
 * BPF_F_RECOMPUTE_CSUM. A bad `from` is a fault whatever the flags (the verifier checks it at
 * load). Only BPF_F_INVALIDATE_HASH changes a field __sk_buff shows (hash), so only then does it
 * sync the ctx in and out (see onSkb).
 */
export function skbStoreBytes(env: RunEnv): number {
  const skb = skbState(env, 'bpf_skb_store_bytes').skb;
  const R = env.regs;
  const len = R[8] >>> 0;
  if (R[7] !== 0) argPtr(env, 3, 'bpf_skb_store_bytes');
  const from = guestAddr(env, R[6] >>> 0, len, false, 'bpf_skb_store_bytes');
  const flags = R[10];
  if (R[11] !== 0 || (flags & ~STORE_BYTES_FLAGS) !== 0) {
    skb.settleCtx();
    return -E.EINVAL;
  }
  if (flags !== 0) return storeBytesFlags(skb, R[4] >>> 0, from, len, flags);
  skb.settleCtx();
  const offset = R[4] >>> 0;
  if (offset > 0x7fffffff || offset + len > skb.len) return -E.EFAULT;
  const at = skb.data + offset;
  const u8 = skb.mem.u8;
  // Header fields (the common case) byte by byte: measured faster than copyWithin, and than a
  // view. The verifier refuses packet pointers as `from` ("helper access to the packet is not
  // allowed"), but a program it would refuse may still pass one here: memmove either way.
  if (len > 16) u8.copyWithin(at, from, from + len);
  else if (at > from) for (let i = len - 1; i >= 0; i--) u8[at + i] = u8[from + i];
  else for (let i = 0; i < len; i++) u8[at + i] = u8[from + i];
  return 0;
}

/** storeBytesFlags is skbStoreBytes with BPF_F_RECOMPUTE_CSUM and/or BPF_F_INVALIDATE_HASH set. */
function storeBytesFlags(skb: SkBuff, offset: number, from: number, len: number, flags: number): number {
  const invalidate = (flags & BPF_F_INVALIDATE_HASH) !== 0;
  if (invalidate) skb.pullCtx();
  else skb.settleCtx();
  try {
    if (offset > 0x7fffffff || offset + len > skb.len) return -E.EFAULT;
    const at = skb.data + offset;
    const u8 = skb.mem.u8;
    if ((flags & BPF_F_RECOMPUTE_CSUM) !== 0) postpullRcsum(skb, u8.subarray(at, at + len), offset);
    moveBytes(u8, at, from, len);
    if ((flags & BPF_F_RECOMPUTE_CSUM) !== 0) postpushRcsum(skb, u8.subarray(at, at + len), offset);
    if (invalidate) skb.clearHash();
    return 0;
  } finally {
    if (invalidate) skb.pushCtx();
  }
}

/**
 * moveBytes copies `len` bytes of VM memory from `src` to `dst` like memmove. Short copies (header
 * fields, the common case) go byte by byte: measured faster than copyWithin, and than a view.
 */
function moveBytes(u8: Uint8Array, dst: number, src: number, len: number): void {
  if (len > 16) u8.copyWithin(dst, src, src + len);
  else if (dst > src) for (let i = len - 1; i >= 0; i--) u8[dst + i] = u8[src + i];
  else for (let i = 0; i < len; i++) u8[dst + i] = u8[src + i];
}

/** skbLoadBytes is bpf_skb_load_bytes (skb_header_pointer on a linear skb). */
export function skbLoadBytes(env: RunEnv): number {
  const skb = skbState(env, 'bpf_skb_load_bytes').skb;
  skb.settleCtx();
  const R = env.regs;
  const offset = R[4] >>> 0;
  const len = R[8] >>> 0;
  if (R[7] !== 0) argPtr(env, 3, 'bpf_skb_load_bytes');
  const to = guestAddr(env, R[6] >>> 0, len, true, 'bpf_skb_load_bytes');
  const u8 = skb.mem.u8;
  if (offset > 0x7fffffff || offset + len > skb.len) {
    u8.fill(0, to, to + len);
    return -E.EFAULT;
  }
  moveBytes(u8, to, skb.data + offset, len);
  return 0;
}

/** skbLoadBytesRelative is bpf_skb_load_bytes_relative. */
export const skbLoadBytesRelative = onSkb('bpf_skb_load_bytes_relative', (env, skb) => {
  const offset = argLo(env, 2);
  const len = argLo(env, 4);
  const to = guestAddr(env, argPtr(env, 3, 'bpf_skb_load_bytes_relative'), len, true, 'bpf_skb_load_bytes_relative');
  const startHeader = argLo(env, 5);
  const end = skb.data + skb.len;
  const u8 = skb.mem.u8;
  let start = -1;
  if (offset <= 0xffff) {
    if (startHeader === BPF_HDR_START_MAC && skb.macHeaderWasSet) start = skb.head + skb.macHeader;
    else if (startHeader === BPF_HDR_START_NET) start = skb.head + skb.networkHeader;
  }
  if (start >= 0 && start + offset + len <= end) {
    moveBytes(u8, to, start + offset, len);
    return 0;
  }
  u8.fill(0, to, to + len);
  return -E.EFAULT;
});

/** skbPullData is bpf_skb_pull_data: the skb is linear, so only the length check remains. */
export const skbPullData = onSkb('bpf_skb_pull_data', (env, skb) => {
  const len = argLo(env, 2);
  return makeWritable(skb, len !== 0 ? len : skb.len);
});

function readSum16(skb: SkBuff, at: number): number {
  return skb.mem.u8[at] | (skb.mem.u8[at + 1] << 8);
}

function writeSum16(skb: SkBuff, at: number, v: number): void {
  skb.mem.u8[at] = v & 0xff;
  skb.mem.u8[at + 1] = (v >>> 8) & 0xff;
}

/**
 * l3CsumReplace is bpf_l3_csum_replace (net/core/filter.c): flags beyond BPF_F_HDR_FIELD_MASK
 * -EINVAL; an odd offset or one above 0xffff -EFAULT; bpf_try_make_writable(offset + 2) -EFAULT;
 * then csum_replace_by_diff (size 0, `from` must be 0), csum_replace2 or csum_replace4 on the
 * __sum16 at data + offset; any other size -EINVAL. The __sum16 is read and written little-endian
 * (memory order, see src/hooks/csum.ts).
 */
export function l3CsumReplace(env: RunEnv): number {
  const skb = skbState(env, 'bpf_l3_csum_replace').skb;
  skb.settleCtx();
  const R = env.regs;
  const flags = R[10];
  if (R[11] !== 0 || (flags & ~BPF_F_HDR_FIELD_MASK) !== 0) return -E.EINVAL;
  const offset = R[4] >>> 0;
  if (offset > 0xffff || (offset & 1) !== 0 || offset + 2 > skb.len) return -E.EFAULT;
  const u8 = skb.mem.u8;
  const at = skb.data + offset;
  const sum = u8[at] | (u8[at + 1] << 8);
  let v: number;
  if (flags === 4) {
    // csum_replace4: csum_fold(csum_add(csum_sub(~csum_unfold(sum), from), to)), on int32
    // (in place, as in l4CsumReplace, so no __wsum is boxed).
    const nfrom = ~R[6];
    const to = R[8];
    let r = (~sum + nfrom) | 0;
    if (r >>> 0 < nfrom >>> 0) r = (r + 1) | 0;
    const t = (r + to) | 0;
    r = t >>> 0 < to >>> 0 ? (t + 1) | 0 : t;
    r = (r & 0xffff) + (r >>> 16);
    v = ~((r & 0xffff) + (r >>> 16));
  } else if (flags === 2) v = csumReplace2(sum, R[6] & 0xffff, R[8] & 0xffff);
  else if (flags === 0) {
    if (R[6] !== 0 || R[7] !== 0) return -E.EINVAL;
    v = csumReplaceByDiff(sum, R[8] >>> 0);
  } else return -E.EINVAL;
  u8[at] = v;
  u8[at + 1] = v >>> 8;
  return 0;
}

/** protoCsumReplaceByDiff is inet_proto_csum_replace_by_diff. */
function protoCsumReplaceByDiff(skb: SkBuff, at: number, diff: number, pseudo: boolean, ipv6: boolean): void {
  const sum = readSum16(skb, at);
  if (skb.ipSummed !== ChecksumState.PARTIAL) {
    writeSum16(skb, at, csumReplaceByDiff(sum, diff));
    if (skb.ipSummed === ChecksumState.COMPLETE && pseudo && !ipv6) skb.csum = ~csumSub(diff, skb.csum) >>> 0;
  } else if (pseudo) {
    writeSum16(skb, at, ~csumFold(csumAdd(diff, csumUnfold(sum))) & 0xffff);
  }
}

/** L4_CSUM_FLAGS: the flags bpf_l4_csum_replace accepts. */
const L4_CSUM_FLAGS = BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_PSEUDO_HDR | BPF_F_HDR_FIELD_MASK | BPF_F_IPV6;

/**
 * l4CsumReplace is bpf_l4_csum_replace (net/core/filter.c): unknown flags -EINVAL; an odd offset or
 * one above 0xffff -EFAULT; bpf_try_make_writable(offset + 2) -EFAULT; with BPF_F_MARK_MANGLED_0
 * and without BPF_F_MARK_ENFORCE a zero checksum is left alone; then
 * inet_proto_csum_replace_by_diff (size 0, `from` must be 0) or inet_proto_csum_replace4 (sizes 2
 * and 4; a 2-byte change is the 4-byte one with the upper halves zero); any other size -EINVAL; a
 * mangled zero becomes CSUM_MANGLED_0 (0xffff).
 */
export function l4CsumReplace(env: RunEnv): number {
  const skb = skbState(env, 'bpf_l4_csum_replace').skb;
  skb.settleCtx();
  const R = env.regs;
  const flags = R[10];
  if (R[11] !== 0 || (flags & ~L4_CSUM_FLAGS) !== 0) return -E.EINVAL;
  const offset = R[4] >>> 0;
  if (offset > 0xffff || (offset & 1) !== 0 || offset + 2 > skb.len) return -E.EFAULT;
  const u8 = skb.mem.u8;
  const at = skb.data + offset;
  const mmzero = (flags & BPF_F_MARK_MANGLED_0) !== 0;
  if (mmzero && (flags & BPF_F_MARK_ENFORCE) === 0 && u8[at] === 0 && u8[at + 1] === 0) return 0;
  const pseudo = (flags & BPF_F_PSEUDO_HDR) !== 0;
  const size = flags & BPF_F_HDR_FIELD_MASK;
  if (size === 0) {
    if (R[6] !== 0 || R[7] !== 0) return -E.EINVAL;
    protoCsumReplaceByDiff(skb, at, R[8] >>> 0, pseudo, (flags & BPF_F_IPV6) !== 0);
  } else if (size === 2 || size === 4) {
    // inet_proto_csum_replace2 is inet_proto_csum_replace4 with the 16-bit values zero-extended.
    // The kernel sums the 8-byte array { ~from, to } with csum_partial: two end-around-carry
    // additions of its words, done here on int32 in place (net/core/utils.c). Helper functions
    // returning a __wsum would box every value of 2^30 or more when V8 does not inline them
    // (measured: that garbage and the calls were a third of this helper's cost).
    const nfrom = size === 4 ? ~R[6] : ~(R[6] & 0xffff);
    const to = size === 4 ? R[8] : R[8] & 0xffff;
    const sum = u8[at] | (u8[at + 1] << 8);
    const summed = skb.ipSummed;
    if (summed !== ChecksumState.PARTIAL) {
      // *sum = csum_fold(csum_partial(diff, 8, ~csum_unfold(*sum)))
      let r = (~sum + nfrom) | 0;
      if (r >>> 0 < nfrom >>> 0) r = (r + 1) | 0;
      const t = (r + to) | 0;
      r = t >>> 0 < to >>> 0 ? (t + 1) | 0 : t;
      r = (r & 0xffff) + (r >>> 16);
      const v = ~((r & 0xffff) + (r >>> 16));
      u8[at] = v;
      u8[at + 1] = v >>> 8;
      // skb->csum = ~csum_partial(diff, 8, ~skb->csum)
      if (summed === ChecksumState.COMPLETE && pseudo) skb.csum = ~csumAdd(csumAdd(~skb.csum >>> 0, nfrom >>> 0), to >>> 0) >>> 0;
    } else if (pseudo) {
      // *sum = ~csum_fold(csum_partial(diff, 8, csum_unfold(*sum)))
      let r = (sum + nfrom) | 0;
      if (r >>> 0 < nfrom >>> 0) r = (r + 1) | 0;
      const t = (r + to) | 0;
      r = t >>> 0 < to >>> 0 ? (t + 1) | 0 : t;
      r = (r & 0xffff) + (r >>> 16);
      const v = (r & 0xffff) + (r >>> 16);
      u8[at] = v;
      u8[at + 1] = v >>> 8;
    }
  } else return -E.EINVAL;
  if (mmzero && u8[at] === 0 && u8[at + 1] === 0) u8[at] = u8[at + 1] = 0xff;
  return 0;
}

/**
 * csumDiff is bpf_csum_diff: returns the folded (not complemented) 16-bit difference. The helper
 * table's checksum family (src/helpers/csum.ts) registers bpf_csum_diff; this copy serves
 * packetHelperMap users that run without the full table.
 */
export function csumDiff(env: RunEnv): number {
  const fromSize = argLo(env, 2);
  const toSize = argLo(env, 4);
  const seed = argLo(env, 5);
  const from = fromSize !== 0 ? guestBytes(env, argPtr(env, 1, 'bpf_csum_diff'), fromSize, false, 'bpf_csum_diff') : new Uint8Array(0);
  const to = toSize !== 0 ? guestBytes(env, argPtr(env, 3, 'bpf_csum_diff'), toSize, false, 'bpf_csum_diff') : new Uint8Array(0);
  let ret = seed;
  if (fromSize !== 0 && toSize !== 0) ret = csumSub(csumPartial(to, ret), csumPartial(from, 0));
  else if (toSize !== 0) ret = csumPartial(to, ret);
  else if (fromSize !== 0) ret = ~csumPartial(from, ~ret >>> 0) >>> 0;
  return csumFrom32to16(ret);
}

/** csumUpdate is bpf_csum_update. */
export const csumUpdate = onSkb('bpf_csum_update', (env, skb) => {
  if (skb.ipSummed === ChecksumState.COMPLETE) {
    skb.csum = csumAdd(skb.csum, argLo(env, 2));
    return skb.csum;
  }
  return -E.ENOTSUPP;
});

/** csumLevel is bpf_csum_level. */
export const csumLevel = onSkb('bpf_csum_level', (env, skb) => {
  if (argHi(env, 2) !== 0) return -E.EINVAL;
  switch (argLo(env, 2)) {
    case BPF_CSUM_LEVEL_INC:
      if (skb.ipSummed === ChecksumState.UNNECESSARY) {
        if (skb.csumLevel < SKB_MAX_CSUM_LEVEL) skb.csumLevel++;
      } else if (skb.ipSummed === ChecksumState.NONE) {
        skb.ipSummed = ChecksumState.UNNECESSARY;
        skb.csumLevel = 0;
      }
      return 0;
    case BPF_CSUM_LEVEL_DEC:
      if (skb.ipSummed === ChecksumState.UNNECESSARY) {
        if (skb.csumLevel === 0) skb.ipSummed = ChecksumState.NONE;
        else skb.csumLevel--;
      }
      return 0;
    case BPF_CSUM_LEVEL_RESET:
      resetChecksumUnnecessary(skb);
      return 0;
    case BPF_CSUM_LEVEL_QUERY:
      return skb.ipSummed === ChecksumState.UNNECESSARY ? skb.csumLevel : -E.EACCES;
    default:
      return -E.EINVAL;
  }
});

function resetChecksumUnnecessary(skb: SkBuff): void {
  if (skb.ipSummed === ChecksumState.UNNECESSARY) {
    skb.ipSummed = ChecksumState.NONE;
    skb.csumLevel = 0;
  }
}

/** genericPush is bpf_skb_generic_push: `len` zero bytes inserted `off` bytes after data. */
function genericPush(skb: SkBuff, off: number, len: number): void {
  skb.pushHeader(len);
  const u8 = skb.mem.u8;
  u8.copyWithin(skb.data, skb.data + len, skb.data + len + off);
  u8.fill(0, skb.data + off, skb.data + off + len);
}

/** genericPop is bpf_skb_generic_pop: removes `len` bytes `off` bytes after data. */
function genericPop(skb: SkBuff, off: number, len: number): number {
  if (off + len > skb.len) return -E.ENOMEM;
  const old = skb.data;
  const u8 = skb.mem.u8;
  if (skb.ipSummed === ChecksumState.COMPLETE) {
    skb.csum = ~csumPartial(u8.subarray(old + off, old + off + len), ~skb.csum >>> 0) >>> 0;
  } else if (skb.ipSummed === ChecksumState.PARTIAL) {
    skb.ipSummed = ChecksumState.NONE;
  }
  skb.pullHeader(len);
  u8.copyWithin(skb.data, old, old + off);
  return 0;
}

/** netHdrPush is bpf_skb_net_hdr_push. */
function netHdrPush(skb: SkBuff, off: number, len: number): void {
  const transSame = skb.transportHeader === skb.networkHeader;
  genericPush(skb, off, len);
  skb.macHeader -= len;
  skb.networkHeader -= len;
  if (transSame) skb.transportHeader = skb.networkHeader;
}

/** netHdrPop is bpf_skb_net_hdr_pop. */
function netHdrPop(skb: SkBuff, off: number, len: number): number {
  const transSame = skb.transportHeader === skb.networkHeader;
  const r = genericPop(skb, off, len);
  if (r !== 0) return r;
  skb.macHeader += len;
  skb.networkHeader += len;
  if (transSame) skb.transportHeader = skb.networkHeader;
  return 0;
}

/** skbChangeProto is bpf_skb_change_proto (IPv4 <-> IPv6 header room only). */
export const skbChangeProto = withSkb('bpf_skb_change_proto', (env, skb) => {
  if (argLo(env, 3) !== 0 || argHi(env, 3) !== 0) return -E.EINVAL;
  const to = bswap16(argLo(env, 2) & 0xffff);
  const off = skb.networkHeader - skb.macHeader;
  const lenDiff = IPV6_HLEN - IPV4_HLEN;
  if (skb.protocol === EthP.IP && to === EthP.IPV6) {
    netHdrPush(skb, off, lenDiff);
    skb.protocol = EthP.IPV6;
    skb.clearHash();
    return 0;
  }
  if (skb.protocol === EthP.IPV6 && to === EthP.IP) {
    const r = netHdrPop(skb, off, lenDiff);
    if (r !== 0) return r;
    skb.protocol = EthP.IP;
    skb.clearHash();
    return 0;
  }
  return -E.ENOTSUPP;
});

/** skbChangeType is bpf_skb_change_type: only HOST..OTHERHOST either way. */
export const skbChangeType = withSkb('bpf_skb_change_type', (env, skb) => {
  const t = argLo(env, 2);
  if (skb.pktType > PacketType.OTHERHOST || t > PacketType.OTHERHOST) return -E.EINVAL;
  skb.pktType = t;
  return 0;
});

/** minLen is __bpf_skb_min_len. */
function minLen(skb: SkBuff): number {
  let min = 0;
  const noff = skb.networkOffset;
  if (noff > 0) min = noff;
  if (skb.transportHeaderWasSet) {
    const toff = skb.transportHeader - skb.dataOff;
    if (toff > 0) min = toff;
  }
  return min;
}

/** skbChangeTail is bpf_skb_change_tail. */
export const skbChangeTail = withSkb('bpf_skb_change_tail', (env, skb) => {
  const newLen = argLo(env, 2);
  if (argLo(env, 3) !== 0 || argHi(env, 3) !== 0 || newLen > BPF_SKB_MAX_LEN || newLen < minLen(skb)) return -E.EINVAL;
  if (skb.encapsulation) return -E.ENOTSUPP;
  if (newLen !== skb.len) {
    if (skb.ipSummed === ChecksumState.COMPLETE) skb.ipSummed = ChecksumState.NONE;
    if (newLen > skb.len) skb.mem.u8.fill(0, skb.data + skb.len, skb.data + newLen);
    skb.len = newLen;
    if (skb.gsoSize !== 0) {
      skb.gsoSize = 0;
      skb.gsoSegs = 0;
    }
  }
  return 0;
});

/** skbChangeHead is bpf_skb_change_head. */
export const skbChangeHead = withSkb('bpf_skb_change_head', (env, skb) => {
  const headRoom = argLo(env, 2);
  const newLen = skb.len + headRoom;
  if (argLo(env, 3) !== 0 || argHi(env, 3) !== 0 || (skb.gsoSize === 0 && newLen > BPF_SKB_MAX_LEN) || newLen > 0xffffffff) {
    return -E.EINVAL;
  }
  if (headRoom > skb.dataOff - skb.metaLen) return -E.ENOMEM;
  skb.pushHeader(headRoom);
  skb.mem.u8.fill(0, skb.data, skb.data + headRoom);
  skb.macHeader = skb.dataOff;
  skb.macLen = skb.networkHeader - skb.macHeader;
  return 0;
});

/** skbAdjustRoom is bpf_skb_adjust_room with bpf_skb_net_grow / bpf_skb_net_shrink. */
export const skbAdjustRoom = withSkb('bpf_skb_adjust_room', (env, skb) => {
  const lenDiff = argS32(env, 2);
  const mode = argLo(env, 3);
  const flags = argLo(env, 4);
  const flagsHi = argHi(env, 4);
  const innerMacLen = flagsHi >>> 24;
  if ((flagsHi & 0x00ffffff) !== 0 || (flags & ~(ADJ_ROOM_MASK_LO | AdjRoom.NO_CSUM_RESET)) !== 0) return -E.EINVAL;
  const diffAbs = Math.abs(lenDiff);
  const shrink = lenDiff < 0;
  if (diffAbs > 0xfff) return -E.EFAULT;
  if (skb.protocol !== EthP.IP && skb.protocol !== EthP.IPV6) return -E.ENOTSUPP;
  const baseLen = skb.protocol === EthP.IP ? IPV4_HLEN : IPV6_HLEN;
  let lenMin = baseLen;
  let off = skb.networkHeader - skb.macHeader;
  if (mode === AdjRoom.MODE_NET) off += baseLen;
  else if (mode !== AdjRoom.MODE_MAC) return -E.ENOTSUPP;
  if ((flags & ADJ_ROOM_DECAP_L3_MASK) !== 0) {
    if (!shrink) return -E.EINVAL;
    switch (flags & ADJ_ROOM_DECAP_L3_MASK) {
      case AdjRoom.DECAP_L3_IPV4:
        lenMin = IPV4_HLEN;
        break;
      case AdjRoom.DECAP_L3_IPV6:
        lenMin = IPV6_HLEN;
        break;
      default:
        return -E.EINVAL;
    }
  }
  const lenCur = skb.len - skb.networkOffset;
  if ((shrink && (diffAbs >= lenCur || lenCur - diffAbs < lenMin)) || (!shrink && skb.len + diffAbs > BPF_SKB_MAX_LEN && skb.gsoSize === 0)) {
    return -E.ENOTSUPP;
  }
  const ret = shrink ? netShrink(skb, off, diffAbs, flags) : netGrow(skb, off, diffAbs, flags, flagsHi !== 0 ? innerMacLen : 0);
  if (ret === 0 && (flags & AdjRoom.NO_CSUM_RESET) === 0) resetChecksumUnnecessary(skb);
  return ret;
});

function netGrow(skb: SkBuff, off: number, lenDiff: number, flags: number, innerMacLen: number): number {
  const encap = (flags & ADJ_ROOM_ENCAP_L3_MASK) !== 0;
  // A GSO skb in a test run has gso_type 0: neither TCP nor UDP_L4.
  if (skb.gsoSize !== 0) return -E.ENOTSUPP;
  let macLen = 0;
  if (encap) {
    if (skb.protocol !== EthP.IP && skb.protocol !== EthP.IPV6) return -E.ENOTSUPP;
    if ((flags & AdjRoom.ENCAP_L3_IPV4) !== 0 && (flags & AdjRoom.ENCAP_L3_IPV6) !== 0) return -E.EINVAL;
    if ((flags & AdjRoom.ENCAP_L4_GRE) !== 0 && (flags & AdjRoom.ENCAP_L4_UDP) !== 0) return -E.EINVAL;
    if ((flags & AdjRoom.ENCAP_L2_ETH) !== 0 && innerMacLen < ETH_HLEN) return -E.EINVAL;
    if (skb.encapsulation) return -E.EALREADY;
    macLen = skb.networkHeader - skb.macHeader;
    if (innerMacLen > lenDiff) return -E.EINVAL;
  }
  if (lenDiff > skb.dataOff - skb.metaLen) return -E.ENOMEM;
  netHdrPush(skb, off, lenDiff);
  if (encap) {
    skb.encapsulation = true;
    skb.networkHeader = skb.dataOff + macLen;
    if ((flags & (AdjRoom.ENCAP_L4_GRE | AdjRoom.ENCAP_L4_UDP)) !== 0) {
      const nh = (flags & AdjRoom.ENCAP_L3_IPV6) !== 0 ? IPV6_HLEN : IPV4_HLEN;
      skb.transportHeader = skb.dataOff + macLen + nh;
    }
    if (skb.protocol === EthP.IP && (flags & AdjRoom.ENCAP_L3_IPV6) !== 0) skb.protocol = EthP.IPV6;
    else if (skb.protocol === EthP.IPV6 && (flags & AdjRoom.ENCAP_L3_IPV4) !== 0) skb.protocol = EthP.IP;
  }
  return 0;
}

function netShrink(skb: SkBuff, off: number, lenDiff: number, flags: number): number {
  if ((flags & ~(AdjRoom.FIXED_GSO | ADJ_ROOM_DECAP_L3_MASK | AdjRoom.NO_CSUM_RESET)) !== 0) return -E.EINVAL;
  if (skb.gsoSize !== 0) return -E.ENOTSUPP;
  const r = netHdrPop(skb, off, lenDiff);
  if (r !== 0) return r;
  if (skb.protocol === EthP.IP && (flags & AdjRoom.DECAP_L3_IPV6) !== 0) skb.protocol = EthP.IPV6;
  else if (skb.protocol === EthP.IPV6 && (flags & AdjRoom.DECAP_L3_IPV4) !== 0) skb.protocol = EthP.IP;
  return 0;
}

function isVlanType(p: number): boolean {
  return p === EthP.P8021Q || p === EthP.P8021AD;
}

/** vlanInsertTag is __vlan_insert_tag: a tag written into the packet after the MAC addresses. */
function vlanInsertTag(skb: SkBuff, proto: number, tci: number): number {
  if (VLAN_HLEN > skb.dataOff - skb.metaLen) return -E.ENOMEM;
  skb.pushHeader(VLAN_HLEN);
  const u8 = skb.mem.u8;
  const d = skb.data;
  u8.copyWithin(d, d + VLAN_HLEN, d + VLAN_HLEN + 12);
  skb.macHeader -= VLAN_HLEN;
  u8[d + 12] = proto >>> 8;
  u8[d + 13] = proto & 0xff;
  u8[d + 14] = (tci >>> 8) & 0xff;
  u8[d + 15] = tci & 0xff;
  // The encapsulated protocol is the frame's own type field, left in place by the memmove of the
  // MAC addresses (__vlan_insert_inner_tag with mac_len >= ETH_TLEN).
  return 0;
}

/** skbVlanPopTag is __skb_vlan_pop: removes the tag after the MAC addresses; returns -errno or the TCI. */
function skbVlanPopTag(skb: SkBuff): number {
  if (skb.dataOff !== skb.macHeader) return -E.EINVAL;
  if (skb.len < ETH_HLEN + VLAN_HLEN) return -E.ENOMEM;
  const u8 = skb.mem.u8;
  const d = skb.data;
  postpullRcsum(skb, u8.subarray(d + 12, d + 12 + VLAN_HLEN), 12);
  const tci = (u8[d + 14] << 8) | u8[d + 15];
  const encap = (u8[d + 16] << 8) | u8[d + 17];
  u8.copyWithin(d + VLAN_HLEN, d, d + 12);
  if (encap >= EthP.P802_3_MIN) skb.protocol = encap;
  else if (u8[d + 18] === 0xff && u8[d + 19] === 0xff) skb.protocol = EthP.P802_3;
  else skb.protocol = EthP.P802_2;
  skb.pullHeader(VLAN_HLEN);
  skb.macHeader += VLAN_HLEN;
  if (skb.networkOffset < ETH_HLEN) skb.networkHeader = skb.dataOff + ETH_HLEN;
  skb.macLen = skb.networkHeader - skb.macHeader;
  return tci;
}

/** skbVlanPush is bpf_skb_vlan_push over skb_vlan_push. */
export const skbVlanPush = withSkb('bpf_skb_vlan_push', (env, skb) => {
  let proto = bswap16(argLo(env, 2) & 0xffff);
  const tci = argLo(env, 3) & 0xffff;
  if (!isVlanType(proto)) proto = EthP.P8021Q;
  if (skb.vlanPresent) {
    if (skb.dataOff !== skb.macHeader) return -E.EINVAL;
    const r = vlanInsertTag(skb, skb.vlanProto, skb.vlanTci);
    if (r !== 0) return r;
    skb.protocol = skb.vlanProto;
    skb.networkHeader -= VLAN_HLEN;
    postpushRcsum(skb, skb.mem.u8.subarray(skb.data + 12, skb.data + 12 + VLAN_HLEN), 12);
  }
  skb.vlanPresent = true;
  skb.vlanProto = proto;
  skb.vlanTci = tci;
  skb.macLen = skb.networkHeader - skb.macHeader;
  return 0;
});

/** skbVlanPop is bpf_skb_vlan_pop over skb_vlan_pop. */
export const skbVlanPop = withSkb('bpf_skb_vlan_pop', (_env, skb) => {
  if (skb.vlanPresent) {
    skb.vlanPresent = false;
    skb.vlanTci = 0;
  } else {
    if (!isVlanType(skb.protocol)) return 0;
    const r = skbVlanPopTag(skb);
    if (r < 0) return r;
  }
  if (!isVlanType(skb.protocol)) return 0;
  const proto = skb.protocol;
  const tci = skbVlanPopTag(skb);
  if (tci < 0) return tci;
  skb.vlanPresent = true;
  skb.vlanProto = proto;
  skb.vlanTci = tci;
  return 0;
});

/** flowHash is xdpsim's stand-in for __skb_get_hash: FNV-1a over the L3/L4 flow tuple, never 0. */
function flowHash(skb: SkBuff): number {
  const u8 = skb.mem.u8;
  const b = skb.bytes();
  let h = 0x811c9dc5;
  const mix = (x: number): void => {
    h = Math.imul(h ^ x, 0x01000193) >>> 0;
  };
  const nh = skb.networkOffset;
  let proto = -1;
  let l4 = -1;
  if (skb.protocol === EthP.IP && nh + IPV4_HLEN <= b.length) {
    for (let i = 12; i < 20; i++) mix(b[nh + i]);
    proto = b[nh + 9];
    l4 = nh + (b[nh] & 0xf) * 4;
  } else if (skb.protocol === EthP.IPV6 && nh + IPV6_HLEN <= b.length) {
    for (let i = 8; i < 40; i++) mix(b[nh + i]);
    proto = b[nh + 6];
    l4 = nh + IPV6_HLEN;
  }
  if (proto >= 0) mix(proto);
  if ((proto === 6 || proto === 17) && l4 + 4 <= b.length) for (let i = 0; i < 4; i++) mix(b[l4 + i]);
  void u8;
  return h === 0 ? 1 : h;
}

/** getHashRecalc is bpf_get_hash_recalc (skb_get_hash). */
export const getHashRecalc = withSkb('bpf_get_hash_recalc', (_env, skb) => {
  if (!skb.l4Hash && !skb.swHash) {
    skb.hash = flowHash(skb);
    skb.swHash = false;
  }
  return skb.hash | 0;
});

/** setHash is bpf_set_hash (__skb_set_sw_hash(skb, hash, true)). */
export const setHash = withSkb('bpf_set_hash', (env, skb) => {
  skb.hash = argLo(env, 2);
  skb.l4Hash = true;
  skb.swHash = true;
  return 0;
});

/** setHashInvalid is bpf_set_hash_invalid (skb_clear_hash). */
export const setHashInvalid = withSkb('bpf_set_hash_invalid', (_env, skb) => {
  skb.clearHash();
  return 0;
});

/** getCgroupClassid is bpf_get_cgroup_classid: the current task's net_cls classid. */
export function getCgroupClassid(env: RunEnv): number {
  return skbState(env, 'bpf_get_cgroup_classid').datapath.cgroupClassid();
}

/** skbUnderCgroup is bpf_skb_under_cgroup; a simulated cgroup array never holds a cgroup. */
export const skbUnderCgroup = withSkb('bpf_skb_under_cgroup', (env, skb) => {
  const { datapath } = skbState(env, 'bpf_skb_under_cgroup');
  const map = datapath.resolveMap(argPtr(env, 2, 'bpf_skb_under_cgroup'));
  if (map === undefined) throw new GuestFault(FaultCode.HelperArgs, 'bpf_skb_under_cgroup: r2 is not a map handle');
  if (!skb.hasSocket) return -E.ENOENT;
  if (argLo(env, 3) >= map.spec.maxEntries) return -E.E2BIG;
  return -E.EAGAIN;
});

/** vlanGetProtocol is __vlan_get_protocol: the protocol after any VLAN headers in the packet. */
function vlanGetProtocol(skb: SkBuff): number {
  let type = skb.vlanPresent ? skb.protocol : skb.protocol;
  if (!isVlanType(type)) return type;
  const b = skb.bytes();
  let depth = skb.macLen !== 0 ? skb.macLen - VLAN_HLEN : ETH_HLEN;
  let parse = 8;
  do {
    if (parse-- === 0) return 0;
    if (depth + VLAN_HLEN > b.length || --parse === 0) return 0;
    type = (b[depth + 2] << 8) | b[depth + 3];
    depth += VLAN_HLEN;
  } while (isVlanType(type));
  return type;
}

/** skbEcnSetCe is bpf_skb_ecn_set_ce (INET_ECN_set_ce on the network header). */
export const skbEcnSetCe = onSkb('bpf_skb_ecn_set_ce', (_env, skb) => {
  const proto = vlanGetProtocol(skb);
  const hlen = proto === EthP.IP ? IPV4_HLEN : proto === EthP.IPV6 ? IPV6_HLEN : 0;
  if (hlen === 0 || skb.len < hlen) return 0;
  const u8 = skb.mem.u8;
  const nh = skb.head + skb.networkHeader;
  if (nh + hlen > skb.data + skb.len) return 0;
  if (proto === EthP.IP) {
    const tos = u8[nh + 1];
    const ecn = (tos + 1) & 3;
    if ((ecn & 2) === 0) return ecn === 0 ? 1 : 0;
    const checkAdd = (bswap16(0xfffb) + bswap16(ecn)) & 0xffff;
    writeSum16(skb, nh + 10, csum16Add(readSum16(skb, nh + 10), checkAdd));
    u8[nh + 1] = tos | 3;
    return 1;
  }
  const dsfield = (((u8[nh] << 8) | u8[nh + 1]) >>> 4) & 0xff;
  if ((dsfield & 3) === 0) return 0;
  const from = new Uint8Array(u8.subarray(nh, nh + 4));
  u8[nh + 1] |= 3 << 4;
  if (skb.ipSummed === ChecksumState.COMPLETE) {
    skb.csum = csumAdd(csumSub(skb.csum, csumPartial(from, 0)), csumPartial(u8.subarray(nh, nh + 4), 0));
  }
  return 1;
});

/** skbCheckMtu is bpf_skb_check_mtu. */
export const skbCheckMtu = onSkb('bpf_skb_check_mtu', (env, skb) => {
  const { datapath } = skbState(env, 'bpf_check_mtu');
  const ifindex = argLo(env, 2);
  const mtuBytes = guestBytes(env, argPtr(env, 3, 'bpf_check_mtu'), 4, true, 'bpf_check_mtu');
  const dv = new DataView(mtuBytes.buffer, mtuBytes.byteOffset, 4);
  const lenDiff = argS32(env, 4);
  const flags = argLo(env, 5);
  let mtu = 0;
  let ret: number = BPF_MTU_CHK_RET_FRAG_NEEDED;
  const mtuIn = dv.getUint32(0, true);
  // Bad flags return before *mtu_len is written (measured on 6.18).
  if (argHi(env, 5) !== 0 || (flags & ~BPF_MTU_CHK_SEGS) !== 0) return -E.EINVAL;
  if ((flags & BPF_MTU_CHK_SEGS) !== 0 && (lenDiff !== 0 || mtuIn !== 0)) return -E.EINVAL;
  {
    const dev = devViaIfindex(datapath, skb.dev.ifindex, ifindex);
    if (dev === undefined) {
      ret = -E.ENODEV;
    } else {
      mtu = dev.mtu;
      const devLen = mtu + dev.hardHeaderLen;
      let skbLen = mtuIn !== 0 ? (mtuIn + dev.hardHeaderLen) | 0 : skb.len;
      skbLen = (skbLen + lenDiff) | 0;
      if (skbLen <= devLen || skb.gsoSize !== 0) ret = BPF_MTU_CHK_RET_SUCCESS;
    }
  }
  dv.setUint32(0, mtu, true);
  return ret;
});

/** tcRedirect is bpf_redirect for TC: only BPF_F_INGRESS is allowed. */
function tcRedirect(env: RunEnv): number {
  const { redirect } = skbState(env, 'bpf_redirect');
  const flags = argLo(env, 2);
  if (argHi(env, 2) !== 0 || (flags & ~BPF_F_INGRESS) !== 0) return TcAction.SHOT;
  redirect.tgtIndex = argLo(env, 1);
  redirect.flags = flags;
  redirect.mapType = 0;
  redirect.map = undefined;
  redirect.set = true;
  return TcAction.REDIRECT;
}

/**
 * cloneRedirect is bpf_clone_redirect: a copy of the packet goes to `ifindex` now (egress, or
 * ingress with BPF_F_INGRESS) while the program goes on with the original. A frame without a link
 * layer header left before its network header gives -ERANGE (__bpf_redirect_common).
 */
export const cloneRedirect = withSkb('bpf_clone_redirect', (env, skb) => {
  const { datapath } = skbState(env, 'bpf_clone_redirect');
  const ifindex = argLo(env, 2);
  const flags = argLo(env, 3);
  if (argHi(env, 3) !== 0 || (flags & ~BPF_F_INGRESS) !== 0) return -E.EINVAL;
  if (datapath.device(ifindex) === undefined) return -E.EINVAL;
  if (skb.macHeader >= skb.networkHeader || skb.len === 0) return -E.ERANGE;
  const from = skb.head + skb.macHeader;
  const frame = skb.mem.copy(from, skb.data + skb.len - from);
  return datapath.cloneRedirect?.(frame, ifindex, (flags & BPF_F_INGRESS) !== 0) ?? 0;
});

/** Flags of the tunnel-key helpers. */
export const BPF_F_TUNINFO_IPV6 = 1 << 0;
export const BPF_F_ZERO_CSUM_TX = 1 << 1;
export const BPF_F_DONT_FRAGMENT = 1 << 2;
export const BPF_F_SEQ_NUMBER = 1 << 3;
export const BPF_F_NO_TUNNEL_KEY = 1 << 4;
export const BPF_F_TUNINFO_FLAGS = 1 << 4;
/** sizeof(struct bpf_tunnel_key) and the legacy sizes the helpers accept. */
export const TUNNEL_KEY_SIZE = 44;
const TUNNEL_KEY_COMPAT = [28, 24, 22, 8];
/** IP_TUNNEL_*_BIT values (include/net/ip_tunnels.h). */
const TunBit = { CSUM: 0, KEY: 2, SEQ: 3, DONT_FRAGMENT: 8, GENEVE_OPT: 11, VXLAN_OPT: 12, NOCACHE: 13, ERSPAN_OPT: 14, GTP_OPT: 15 } as const;
/** IP_TUNNEL_OPTS_MAX: options_len is a u8. */
const IP_TUNNEL_OPTS_MAX = 255;
const IPV6_FLOWLABEL_MASK = 0x000fffff;

/** skbSetTunnelKey is bpf_skb_set_tunnel_key: attaches TX tunnel metadata to the skb. */
export const skbSetTunnelKey = onSkb('bpf_skb_set_tunnel_key', (env, skb) => {
  const size = argLo(env, 3);
  const flags = argLo(env, 4);
  const allowed = BPF_F_TUNINFO_IPV6 | BPF_F_ZERO_CSUM_TX | BPF_F_DONT_FRAGMENT | BPF_F_SEQ_NUMBER | BPF_F_NO_TUNNEL_KEY;
  if (argHi(env, 4) !== 0 || (flags & ~allowed) !== 0) return -E.EINVAL;
  if (size !== TUNNEL_KEY_SIZE && !TUNNEL_KEY_COMPAT.includes(size)) return -E.EINVAL;
  const from = new Uint8Array(TUNNEL_KEY_SIZE);
  from.set(guestBytes(env, argPtr(env, 2, 'bpf_skb_set_tunnel_key'), size, false, 'bpf_skb_set_tunnel_key'));
  const dv = new DataView(from.buffer);
  const ipv6 = (flags & BPF_F_TUNINFO_IPV6) !== 0;
  const label = dv.getUint32(24, true);
  if ((!ipv6 && label !== 0) || dv.getUint16(22, true) !== 0) return -E.EINVAL;
  let tf = 1 << TunBit.NOCACHE;
  if ((flags & BPF_F_DONT_FRAGMENT) !== 0) tf |= 1 << TunBit.DONT_FRAGMENT;
  if ((flags & BPF_F_ZERO_CSUM_TX) === 0) tf |= 1 << TunBit.CSUM;
  if ((flags & BPF_F_SEQ_NUMBER) !== 0) tf |= 1 << TunBit.SEQ;
  if ((flags & BPF_F_NO_TUNNEL_KEY) === 0) tf |= 1 << TunBit.KEY;
  const be32 = (v: number): Uint8Array => Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  skb.tunnel = {
    ipv6,
    tunId: dv.getUint32(0, true),
    tos: from[20],
    ttl: from[21],
    flags: tf,
    dst: ipv6 ? from.slice(4, 20) : be32(dv.getUint32(4, true)),
    src: ipv6 ? from.slice(28, 44) : be32(dv.getUint32(28, true)),
    label: ipv6 ? label & IPV6_FLOWLABEL_MASK : 0,
    options: new Uint8Array(0),
  };
  return 0;
});

/** skbGetTunnelKey is bpf_skb_get_tunnel_key: note that remote is the key's source address. */
export const skbGetTunnelKey = onSkb('bpf_skb_get_tunnel_key', (env, skb) => {
  const size = argLo(env, 3);
  const flags = argLo(env, 4);
  const to = guestBytes(env, argPtr(env, 2, 'bpf_skb_get_tunnel_key'), size, true, 'bpf_skb_get_tunnel_key');
  const info = skb.tunnel;
  const fail = (e: number): number => {
    to.fill(0);
    return e;
  };
  if (info === undefined || argHi(env, 4) !== 0 || (flags & ~(BPF_F_TUNINFO_IPV6 | BPF_F_TUNINFO_FLAGS)) !== 0) return fail(-E.EINVAL);
  const ipv6 = (flags & BPF_F_TUNINFO_IPV6) !== 0;
  if (info.ipv6 !== ipv6) return fail(-E.EPROTO);
  if (size !== TUNNEL_KEY_SIZE && !(size === 28 || size === 24 || size === 22 || (size === 8 && !info.ipv6))) return fail(-E.EINVAL);
  const key = new Uint8Array(TUNNEL_KEY_SIZE);
  const dv = new DataView(key.buffer);
  dv.setUint32(0, info.tunId >>> 0, true);
  key[20] = info.tos;
  key[21] = info.ttl;
  if ((flags & BPF_F_TUNINFO_FLAGS) !== 0) dv.setUint16(22, info.flags & 0xffff, false);
  if (ipv6) {
    key.set(info.src, 4);
    key.set(info.dst, 28);
    dv.setUint32(24, info.label, true);
  } else {
    dv.setUint32(4, new DataView(info.src.buffer, info.src.byteOffset, 4).getUint32(0, false), true);
    dv.setUint32(28, new DataView(info.dst.buffer, info.dst.byteOffset, 4).getUint32(0, false), true);
  }
  to.set(key.subarray(0, size));
  return 0;
});

/** skbSetTunnelOpt is bpf_skb_set_tunnel_opt: options for metadata set by bpf_skb_set_tunnel_key. */
export const skbSetTunnelOpt = onSkb('bpf_skb_set_tunnel_opt', (env, skb) => {
  const size = argLo(env, 3);
  const from = guestBytes(env, argPtr(env, 2, 'bpf_skb_set_tunnel_opt'), size, false, 'bpf_skb_set_tunnel_opt');
  const info = skb.tunnel;
  if (info === undefined || (size & 3) !== 0) return -E.EINVAL;
  if (size > IP_TUNNEL_OPTS_MAX) return -E.ENOMEM;
  info.options = from.slice();
  if (size !== 0) info.flags |= (1 << TunBit.GENEVE_OPT) | (1 << TunBit.VXLAN_OPT) | (1 << TunBit.ERSPAN_OPT) | (1 << TunBit.GTP_OPT);
  return 0;
});

/** skbGetTunnelOpt is bpf_skb_get_tunnel_opt: returns the options' length. */
export const skbGetTunnelOpt = onSkb('bpf_skb_get_tunnel_opt', (env, skb) => {
  const size = argLo(env, 3);
  const to = guestBytes(env, argPtr(env, 2, 'bpf_skb_get_tunnel_opt'), size, true, 'bpf_skb_get_tunnel_opt');
  const info = skb.tunnel;
  const optMask = (1 << TunBit.GENEVE_OPT) | (1 << TunBit.VXLAN_OPT) | (1 << TunBit.ERSPAN_OPT) | (1 << TunBit.GTP_OPT);
  if (info === undefined || (info.flags & optMask) === 0) {
    to.fill(0);
    return -E.ENOENT;
  }
  if (size < info.options.length) {
    to.fill(0);
    return -E.ENOMEM;
  }
  to.set(info.options);
  to.fill(0, info.options.length);
  return info.options.length;
});

/** BPF_F_NEIGH / BPF_F_PEER / BPF_F_NEXTHOP: the kernel's internal redirect flags. */
export const BPF_F_NEIGH = 1 << 16;
export const BPF_F_PEER = 1 << 17;
export const BPF_F_NEXTHOP = 1 << 18;

/** redirectPeer is bpf_redirect_peer. */
export function redirectPeer(env: RunEnv): number {
  const { redirect } = skbState(env, 'bpf_redirect_peer');
  if (argLo(env, 2) !== 0 || argHi(env, 2) !== 0) return TcAction.SHOT;
  redirect.tgtIndex = argLo(env, 1);
  redirect.flags = BPF_F_PEER;
  redirect.set = true;
  return TcAction.REDIRECT;
}

/** redirectNeigh is bpf_redirect_neigh (the nexthop parameters are checked, not kept). */
export function redirectNeigh(env: RunEnv): number {
  const { redirect } = skbState(env, 'bpf_redirect_neigh');
  const plen = argLo(env, 3);
  if ((plen !== 0 && plen < 20) || argLo(env, 4) !== 0 || argHi(env, 4) !== 0) return TcAction.SHOT;
  if (plen !== 0) guestBytes(env, argPtr(env, 2, 'bpf_redirect_neigh'), plen, false, 'bpf_redirect_neigh');
  redirect.tgtIndex = argLo(env, 1);
  redirect.flags = BPF_F_NEIGH | (plen !== 0 ? BPF_F_NEXTHOP : 0);
  redirect.set = true;
  return TcAction.REDIRECT;
}

/** redirect dispatches bpf_redirect to the XDP or TC variant, as the kernel's func_proto tables do. */
export function redirect(env: RunEnv): number {
  return packetState(env, 'bpf_redirect').kind === 'xdp' ? xdpRedirect(env) : tcRedirect(env);
}

/** checkMtu dispatches bpf_check_mtu to the XDP or TC variant. */
export function checkMtu(env: RunEnv): number {
  return packetState(env, 'bpf_check_mtu').kind === 'xdp' ? xdpCheckMtu(env) : skbCheckMtu(env);
}

const TC = [ProgType.SCHED_CLS, ProgType.SCHED_ACT];

/** SKB_HELPERS lists the TC packet helpers for the helper table. */
export const SKB_HELPERS: readonly PacketHelperDef[] = [
  { id: 9, name: 'skb_store_bytes', progTypes: TC, fn: skbStoreBytes },
  { id: 13, name: 'clone_redirect', progTypes: TC, fn: cloneRedirect },
  { id: 10, name: 'l3_csum_replace', progTypes: TC, fn: l3CsumReplace },
  { id: 11, name: 'l4_csum_replace', progTypes: TC, fn: l4CsumReplace },
  { id: 17, name: 'get_cgroup_classid', progTypes: TC, fn: getCgroupClassid },
  { id: 18, name: 'skb_vlan_push', progTypes: TC, fn: skbVlanPush },
  { id: 19, name: 'skb_vlan_pop', progTypes: TC, fn: skbVlanPop },
  { id: 20, name: 'skb_get_tunnel_key', progTypes: TC, fn: skbGetTunnelKey },
  { id: 21, name: 'skb_set_tunnel_key', progTypes: TC, fn: skbSetTunnelKey },
  { id: 29, name: 'skb_get_tunnel_opt', progTypes: TC, fn: skbGetTunnelOpt },
  { id: 30, name: 'skb_set_tunnel_opt', progTypes: TC, fn: skbSetTunnelOpt },
  { id: 26, name: 'skb_load_bytes', progTypes: TC, fn: skbLoadBytes },
  { id: 31, name: 'skb_change_proto', progTypes: TC, fn: skbChangeProto },
  { id: 32, name: 'skb_change_type', progTypes: TC, fn: skbChangeType },
  { id: 33, name: 'skb_under_cgroup', progTypes: TC, fn: skbUnderCgroup },
  { id: 34, name: 'get_hash_recalc', progTypes: TC, fn: getHashRecalc },
  { id: 38, name: 'skb_change_tail', progTypes: TC, fn: skbChangeTail },
  { id: 39, name: 'skb_pull_data', progTypes: TC, fn: skbPullData },
  { id: 40, name: 'csum_update', progTypes: TC, fn: csumUpdate },
  { id: 41, name: 'set_hash_invalid', progTypes: TC, fn: setHashInvalid },
  { id: 43, name: 'skb_change_head', progTypes: TC, fn: skbChangeHead },
  { id: 48, name: 'set_hash', progTypes: TC, fn: setHash },
  { id: 50, name: 'skb_adjust_room', progTypes: TC, fn: skbAdjustRoom },
  { id: 68, name: 'skb_load_bytes_relative', progTypes: TC, fn: skbLoadBytesRelative },
  { id: 97, name: 'skb_ecn_set_ce', progTypes: TC, fn: skbEcnSetCe },
  { id: 135, name: 'csum_level', progTypes: TC, fn: csumLevel },
  { id: 152, name: 'redirect_neigh', progTypes: TC, fn: redirectNeigh },
  { id: 155, name: 'redirect_peer', progTypes: TC, fn: redirectPeer },
  { id: 23, name: 'redirect', progTypes: [...TC, ProgType.XDP], fn: redirect },
  { id: 163, name: 'check_mtu', progTypes: [...TC, ProgType.XDP], fn: checkMtu },
  { id: 69, name: 'fib_lookup', progTypes: [...TC, ProgType.XDP], fn: fibLookup },
];

/** PACKET_HELPERS lists every packet helper of the XDP and TC hooks. */
export const PACKET_HELPERS: readonly PacketHelperDef[] = [...XDP_HELPERS, ...SKB_HELPERS];

/**
 * PacketHelperTableDef has the shape of the helper table's HelperDef (src/helpers/table.ts), so
 * the packet helpers join makeHelperTable through its `extra` option.
 */
export interface PacketHelperTableDef {
  readonly id: number;
  readonly name: string;
  readonly gplOnly: boolean;
  readonly progTypes: readonly number[];
  readonly make: () => HelperImpl;
}

/** packetHelperDefs returns the packet helpers as helper-table definitions (none is gpl_only). */
export function packetHelperDefs(): PacketHelperTableDef[] {
  return PACKET_HELPERS.map((h) => ({ id: h.id, name: h.name, gplOnly: false, progTypes: h.progTypes, make: () => h.fn }));
}

/**
 * packetHelperMap returns the packet helpers by id, plus bpf_csum_diff, for runs that use no
 * other helper family (unit tests, the parity suite's packet programs).
 */
export function packetHelperMap(): Map<number, HelperImpl> {
  const m = new Map<number, HelperImpl>(PACKET_HELPERS.map((h) => [h.id, h.fn]));
  m.set(28, csumDiff);
  return m;
}
