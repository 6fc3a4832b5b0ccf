/**
 * pipeline — one frame through the simulated datapath, as the kernel's receive and transmit paths
 * would take it:
 *
 *   rx on IFACE (queue by flow hash; hardware VLAN strip when the device offloads it)
 *   → XDP (native mode): ABORTED / DROP / unknown action → dropped; TX → out of IFACE;
 *     REDIRECT → xdp_do_redirect: an ifindex or a devmap / devmap_hash entry → out of the target
 *     with no TC egress (a devmap program runs first when the entry has one; BPF_F_BROADCAST
 *     sends a copy to every entry, BPF_F_EXCLUDE_INGRESS leaving out IFACE); a cpumap entry → on
 *     as XDP_PASS on that CPU (after the entry's cpumap program); an xskmap entry → the AF_XDP
 *     socket, when it is bound to this queue (xsk_rcv_check);
 *     PASS → the stack builds the skb (eth_type_trans against IFACE's MAC, software VLAN untag,
 *     XDP metadata kept as data_meta);
 *   → TC ingress programs in priority order (cls_bpf direct action): OK / UNSPEC → host;
 *     SHOT → dropped; STOLEN / TRAP → consumed; REDIRECT → skb_do_redirect: to the target's
 *     egress (its TC egress runs, then it leaves), with BPF_F_INGRESS into the target's ingress
 *     (dev_forward_skb: eth_type_trans again, TC ingress again), bpf_redirect_peer into the
 *     peer's ingress (only from ingress, only across namespaces), bpf_redirect_neigh to the
 *     target's egress with the L2 header rebuilt from the neighbour table.
 *
 * Redirects count hops; past `maxHops` the frame is stopped (disposition loop-limit) where the
 * kernel would spin or hit its xmit recursion limit. The Pipeline is also the DatapathHooks the
 * packet helpers see: devices, routes for bpf_fib_lookup, maps by handle.
 */
import { TcRunner, type XdpVerdict } from '../hooks/run.js';
import { type DatapathHooks, type FibLookupQuery, type FibLookupResult, type NetDevice, type RedirectInfo, newRedirectInfo } from '../hooks/datapath.js';
import { ETH_HLEN, MAX_SKB_FRAGS, SKB_SHARED_INFO_SIZE, XDP_BUFF_SIZE, XDP_PACKET_HEADROOM, XdpAction, XdpBuff, xdpActionName } from '../hooks/xdp.js';
import { EthP, PacketType, SKB_HEAD_RESERVE, SKB_REGION_SIZE, type SkBuff } from '../hooks/skb.js';
import { TcAction, tcActionName } from '../hooks/tc.js';
import type { XdpHookState } from '../hooks/state.js';
import { BPF_F_INGRESS, BPF_F_NEIGH, BPF_F_PEER } from '../helpers/skb.js';
import { BPF_F_EXCLUDE_INGRESS } from '../helpers/xdp.js';
import { MapType, type BpfMap } from '../maps/spec.js';
import { CpumapMap } from '../maps/cpumap.js';
import { XskmapMap } from '../maps/xskmap.js';
import { PAGE_SIZE } from '../vm/memory.js';
import { OP_CALL } from '../isa/opcodes.js';
import { createRunEnv } from '../vm/run.js';
import { r0u32, type RunEnv, type RunResult } from '../vm/program.js';
import type { VmFault } from '../vm/fault.js';
import type { SimInterface } from './interfaces.js';
import { fibLookup, neighbourOf, nextHop, type Topology } from './topology.js';
import type { BoundProgram, ProgramSet } from './programs.js';
import { Disposition, type FrameResult, type HookRun } from './accounting.js';

/** VLAN_HLEN. */
export const VLAN_HLEN = 4;
/** DEFAULT_MAX_HOPS bounds the redirects one frame may take (the kernel's XMIT_RECURSION_LIMIT is 8 for nested transmits). */
export const DEFAULT_MAX_HOPS = 16;
/** XDP_MAX_FRAME is the largest frame a multi-buffer xdp_buff holds here. */
export const XDP_MAX_FRAME = XDP_BUFF_SIZE - XDP_PACKET_HEADROOM - SKB_SHARED_INFO_SIZE + MAX_SKB_FRAGS * PAGE_SIZE;
/** SKB_MAX_FRAME is the largest frame the simulated sk_buff holds. */
export const SKB_MAX_FRAME = SKB_REGION_SIZE - SKB_HEAD_RESERVE - 2 * PAGE_SIZE;

/** Attachment lists the programs on one interface. */
export interface Attachment {
  xdp?: BoundProgram;
  tcIngress: BoundProgram[];
  tcEgress: BoundProgram[];
}

/** PipelineOptions configure a Pipeline. */
export interface PipelineOptions {
  readonly topology: Topology;
  readonly programs: ProgramSet;
  /** Programs by ifindex. */
  readonly attach: ReadonlyMap<number, Attachment>;
  /** Simulated CPUs: rx queue q runs on CPU q % cpus. */
  readonly cpus: number;
  readonly maxHops?: number;
  /** net_cls classid of the simulated task (bpf_get_cgroup_classid); default 0. */
  readonly cgroupClassid?: number;
}

interface HwTag {
  readonly proto: number;
  readonly tci: number;
}

const EMPTY: Uint8Array = new Uint8Array(0);

/** flowQueue picks an rx queue from the addresses and ports, the way RSS spreads flows (not the NIC's Toeplitz hash). */
export function flowQueue(f: Uint8Array, queues: number): number {
  return flowQueueAt(f, 0, f.length, queues);
}

