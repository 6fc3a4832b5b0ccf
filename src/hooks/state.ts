/**
 * state — what a packet hook stores in `RunEnv.hook` for its helpers: the buffer the program runs
 * on, the datapath it can see and the redirect record (the kernel's per-CPU bpf_redirect_info).
 */
import type { RunEnv } from '../vm/program.js';
import { FaultCode, GuestFault } from '../vm/fault.js';
import type { XdpBuff } from './xdp.js';
import type { SkBuff } from './skb.js';
import type { DatapathHooks, RedirectInfo } from './datapath.js';

/** XdpHookState is RunEnv.hook while an XDP program runs. */
export interface XdpHookState {
  readonly kind: 'xdp';
  readonly xdp: XdpBuff;
  readonly datapath: DatapathHooks;
  readonly redirect: RedirectInfo;
}

/** SkbHookState is RunEnv.hook while a SCHED_CLS / SCHED_ACT program runs. */
export interface SkbHookState {
  readonly kind: 'skb';
  readonly skb: SkBuff;
  readonly datapath: DatapathHooks;
  readonly redirect: RedirectInfo;
}

/** PacketHookState is either hook's state. */
export type PacketHookState = XdpHookState | SkbHookState;

function isHookState(h: unknown): h is PacketHookState {
  return typeof h === 'object' && h !== null && 'kind' in h && ((h as { kind: unknown }).kind === 'xdp' || (h as { kind: unknown }).kind === 'skb');
}

/** xdpState returns the XDP hook state of a run, or faults when the helper was called from another hook. */
export function xdpState(env: RunEnv, helper: string): XdpHookState {
  const h = env.hook;
  if (isHookState(h) && h.kind === 'xdp') return h;
  throw new GuestFault(FaultCode.HelperArgs, `${helper}: only available to XDP programs run on an xdp_buff`);
}

/** skbState returns the skb hook state of a run, or faults when the helper was called from another hook. */
export function skbState(env: RunEnv, helper: string): SkbHookState {
  const h = env.hook;
  // Per helper call: one property read instead of isHookState's `in` test (same outcome).
  if (typeof h === 'object' && h !== null && (h as { kind?: unknown }).kind === 'skb') return h as SkbHookState;
  throw new GuestFault(FaultCode.HelperArgs, `${helper}: only available to TC programs run on an sk_buff`);
}

/** packetState returns whichever packet hook state the run has, or faults. */
export function packetState(env: RunEnv, helper: string): PacketHookState {
  const h = env.hook;
  if (isHookState(h)) return h;
  throw new GuestFault(FaultCode.HelperArgs, `${helper}: only available to packet programs`);
}

/** PacketHelperDef declares one packet helper: its enum bpf_func_id, kernel name, program types and implementation. */
export interface PacketHelperDef {
  readonly id: number;
  /** Kernel name without the bpf_ prefix, as in HELPER_NAMES. */
  readonly name: string;
  /** BPF_PROG_TYPE_* values the kernel offers it to. */
  readonly progTypes: readonly number[];
  readonly fn: import('../vm/program.js').HelperImpl;
}

/**
 * hookPacketBytes gives the first `len` bytes of the packet behind a run's context, as
 * bpf_xdp_event_output / bpf_skb_event_output copy them (fragments included for XDP), or
 * undefined when the packet is shorter (the helpers then fail with -EFAULT). It is the
 * `packetBytes` service of src/helpers/services.ts.
 */
export function hookPacketBytes(env: RunEnv, len: number): Uint8Array | undefined {
  const h = packetState(env, 'bpf_perf_event_output');
  if (h.kind === 'xdp') {
    if (len > h.xdp.buffLen) return undefined;
    const out = new Uint8Array(len);
    h.xdp.copyBuf(0, out, false);
    return out;
  }
  if (len > h.skb.len) return undefined;
  return h.skb.mem.copy(h.skb.data, len);
}
