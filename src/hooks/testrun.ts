/**
 * testrun — BPF_PROG_TEST_RUN emulated: one frame through one XDP or SCHED_CLS/SCHED_ACT program,
 * returning exactly what the kernel's syscall returns (net/bpf/test_run.c, Linux 6.18):
 * `retval` (u32), `err` (0 or a negative errno), `data_out`, `data_size_out` and `ctx_out`.
 *
 * XDP (bpf_prog_test_run_xdp): a page with XDP_PACKET_HEADROOM (minus the metadata length given
 * in ctx_in) before the frame and the shared info after it; up to 3520 bytes linear (or
 * ctx_in->data_end when given: 6.18 lets the caller choose the linear length), the rest in up to
 * 17 page fragments (-ENOMEM beyond); frames under ETH_HLEN after the metadata are refused; the
 * receive queue is lo's queue 0 unless ctx_in names another; data_out starts at data_meta and
 * includes the fragments. XDP_TX / XDP_REDIRECT / XDP_PASS are not acted upon: the retval is
 * returned as the program gave it.
 *
 * SCHED_CLS / SCHED_ACT (bpf_prog_test_run_skb): a linear skb with NET_SKB_PAD (64) headroom, at
 * most 4096 - 64 - 320 = 3712 bytes and at least ETH_HLEN; eth_type_trans against lo (or the
 * device ctx_in->ifindex names), then the MAC header pushed back; ctx_in may set only mark,
 * priority, ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size and hwtstamp.
 */
import type { Executable, RunEnv, RunResult } from '../vm/program.js';
import type { VmFault } from '../vm/fault.js';
import { NotSupportedError } from '../errors.js';
import { ETH_HLEN, MAX_SKB_FRAGS, SKB_SHARED_INFO_SIZE, XDP_BUFF_SIZE, XDP_FRAME_SIZE, XDP_PACKET_HEADROOM, XdpBuff, XdpMd } from './xdp.js';
import { ChecksumState, EthP, SkBuff, SkBuffField, CB_SIZE } from './skb.js';
import { type DatapathHooks, LOOPBACK_IFINDEX, loopbackDatapath, newRedirectInfo } from './datapath.js';
import type { SkbHookState, XdpHookState } from './state.js';
import { ProgType } from './tc.js';
import { csumFold, csumPartial } from './csum.js';
import { PAGE_SIZE } from '../vm/memory.js';
import { releaseHeldLock } from '../helpers/lock.js';

/** Errno values the test run returns (negated). */
export const Errno = {
  E2BIG: 7,
  ENOMEM: 12,
  EFAULT: 14,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  EBADMSG: 74,
} as const;

/** TestRunFlag holds the BPF_F_TEST_* flags of BPF_PROG_TEST_RUN. */
export const TestRunFlag = {
  RUN_ON_CPU: 1 << 0,
  XDP_LIVE_FRAMES: 1 << 1,
  SKB_CHECKSUM_COMPLETE: 1 << 2,
} as const;

/** BPF_XDP_DEVMAP / BPF_XDP_CPUMAP expected attach types (enum bpf_attach_type). */
export const AttachType = { XDP_DEVMAP: 33, XDP_CPUMAP: 35 } as const;

/** NET_SKB_PAD + NET_IP_ALIGN on x86_64. */
export const SKB_TEST_HEADROOM = 64;
/** SKB_TEST_MAX_DATA: the largest frame bpf_prog_test_run_skb accepts. */
export const SKB_TEST_MAX_DATA = PAGE_SIZE - SKB_TEST_HEADROOM - SKB_SHARED_INFO_SIZE;
/** XDP_TEST_MAX_LINEAR: the linear part of an XDP test buffer without metadata. */
export const XDP_TEST_MAX_LINEAR = XDP_BUFF_SIZE - XDP_PACKET_HEADROOM - SKB_SHARED_INFO_SIZE;
/** GSO_LEGACY_MAX_SIZE and GSO_MAX_SEGS bound ctx_in's wire_len and gso_segs. */
export const GSO_LEGACY_MAX_SIZE = 65536;
export const GSO_MAX_SEGS = 65535;

