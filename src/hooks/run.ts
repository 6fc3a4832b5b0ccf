/**
 * run — the hooks as the datapath uses them: one XDP program on a received frame, then, on
 * XDP_PASS, the sk_buff the stack builds and the TC ingress programs on it; TC egress on a frame
 * leaving. Kernel references: the driver/generic XDP path (netif_receive_generic_xdp,
 * bpf_prog_run_xdp), __netif_receive_skb_core (network/transport header reset, skb_vlan_untag of
 * an outer 802.1Q/802.1ad tag, mac_len), sch_handle_ingress + cls_bpf_classify (the MAC header
 * is pushed back for the program and pulled again after it), sch_handle_egress.
 *
 * Each runner owns its buffers in the VM memory of the RunEnv it is given and reuses them for
 * every frame.
 */
import { r0u32, type Executable, type RunEnv } from '../vm/program.js';
import type { VmFault } from '../vm/fault.js';
import { XDP_BUFF_SIZE, XDP_PACKET_HEADROOM, SKB_SHARED_INFO_SIZE, XdpAction, XdpBuff, ETH_HLEN, MAX_SKB_FRAGS } from './xdp.js';
import { EthP, SkBuff } from './skb.js';
import { type DatapathHooks, type NetDevice, type RedirectInfo, newRedirectInfo } from './datapath.js';
import type { SkbHookState, XdpHookState } from './state.js';
import { TcAction, clsBpfAction } from './tc.js';
import { PAGE_SIZE } from '../vm/memory.js';
import { releaseHeldLock } from '../helpers/lock.js';

/** XdpVerdict is what happened to a frame at the XDP hook. */
export interface XdpVerdict {
  /** The program's r0 as u32 (0 after a fault). */
  readonly retval: number;
  /**
   * The action applied: ABORTED, DROP, PASS, TX or REDIRECT; an unknown return value is applied
   * as DROP (bpf_warn_invalid_xdp_action), a fault as ABORTED.
   */
  readonly action: XdpAction;
  /** The frame as it leaves the hook (data .. data_end plus fragments). */
  readonly frame: Uint8Array;
  /** The metadata in front of it (data_meta .. data). */
  readonly meta: Uint8Array;
  /** Where a REDIRECT goes. */
  readonly redirect: RedirectInfo;
  readonly fault?: VmFault;
  /** Set when the frame could not be received at all (the program did not run; the frame is dropped). */
  readonly refused?: string;
}

/** XDP_MAX_FRAME is the largest frame one multi-buffer xdp_buff holds: 3520 linear + 17 pages. */
export const XDP_MAX_FRAME = XDP_BUFF_SIZE - XDP_PACKET_HEADROOM - SKB_SHARED_INFO_SIZE + MAX_SKB_FRAGS * PAGE_SIZE;

/** XdpRunner runs one XDP program on received frames. */
export class XdpRunner {
  private readonly xdp: XdpBuff;

  constructor(
    private readonly env: RunEnv,
    private readonly exec: Executable,
    private readonly datapath: DatapathHooks,
  ) {
    this.xdp = new XdpBuff(env.mem);
  }

  /**
   * run places `frame` with XDP_PACKET_HEADROOM in a page-sized buffer (longer frames continue in
   * fragments, as a multi-buffer driver would) and runs the program.
   */
  run(frame: Uint8Array, rx: { ifindex: number; queue: number }): XdpVerdict {
    const linearMax = XDP_BUFF_SIZE - XDP_PACKET_HEADROOM - SKB_SHARED_INFO_SIZE;
    if (frame.length > XDP_MAX_FRAME) {
      return {
        retval: 0,
        action: XdpAction.DROP,
        frame,
        meta: new Uint8Array(0),
        redirect: newRedirectInfo(),
        refused: `a ${frame.length}-byte frame does not fit one multi-buffer xdp_buff (at most ${XDP_MAX_FRAME} bytes)`,
      };
    }
    const xdp = this.xdp;
    xdp.load(frame, XDP_PACKET_HEADROOM, linearMax, { rxq: { ifindex: rx.ifindex, queueIndex: rx.queue, fragSize: XDP_BUFF_SIZE } });
    const state: XdpHookState = { kind: 'xdp', xdp, datapath: this.datapath, redirect: newRedirectInfo() };
    this.env.hook = state;
    const r = this.exec.run(this.env, xdp.ctxAddr);
    this.env.hook = undefined;
    const out = xdp.copyFrom(xdp.data);
    const meta = xdp.mem.copy(xdp.dataMeta, xdp.metaLen);
    if (!r.ok) {
      // A faulted run may leave a bpf_spin_lock held; the next run must not find it locked.
      releaseHeldLock(this.env);
      return { retval: 0, action: XdpAction.ABORTED, frame: out, meta, redirect: state.redirect, fault: r.fault };
    }
    const retval = r0u32(this.env);
    const known = retval <= XdpAction.REDIRECT;
    return { retval, action: known ? (retval as XdpAction) : XdpAction.DROP, frame: out, meta, redirect: state.redirect };
  }
}

