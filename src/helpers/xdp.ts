/**
 * xdp helpers — the packet helpers of XDP programs, with the kernel's semantics and return codes
 * (net/core/filter.c: bpf_xdp_adjust_head, bpf_xdp_adjust_meta, bpf_xdp_adjust_tail and the
 * frags variants, bpf_xdp_get_buff_len, bpf_xdp_load_bytes / store_bytes over bpf_xdp_pointer and
 * bpf_xdp_copy_buf, bpf_xdp_check_mtu, bpf_xdp_redirect, bpf_xdp_redirect_map over
 * __bpf_xdp_redirect_map). Every helper that moves packet bounds re-syncs the xdp_md fields and
 * the packet region, so stale pointers a program kept fault as the verifier's invalidation
 * intends.
 */
import type { RunEnv } from '../vm/program.js';
import { argHi, argLo, argPtr, argS32, guestBytes } from '../hooks/args.js';
import { type PacketHelperDef, packetState, xdpState } from '../hooks/state.js';
import { ETH_HLEN, XDP_FRAME_SIZE, XDP_METADATA_MAX, XdpAction } from '../hooks/xdp.js';
import { ProgType } from '../hooks/tc.js';
import { MapType } from '../maps/spec.js';
import { BPF_MTU_CHK_RET_FRAG_NEEDED, BPF_MTU_CHK_RET_SUCCESS, E, devViaIfindex } from './packet-common.js';

/** BPF_F_BROADCAST and BPF_F_EXCLUDE_INGRESS (bpf_redirect_map flags). */
export const BPF_F_BROADCAST = 1 << 3;
export const BPF_F_EXCLUDE_INGRESS = 1 << 4;

/** xdpAdjustHead is bpf_xdp_adjust_head. */
export function xdpAdjustHead(env: RunEnv): number {
  const { xdp } = xdpState(env, 'bpf_xdp_adjust_head');
  const offset = argS32(env, 2);
  const metalen = xdp.metaLen;
  const dataStart = xdp.hardStart + XDP_FRAME_SIZE + metalen;
  const data = xdp.data + offset;
  if (data < dataStart || data > xdp.dataEnd - ETH_HLEN) return -E.EINVAL;
  if (metalen !== 0) xdp.mem.u8.copyWithin(xdp.dataMeta + offset, xdp.dataMeta, xdp.dataMeta + metalen);
  xdp.dataMeta += offset;
  xdp.data = data;
  xdp.sync();
  return 0;
}

/** xdpAdjustMeta is bpf_xdp_adjust_meta. */
export function xdpAdjustMeta(env: RunEnv): number {
  const { xdp } = xdpState(env, 'bpf_xdp_adjust_meta');
  const offset = argS32(env, 2);
  if (!xdp.metaValid) return -E.ENOTSUPP;
  const meta = xdp.dataMeta + offset;
  if (meta < xdp.hardStart + XDP_FRAME_SIZE || meta > xdp.data) return -E.EINVAL;
  const metalen = xdp.data - meta;
  if ((metalen & 3) !== 0 || metalen > XDP_METADATA_MAX) return -E.EACCES;
  xdp.dataMeta = meta;
  xdp.sync();
  return 0;
}

/** xdpAdjustTail is bpf_xdp_adjust_tail, linear and multi-buffer. */
export function xdpAdjustTail(env: RunEnv): number {
  const { xdp } = xdpState(env, 'bpf_xdp_adjust_tail');
  const offset = argS32(env, 2);
  if (xdp.frags.length > 0) {
    if (offset < 0) {
      // bpf_xdp_frags_shrink_tail
      let shrinkBy = -offset;
      if (shrinkBy > xdp.buffLen - ETH_HLEN) return -E.EINVAL;
      for (let i = xdp.frags.length - 1; i >= 0 && shrinkBy > 0; i--) {
        const f = xdp.frags[i];
        const s = Math.min(shrinkBy, f.size);
        shrinkBy -= s;
        if (s === f.size) {
          xdp.frags.pop();
        } else {
          f.size -= s;
          break;
        }
      }
      if (xdp.frags.length === 0) xdp.dataEnd -= shrinkBy;
      xdp.sync();
      return 0;
    }
    // bpf_xdp_frags_increase_tail
    const f = xdp.frags[xdp.frags.length - 1];
    if (xdp.rxq.fragSize === 0 || xdp.rxq.fragSize > xdp.frameSize) return -E.EOPNOTSUPP;
    const tailroom = xdp.rxq.fragSize - f.size;
    if (offset > tailroom) return -E.EINVAL;
    f.page.fill(0, f.size, f.size + offset);
    f.size += offset;
    return 0;
  }
  const dataEnd = xdp.dataEnd + offset;
  if (dataEnd > xdp.hardEnd) return -E.EINVAL;
  if (dataEnd < xdp.data + ETH_HLEN) return -E.EINVAL;
  if (offset > 0) xdp.mem.u8.fill(0, xdp.dataEnd, dataEnd);
  xdp.dataEnd = dataEnd;
  xdp.sync();
  return 0;
}