/** TestRunInput is one BPF_PROG_TEST_RUN request. */
export interface TestRunInput {
  /** data_in. */
  readonly data: Uint8Array;
  /** ctx_in bytes (an xdp_md or a __sk_buff, possibly shorter or longer than the struct). */
  readonly ctxIn?: Uint8Array;
  /** Whether ctx_out is requested; default: when ctx_in is given. */
  readonly ctxOut?: boolean;
  /** ctx_size_out; default 4096 (what libbpf callers usually pass). */
  readonly ctxSizeOut?: number;
  /** data_size_out hint; 0 or absent means "copy everything". */
  readonly dataSizeOut?: number;
  readonly flags?: number;
  readonly cpu?: number;
  readonly batchSize?: number;
  /**
   * repeat: the program runs this many times (0 means 1) on the same buffer, which is not reset
   * between runs (bpf_test_run); the last run's return value is reported.
   */
  readonly repeat?: number;
}

/** TestRunOutput is what the syscall returns. */
export interface TestRunOutput {
  /** 0 or a negative errno. */
  readonly err: number;
  /** The program's return value as u32 (0 when err stopped the run before it). */
  readonly retval: number;
  /** The bytes copied to data_out. */
  readonly dataOut: Uint8Array;
  /** data_size_out: the full output size (may exceed dataOut on -ENOSPC). */
  readonly dataSizeOut: number;
  /** ctx_out bytes, when requested and the run succeeded. */
  readonly ctxOut?: Uint8Array;
  /** A program fault: the kernel's verifier would have refused the program; xdpsim reports it. */
  readonly fault?: VmFault;
}

/** TestRunnerOptions configure a runner for one program. */
export interface TestRunnerOptions {
  readonly exec: Executable;
  /** BPF_PROG_TYPE_XDP, SCHED_CLS or SCHED_ACT. */
  readonly progType: number;
  /** A RunEnv (createRunEnv) whose helpers include the packet helpers; its memory holds the buffers. */
  readonly env: RunEnv;
  /** The namespace the program sees; default: only lo. */
  readonly datapath?: DatapathHooks;
  readonly expectedAttachType?: number;
}

function fail(err: number): TestRunOutput {
  return { err: -err, retval: 0, dataOut: new Uint8Array(0), dataSizeOut: 0 };
}

/** ctxInit is bpf_ctx_init: a zeroed struct with ctx_in copied in, or an errno. */
function ctxInit(input: TestRunInput, maxSize: number): Uint8Array | number | undefined {
  const wantOut = input.ctxOut ?? input.ctxIn !== undefined;
  if (input.ctxIn === undefined && !wantOut) return undefined;
  const ctx = new Uint8Array(maxSize);
  if (input.ctxIn !== undefined) {
    const c = input.ctxIn;
    // bpf_check_uarg_tail_zero: bytes past the struct must be zero; a page at most.
    if (c.length > PAGE_SIZE) return Errno.E2BIG;
    for (let i = maxSize; i < c.length; i++) if (c[i] !== 0) return Errno.E2BIG;
    ctx.set(c.subarray(0, Math.min(maxSize, c.length)));
  }
  return ctx;
}

function u32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/** finish is bpf_test_finish + bpf_ctx_finish. */
function finish(input: TestRunInput, out: Uint8Array, retval: number, ctx: Uint8Array | undefined): TestRunOutput {
  const hint = input.dataSizeOut ?? 0;
  if (hint !== 0 && out.length > hint) {
    return { err: -Errno.ENOSPC, retval, dataOut: out.slice(0, hint), dataSizeOut: out.length };
  }
  const wantOut = input.ctxOut ?? input.ctxIn !== undefined;
  if (ctx === undefined || !wantOut) return { err: 0, retval, dataOut: out, dataSizeOut: out.length };
  const ctxSize = input.ctxSizeOut ?? PAGE_SIZE;
  if (ctxSize < ctx.length) {
    return { err: -Errno.ENOSPC, retval, dataOut: out, dataSizeOut: out.length, ctxOut: ctx.slice(0, ctxSize) };
  }
  return { err: 0, retval, dataOut: out, dataSizeOut: out.length, ctxOut: ctx };
}