/** RxSkbOptions describe the receive path that builds an skb from a passed frame. */
export interface RxSkbOptions {
  readonly dev: NetDevice;
  /** XDP metadata to keep in front of the frame (skb_metadata_set). */
  readonly meta?: Uint8Array;
}

/** TcVerdict is what the TC programs of a hook decided. */
export interface TcVerdict {
  /** The last program's r0 as u32. */
  readonly retval: number;
  /** The action as cls_bpf reports it (UNSPEC when every program said "continue"). */
  readonly action: TcAction;
  /** The frame from the MAC header, with any hardware-accelerated VLAN tag left out. */
  readonly frame: Uint8Array;
  readonly redirect: RedirectInfo;
  readonly fault?: VmFault;
}

/**
 * TcStep is the outcome of one TC program run by TcRunner.runOne: a record the runner reuses
 * (valid until its next run), without the frame copy TcVerdict carries.
 */
export interface TcStep {
  retval: number;
  action: TcAction;
  readonly redirect: RedirectInfo;
  fault: VmFault | undefined;
}

/** TcRunner runs TC programs (direct-action, in priority order) on sk_buffs. */
export class TcRunner {
  readonly skb: SkBuff;
  private readonly step: TcStep = { retval: 0, action: TcAction.UNSPEC, redirect: newRedirectInfo(), fault: undefined };
  private readonly stepState: SkbHookState;

  constructor(
    private readonly env: RunEnv,
    private readonly datapath: DatapathHooks,
    dev: NetDevice,
  ) {
    this.skb = new SkBuff(env.mem, dev);
    this.stepState = { kind: 'skb', skb: this.skb, datapath, redirect: this.step.redirect };
  }

  /**
   * receive builds the skb the stack hands to TC ingress after XDP_PASS: eth_type_trans against
   * the device, then __netif_receive_skb_core's header resets and software VLAN untagging.
   */
  receive(frame: Uint8Array, opts: RxSkbOptions): SkBuff {
    if (frame.length < ETH_HLEN) throw new RangeError(`tc: a ${frame.length}-byte frame has no Ethernet header`);
    const skb = this.skb;
    skb.reset(frame, { dev: opts.dev, meta: opts.meta, atIngress: true });
    skb.ethTypeTrans();
    skb.skbIif = opts.dev.ifindex;
    skb.transportHeader = skb.networkHeader;
    skb.macLen = skb.networkHeader - skb.macHeader;
    if ((skb.protocol === EthP.P8021Q || skb.protocol === EthP.P8021AD) && skb.len >= 4) this.untag();
    return skb;
  }

  /** untag is skb_vlan_untag: the outer tag moves to the hardware-accelerated fields. */
  private untag(): void {
    const skb = this.skb;
    const u8 = skb.mem.u8;
    const d = skb.data;
    skb.vlanPresent = true;
    skb.vlanProto = skb.protocol;
    skb.vlanTci = (u8[d] << 8) | u8[d + 1];
    const inner = (u8[d + 2] << 8) | u8[d + 3];
    skb.protocol = inner >= EthP.P802_3_MIN ? inner : EthP.P802_2;
    // Pull the tag and move the MAC addresses up to close the gap (vlan_remove_tag).
    const mac = skb.head + skb.macHeader;
    u8.copyWithin(mac + 4, mac, mac + 12);
    // XDP metadata stays right in front of the MAC header (skb_reorder_vlan_header).
    if (skb.metaLen > 0) u8.copyWithin(mac + 4 - skb.metaLen, mac - skb.metaLen, mac);
    skb.pull(4);
    skb.macHeader += 4;
    skb.networkHeader = skb.dataOff;
    skb.transportHeader = skb.networkHeader;
    skb.macLen = skb.networkHeader - skb.macHeader;
  }