/** xdpGetBuffLen is bpf_xdp_get_buff_len. */
export function xdpGetBuffLen(env: RunEnv): number {
  return xdpState(env, 'bpf_xdp_get_buff_len').xdp.buffLen;
}

/** xdpPointerCheck is the error half of bpf_xdp_pointer: 0 when [offset, offset+len) is in the frame. */
function xdpPointerCheck(buffLen: number, offset: number, len: number): number {
  if (offset > 0xffff || len > 0xffff) return -E.EFAULT;
  if (offset + len > buffLen) return -E.EINVAL;
  return 0;
}

/** xdpLoadBytes is bpf_xdp_load_bytes. */
export function xdpLoadBytes(env: RunEnv): number {
  const { xdp } = xdpState(env, 'bpf_xdp_load_bytes');
  const offset = argLo(env, 2);
  const len = argLo(env, 4);
  const buf = guestBytes(env, argPtr(env, 3, 'bpf_xdp_load_bytes'), len, true, 'bpf_xdp_load_bytes');
  const e = xdpPointerCheck(xdp.buffLen, offset, len);
  if (e !== 0) return e;
  xdp.copyBuf(offset, buf, false);
  return 0;
}

/** xdpStoreBytes is bpf_xdp_store_bytes. */
export function xdpStoreBytes(env: RunEnv): number {
  const { xdp } = xdpState(env, 'bpf_xdp_store_bytes');
  const offset = argLo(env, 2);
  const len = argLo(env, 4);
  const buf = guestBytes(env, argPtr(env, 3, 'bpf_xdp_store_bytes'), len, false, 'bpf_xdp_store_bytes').slice();
  const e = xdpPointerCheck(xdp.buffLen, offset, len);
  if (e !== 0) return e;
  xdp.copyBuf(offset, buf, true);
  return 0;
}

/** xdpCheckMtu is bpf_xdp_check_mtu. */
export function xdpCheckMtu(env: RunEnv): number {
  const { xdp, datapath } = xdpState(env, 'bpf_xdp_check_mtu');
  const ifindex = argLo(env, 2);
  const mtuPtr = argPtr(env, 3, 'bpf_xdp_check_mtu');
  const lenDiff = argS32(env, 4);
  const mtuBytes = guestBytes(env, mtuPtr, 4, true, 'bpf_xdp_check_mtu');
  if (argLo(env, 5) !== 0 || argHi(env, 5) !== 0) return -E.EINVAL;
  const dev = devViaIfindex(datapath, xdp.rxq.ifindex, ifindex);
  if (dev === undefined) return -E.ENODEV;
  const dv = new DataView(mtuBytes.buffer, mtuBytes.byteOffset, 4);
  const devLen = dev.mtu + dev.hardHeaderLen;
  const mtuIn = dv.getUint32(0, true);
  let xdpLen = mtuIn !== 0 ? (mtuIn + dev.hardHeaderLen) | 0 : xdp.linearLen;
  xdpLen = (xdpLen + lenDiff) | 0;
  const ret = xdpLen > devLen ? BPF_MTU_CHK_RET_FRAG_NEEDED : BPF_MTU_CHK_RET_SUCCESS;
  dv.setUint32(0, dev.mtu, true);
  return ret;
}

/** xdpRedirect is bpf_xdp_redirect: any flag aborts; otherwise record the ifindex. */
export function xdpRedirect(env: RunEnv): number {
  const { redirect } = xdpState(env, 'bpf_redirect');
  if (argLo(env, 2) !== 0 || argHi(env, 2) !== 0) return XdpAction.ABORTED;
  redirect.tgtIndex = argLo(env, 1);
  redirect.mapType = 0;
  redirect.map = undefined;
  redirect.flags = 0;
  redirect.set = true;
  return XdpAction.REDIRECT;
}

/** xdpRedirectMap is bpf_redirect_map over __bpf_xdp_redirect_map (devmap, devmap_hash, cpumap, xskmap). */
export function xdpRedirectMap(env: RunEnv): number {
  const { redirect, datapath } = xdpState(env, 'bpf_redirect_map');
  const handle = argPtr(env, 1, 'bpf_redirect_map');
  const map = datapath.resolveMap(handle);
  if (map === undefined) {
    throw new Error(`bpf_redirect_map: r1 0x${handle.toString(16)} is not a map handle`);
  }
  const type = map.spec.type;
  const key = argLo(env, 2);
  const flagsLo = argLo(env, 3);
  const actionMask = 3;
  const flagMask = type === MapType.DEVMAP || type === MapType.DEVMAP_HASH ? BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS : 0;
  if (argHi(env, 3) !== 0 || (flagsLo & ~(actionMask | flagMask)) !== 0) return XdpAction.ABORTED;
  if (type !== MapType.DEVMAP && type !== MapType.DEVMAP_HASH && type !== MapType.CPUMAP && type !== MapType.XSKMAP) {
    throw new Error(`bpf_redirect_map: map ${map.spec.name} of type ${type} cannot be a redirect target`);
  }
  const k = new Uint8Array(4);
  new DataView(k.buffer).setUint32(0, key, true);
  // The map's own lookup (__dev_map_lookup_elem, __cpu_map_lookup_elem, __xsk_map_lookup_elem).
  const present = map.lookupAddr(k, env.cpu ?? 0) !== 0;
  if (!present && (flagsLo & BPF_F_BROADCAST) === 0) {
    redirect.mapType = 0;
    redirect.map = undefined;
    redirect.set = false;
    return flagsLo & actionMask;
  }
  redirect.tgtIndex = key;
  redirect.mapType = type;
  redirect.map = map;
  redirect.flags = (flagsLo & BPF_F_BROADCAST) !== 0 ? flagsLo : 0;
  redirect.set = true;
  return XdpAction.REDIRECT;
}