/**
 * TestRunner runs frames through one program as BPF_PROG_TEST_RUN would, each on a fresh buffer.
 * Maps and other state in the RunEnv persist from run to run, as they do in the kernel.
 */
export class TestRunner {
  private readonly opts: TestRunnerOptions;
  private readonly datapath: DatapathHooks;
  private xdp: XdpBuff | undefined;
  private skb: SkBuff | undefined;

  constructor(opts: TestRunnerOptions) {
    if (opts.progType !== ProgType.XDP && opts.progType !== ProgType.SCHED_CLS && opts.progType !== ProgType.SCHED_ACT) {
      throw new NotSupportedError('E_TESTRUN_PROG_TYPE', `test-run: program type ${opts.progType} is not supported (XDP, SCHED_CLS and SCHED_ACT are)`, {
        program: opts.exec.spec.name,
      });
    }
    this.opts = opts;
    this.datapath = opts.datapath ?? loopbackDatapath();
  }

  /** run executes one BPF_PROG_TEST_RUN request. */
  run(input: TestRunInput): TestRunOutput {
    return this.opts.progType === ProgType.XDP ? this.runXdp(input) : this.runSkb(input);
  }

  /** runRepeated is bpf_test_run's loop: `repeat` runs (at least one) on the same context. */
  private runRepeated(state: XdpHookState | SkbHookState, ctxAddr: number, repeat = 1): RunResult {
    const env = this.opts.env;
    env.hook = state;
    try {
      let r = this.opts.exec.run(env, ctxAddr);
      for (let i = 1; i < repeat && r.ok; i++) r = this.opts.exec.run(env, ctxAddr);
      // A faulted run may leave a bpf_spin_lock held; the next request must not find it locked.
      if (!r.ok) releaseHeldLock(env);
      return r;
    } finally {
      env.hook = undefined;
    }
  }

  /** runXdp is bpf_prog_test_run_xdp. */
  private runXdp(input: TestRunInput): TestRunOutput {
    const flags = input.flags ?? 0;
    const at = this.opts.expectedAttachType;
    if (at === AttachType.XDP_DEVMAP || at === AttachType.XDP_CPUMAP) return fail(Errno.EINVAL);
    if ((flags & ~TestRunFlag.XDP_LIVE_FRAMES) !== 0) return fail(Errno.EINVAL);
    if ((flags & TestRunFlag.XDP_LIVE_FRAMES) !== 0) {
      throw new NotSupportedError('E_TESTRUN_LIVE_FRAMES', 'test-run: BPF_F_TEST_XDP_LIVE_FRAMES is not supported', {});
    }
    if ((input.batchSize ?? 0) !== 0) return fail(Errno.EINVAL);
    const size = input.data.length;
    const ctx = ctxInit(input, XdpMd.SIZE);
    if (typeof ctx === 'number') return fail(ctx);
    let headroom = XDP_PACKET_HEADROOM;
    let metaLen = 0;
    let linearSize = size;
    if (ctx !== undefined) {
      // ctx_in's data is the metadata length and data_end the linear length (metadata included);
      // the rest of data_in goes to fragments. The metadata must leave room for the xdp_frame.
      const data = u32(ctx, XdpMd.data);
      const dataEnd = u32(ctx, XdpMd.data_end);
      if (
        u32(ctx, XdpMd.data_meta) !== 0 ||
        dataEnd > size ||
        data > dataEnd ||
        (data & 3) !== 0 ||
        data > XDP_PACKET_HEADROOM - XDP_FRAME_SIZE
      ) {
        return fail(Errno.EINVAL);
      }
      headroom -= data;
      metaLen = data;
      linearSize = dataEnd;
    }
    if (size - metaLen < ETH_HLEN) return fail(Errno.EINVAL);
    const maxData = Math.min(linearSize, XDP_BUFF_SIZE - headroom - SKB_SHARED_INFO_SIZE);
    // xdp_convert_md_to_buff
    let ifindex = LOOPBACK_IFINDEX;
    let queue = 0;
    if (ctx !== undefined) {
      if (u32(ctx, XdpMd.egress_ifindex) !== 0) return fail(Errno.EINVAL);
      const ing = u32(ctx, XdpMd.ingress_ifindex);
      const rxq = u32(ctx, XdpMd.rx_queue_index);
      if (ing === 0 && rxq !== 0) return fail(Errno.EINVAL);
      if (ing !== 0) {
        const dev = this.datapath.device(ing);
        if (dev === undefined) return fail(Errno.ENODEV);
        if (rxq >= dev.rxQueues) return fail(Errno.EINVAL);
        ifindex = ing;
        queue = rxq;
      }
    }
    if (size > maxData && Math.ceil((size - maxData) / PAGE_SIZE) > MAX_SKB_FRAGS) return fail(Errno.ENOMEM);
    const xdp = (this.xdp ??= new XdpBuff(this.opts.env.mem, { devmapProgram: at === AttachType.XDP_DEVMAP }));
    xdp.load(input.data, headroom, maxData, { metaLen, rxq: { ifindex, queueIndex: queue, fragSize: XDP_BUFF_SIZE } });
    const state: XdpHookState = { kind: 'xdp', xdp, datapath: this.datapath, redirect: newRedirectInfo() };
    const r = this.runRepeated(state, xdp.ctxAddr, input.repeat);
    if (!r.ok) return { ...fail(0), fault: r.fault };
    const retval = Number(BigInt.asUintN(32, r.r0));
    if (ctx !== undefined) {
      putU32(ctx, XdpMd.data, xdp.data - xdp.dataMeta);
      putU32(ctx, XdpMd.data_end, xdp.dataEnd - xdp.dataMeta);
    }
    return finish(input, xdp.copyFrom(xdp.dataMeta), retval, ctx);
  }