  /**
   * transmit builds the skb of a frame the host sends on `dev` (data at the MAC header, protocol
   * from the Ethernet type field, network header after it), for TC egress.
   */
  transmit(frame: Uint8Array, dev: NetDevice): SkBuff {
    if (frame.length < ETH_HLEN) throw new RangeError(`tc: a ${frame.length}-byte frame has no Ethernet header`);
    const skb = this.skb;
    skb.reset(frame, { dev, atIngress: false });
    skb.macHeader = skb.dataOff;
    skb.networkHeader = skb.dataOff + ETH_HLEN;
    skb.transportHeader = skb.networkHeader;
    skb.macLen = ETH_HLEN;
    const u8 = skb.mem.u8;
    skb.protocol = (u8[skb.data + 12] << 8) | u8[skb.data + 13];
    return skb;
  }

  /** toMac pushes the MAC header back (sch_handle_ingress before skb_do_redirect). */
  toMac(): void {
    const skb = this.skb;
    if (skb.macHeaderWasSet && skb.dataOff > skb.macHeader) skb.push(skb.dataOff - skb.macHeader);
  }

  /**
   * ingress runs `progs` in order at TC ingress: for each, the MAC header is pushed back, the
   * program runs, the header is pulled again; the first action other than UNSPEC ends the chain.
   */
  ingress(progs: readonly Executable[]): TcVerdict {
    return this.chain(progs, true);
  }

  /** egress runs `progs` at TC egress on an skb whose data is at the MAC header. */
  egress(progs: readonly Executable[]): TcVerdict {
    return this.chain(progs, false);
  }

  /**
   * runOne runs one program at ingress or egress as `chain` does for each of its programs, for
   * callers that walk the programs themselves (the pipeline): no per-run allocation, and no copy
   * of the frame (read it from `skb`). The record returned is reused by the next call.
   */
  runOne(exec: Executable, ingress: boolean): TcStep {
    const skb = this.skb;
    const st = this.step;
    skb.atIngress = ingress;
    const ri = st.redirect;
    ri.tgtIndex = 0;
    ri.mapType = 0;
    ri.map = undefined;
    ri.flags = 0;
    ri.set = false;
    const macLen = ingress ? skb.macLen : 0;
    skb.push(macLen);
    skb.pushCtx();
    this.env.hook = this.stepState;
    const r = exec.run(this.env, skb.ctxAddr);
    this.env.hook = undefined;
    skb.pullCtx();
    skb.pull(Math.min(ingress ? skb.macLen : 0, skb.len));
    if (!r.ok) {
      releaseHeldLock(this.env);
      st.retval = 0;
      st.action = TcAction.SHOT;
      st.fault = r.fault;
      return st;
    }
    st.retval = r0u32(this.env);
    st.action = clsBpfAction(st.retval);
    st.fault = undefined;
    return st;
  }

  private chain(progs: readonly Executable[], ingress: boolean): TcVerdict {
    const skb = this.skb;
    skb.atIngress = ingress;
    const redirect = newRedirectInfo();
    let retval = 0;
    let action: TcAction = TcAction.UNSPEC;
    for (const exec of progs) {
      const macLen = ingress ? skb.macLen : 0;
      skb.push(macLen);
      skb.pushCtx();
      const state: SkbHookState = { kind: 'skb', skb, datapath: this.datapath, redirect };
      this.env.hook = state;
      const r = exec.run(this.env, skb.ctxAddr);
      this.env.hook = undefined;
      skb.pullCtx();
      // cls_bpf pulls skb->mac_len as it is now: helpers such as vlan_push reset it.
      skb.pull(Math.min(ingress ? skb.macLen : 0, skb.len));
      if (!r.ok) {
        releaseHeldLock(this.env);
        return { retval: 0, action: TcAction.SHOT, frame: this.frame(), redirect, fault: r.fault };
      }
      retval = r0u32(this.env);
      action = clsBpfAction(retval);
      if (action !== TcAction.UNSPEC) break;
    }
    return { retval, action, frame: this.frame(), redirect };
  }

  /** frame returns the packet from the MAC header on. */
  private frame(): Uint8Array {
    const skb = this.skb;
    const from = skb.macHeaderWasSet ? skb.head + skb.macHeader : skb.data;
    return skb.mem.copy(from, skb.data + skb.len - from);
  }
}
