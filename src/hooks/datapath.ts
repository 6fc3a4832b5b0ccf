/**
 * datapath — what the packet hooks and helpers need from the simulated network: devices by
 * ifindex (MTU, MAC, rx queues), the net_cls classid of the running task, routes for
 * bpf_fib_lookup, and the map a program names by handle. The datapath (src/datapath, later work)
 * implements `DatapathHooks` over its interfaces; `loopbackDatapath` is the default and is what
 * BPF_PROG_TEST_RUN sees: a network namespace with only `lo` (ifindex 1, MAC 00:00:00:00:00:00,
 * MTU 65536, one rx queue).
 *
 * The per-run redirect state mirrors the kernel's per-CPU `struct bpf_redirect_info`
 * (net/core/filter.c): bpf_redirect, bpf_redirect_map and friends record a target there and return
 * XDP_REDIRECT / TC_ACT_REDIRECT; whoever applies the verdict reads it.
 */
import type { BpfMap } from '../maps/spec.js';

/** NetDevice is the part of a `struct net_device` the hooks read. */
export interface NetDevice {
  readonly ifindex: number;
  readonly name: string;
  /** L3 MTU (dev->mtu). */
  readonly mtu: number;
  /** dev->hard_header_len: ETH_HLEN for Ethernet and loopback. */
  readonly hardHeaderLen: number;
  /** dev->dev_addr. */
  readonly mac: Uint8Array;
  /** dev->broadcast. */
  readonly broadcast: Uint8Array;
  /** dev->real_num_rx_queues. */
  readonly rxQueues: number;
}

/** FibLookupQuery is the input half of `struct bpf_fib_lookup`, decoded. */
export interface FibLookupQuery {
  readonly family: number;
  readonly l4Protocol: number;
  readonly ifindex: number;
  readonly tosOrFlowinfo: number;
  /** Source and destination, 4 bytes (AF_INET) or 16 bytes (AF_INET6), network order. */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly flags: number;
}

/** FibLookupResult is a route decision: a BPF_FIB_LKUP_RET_* code and, on success, the next hop. */
export interface FibLookupResult {
  readonly ret: number;
  readonly ifindex?: number;
  readonly mtu?: number;
  readonly smac?: Uint8Array;
  readonly dmac?: Uint8Array;
}

/** DatapathHooks is the interface the datapath implements for the packet helpers. */
export interface DatapathHooks {
  /** device returns the device with this ifindex in the program's namespace. */
  device(ifindex: number): NetDevice | undefined;
  /** cgroupClassid is the net_cls classid of the current task (bpf_get_cgroup_classid). */
  cgroupClassid(): number;
  /** fibLookup answers bpf_fib_lookup; absent means no routes (every lookup is not forwarded). */
  fibLookup?(q: FibLookupQuery): FibLookupResult;
  /** resolveMap maps a map handle (the address `lddw rX, map` loads) back to the map. */
  resolveMap(handle: number): BpfMap | undefined;
  /**
   * cloneRedirect delivers a copy of a frame (from its MAC header) made by bpf_clone_redirect:
   * into `ifindex`'s receive path when `ingress`, else out of it. It returns what the kernel's
   * dev_forward_skb / dev_queue_xmit would (0 when delivered). Absent: the copy is delivered and
   * forgotten (0), as when it leaves through lo in a test run.
   */
  cloneRedirect?(frame: Uint8Array, ifindex: number, ingress: boolean): number;
}

/** LOOPBACK_IFINDEX is the ifindex of `lo` in every network namespace. */
export const LOOPBACK_IFINDEX = 1;

/** LOOPBACK is the loopback device as the kernel sets it up (drivers/net/loopback.c). */
export const LOOPBACK: NetDevice = {
  ifindex: LOOPBACK_IFINDEX,
  name: 'lo',
  mtu: 65536,
  hardHeaderLen: 14,
  mac: new Uint8Array(6),
  broadcast: new Uint8Array(6),
  rxQueues: 1,
};

/** loopbackDatapath returns the datapath of a namespace holding only `lo`; maps come from `resolveMap`. */
export function loopbackDatapath(resolveMap: (handle: number) => BpfMap | undefined = () => undefined): DatapathHooks {
  return {
    device: (ifindex) => (ifindex === LOOPBACK_IFINDEX ? LOOPBACK : undefined),
    cgroupClassid: () => 0,
    resolveMap,
  };
}

/** RedirectInfo mirrors `struct bpf_redirect_info`: the target a redirect helper recorded. */
export interface RedirectInfo {
  /** Target ifindex (bpf_redirect) or map key (bpf_redirect_map). */
  tgtIndex: number;
  /** BPF_MAP_TYPE_* of the map redirected through; 0 (UNSPEC) for an ifindex redirect. */
  mapType: number;
  /** The map redirected through, when any. */
  map: BpfMap | undefined;
  /** BPF_F_INGRESS, BPF_F_BROADCAST, BPF_F_EXCLUDE_INGRESS, or the internal neigh/peer flags. */
  flags: number;
  /** True once a redirect helper succeeded in this run. */
  set: boolean;
}

/** newRedirectInfo returns an empty redirect record. */
export function newRedirectInfo(): RedirectInfo {
  return { tgtIndex: 0, mapType: 0, map: undefined, flags: 0, set: false };
}