  /** runSkb is bpf_prog_test_run_skb for SCHED_CLS / SCHED_ACT. */
  private runSkb(input: TestRunInput): TestRunOutput {
    const flags = input.flags ?? 0;
    if ((flags & ~TestRunFlag.SKB_CHECKSUM_COMPLETE) !== 0 || (input.cpu ?? 0) !== 0 || (input.batchSize ?? 0) !== 0) {
      return fail(Errno.EINVAL);
    }
    const size = input.data.length;
    if (size < ETH_HLEN || size > SKB_TEST_MAX_DATA) return fail(Errno.EINVAL);
    const ctx = ctxInit(input, SkBuffField.SIZE);
    if (typeof ctx === 'number') return fail(ctx);
    let dev = this.datapath.device(LOOPBACK_IFINDEX);
    if (ctx !== undefined && u32(ctx, SkBuffField.ifindex) > 1) dev = this.datapath.device(u32(ctx, SkBuffField.ifindex));
    if (dev === undefined) return fail(Errno.ENODEV);
    const skb = (this.skb ??= new SkBuff(this.opts.env.mem, dev));
    skb.reset(input.data, { dev, hasSocket: true, atIngress: false });
    skb.ethTypeTrans();
    // The dummy socket takes its addresses from the IP header, which must be there (6.18 refuses
    // an IPv4 or IPv6 frame too short for it).
    if ((skb.protocol === EthP.IP && skb.len < 20) || (skb.protocol === EthP.IPV6 && skb.len < 40)) return fail(Errno.EINVAL);
    const ip = skb.bytes();
    if (skb.protocol === EthP.IP) skb.setSock({ family: 2, src: ip.slice(12, 16), dst: ip.slice(16, 20) });
    else if (skb.protocol === EthP.IPV6) skb.setSock({ family: 10, src: ip.slice(8, 24), dst: ip.slice(24, 40) });
    else skb.setSock({ family: 0, src: new Uint8Array(4), dst: new Uint8Array(4) });
    skb.push(ETH_HLEN);
    if (ctx !== undefined) {
      const e = convertCtxToSkb(ctx, skb);
      if (e !== 0) return fail(e);
    }
    if ((flags & TestRunFlag.SKB_CHECKSUM_COMPLETE) !== 0) {
      skb.csum = csumPartial(skb.bytes().subarray(skb.networkOffset), 0);
      skb.ipSummed = ChecksumState.COMPLETE;
    }
    skb.pushCtx();
    const state: SkbHookState = { kind: 'skb', skb, datapath: this.datapath, redirect: newRedirectInfo() };
    const r = this.runRepeated(state, skb.ctxAddr, input.repeat);
    if (!r.ok) return { ...fail(0), fault: r.fault };
    skb.pullCtx();
    const retval = Number(BigInt.asUintN(32, r.r0));
    if ((flags & TestRunFlag.SKB_CHECKSUM_COMPLETE) !== 0) {
      const now = csumPartial(skb.bytes().subarray(skb.networkOffset), 0);
      if (csumFold(skb.csum) !== csumFold(now)) return fail(Errno.EBADMSG);
    }
    if (ctx !== undefined) convertSkbToCtx(skb, ctx);
    return finish(input, skb.bytes().slice(), retval, ctx);
  }
}