/** BPF_FIB_LOOKUP_* flags (DIRECT, OUTPUT, SKIP_NEIGH, TBID, SRC, MARK). */
export const BPF_FIB_LOOKUP_FLAGS = 0x3f;
/** BPF_FIB_LKUP_RET_* results. */
export const FibRet = {
  SUCCESS: 0,
  BLACKHOLE: 1,
  UNREACHABLE: 2,
  PROHIBIT: 3,
  NOT_FWDED: 4,
  FWD_DISABLED: 5,
  UNSUPP_LWT: 6,
  NO_NEIGH: 7,
  FRAG_NEEDED: 8,
  NO_SRC_ADDR: 9,
} as const;
/** sizeof(struct bpf_fib_lookup). */
export const FIB_LOOKUP_SIZE = 64;
const AF_INET = 2;
const AF_INET6 = 10;

/**
 * fibLookup is bpf_fib_lookup for XDP and TC (bpf_xdp_fib_lookup / bpf_skb_fib_lookup): the
 * argument checks are the kernel's; the route decision is the datapath's (DatapathHooks.fibLookup;
 * without one, nothing is routed and every lookup answers BPF_FIB_LKUP_RET_NOT_FWDED). On success
 * the next hop's ifindex, MACs and MTU are written back and the VLAN fields cleared, as
 * bpf_fib_set_fwd_params does; on FRAG_NEEDED the MTU goes to mtu_result.
 */
export function fibLookup(env: RunEnv): number {
  const { datapath } = packetState(env, 'bpf_fib_lookup');
  const plen = argS32(env, 3);
  const flags = argLo(env, 4);
  if (plen < FIB_LOOKUP_SIZE) return -E.EINVAL;
  const p = guestBytes(env, argPtr(env, 2, 'bpf_fib_lookup'), FIB_LOOKUP_SIZE, true, 'bpf_fib_lookup');
  if ((flags & ~BPF_FIB_LOOKUP_FLAGS) !== 0) return -E.EINVAL;
  const dv = new DataView(p.buffer, p.byteOffset, FIB_LOOKUP_SIZE);
  const family = p[0];
  if (family !== AF_INET && family !== AF_INET6) return -E.EAFNOSUPPORT;
  const ifindex = dv.getUint32(8, true);
  if (datapath.device(ifindex) === undefined) return -E.ENODEV;
  const alen = family === AF_INET ? 4 : 16;
  const res = datapath.fibLookup?.({
    family,
    l4Protocol: p[1],
    ifindex,
    tosOrFlowinfo: dv.getUint32(12, true),
    src: p.slice(16, 16 + alen),
    dst: p.slice(32, 32 + alen),
    flags,
  }) ?? { ret: FibRet.NOT_FWDED };
  if (res.ret === FibRet.SUCCESS) {
    if (res.ifindex !== undefined) dv.setUint32(8, res.ifindex, true);
    dv.setUint32(48, 0, true);
    if (res.smac !== undefined) p.set(res.smac.subarray(0, 6), 52);
    if (res.dmac !== undefined) p.set(res.dmac.subarray(0, 6), 58);
  }
  if ((res.ret === FibRet.SUCCESS || res.ret === FibRet.FRAG_NEEDED) && res.mtu !== undefined) dv.setUint16(6, res.mtu, true);
  return res.ret;
}

const XDP = [ProgType.XDP];

/** XDP_HELPERS lists the XDP-only packet helpers (bpf_redirect and bpf_check_mtu, shared with TC, are in SKB_HELPERS). */
export const XDP_HELPERS: readonly PacketHelperDef[] = [
  { id: 44, name: 'xdp_adjust_head', progTypes: XDP, fn: xdpAdjustHead },
  { id: 54, name: 'xdp_adjust_meta', progTypes: XDP, fn: xdpAdjustMeta },
  { id: 65, name: 'xdp_adjust_tail', progTypes: XDP, fn: xdpAdjustTail },
  { id: 188, name: 'xdp_get_buff_len', progTypes: XDP, fn: xdpGetBuffLen },
  { id: 189, name: 'xdp_load_bytes', progTypes: XDP, fn: xdpLoadBytes },
  { id: 190, name: 'xdp_store_bytes', progTypes: XDP, fn: xdpStoreBytes },
  { id: 51, name: 'redirect_map', progTypes: XDP, fn: xdpRedirectMap },
];