/** fnvMix is FNV-1a of `h` over b[from, from + n), cut at `end`. */
function fnvMix(h: number, b: Uint8Array, from: number, n: number, end: number): number {
  const stop = Math.min(from + n, end);
  for (let i = from; i < stop; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h;
}

/**
 * flowQueueAt is flowQueue of the frame at b[start, end) (a reader's buffer: `replay --workers`
 * hashes every frame to find its own without building a view of each). No closure per call:
 * measured, allocating one cost several times the hash itself.
 */
export function flowQueueAt(b: Uint8Array, start: number, end: number, queues: number): number {
  if (queues <= 1 || end - start < ETH_HLEN) return 0;
  let off = start + 12;
  let type = (b[off] << 8) | b[off + 1];
  for (let i = 0; i < 2 && (type === EthP.P8021Q || type === EthP.P8021AD) && off + 6 <= end; i++) {
    off += 4;
    type = (b[off] << 8) | b[off + 1];
  }
  off += 2;
  let h = 0x811c9dc5;
  let l4 = -1;
  let proto = 0;
  if (type === EthP.IP && off + 20 <= end) {
    h = fnvMix(h, b, off + 12, 8, end);
    proto = b[off + 9];
    const frag = ((b[off + 6] & 0x1f) << 8) | b[off + 7];
    if (frag === 0 && (b[off + 6] & 0x20) === 0) l4 = off + (b[off] & 0x0f) * 4;
  } else if (type === EthP.IPV6 && off + 40 <= end) {
    h = fnvMix(h, b, off + 8, 32, end);
    proto = b[off + 6];
    l4 = off + 40;
  } else {
    return 0;
  }
  if ((proto === 6 || proto === 17) && l4 >= 0) h = fnvMix(h, b, l4, 4, end);
  return ((h >>> 0) % queues) >>> 0;
}

/** insertVlan puts an 802.1Q/802.1ad tag after the MAC addresses (the hardware or __vlan_hwaccel_push_inside on transmit). */
export function insertVlan(frame: Uint8Array, tag: HwTag): Uint8Array {
  if (frame.length < 12) return frame;
  const out = new Uint8Array(frame.length + VLAN_HLEN);
  out.set(frame.subarray(0, 12));
  out[12] = tag.proto >> 8;
  out[13] = tag.proto & 0xff;
  out[14] = tag.tci >> 8;
  out[15] = tag.tci & 0xff;
  out.set(frame.subarray(12), 16);
  return out;
}

/** Pipeline runs frames through the attached programs and says where each ends. */
export class Pipeline implements DatapathHooks {
  readonly topology: Topology;
  readonly maxHops: number;
  private readonly programs: ProgramSet;
  private readonly attach: ReadonlyMap<number, Attachment>;
  private readonly cpus: number;
  private readonly classid: number;
  private readonly base: RunEnv;
  private readonly xdpHooks = new Map<number, XdpHook>();
  private readonly tc: TcRunner;
  private readonly devmapBuf: XdpBuff;
  private readonly cpumapBuf: XdpBuff;
  private readonly result: FrameResult = { iface: '', queue: 0, cpu: 0, hooks: [], disposition: Disposition.HOST, at: undefined, reason: undefined, out: [], hops: 0, tally: undefined };
  private readonly byIfindex = new Map<number, SimInterface>();
  /** Records r.out is filled with, reused frame after frame (the result is valid until the next call). */
  private readonly outPool: Array<{ iface: string; data: Uint8Array; xsk: number | undefined }> = [];
  /** The XDP hook of the interface the last frame came in on (undefined: none attached). */
  private lastHookIf = -1;
  private lastHook: XdpHook | undefined;

  constructor(opts: PipelineOptions) {
    this.topology = opts.topology;
    this.programs = opts.programs;
    this.attach = opts.attach;
    this.cpus = opts.cpus;
    this.maxHops = opts.maxHops ?? DEFAULT_MAX_HOPS;
    this.classid = opts.cgroupClassid ?? 0;
    for (const d of opts.topology.interfaces) this.byIfindex.set(d.ifindex, d);
    this.base = createRunEnv(opts.programs.mem, { stackName: 'datapath stack' });
    this.base.cpu = 0;
    for (const [ifindex, a] of opts.attach) {
      if (a.xdp === undefined) continue;
      const buf = new XdpBuff(opts.programs.mem);
      const iface = this.byIfindex.get(ifindex)?.name;
      const counted = iface !== undefined && a.tcIngress.length === 0 ? countedResults(this.xdpHooks.size * COUNTED_VERDICTS, iface, a.xdp.name) : undefined;
      this.xdpHooks.set(ifindex, { prog: a.xdp, buf, counted, state: { kind: 'xdp', xdp: buf, datapath: this, redirect: newRedirectInfo() }, dirtyHi: buf.hardEnd, view: EMPTY, viewOf: EMPTY, viewFrom: 0, viewTo: 0, growsTail: callsHelper(a.xdp, XDP_ADJUST_TAIL), movesHead: callsHelper(a.xdp, XDP_ADJUST_HEAD) || callsHelper(a.xdp, XDP_ADJUST_META), run: { hook: 'xdp', iface: this.byIfindex.get(ifindex)?.name ?? '', program: a.xdp.name, retval: 0, verdict: '' } });
    }
    this.tc = new TcRunner(this.base, this, opts.topology.interfaces[0]);
    // Mapped up front: mapping regions later could grow (and detach) the memory frame views point into.
    this.devmapBuf = new XdpBuff(opts.programs.mem, { devmapProgram: true });
    this.cpumapBuf = new XdpBuff(opts.programs.mem);
  }

  /** device is DatapathHooks.device: the simulated interfaces (lo is not one of them). */
  device(ifindex: number): NetDevice | undefined {
    return this.byIfindex.get(ifindex);
  }

  /** cgroupClassid is DatapathHooks.cgroupClassid. */
  cgroupClassid(): number {
    return this.classid;
  }

  /** fibLookup is DatapathHooks.fibLookup over the topology's routes and neighbours. */
  fibLookup(q: FibLookupQuery): FibLookupResult {
    return fibLookup(this.topology, q);
  }

  /** resolveMap is DatapathHooks.resolveMap over every loaded object. */
  resolveMap(handle: number): BpfMap | undefined {
    return this.programs.resolveMap(handle);
  }

  /**
   * process runs one received frame from `dev` to its disposition. The result and the bytes of
   * its `out` frames are reused: they are valid until the next call. `queue` is the frame's rx
   * queue when the caller has hashed it already (a `replay --workers` thread runs only its own).
   */
  process(frame: Uint8Array, dev: SimInterface, queue: number = flowQueue(frame, dev.rxQueues)): FrameResult {
    const cpu = queue % this.cpus;
    this.base.cpu = cpu;
    const r = this.fresh(dev, queue, cpu);
    let data = frame;
    let hwTag: HwTag | undefined;
    if (dev.vlanOffload && frame.length >= ETH_HLEN + VLAN_HLEN) {
      const type = (frame[12] << 8) | frame[13];
      if (type === EthP.P8021Q || type === EthP.P8021AD) {
        hwTag = { proto: type, tci: (frame[14] << 8) | frame[15] };
        data = new Uint8Array(frame.length - VLAN_HLEN);
        data.set(frame.subarray(0, 12));
        data.set(frame.subarray(16), 12);
      }
    }
    let hook = this.lastHook;
    if (dev.ifindex !== this.lastHookIf) {
      hook = this.xdpHooks.get(dev.ifindex);
      this.lastHook = hook;
      this.lastHookIf = dev.ifindex;
    }
    if (hook !== undefined) {
      if (data.length > XDP_MAX_FRAME) return this.end(r, Disposition.DROP, 'driver', `a ${data.length}-byte frame does not fit a multi-buffer xdp_buff`);
      return this.afterXdp(r, hook, this.runXdp(hook, data, dev.ifindex, queue), dev, queue, hwTag);
    }
    return this.stackReceive(r, data, dev, EMPTY, hwTag);
  }

  /**
   * count is process for a caller that reads only the counts of a frame's end (`replay` without
   * --results or --out): when the interface's XDP program alone decides the frame — ABORTED,
   * DROP, TX, or PASS to a stack where no TC ingress program sees the skb and nothing is to be
   * untagged — it returns that hook's shared result for the verdict, with `tally` set and out
   * frames without bytes, and builds nothing. Any other frame goes the way of process (whose
   * result it returns). Measured: building and counting the result of a frame cost more than
   * the XDP program itself.
   */
  count(frame: Uint8Array, dev: SimInterface): FrameResult {
    let hook = this.lastHook;
    if (dev.ifindex !== this.lastHookIf) {
      hook = this.xdpHooks.get(dev.ifindex);
      this.lastHook = hook;
      this.lastHookIf = dev.ifindex;
    }
    const counted = hook?.counted;
    if (hook === undefined || counted === undefined || dev.vlanOffload || frame.length > XDP_LINEAR_MAX || dev.name !== hook.run.iface) return this.process(frame, dev);
    const queue = flowQueue(frame, dev.rxQueues);
    const cpu = queue % this.cpus;
    this.base.cpu = cpu;
    const res = this.runXdp(hook, frame, dev.ifindex, queue);
    if (res.ok) {
      const retval = r0u32(this.base);
      const buf = hook.buf;
      if (retval < counted.length && (retval !== XdpAction.PASS || (buf.frags.length === 0 && buf.dataEnd - buf.data >= ETH_HLEN))) {
        const t = counted[retval];
        t.queue = queue;
        t.cpu = cpu;
        return t;
      }
    }
    return this.afterXdp(this.fresh(dev, queue, cpu), hook, res, dev, queue, undefined);
  }

  /**
   * countOut is count for a caller that also reads the bytes of the frames that leave (`replay
   * --out` and --results): a shared result's out frame (PASS to the host, TX) gets the bytes the
   * program left in its buffer, as process would give them. The bytes, like every result, are
   * valid until the next call.
   */
  countOut(frame: Uint8Array, dev: SimInterface): FrameResult {
    const r = this.count(frame, dev);
    const hook = this.lastHook;
    if (r.tally !== undefined && r.out.length === 1 && hook !== undefined) (r.out[0] as { data: Uint8Array }).data = hookView(hook);
    return r;
  }

  /** fresh empties the reused result for a frame received on `dev`. */
  private fresh(dev: SimInterface, queue: number, cpu: number): FrameResult {
    const r = this.result;
    r.iface = dev.name;
    r.queue = queue;
    r.cpu = cpu;
    // pop() on a short array is cheaper than setting its length (a runtime call in V8).
    while (r.hooks.length > 0) r.hooks.pop();
    while (r.out.length > 0) r.out.pop();
    r.hops = 0;
    r.at = undefined;
    r.reason = undefined;
    r.disposition = Disposition.HOST;
    return r;
  }

  /** runXdp is the driver's receive and the run of an interface's XDP program on `data`. */
  private runXdp(hook: XdpHook, data: Uint8Array, ifindex: number, queue: number): RunResult {
    // The driver's receive: the frame at XDP_PACKET_HEADROOM of a page, the rest in fragments.
    const buf = hook.buf;
    receive(hook, data, ifindex, queue);
    const ri = hook.state.redirect;
    ri.set = false;
    ri.tgtIndex = 0;
    ri.mapType = 0;
    ri.map = undefined;
    ri.flags = 0;
    this.base.hook = hook.state;
    const res = hook.prog.exec.run(this.base, buf.ctxAddr);
    this.base.hook = undefined;
    if (buf.dataEnd > hook.dirtyHi) hook.dirtyHi = buf.dataEnd;
    return res;
  }

  /** afterXdp applies the verdict of an XDP run (runXdp) to the frame. */
  private afterXdp(r: FrameResult, hook: XdpHook, res: RunResult, dev: SimInterface, queue: number, hwTag: HwTag | undefined): FrameResult {
    const buf = hook.buf;
    if (!res.ok) {
      r.hooks.push(hookRun('xdp', dev.name, hook.prog.name, 0, 'XDP_ABORTED', this.programs.describeFault(res.fault)));
      return this.end(r, Disposition.ABORTED, 'xdp', 'program fault');
    }
    const retval = r0u32(this.base);
    const run = hook.run;
    run.retval = retval;
    run.verdict = XDP_NAMES[retval] ?? xdpActionName(retval);
    r.hooks.push(run);
    switch (retval) {
      case XdpAction.ABORTED:
        return this.end(r, Disposition.ABORTED, 'xdp', 'XDP_ABORTED');
      case XdpAction.TX:
        this.emit(r, dev.name, hookView(hook), undefined);
        return this.end(r, Disposition.TX);
      case XdpAction.REDIRECT:
        return this.xdpRedirect(r, hook.state.redirect, frameView(buf).slice(), metaOf(buf), dev, queue);
      case XdpAction.PASS:
        return this.stackReceive(r, hookView(hook), dev, metaOf(buf), hwTag);
      default:
        return this.end(r, Disposition.DROP, 'xdp', retval === XdpAction.DROP ? 'XDP_DROP' : `unknown XDP action ${retval} (bpf_warn_invalid_xdp_action)`);
    }
  }

  /** emit adds a frame that leaves to r.out, in a pooled record. */
  private emit(r: FrameResult, iface: string, data: Uint8Array, xsk: number | undefined): void {
    let o = this.outPool[r.out.length];
    if (o === undefined) {
      o = { iface, data, xsk };
      this.outPool.push(o);
    } else {
      o.iface = iface;
      o.data = data;
      o.xsk = xsk;
    }
    r.out.push(o);
  }

  private end(r: FrameResult, d: Disposition, at?: string, reason?: string): FrameResult {
    r.disposition = d;
    if (at !== undefined) r.at = at;
    if (reason !== undefined) r.reason = reason;
    return r;
  }

  /** hop counts one more redirect and tells whether the guard stops the frame. */
  private hop(r: FrameResult): boolean {
    r.hops++;
    if (r.hops <= this.maxHops) return false;
    this.end(r, Disposition.LOOP, 'redirect', `more than ${this.maxHops} redirects`);
    return true;
  }

  /** xdpRedirect is xdp_do_redirect with the target the program recorded. */
  private xdpRedirect(r: FrameResult, ri: RedirectInfo, frame: Uint8Array, meta: Uint8Array, dev: SimInterface, queue: number): FrameResult {
    if (this.hop(r)) return r;
    if (!ri.set) return this.end(r, Disposition.DROP, 'xdp-redirect', 'XDP_REDIRECT without a redirect target');
    const map = ri.map;
    if (ri.mapType === 0 || map === undefined) {
      const target = this.byIfindex.get(ri.tgtIndex);
      if (target === undefined) return this.end(r, Disposition.DROP, 'xdp-redirect', `no device with ifindex ${ri.tgtIndex}`);
      return this.xdpXmit(r, frame, target);
    }
    const key = u32Key(ri.tgtIndex);
    switch (map.spec.type) {
      case MapType.DEVMAP:
      case MapType.DEVMAP_HASH: {
        const keys = ri.flags !== 0 ? [...map.keys()] : [key];
        let sent = 0;
        let why = 'no devmap entry';
        for (const k of keys) {
          const v = map.lookup(k);
          if (!(v instanceof Uint8Array)) continue;
          const ifindex = u32(v, 0);
          if (ifindex === 0) continue;
          if ((ri.flags & BPF_F_EXCLUDE_INGRESS) !== 0 && ifindex === dev.ifindex) continue;
          const target = this.byIfindex.get(ifindex);
          if (target === undefined) {
            why = `devmap entry names ifindex ${ifindex}, which does not exist`;
            continue;
          }
          let out = frame;
          const progId = v.length >= 8 ? u32(v, 4) : 0;
          if (progId !== 0) {
            const res = this.runAttached(r, 'devmap', map, progId, frame, meta, dev, 0, target.ifindex);
            if (res === undefined) {
              why = 'devmap program dropped it';
              continue;
            }
            out = res.frame;
          }
          const err = fwdError(target, out.length);
          if (err !== undefined) {
            why = err;
            continue;
          }
          this.emit(r, target.name, out, undefined);
          sent++;
        }
        if (sent > 0 || (ri.flags !== 0 && keys.length === 0)) return this.end(r, Disposition.REDIRECT);
        return this.end(r, Disposition.DROP, 'xdp-redirect', why);
      }
      case MapType.CPUMAP: {
        const entry = map instanceof CpumapMap ? map.entry(ri.tgtIndex) : undefined;
        if (entry === undefined) return this.end(r, Disposition.DROP, 'xdp-redirect', `cpumap has no CPU ${ri.tgtIndex}`);
        r.cpu = ri.tgtIndex;
        this.base.cpu = ri.tgtIndex;
        let data: Uint8Array = frame;
        let m = meta;
        if (entry.prog !== 0) {
          const res = this.runAttached(r, 'cpumap', map, entry.prog, frame, meta, dev, 0, 0);
          if (res === undefined) return this.end(r, Disposition.DROP, 'xdp-cpumap', 'cpumap program dropped it');
          if (res.action === XdpAction.REDIRECT) return this.xdpRedirect(r, res.redirect, res.frame, res.meta, dev, 0);
          data = res.frame;
          m = res.meta;
        }
        // cpu_map_build_skb: the skb is built on the target CPU; the xdp_frame carries no VLAN tag.
        return this.stackReceive(r, data, dev, m, undefined);
      }
      case MapType.XSKMAP: {
        const sock = map instanceof XskmapMap ? map.socketAt(ri.tgtIndex) : undefined;
        if (sock === undefined) return this.end(r, Disposition.DROP, 'xdp-redirect', `xskmap slot ${ri.tgtIndex} is empty`);
        if (sock !== queue) return this.end(r, Disposition.DROP, 'xdp-redirect', `AF_XDP socket of slot ${ri.tgtIndex} is bound to queue ${sock}, the frame came in on queue ${queue}`);
        this.emit(r, dev.name, frame, ri.tgtIndex);
        return this.end(r, Disposition.XSK);
      }
      default:
        return this.end(r, Disposition.DROP, 'xdp-redirect', `map ${map.spec.name} cannot be a redirect target`);
    }
  }

  /** xdpXmit sends an XDP frame out of `target` (ndo_xdp_xmit; no TC egress). */
  private xdpXmit(r: FrameResult, frame: Uint8Array, target: SimInterface): FrameResult {
    const err = fwdError(target, frame.length);
    if (err !== undefined) return this.end(r, Disposition.DROP, 'xdp-redirect', err);
    this.emit(r, target.name, frame, undefined);
    return this.end(r, Disposition.REDIRECT);
  }

  /**
   * runAttached runs a devmap or cpumap entry's program (dev_map_bpf_prog_run,
   * cpu_map_bpf_prog_run_xdp): ingress_ifindex is the receiving device, rx_queue_index 0,
   * egress_ifindex the target (devmap). Undefined when the frame is dropped (anything but PASS;
   * a cpumap program may also REDIRECT).
   */
  private runAttached(r: FrameResult, kind: 'devmap' | 'cpumap', map: BpfMap, progId: number, frame: Uint8Array, meta: Uint8Array, dev: SimInterface, queue: number, egress: number): XdpVerdict | undefined {
    const registry = this.programs.registryOf(map);
    const prog = registry === undefined ? undefined : this.programs.programById(registry, progId);
    if (prog === undefined) {
      r.hooks.push(hookRun(`xdp-${kind}`, dev.name, `#${progId}`, 0, 'XDP_ABORTED'));
      return undefined;
    }
    const buf = kind === 'devmap' ? this.devmapBuf : this.cpumapBuf;
    const bytes = meta.length === 0 ? frame : concat(meta, frame);
    const linearMax = XDP_BUFF_SIZE - XDP_PACKET_HEADROOM - SKB_SHARED_INFO_SIZE + meta.length;
    buf.load(bytes, XDP_PACKET_HEADROOM - meta.length, linearMax, { metaLen: meta.length, rxq: { ifindex: dev.ifindex, queueIndex: queue, fragSize: XDP_BUFF_SIZE }, egressIfindex: egress });
    const state: XdpHookState = { kind: 'xdp', xdp: buf, datapath: this, redirect: newRedirectInfo() };
    this.base.hook = state;
    const res = prog.exec.run(this.base, buf.ctxAddr);
    this.base.hook = undefined;
    const out = buf.copyFrom(buf.data);
    const m = this.programs.mem.copy(buf.dataMeta, buf.metaLen);
    const iface = kind === 'devmap' ? (this.byIfindex.get(egress)?.name ?? dev.name) : dev.name;
    if (!res.ok) {
      r.hooks.push(hookRun(`xdp-${kind}`, iface, prog.name, 0, 'XDP_ABORTED', this.programs.describeFault(res.fault)));
      return undefined;
    }
    const retval = r0u32(this.base);
    r.hooks.push(hookRun(`xdp-${kind}`, iface, prog.name, retval, xdpActionName(retval)));
    const ok = retval === XdpAction.PASS || (kind === 'cpumap' && retval === XdpAction.REDIRECT && state.redirect.set);
    if (!ok) return undefined;
    return { retval, action: retval as XdpAction, frame: out, meta: m, redirect: state.redirect };
  }

  /** stackReceive hands a passed frame to the stack: skb, TC ingress, host. */
  private stackReceive(r: FrameResult, data: Uint8Array, dev: SimInterface, meta: Uint8Array, hwTag: HwTag | undefined): FrameResult {
    if (data.length < ETH_HLEN) return this.end(r, Disposition.DROP, 'stack', `runt frame of ${data.length} bytes (no Ethernet header)`);
    const progs = this.attach.get(dev.ifindex)?.tcIngress ?? [];
    if (progs.length === 0) {
      // Nothing observes the skb: the frame reaches the host as it is.
      this.emit(r, dev.name, hwTag === undefined ? data : insertVlan(data, hwTag), undefined);
      return this.end(r, Disposition.HOST);
    }
    if (data.length > SKB_MAX_FRAME) return this.end(r, Disposition.DROP, 'stack', `a ${data.length}-byte frame does not fit the simulated sk_buff`);
    this.rx(data, dev, meta, hwTag);
    return this.ingress(r, dev);
  }

  /** rx builds the received skb; with a hardware tag, skb_vlan_untag leaves the data alone. */
  private rx(data: Uint8Array, dev: SimInterface, meta: Uint8Array, hwTag: HwTag | undefined): SkBuff {
    if (hwTag === undefined) return this.tc.receive(data, { dev, meta });
    const skb = this.tc.skb;
    skb.reset(data, { dev, meta, atIngress: true });
    skb.ethTypeTrans();
    skb.skbIif = dev.ifindex;
    skb.transportHeader = skb.networkHeader;
    skb.macLen = skb.networkHeader - skb.macHeader;
    skb.vlanPresent = true;
    skb.vlanProto = hwTag.proto;
    skb.vlanTci = hwTag.tci;
    return skb;
  }

  /** ingress runs `dev`'s TC ingress programs on the current skb (sch_handle_ingress), then delivers it to the host. */
  private ingress(r: FrameResult, dev: SimInterface): FrameResult {
    const decided = this.tcChain(r, dev, true);
    if (decided !== undefined) return decided;
    this.emit(r, dev.name, this.skbFrame(), undefined);
    return this.end(r, Disposition.HOST);
  }

  /** egress runs `dev`'s TC egress programs (sch_handle_egress), then the skb leaves by `dev`. */
  private egress(r: FrameResult, dev: SimInterface): FrameResult {
    const decided = this.tcChain(r, dev, false);
    if (decided !== undefined) return decided;
    this.emit(r, dev.name, this.skbFrame(), undefined);
    return this.end(r, Disposition.REDIRECT);
  }

  /**
   * tcChain runs one direction's TC programs in priority order, in direct-action mode as cls_bpf
   * does: UNSPEC goes on to the next program, OK stops the chain and lets the skb continue, and any
   * other action (or a fault) decides the frame's end, which it returns. Undefined: the skb goes on.
   */
  private tcChain(r: FrameResult, dev: SimInterface, ingress: boolean): FrameResult | undefined {
    const hook = ingress ? 'tc-ingress' : 'tc-egress';
    const attached = this.attach.get(dev.ifindex);
    for (const p of (ingress ? attached?.tcIngress : attached?.tcEgress) ?? []) {
      const v = this.tc.runOne(p.exec, ingress);
      const fault = v.fault === undefined ? undefined : this.programs.describeFault(v.fault);
      r.hooks.push(hookRun(hook, dev.name, p.name, v.retval, fault !== undefined ? 'TC_ACT_SHOT' : tcActionName(v.action), fault));
      if (fault !== undefined) return this.end(r, Disposition.ABORTED, `${hook}@${dev.name}`, 'program fault');
      switch (v.action) {
        case TcAction.UNSPEC:
          continue;
        case TcAction.OK:
          return undefined;
        case TcAction.SHOT:
          return this.end(r, Disposition.DROP, `${hook}@${dev.name}`, 'TC_ACT_SHOT');
        case TcAction.REDIRECT:
          return this.tcRedirect(r, v.redirect, dev, ingress);
        default:
          return this.end(r, Disposition.STOLEN, `${hook}@${dev.name}`, tcActionName(v.action));
      }
    }
    return undefined;
  }

  /** skbFrame is the skb's packet from the MAC header, with an accelerated VLAN tag put back in. */
  private skbFrame(): Uint8Array {
    const skb = this.tc.skb;
    const from = skb.macHeaderWasSet ? skb.head + skb.macHeader : skb.data;
    const bytes = skb.mem.copy(from, skb.data + skb.len - from);
    return skb.vlanPresent ? insertVlan(bytes, { proto: skb.vlanProto, tci: skb.vlanTci }) : bytes;
  }

  /** tcRedirect is skb_do_redirect for TC_ACT_REDIRECT. */
  private tcRedirect(r: FrameResult, ri: RedirectInfo, from: SimInterface, atIngress: boolean): FrameResult {
    const at = `tc-${atIngress ? 'ingress' : 'egress'}@${from.name}`;
    if (this.hop(r)) return r;
    if (!ri.set) return this.end(r, Disposition.DROP, at, 'TC_ACT_REDIRECT without a redirect target');
    const target = this.byIfindex.get(ri.tgtIndex);
    if (target === undefined) return this.end(r, Disposition.DROP, at, `redirect to ifindex ${ri.tgtIndex}: no such device`);
    const skb = this.tc.skb;
    if ((ri.flags & BPF_F_PEER) !== 0) {
      const peer = target.peer === undefined ? undefined : this.topology.interfaces.find((d) => d.name === target.peer);
      if (!atIngress) return this.end(r, Disposition.DROP, at, 'bpf_redirect_peer from egress');
      if (peer === undefined) return this.end(r, Disposition.DROP, at, `bpf_redirect_peer: ${target.name} has no peer`);
      if (peer.netns === from.netns) return this.end(r, Disposition.DROP, at, `bpf_redirect_peer: ${peer.name} is in the same namespace`);
      // skb_scrub_packet(skb, true), then another round of __netif_receive_skb_core on the peer.
      skb.dev = peer;
      skb.pktType = PacketType.HOST;
      skb.mark = 0;
      skb.tstamp = 0n;
      skb.skbIif = peer.ifindex;
      return this.ingress(r, peer);
    }
    if (atIngress) this.tc.toMac();
    if ((ri.flags & BPF_F_NEIGH) !== 0) return this.redirectNeigh(r, at, target);
    if ((ri.flags & BPF_F_INGRESS) !== 0) {
      // __bpf_rx_skb → dev_forward_skb: is_skb_forwardable, skb_scrub_packet, eth_type_trans on the target.
      if (skb.len > target.mtu + target.hardHeaderLen + VLAN_HLEN) return this.end(r, Disposition.DROP, at, `${skb.len}-byte frame exceeds ${target.name}'s MTU`);
      const keep = { mark: target.netns === from.netns ? skb.mark : 0, priority: skb.priority, hash: skb.hash };
      const tag = skb.vlanPresent ? { proto: skb.vlanProto, tci: skb.vlanTci } : undefined;
      const meta = skb.metaLen > 0 ? skb.mem.copy(skb.data - skb.metaLen, skb.metaLen) : EMPTY;
      const bytes = skb.mem.copy(skb.data, skb.len);
      if (bytes.length < ETH_HLEN) return this.end(r, Disposition.DROP, at, 'runt frame');
      this.rx(bytes, target, meta, tag);
      skb.mark = keep.mark;
      skb.priority = keep.priority;
      skb.hash = keep.hash;
      return this.ingress(r, target);
    }
    skb.dev = target;
    skb.atIngress = false;
    return this.egress(r, target);
  }

  /** redirectNeigh is bpf_redirect_neigh without nexthop parameters: route, neighbour, new L2 header, egress. */
  private redirectNeigh(r: FrameResult, at: string, target: SimInterface): FrameResult {
    const skb = this.tc.skb;
    const u8 = skb.mem.u8;
    const net = skb.head + skb.networkHeader;
    const end = skb.data + skb.len;
    let dst: Uint8Array;
    if (skb.protocol === EthP.IP && end - net >= 20) dst = u8.slice(net + 16, net + 20);
    else if (skb.protocol === EthP.IPV6 && end - net >= 40) dst = u8.slice(net + 24, net + 40);
    else return this.end(r, Disposition.DROP, at, 'bpf_redirect_neigh: not an IPv4 or IPv6 packet');
    const nh = nextHop(this.topology, dst);
    const n = neighbourOf(this.topology, nh, target.ifindex);
    if (n === undefined) return this.end(r, Disposition.DROP, at, `bpf_redirect_neigh: no neighbour for ${formatIp(nh)} on ${target.name}`);
    const frame = new Uint8Array(ETH_HLEN + end - net);
    frame.set(n.mac, 0);
    frame.set(target.mac, 6);
    frame[12] = skb.protocol >> 8;
    frame[13] = skb.protocol & 0xff;
    frame.set(u8.subarray(net, end), ETH_HLEN);
    const keep = { mark: skb.mark, priority: skb.priority };
    this.tc.transmit(frame, target);
    skb.mark = keep.mark;
    skb.priority = keep.priority;
    return this.egress(r, target);
  }
}

/** XdpHook is the XDP program of one interface with its buffer and hook state. */
interface XdpHook {
  readonly prog: BoundProgram;
  readonly buf: XdpBuff;
  readonly state: XdpHookState;
  /** Above the frame, earlier frames and programs may have written up to here. */
  dirtyHi: number;
  /** The object calls bpf_xdp_adjust_tail. */
  readonly growsTail: boolean;
  /** The object calls bpf_xdp_adjust_head or bpf_xdp_adjust_meta (only they let a program write the headroom). */
  readonly movesHead: boolean;
  /** The last view hookView made, and the VM memory and bounds it covers. */
  view: Uint8Array;
  viewOf: Uint8Array;
  viewFrom: number;
  viewTo: number;
  /** The hook record of a run without fault, reused frame after frame. */
  readonly run: { -readonly [K in keyof HookRun]: HookRun[K] };
  /** Pipeline.count's shared results by XDP action (ABORTED, DROP, PASS, TX); undefined when TC ingress programs are attached too. */
  readonly counted: FrameResult[] | undefined;
}

/** COUNTED_VERDICTS is how many XDP actions (from 0) have a shared result in Pipeline.count. */
const COUNTED_VERDICTS = XdpAction.TX + 1;

/**
 * countedResults are the ends of a frame that `iface`'s XDP program alone decides, by action, as
 * process would describe them, with tallies from `tally0` on and out frames without bytes.
 */
function countedResults(tally0: number, iface: string, program: string): FrameResult[] {
  const out: FrameResult[] = [];
  for (let retval = 0; retval < COUNTED_VERDICTS; retval++) {
    // One shape with Pipeline.result (every field, in the same order), so what reads results stays monomorphic.
    const r: FrameResult = { iface, queue: 0, cpu: 0, hooks: [{ hook: 'xdp', iface, program, retval, verdict: XDP_NAMES[retval] }], disposition: Disposition.HOST, at: undefined, reason: undefined, out: [], hops: 0, tally: tally0 + retval };
    switch (retval) {
      case XdpAction.ABORTED:
        r.disposition = Disposition.ABORTED;
        r.at = 'xdp';
        r.reason = 'XDP_ABORTED';
        break;
      case XdpAction.DROP:
        r.disposition = Disposition.DROP;
        r.at = 'xdp';
        r.reason = 'XDP_DROP';
        break;
      case XdpAction.PASS:
        r.out.push({ iface, data: EMPTY, xsk: undefined });
        break;
      case XdpAction.TX:
        r.disposition = Disposition.TX;
        r.out.push({ iface, data: EMPTY, xsk: undefined });
        break;
    }
    out.push(r);
  }
  return out;
}

/**
 * receive places a frame in an interface's buffer as XdpBuff.load does (frame at
 * XDP_PACKET_HEADROOM, no metadata, the rest in fragments) and leaves the page as load's full
 * zeroing would, zeroing only what earlier runs could have written: the headroom when the object
 * calls adjust_head or adjust_meta (only they let programs write there; helpers that write the
 * packet stay within data .. data_end) and, above the frame, up to the highest data_end seen —
 * or up to the end of the linear area when the object calls bpf_xdp_adjust_tail (a program may
 * grow the tail, write and shrink it again). Measured: zeroing the whole page was a quarter of
 * the per-frame cost of a small parse program.
 */
function receive(hook: XdpHook, data: Uint8Array, ifindex: number, queue: number): void {
  const buf = hook.buf;
  if (data.length > XDP_LINEAR_MAX || buf.frags.length > 0) {
    buf.load(data, XDP_PACKET_HEADROOM, XDP_LINEAR_MAX, { rxq: { ifindex, queueIndex: queue, fragSize: XDP_BUFF_SIZE } });
    hook.dirtyHi = buf.hardStart + XDP_PACKET_HEADROOM + Math.min(data.length, XDP_LINEAR_MAX);
    return;
  }
  const u8 = buf.mem.u8;
  const start = buf.hardStart + XDP_PACKET_HEADROOM;
  const end = start + data.length;
  if (hook.movesHead) u8.fill(0, buf.hardStart, start);
  const hi = hook.growsTail ? buf.hardEnd : hook.dirtyHi;
  if (hi > end) u8.fill(0, end, hi);
  u8.set(data, start);
  hook.dirtyHi = end;
  buf.dataMeta = start;
  buf.data = start;
  buf.dataEnd = end;
  const rxq = buf.rxq;
  rxq.ifindex = ifindex;
  rxq.queueIndex = queue;
  rxq.fragSize = XDP_BUFF_SIZE;
  buf.egressIfindex = 0;
  buf.sync();
}

/** BPF_FUNC_xdp_adjust_tail. */
const XDP_ADJUST_TAIL = 65;
/** BPF_FUNC_xdp_adjust_head. */
const XDP_ADJUST_HEAD = 44;
/** BPF_FUNC_xdp_adjust_meta. */
const XDP_ADJUST_META = 54;

/** callsHelper tells whether any program of the object (tail calls stay within it) calls helper `id`. */
function callsHelper(prog: BoundProgram, id: number): boolean {
  for (const p of prog.object.programs.values()) {
    for (const insn of p.insns) if (insn.opcode === OP_CALL && insn.src === 0 && insn.imm === id) return true;
  }
  return false;
}

/** XDP_LINEAR_MAX is the linear part of a received buffer: a page minus headroom and shared info. */
const XDP_LINEAR_MAX = XDP_BUFF_SIZE - XDP_PACKET_HEADROOM - SKB_SHARED_INFO_SIZE;

const XDP_NAMES: readonly string[] = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'];

/** frameView is data .. data_end of a buffer: a view into VM memory when linear, else a copy with the fragments. */
function frameView(buf: XdpBuff): Uint8Array {
  return buf.frags.length === 0 ? buf.mem.u8.subarray(buf.data, buf.dataEnd) : buf.copyFrom(buf.data);
}

/**
 * hookView is frameView of a hook's buffer, reusing the last view while the frame occupies the
 * same bytes (frames of one size, programs that do not move data): a view per frame cost more
 * than the copy into the buffer.
 */
function hookView(hook: XdpHook): Uint8Array {
  const buf = hook.buf;
  if (buf.frags.length > 0) return buf.copyFrom(buf.data);
  const u8 = buf.mem.u8;
  if (hook.viewOf !== u8 || hook.viewFrom !== buf.data || hook.viewTo !== buf.dataEnd) {
    hook.view = u8.subarray(buf.data, buf.dataEnd);
    hook.viewOf = u8;
    hook.viewFrom = buf.data;
    hook.viewTo = buf.dataEnd;
  }
  return hook.view;
}

function metaOf(buf: XdpBuff): Uint8Array {
  const n = buf.metaLen;
  return n === 0 ? EMPTY : buf.mem.copy(buf.dataMeta, n);
}

function hookRun(hook: string, iface: string, program: string, retval: number, verdict: string, fault?: VmFault): HookRun {
  return fault === undefined ? { hook, iface, program, retval, verdict } : { hook, iface, program, retval, verdict, fault };
}

/** fwdError is xdp_ok_fwd_dev: the frame must fit the target's MTU plus its header and a VLAN tag. */
function fwdError(target: SimInterface, len: number): string | undefined {
  const max = target.mtu + target.hardHeaderLen + VLAN_HLEN;
  return len > max ? `${len}-byte frame exceeds ${target.name}'s MTU (${max} bytes with headers)` : undefined;
}

function u32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

function u32Key(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function formatIp(ip: Uint8Array): string {
  if (ip.length === 4) return Array.from(ip).join('.');
  const w: string[] = [];
  for (let i = 0; i < 16; i += 2) w.push(((ip[i] << 8) | ip[i + 1]).toString(16));
  return w.join(':');
}