/** rangeIsZero tells whether ctx[from, to) is all zero. */
function rangeIsZero(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

/** convertCtxToSkb is convert___skb_to_skb: only the fields test-run accepts may be non-zero. */
function convertCtxToSkb(ctx: Uint8Array, skb: SkBuff): number {
  const F = SkBuffField;
  if (
    !rangeIsZero(ctx, 0, F.mark) ||
    !rangeIsZero(ctx, F.mark + 4, F.priority) ||
    !rangeIsZero(ctx, F.ifindex + 4, F.cb) ||
    !rangeIsZero(ctx, F.cb + CB_SIZE, F.tstamp) ||
    !rangeIsZero(ctx, F.gso_segs + 4, F.gso_size) ||
    !rangeIsZero(ctx, F.gso_size + 4, F.hwtstamp) ||
    !rangeIsZero(ctx, F.hwtstamp + 8, F.SIZE)
  ) {
    return Errno.EINVAL;
  }
  const dv = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
  skb.mark = dv.getUint32(F.mark, true);
  skb.priority = dv.getUint32(F.priority, true);
  skb.skbIif = dv.getUint32(F.ingress_ifindex, true);
  skb.tstamp = dv.getBigUint64(F.tstamp, true);
  skb.cb().set(ctx.subarray(F.cb, F.cb + CB_SIZE));
  const wire = dv.getUint32(F.wire_len, true);
  if (wire === 0) {
    skb.wireLen = skb.len;
  } else {
    if (wire < skb.len || wire > GSO_LEGACY_MAX_SIZE) return Errno.EINVAL;
    skb.wireLen = wire;
  }
  const segs = dv.getUint32(F.gso_segs, true);
  if (segs > GSO_MAX_SEGS) return Errno.EINVAL;
  skb.gsoSegs = segs;
  skb.gsoSize = dv.getUint32(F.gso_size, true);
  skb.hwtstamp = dv.getBigUint64(F.hwtstamp, true);
  return 0;
}

/** convertSkbToCtx is convert_skb_to___skb: the fields test-run reports back in ctx_out. */
function convertSkbToCtx(skb: SkBuff, ctx: Uint8Array): void {
  const F = SkBuffField;
  const dv = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
  dv.setUint32(F.mark, skb.mark >>> 0, true);
  dv.setUint32(F.priority, skb.priority >>> 0, true);
  dv.setUint32(F.ingress_ifindex, skb.skbIif, true);
  dv.setUint32(F.ifindex, skb.dev.ifindex, true);
  dv.setBigUint64(F.tstamp, skb.tstamp, true);
  ctx.set(skb.cb(), F.cb);
  dv.setUint32(F.wire_len, skb.wireLen, true);
  dv.setUint32(F.gso_segs, skb.gsoSegs, true);
  dv.setBigUint64(F.hwtstamp, skb.hwtstamp, true);
}
