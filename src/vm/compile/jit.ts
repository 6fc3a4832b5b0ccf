/**
 * jit — the compiled engine, registered as `jit` (DESIGN.md, "Engines").
 *
 * `prepare` translates the program once into a WebAssembly module (codegen.ts) whose linear
 * memory is the VM's own WebAssembly.Memory, so guest pointers are wasm addresses and loads and
 * stores are single wasm instructions after an inline bounds check. The module is instantiated
 * once per Memory, against that Memory's Runtime: the budget, stack top, region caches and the
 * imported functions (slow memory path, helper calls, tail calls, traps) every program on that
 * Memory shares, so tail calls and callbacks between programs see one budget.
 *
 * Choice of WebAssembly over generated JavaScript — measured on this machine (Node 20.20, a
 * 2-core VM under load 12-19 from other work, so all figures are process CPU time, inflated
 * 2-4x against an idle core; min of 5-7 batches). Program: bench's 41-slot Ethernet -> IPv4 ->
 * TCP/UDP port parser (35 instructions executed), 64-byte UDP frame:
 *   JavaScript source (hand translation as `new Function` would emit it: int32 halves, carries,
 *     inline packet check, context inline cache, per-block budget), called directly   18 ns
 *   this compiler's wasm `run` export, called directly from JS                         33 ns
 *   the same compiled body called from a wasm loop (no JS boundary)                    22 ns
 *   `Executable.run` (RunResult included): jit 63-87 ns, interp 343-528 ns; the kernel's
 *   BPF_PROG_TEST_RUN in the same bench run: 9-13 ns (drop: jit 25-45, kernel 12).
 * So on a small program JavaScript wins by the JS->wasm boundary (~10 ns here) plus a little, and
 * a JavaScript helper call can be inlined. Both back ends are here, chosen per program behind the
 * one Executable: jsgen.ts's JavaScript function for single-function programs under 40 KB of
 * generated source (V8 does not optimise a function above 60 KB of bytecode,
 * --max-optimized-bytecode-size, which a few hundred eBPF instructions in int32 halves exceed),
 * this WebAssembly module for the others (test/vm/jit.test.ts runs a 20k-instruction program):
 * no size limit, native i64 arithmetic, and the VM's WebAssembly.Memory as the module's memory,
 * so a load is one instruction after its check. The JavaScript function shares this module's
 * runtime (sites, slow path, traps, budget) and falls back to it whenever its own budget rule
 * needs (jsgen.ts). `jitEngineWith('js' | 'wasm')` forces one back end (the tests run both).
 *
 * Semantics are the interpreter's (interp.ts) to the letter, faults included: same code,
 * instruction index, message, access details and instruction count. Known difference, only for
 * programs the verifier refuses (kernel/bpf/verifier.c treats these registers as uninitialised):
 * a tail-call target or a callback starts with r0 and r6-r9 zero, where the interpreter leaves
 * the values the caller had. Assumptions of the caches: a context region's plan (ctx-plan.ts)
 * depends only on (offset, size, kind), and a context region's bounds, permissions or plan are
 * not changed by a helper in the middle of a run (they are re-checked at the start of every run;
 * packet and other regions are re-checked after every helper call too).
 */
import { MAX_BPF_STACK, MAX_CALL_FRAMES, MAX_TAIL_CALL_CNT } from '../../isa/opcodes.js';
import { FaultCode, GuestFault, makeFault, memoryFault, type VmFault } from '../fault.js';
import { MAX_MEMORY, PAGE_SHIFT, RegionKind, type Memory, type Region } from '../memory.js';
import { CtxKind, readPlanned } from '../ctx-plan.js';
import type { Engine, Executable, ProgramSpec, RunEnv, RunResult } from '../program.js';
import {
  arsh64, div32, div64, lsh64, mod32, mod64, rsh64, sdiv32, sdiv64, setFromBigInt, setFromNumber, smod32, smod64, toBigU64, umulhi32,
} from '../alu.js';
import { sharedAtomic } from '../atomics.js';
import { compileProgram, IMPORT, SHARED_GLOBALS, SiteKind, type Compiled, type Site } from './codegen.js';
import { compileJs, type JsCompiled } from './jsgen.js';
import { arrayLookupLayout } from '../inline-lookup.js';

/** STACK_BYTES is the size of the stack region used: all call frames. */
const STACK_BYTES = MAX_CALL_FRAMES * MAX_BPF_STACK;

const SMALL_BIGINTS: readonly bigint[] = Array.from({ length: 1024 }, (_, i) => BigInt(i));

/** JitFault carries a fault from the runtime to the run boundary (not an Error: no stack trace). */
class JitFault {
  constructor(readonly fault: VmFault) {}
}

/** EXIT_SIGNAL ends the run (or callback) after a helper set env.exitRequested. */
const EXIT_SIGNAL = { exit: true } as const;

type EntryFn = (
  a1l: number, a1h: number, a2l: number, a2h: number, a3l: number, a3h: number,
  a4l: number, a4h: number, a5l: number, a5h: number, fp: number,
) => number;

type RunFn = (
  arg1: number, arg2: number, left: number, top: number,
  pRlo: number, pRm: number, pWlo: number, pWm: number, vRlo: number, vRm: number, vWlo: number, vWm: number,
) => number;

interface InstanceExports {
  readonly left: () => number;
  readonly run: RunFn;
  readonly [entry: string]: EntryFn | RunFn | (() => number);
}


/** regionOk is the interpreter's region rule: live bounds and permission (context plans apart). */
function regionOk(mem: Memory, a: number, size: number, write: boolean): Region | undefined {
  if (a < 0 || a >= MAX_MEMORY) return undefined;
  const rg = mem.regions[mem.owner[a >>> PAGE_SHIFT]];
  return a >= rg.lo && a + size <= rg.hi && (write ? rg.writable : rg.readable) ? rg : undefined;
}


/** IcRecord remembers a context region whose fields were validated into inline caches. */
interface IcRecord {
  readonly region: Region;
  readonly lo: number;
  readonly hi: number;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly plan: Region['ctxPlan'];
}

/**
 * SlotCache is the region in one cache slot (packet or victim) with the values pushed to the
 * slot's globals and the region state they were computed from, so a run start or a helper
 * return only compares a few fields.
 */
class SlotCache {
  region: Region | undefined;
  private lo = 0;
  private hi = 0;
  private readable = false;
  private writable = false;
  private plan: Region['ctxPlan'];
  private top = -1;
  rlo = 0;
  rm = 0;
  wlo = 0;
  wm = 0;

  /** set puts `region` in the slot (values are computed by the next refresh). */
  set(region: Region): void {
    this.region = region;
    this.top = -1;
  }

  /**
   * refresh recomputes the values when the region or the stack top changed and says whether
   * they did. A disabled half (no region, too small, no permission, a context policy) points at
   * frame 0, [top - 512, top), which is always accessible.
   */
  refresh(top: number): boolean {
    const rg = this.region;
    if (rg === undefined) {
      if (top === this.top) return false;
      this.top = top;
      this.rlo = this.wlo = top - MAX_BPF_STACK;
      this.rm = this.wm = MAX_BPF_STACK - 8;
      return true;
    }
    if (rg.lo === this.lo && rg.hi === this.hi && rg.readable === this.readable && rg.writable === this.writable && rg.ctxPlan === this.plan && top === this.top) {
      return false;
    }
    this.lo = rg.lo;
    this.hi = rg.hi;
    this.readable = rg.readable;
    this.writable = rg.writable;
    this.plan = rg.ctxPlan;
    this.top = top;
    const span = rg.hi - rg.lo - 8;
    const ok = span >= 0 && rg.ctxPlan === undefined;
    const r = ok && rg.readable;
    const w = ok && rg.writable;
    this.rlo = r ? rg.lo : top - MAX_BPF_STACK;
    this.rm = r ? span : MAX_BPF_STACK - 8;
    this.wlo = w ? rg.lo : top - MAX_BPF_STACK;
    this.wm = w ? span : MAX_BPF_STACK - 8;
    return true;
  }
}

/** icChanged tells whether a context region changed since it was validated into inline caches. */
function icChanged(r: IcRecord): boolean {
  const rg = r.region;
  return rg.lo !== r.lo || rg.hi !== r.hi || rg.readable !== r.readable || rg.writable !== r.writable || rg.ctxPlan !== r.plan;
}

/**
 * Runtime is the per-Memory state shared by every compiled program on it: the wasm globals
 * (budget left, stack top, region caches, inline-cache epoch) and the state of the current run.
 */
class Runtime {
  readonly g: Record<(typeof SHARED_GLOBALS)[number], WebAssembly.Global>;
  env: RunEnv | undefined;
  tailCnt = 0;
  top = 0;
  /** Frame pointer and program of the helper call in progress (for callbacks). */
  curFp = 0;
  curProg: JitProgram | undefined;
  /** The packet and victim slots. */
  readonly pkt = new SlotCache();
  readonly vic = new SlotCache();
  epoch = 1;
  /** Context regions validated into inline caches (the first one kept apart: the common case). */
  ic0: IcRecord | undefined;
  icMore: IcRecord[] = [];
  /** Register file saved around callbacks, per depth. */
  readonly cbSaved = new Int32Array(MAX_CALL_FRAMES * 22);
  active = 0;
  /** A context load computed by the slow path (ctxLo/ctxHi hand it to the module). */
  readonly ctxValue = new Int32Array(2);
  readonly callSubprog = (insn: number, args: readonly bigint[]): bigint => this.callback(insn, args);
  /** State shared by the JavaScript back end's functions on this Memory (see jsgen.ts). */
  readonly js: JsState = { left: 0, r0h: 0, tk: 0 };
  /** callSubprog while a JavaScript-compiled program runs: its budget lives in js.left. */
  readonly jsCallSubprog = (insn: number, args: readonly bigint[]): bigint => {
    const g = this.g;
    this.pushGlobals();
    g.left.value = this.js.left;
    try {
      return this.callback(insn, args);
    } finally {
      this.js.left = g.left.value as number;
    }
  };

  constructor(readonly mem: Memory) {
    const g = {} as Record<(typeof SHARED_GLOBALS)[number], WebAssembly.Global>;
    for (const name of SHARED_GLOBALS) g[name] = new WebAssembly.Global({ value: 'i32', mutable: true }, 0);
    g.epoch.value = this.epoch;
    this.g = g;
  }

  /** resync re-pushes the slot globals whose region changed (after a helper or the slow path). */
  resync(): void {
    const g = this.g;
    const p = this.pkt;
    if (p.refresh(this.top)) {
      g.pRlo.value = p.rlo;
      g.pRm.value = p.rm;
      g.pWlo.value = p.wlo;
      g.pWm.value = p.wm;
    }
    const v = this.vic;
    if (v.refresh(this.top)) {
      g.vRlo.value = v.rlo;
      g.vRm.value = v.rm;
      g.vWlo.value = v.wlo;
      g.vWm.value = v.wm;
    }
  }

  /**
   * pushGlobals writes the stack top and both slots to the wasm globals, before wasm code runs
   * from a JavaScript-compiled program (which reads the SlotCaches, not the globals).
   */
  pushGlobals(): void {
    const g = this.g;
    const p = this.pkt;
    const v = this.vic;
    p.refresh(this.top);
    v.refresh(this.top);
    g.top.value = this.top;
    g.pRlo.value = p.rlo;
    g.pRm.value = p.rm;
    g.pWlo.value = p.wlo;
    g.pWm.value = p.wm;
    g.vRlo.value = v.rlo;
    g.vRm.value = v.rm;
    g.vWlo.value = v.wlo;
    g.vWm.value = v.wm;
  }

  /** checkIc invalidates every inline cache when a context region they validated has changed. */
  checkIc(): void {
    const r = this.ic0;
    if (r !== undefined && icChanged(r)) return this.bumpEpoch();
    const more = this.icMore;
    for (let i = 0; i < more.length; i++) if (icChanged(more[i])) return this.bumpEpoch();
  }

  private bumpEpoch(): void {
    this.epoch++;
    this.g.epoch.value = this.epoch;
    this.ic0 = undefined;
    this.icMore = [];
  }

  /** noteIc records a context region validated into an inline cache. */
  noteIc(rg: Region): void {
    const rec: IcRecord = { region: rg, lo: rg.lo, hi: rg.hi, readable: rg.readable, writable: rg.writable, plan: rg.ctxPlan };
    if (this.ic0 === undefined) this.ic0 = rec;
    else if (this.ic0.region !== rg && !this.icMore.some((r) => r.region === rg)) this.icMore.push(rec);
  }

  /** callback implements env.callSubprog (bpf_loop, bpf_for_each_map_elem, ...). */
  private callback(insn: number, args: readonly bigint[]): bigint {
    const prog = this.curProg;
    const env = this.env;
    if (prog === undefined || env === undefined) throw new Error('jit: callSubprog called outside a helper call');
    const fp = this.curFp;
    const depth = (this.top - fp) / MAX_BPF_STACK + 1;
    if (depth >= MAX_CALL_FRAMES) {
      throw new GuestFault(FaultCode.CallDepth, `callback at instruction ${insn} would exceed ${MAX_CALL_FRAMES} call frames`);
    }
    if (insn < 0 || insn >= prog.spec.insns.length) {
      throw new GuestFault(FaultCode.PcOutOfRange, `callback target ${insn} is outside the program`);
    }
    const fn = prog.instanceFor(this).entry(insn);
    const R = env.regs;
    const save = this.cbSaved;
    const base = (depth - 1) * 22;
    for (let i = 0; i < 22; i++) save[base + i] = R[i];
    for (let i = 1; i <= 5; i++) {
      const v = args[i - 1];
      if (v === undefined) {
        R[2 * i] = 0;
        R[2 * i + 1] = 0;
      } else setFromBigInt(R, 2 * i, v);
    }
    let v: number;
    try {
      v = fn(R[2], R[3], R[4], R[5], R[6], R[7], R[8], R[9], R[10], R[11], fp - MAX_BPF_STACK);
    } catch (e) {
      if (e !== EXIT_SIGNAL) throw e;
      v = NaN;
    } finally {
      this.curProg = prog;
      this.curFp = fp;
    }
    const r0 = v === v ? (v >= 0 && v < 1024 ? SMALL_BIGINTS[v] : BigInt.asUintN(64, BigInt(v))) : toBigU64(R[1], R[0]);
    for (let i = 0; i < 22; i++) R[i] = save[base + i];
    env.stack.lo = fp - MAX_BPF_STACK;
    return r0;
  }
}

const RUNTIMES = new WeakMap<Memory, Runtime>();

function runtimeOf(mem: Memory): Runtime {
  let rt = RUNTIMES.get(mem);
  if (rt === undefined) {
    rt = new Runtime(mem);
    RUNTIMES.set(mem, rt);
  }
  return rt;
}

/** JitInstance is one program instantiated on one Runtime. */
class JitInstance {
  readonly exports: InstanceExports;
  readonly init: (...v: number[]) => void;
  readonly runFn: RunFn;
  /** The exported wrapper of entry 0 (tail-call target entry). */
  readonly entry0: EntryFn;
  /** The last successful result with a small r0 (as a number), for reuse. */
  lastOk: Extract<RunResult, { ok: true }> | undefined;
  lastR0 = 0;
  readonly leftFn: () => number;
  /** The runtime functions the JavaScript back end shares with this module (same sites array). */
  readonly slow: (site: number, lo: number, hi: number, fp: number, vlo: number, vhi: number) => number;
  readonly trap: (site: number) => void;
  private readonly entries = new Map<number, EntryFn>();

  constructor(
    readonly prog: JitProgram,
    readonly rt: Runtime,
    module: WebAssembly.Module,
    private readonly sites: readonly Site[],
    private readonly compiledEntries: readonly number[],
  ) {
    const spec = prog.spec;
    const mem = rt.mem;
    const g = rt.g;
    const fault = (f: VmFault): JitFault => new JitFault(f);
    const imports: Record<string, WebAssembly.ImportValue> = {
      [IMPORT.mem]: mem.wasm,
      ...g,
      // Returns 0 for a plain region (slots refreshed: access L_A), 1 when it performed a context
      // access itself, else the effective address of a context access (cached per site).
      [IMPORT.slow]: (site: number, lo: number, hi: number, fp: number, vlo: number, vhi: number): number => {
        const s = sites[site];
        const env = rt.env as RunEnv;
        env.stack.lo = fp - MAX_BPF_STACK;
        const a = hi === 0 ? (lo >>> 0) + s.off : -1;
        const rg = regionOk(mem, a, s.size, s.write);
        const plan = rg?.ctxPlan;
        if (rg !== undefined && plan === undefined) {
          if (rg.kind === RegionKind.Packet) rt.pkt.set(rg);
          else if (rg.kind !== RegionKind.Stack) rt.vic.set(rg);
          rt.resync();
          return 0;
        }
        const p = rg !== undefined && plan !== undefined ? plan.resolve(a - rg.lo, s.size, s.access) : undefined;
        if (rg === undefined || p === undefined || p.op === 'refuse') {
          if (s.refund !== 0) g.left.value = (g.left.value as number) + s.refund;
          throw fault(memoryFault(mem, spec, s.insn, lo, hi, s.base, s.off, s.size, s.write, s.access));
        }
        rt.noteIc(rg);
        const at = rg.lo + p.off;
        if (p.op === 'load') {
          if (p.size === s.size && !p.signed) return at;
          readPlanned(mem.dv, at, p.size, p.signed, s.size, s.access === CtxKind.LoadSx, rt.ctxValue, 0);
          return 1;
        }
        if (p.hook === undefined) return at;
        p.hook(mem.dv, at, vlo, vhi, s.access);
        return 1;
      },
      [IMPORT.ctxLo]: (): number => rt.ctxValue[0],
      [IMPORT.ctxHi]: (): number => rt.ctxValue[1],
      [IMPORT.helper]: (
        site: number, id: number,
        a1l: number, a1h: number, a2l: number, a2h: number, a3l: number, a3h: number,
        a4l: number, a4h: number, a5l: number, a5h: number, fp: number,
      ): number => {
        const s = sites[site];
        const env = rt.env as RunEnv;
        const R = env.regs;
        R[2] = a1l; R[3] = a1h; R[4] = a2l; R[5] = a2h; R[6] = a3l; R[7] = a3h;
        R[8] = a4l; R[9] = a4h; R[10] = a5l; R[11] = a5h; R[20] = fp; R[21] = 0;
        const fn = env.helpers.get(id);
        if (fn === undefined) throw fault(makeFault(spec, s.insn, FaultCode.UnknownHelper, `call to helper ${id}, which is not available here`));
        const cur = env.current;
        if (cur === undefined) env.current = { program: spec.name, insn: s.insn };
        else {
          cur.program = spec.name;
          cur.insn = s.insn;
        }
        rt.curFp = fp;
        rt.curProg = prog;
        env.stack.lo = fp - MAX_BPF_STACK;
        let res: number | bigint;
        try {
          res = fn(env);
        } catch (e) {
          if (e instanceof JitFault || e === EXIT_SIGNAL) throw e;
          if (e instanceof GuestFault) throw fault(makeFault(spec, s.insn, e.code, `helper ${id}: ${e.message}`, e.access));
          throw e;
        }
        let ret: number;
        if (typeof res === 'number') {
          if (res === (res | 0)) {
            R[0] = res;
            R[1] = res >> 31;
            ret = res;
          } else {
            setFromNumber(R, 0, res);
            ret = NaN;
          }
        } else {
          setFromBigInt(R, 0, res);
          ret = NaN;
        }
        rt.resync();
        if (env.exitRequested === true) {
          env.exitRequested = false;
          throw EXIT_SIGNAL;
        }
        return ret;
      },
      [IMPORT.tail]: (
        _site: number,
        a1l: number, a1h: number, a2l: number, a2h: number, a3l: number, a3h: number,
        a4l: number, a4h: number, a5l: number, a5h: number, fp: number,
      ): number => {
        // kernel/bpf/core.c JMP_TAIL_CALL: r2 = prog array, r3 = index. On failure the program
        // goes on after the call; the count rises only when the index is in range.
        const env = rt.env as RunEnv;
        const resolver = env.tailCall;
        const target = resolver === undefined || a2h !== 0 ? undefined : resolver(a2l >>> 0, a3l >>> 0);
        if (target === undefined) return Infinity;
        if (rt.tailCnt >= MAX_TAIL_CALL_CNT) return Infinity;
        rt.tailCnt++;
        if (target === null) return Infinity;
        // A target prepared by this engine on this Memory has its instance at hand; any other
        // executable (another engine's) is compiled from its spec once.
        let tinst: JitInstance;
        if (target instanceof JitExecutable) {
          if (target.lastMem !== mem || target.lastInst === undefined) {
            target.lastMem = mem;
            target.lastInst = jitProgramOf(target.spec).instanceFor(rt);
          }
          tinst = target.lastInst;
        } else tinst = jitProgramOf(target.spec).instanceFor(rt);
        return tinst.entry0(a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h, fp);
      },
      [IMPORT.trap]: (site: number): void => {
        const s = sites[site];
        const env = rt.env as RunEnv;
        if (s.kind === SiteKind.Budget) {
          throw fault(makeFault(spec, s.insn, FaultCode.Budget, `instruction budget of ${env.insnBudget} exhausted (runaway loop?)`));
        }
        const r = s.refusal as { code: FaultCode; message: string };
        throw fault(makeFault(spec, s.insn, r.code, r.message));
      },
      [IMPORT.r0lo]: (): number => (rt.env as RunEnv).regs[0],
      [IMPORT.r0hi]: (): number => (rt.env as RunEnv).regs[1],
      [IMPORT.setR0]: (lo: number, hi: number): void => {
        const R = (rt.env as RunEnv).regs;
        R[0] = lo;
        R[1] = hi;
      },
    };
    this.slow = imports[IMPORT.slow] as (site: number, lo: number, hi: number, fp: number, vlo: number, vhi: number) => number;
    this.trap = imports[IMPORT.trap] as (site: number) => void;
    const inst = new WebAssembly.Instance(module, { x: imports });
    this.exports = inst.exports as unknown as InstanceExports;
    this.init = inst.exports.init as (...v: number[]) => void;
    this.runFn = this.exports.run;
    this.leftFn = this.exports.left;
    this.entry0 = this.exports.e0 as EntryFn;
  }

  /** entry returns the exported wrapper of the function starting at `insn`, compiling it if needed. */
  entry(insn: number): EntryFn {
    let fn = this.entries.get(insn);
    if (fn !== undefined) return fn;
    if (this.compiledEntries.includes(insn)) {
      fn = this.exports[`e${insn}`] as EntryFn;
    } else {
      // A callback address not visible as an lddw constant: recompile with it as an entry.
      fn = this.prog.withEntry(insn).instanceFor(this.rt).entry(insn);
    }
    this.entries.set(insn, fn);
    return fn;
  }
}

/** WASM_PAGE_BYTES is WebAssembly's page size. */
const WASM_PAGE_BYTES = 0x10000;

/** JitProgram is a compiled program: its module, sites and per-Runtime instances. */
class JitProgram {
  private readonly module: WebAssembly.Module;
  private readonly instances = new WeakMap<Runtime, JitInstance>();
  private extended: JitProgram | undefined;
  /** The JavaScript translation, when the JavaScript back end takes the program. */
  readonly js: JsCompiled | undefined;
  /** Why the JavaScript back end does not take it (when js is undefined). */
  readonly jsRefused: string | undefined;
  /** The wasm module's sites followed by the JavaScript function's. */
  private readonly sites: readonly Site[];
  private jsFactory: ((kit: JsKit) => JsFunctions) | undefined;
  private readonly jsInstances = new WeakMap<Runtime, JsInstance>();

  constructor(
    readonly spec: ProgramSpec,
    private readonly compiled: Compiled,
    private readonly extraEntries: readonly number[] = [],
  ) {
    this.module = new WebAssembly.Module(compiled.wasm);
    const js = extraEntries.length === 0 ? compileJs(spec.insns, compiled.sites.length, (spec as Partial<{ readonly progType: number }>).progType) : 'recompiled with a callback entry';
    if (typeof js === 'string') {
      this.jsRefused = js;
      this.sites = compiled.sites;
    } else {
      this.js = js;
      this.sites = [...compiled.sites, ...js.sites];
    }
  }

  /**
   * sharedModule is the same program compiled against a shared memory import (a module imports
   * only memories of its own sharedness); built on first use on a shared-mode Memory.
   */
  private sharedModule: WebAssembly.Module | undefined;

  /** instanceFor returns this program instantiated on `rt`. */
  instanceFor(rt: Runtime): JitInstance {
    let inst = this.instances.get(rt);
    if (inst === undefined) {
      let module = this.module;
      if (rt.mem.shared !== undefined) {
        const pages = rt.mem.wasm.buffer.byteLength / WASM_PAGE_BYTES;
        module = this.sharedModule ??= new WebAssembly.Module(compileProgram(this.spec.insns, this.extraEntries, pages).wasm);
      }
      inst = new JitInstance(this, rt, module, this.sites, this.compiled.entries);
      this.instances.set(rt, inst);
    }
    return inst;
  }

  /** jsInstanceFor returns the JavaScript function of this program on `rt` (js must be defined). */
  jsInstanceFor(rt: Runtime): JsInstance {
    let inst = this.jsInstances.get(rt);
    if (inst === undefined) {
      const js = this.js as JsCompiled;
      if (this.jsFactory === undefined) {
        this.jsFactory = new Function('K', js.source) as (kit: JsKit) => JsFunctions;
      }
      inst = new JsInstance(this, rt, this.instanceFor(rt), this.sites, this.jsFactory, js.maxPath);
      this.jsInstances.set(rt, inst);
    }
    return inst;
  }

  /** withEntry returns a version of this program compiled with `insn` as an extra entry. */
  withEntry(insn: number): JitProgram {
    if (this.extended !== undefined && this.extended.compiled.entries.includes(insn)) return this.extended;
    const extra = [...this.extraEntries, insn];
    this.extended = new JitProgram(this.spec, compileProgram(this.spec.insns, extra), extra);
    return this.extended;
  }
}

const PROGRAMS = new WeakMap<ProgramSpec, JitProgram>();

/** jitProgramOf compiles a spec once (tail-call targets prepared by other engines included). */
function jitProgramOf(spec: ProgramSpec): JitProgram {
  let p = PROGRAMS.get(spec);
  if (p === undefined) {
    p = new JitProgram(spec, compileProgram(spec.insns));
    PROGRAMS.set(spec, p);
  }
  return p;
}

/** JsState is what the JavaScript functions on one Memory pass each other besides arguments. */
interface JsState {
  /** Budget left: set before every call out and at return. */
  left: number;
  /** High half of r0 at return. */
  r0h: number;
  /** 1 when the last tail call happened (its target's r0 is the return value). */
  tk: number;
}

/** JsFunctions is what a generated factory returns (see jsgen.ts). */
interface JsFunctions {
  run: (
    l1: number, h1: number, l2: number, h2: number, l3: number, h3: number,
    l4: number, h4: number, l5: number, h5: number, fp: number, left: number,
  ) => number;
  bind: (helpers: RunEnv['helpers']) => void;
  entry: (env: RunEnv, arg1: number, arg2: number) => RunResult;
}

/** JsKit is the runtime a generated factory closes over (the names jsgen.ts destructures). */
interface JsKit {
  rt: Runtime;
  st: JsState;
  mem: Memory;
  slow: JitInstance['slow'];
  trap: JitInstance['trap'];
  hErr: (e: unknown, site: number) => unknown;
  conv: (x: number | bigint) => void;
  /** jsTail itself (the generated code passes rt): one call less per tail call. */
  tail: typeof jsTail;
  EXIT: typeof EXIT_SIGNAL;
  umulhi32: typeof umulhi32;
  S: Int32Array;
  div64: typeof div64;
  mod64: typeof mod64;
  sdiv64: typeof sdiv64;
  smod64: typeof smod64;
  div32: typeof div32;
  mod32: typeof mod32;
  sdiv32: typeof sdiv32;
  smod32: typeof smod32;
  lsh64: typeof lsh64;
  rsh64: typeof rsh64;
  arsh64: typeof arsh64;
  unknown: (id: number, insn: number) => (env: RunEnv) => number;
  NAME: string;
  WP: JitProgram;
  CS: Runtime['jsCallSubprog'];
  SMALL: readonly bigint[];
  /** Atomics on a shared-mode memory (replay --workers; src/vm/atomics.ts) and its old value. */
  SA: typeof sharedAtomic;
  AO: Int32Array;
  fail: (e: unknown, budget: number) => RunResult;
  result: (hi: number, lo: number, count: number) => RunResult;
  /** The array layout behind a bpf_map_lookup_elem helper and a map handle (inline lookups). */
  AL: typeof arrayLookupLayout;
}

/** JsInstance is one program's JavaScript function instantiated on one Runtime. */
class JsInstance {
  readonly run: JsFunctions['run'];
  readonly bind: JsFunctions['bind'];
  readonly entry: JsFunctions['entry'];
  /** The helper table the call sites are bound to (for tail calls; entry keeps its own). */
  table: RunEnv['helpers'] | undefined;

  constructor(
    readonly prog: JitProgram,
    readonly rt: Runtime,
    /** The wasm instance of the same program: runtime functions, fallbacks, nested-run state. */
    readonly wasm: JitInstance,
    sites: readonly Site[],
    factory: (kit: JsKit) => JsFunctions,
    /** Least budget for the JavaScript function (see jsgen.ts); below it the wasm one runs. */
    readonly minBudget: number,
  ) {
    const spec = prog.spec;
    const R = (): Int32Array => (rt.env as RunEnv).regs;
    const R_ = R;
    const kit: JsKit = {
      rt,
      st: rt.js,
      mem: rt.mem,
      slow: wasm.slow,
      trap: wasm.trap,
      hErr: (e: unknown, site: number): unknown => {
        if (e instanceof JitFault || e === EXIT_SIGNAL) return e;
        const s = sites[site];
        if (e instanceof GuestFault) return new JitFault(makeFault(spec, s.insn, e.code, `helper ${s.helper}: ${e.message}`, e.access));
        return e;
      },
      conv: (x: number | bigint): void => {
        if (typeof x === 'number') setFromNumber(R(), 0, x);
        else setFromBigInt(R(), 0, x);
      },
      tail: jsTail,
      EXIT: EXIT_SIGNAL,
      umulhi32,
      S: new Int32Array(2),
      div64, mod64, sdiv64, smod64, div32, mod32, sdiv32, smod32, lsh64, rsh64, arsh64,
      unknown: (id: number, insn: number) => (): number => {
        throw new JitFault(makeFault(spec, insn, FaultCode.UnknownHelper, `call to helper ${id}, which is not available here`));
      },
      NAME: spec.name,
      WP: prog,
      CS: rt.jsCallSubprog,
      SMALL: SMALL_BIGINTS,
      SA: sharedAtomic,
      AO: new Int32Array(2),
      fail: (e: unknown, budget: number): RunResult => {
        if (e instanceof JitFault) return { ok: false, fault: e.fault, insnCount: budget - rt.js.left };
        if (e !== EXIT_SIGNAL) throw e;
        const R = R_();
        return { ok: true, r0: toBigU64(R[1], R[0]), insnCount: budget - rt.js.left };
      },
      result: (hi: number, lo: number, count: number): RunResult => ({ ok: true, r0: toBigU64(hi, lo), insnCount: count }),
      AL: arrayLookupLayout,
    };
    const fns = factory(kit);
    this.run = fns.run;
    this.bind = fns.bind;
    this.entry = fns.entry;
  }
}

/**
 * jsTail is bpf_tail_call from JavaScript-compiled code (the wasm `tail` import's rules): returns
 * the target's r0 low half with st.tk = 1 (high half in st.r0h, budget in st.left), or st.tk = 0
 * when the call did not happen and the caller goes on.
 */
function jsTail(
  rt: Runtime,
  l1: number, h1: number, l2: number, h2: number, l3: number, h3: number,
  l4: number, h4: number, l5: number, h5: number, fp: number,
): number {
  const st = rt.js;
  st.tk = 0;
  const env = rt.env as RunEnv;
  const resolver = env.tailCall;
  const target = resolver === undefined || h2 !== 0 ? undefined : resolver(l2 >>> 0, l3 >>> 0);
  if (target === undefined) return 0;
  if (rt.tailCnt >= MAX_TAIL_CALL_CNT) return 0;
  rt.tailCnt++;
  if (target === null) return 0;
  let r: number;
  const tj = target instanceof JitExecutable ? target.jsFor(rt) : undefined;
  if (tj !== undefined && st.left >= tj.minBudget) {
    if (env.helpers !== tj.table) {
      tj.bind(env.helpers);
      tj.table = env.helpers;
    }
    r = tj.run(l1, h1, l2, h2, l3, h3, l4, h4, l5, h5, fp, st.left);
  } else {
    let tinst: JitInstance;
    if (target instanceof JitExecutable) {
      if (target.lastMem !== rt.mem || target.lastInst === undefined) {
        target.lastMem = rt.mem;
        target.lastInst = jitProgramOf(target.spec).instanceFor(rt);
      }
      tinst = target.lastInst;
    } else tinst = jitProgramOf(target.spec).instanceFor(rt);
    const g = rt.g;
    rt.pushGlobals();
    g.left.value = st.left;
    let v: number;
    try {
      v = tinst.entry0(l1, h1, l2, h2, l3, h3, l4, h4, l5, h5, fp);
    } finally {
      st.left = g.left.value as number;
    }
    const R = env.regs;
    if (v === v) setFromNumber(R, 0, v);
    r = R[0];
    st.r0h = R[1];
  }
  st.tk = 1;
  return r;
}

/** runNestedJs runs a JavaScript-compiled program while another run on the same Memory is in progress. */
function runNestedJs(ji: JsInstance, env: RunEnv, arg1: number, arg2: number): RunResult {
  const rt = ji.rt;
  const saved = saveRun(rt, ji.wasm);
  const st = rt.js;
  const left = st.left;
  const r0h = st.r0h;
  const tk = st.tk;
  try {
    rt.active = 0;
    return ji.entry(env, arg1, arg2);
  } finally {
    rt.active = 1;
    restoreRun(rt, saved);
    st.left = left;
    st.r0h = r0h;
    st.tk = tk;
  }
}

/** BackEnd selects the jit's code generator: both by program size, or one forced (tests). */
export type BackEnd = 'auto' | 'js' | 'wasm';

/**
 * JS_MAX_SOURCE bounds the JavaScript back end (auto mode) by the generated source's length:
 * V8 does not optimise a function above 60 KB of bytecode (--max-optimized-bytecode-size);
 * measured on generated code, 58 KB of source was optimised and 77 KB was not (jsgen.ts).
 */
const JS_MAX_SOURCE = 40_000;

/** JitExecutable is a program prepared by the compiled engine. */
class JitExecutable implements Executable {
  /** The Memory and instance of the last run, so the next run (and tail calls) skip lookups. */
  lastMem: Memory | undefined;
  lastInst: JitInstance | undefined;
  /** The same for the JavaScript function, when this executable uses it. */
  private lastJsMem: Memory | undefined;
  private lastJs: JsInstance | undefined;
  /** Whether runs use the JavaScript function (budget permitting). */
  readonly useJs: boolean;

  constructor(
    readonly spec: ProgramSpec,
    private readonly prog: JitProgram,
    backEnd: BackEnd = 'auto',
  ) {
    const js = prog.js;
    this.useJs = js !== undefined && (backEnd === 'js' || (backEnd === 'auto' && js.source.length <= JS_MAX_SOURCE));
  }

  /** jsFor returns the JavaScript function on `rt` when this executable uses one. */
  jsFor(rt: Runtime): JsInstance | undefined {
    if (!this.useJs) return undefined;
    let ji = this.lastJs;
    if (ji === undefined || this.lastJsMem !== rt.mem) {
      ji = this.prog.jsInstanceFor(rt);
      this.lastJs = ji;
      this.lastJsMem = rt.mem;
    }
    return ji;
  }

  run(env: RunEnv, arg1: number, arg2 = 0): RunResult {
    if (this.useJs) {
      let ji = this.lastJs;
      if (ji === undefined || env.mem !== this.lastJsMem) ji = this.jsFor(runtimeOf(env.mem)) as JsInstance;
      if (env.insnBudget >= ji.minBudget) {
        if (ji.rt.active !== 0) return runNestedJs(ji, env, arg1, arg2);
        return ji.entry(env, arg1, arg2);
      }
    }
    let inst = this.lastInst;
    if (env.mem !== this.lastMem || inst === undefined) {
      inst = this.prog.instanceFor(runtimeOf(env.mem));
      this.lastMem = env.mem;
      this.lastInst = inst;
    }
    const rt = inst.rt;
    if (rt.active !== 0) return runNested(inst, env, arg1, arg2);
    return runOnce(inst, rt, env, arg1, arg2);
  }
}

/** OkResult is a successful RunResult; one is kept per instance for reuse (they are immutable). */
type OkResult = Extract<RunResult, { ok: true }>;

/** runOnce runs entry 0 of `inst` as a whole run (the per-packet path: nothing allocated but the result). */
function runOnce(inst: JitInstance, rt: Runtime, env: RunEnv, arg1: number, arg2: number): RunResult {
  const stack = env.stack;
  const savedLo = stack.lo;
  const savedHi = stack.hi;
  const budget = env.insnBudget;
  const top = stack.start + STACK_BYTES;
  stack.hi = top;
  stack.lo = top - MAX_BPF_STACK;
  rt.active = 1;
  rt.env = env;
  rt.top = top;
  rt.tailCnt = 0;
  env.exitRequested = false;
  env.callSubprog = rt.callSubprog;
  if (rt.ic0 !== undefined) rt.checkIc();
  const p = rt.pkt;
  const q = rt.vic;
  p.refresh(top);
  q.refresh(top);
  let v: number;
  try {
    v = inst.runFn(arg1 | 0, arg2 | 0, budget, top, p.rlo, p.rm, p.wlo, p.wm, q.rlo, q.rm, q.wlo, q.wm);
  } catch (e) {
    v = caught(e);
    if (v !== v && e instanceof JitFault) return { ok: false, fault: e.fault, insnCount: budget - inst.leftFn() };
  } finally {
    rt.active = 0;
    stack.lo = savedLo;
    stack.hi = savedHi;
  }
  const R = env.regs;
  if (v === v && v !== Infinity) {
    // v = r0 * 2^32 + count (see codegen's run export)
    const r = Math.floor(v / 4294967296);
    const insnCount = v - r * 4294967296;
    R[0] = r;
    R[1] = r >> 31;
    // A packet stream mostly repeats (verdict, count): reuse the immutable result object then.
    const last = inst.lastOk;
    if (last !== undefined && last.insnCount === insnCount && r === inst.lastR0) return last;
    const res: OkResult = { ok: true, r0: r >= 0 && r < 1024 ? SMALL_BIGINTS[r] : BigInt.asUintN(64, BigInt(r)), insnCount };
    inst.lastOk = res;
    inst.lastR0 = r;
    return res;
  }
  return { ok: true, r0: toBigU64(R[1], R[0]), insnCount: budget - inst.leftFn() };
}

/**
 * caught sorts out what ended a run by throwing: NaN for a fault (the caller reports it),
 * Infinity for an exit requested by a helper (r0 is in the register file); anything else is a
 * host bug and propagates.
 */
function caught(e: unknown): number {
  if (e instanceof JitFault) return NaN;
  if (e === EXIT_SIGNAL) return Infinity;
  throw e;
}

/** runNested runs a program while another run on the same Memory is in progress (from a helper). */
function runNested(inst: JitInstance, env: RunEnv, arg1: number, arg2: number): RunResult {
  const rt = inst.rt;
  const saved = saveRun(rt, inst);
  try {
    rt.active = 0;
    return runOnce(inst, rt, env, arg1, arg2);
  } finally {
    rt.active = 1;
    restoreRun(rt, saved);
  }
}

/** SavedRun is the state of an outer run while a nested run (started from a helper) goes on. */
interface SavedRun {
  env: RunEnv | undefined;
  tailCnt: number;
  top: number;
  curFp: number;
  curProg: JitProgram | undefined;
  left: number;
  inst: JitInstance;
}

function saveRun(rt: Runtime, inst: JitInstance): SavedRun {
  return { env: rt.env, tailCnt: rt.tailCnt, top: rt.top, curFp: rt.curFp, curProg: rt.curProg, left: inst.leftFn(), inst };
}

function restoreRun(rt: Runtime, s: SavedRun): void {
  rt.env = s.env;
  rt.tailCnt = s.tailCnt;
  rt.top = s.top;
  rt.curFp = s.curFp;
  rt.curProg = s.curProg;
  const p = rt.pkt;
  const q = rt.vic;
  p.refresh(s.top);
  q.refresh(s.top);
  s.inst.init(s.left, s.top, p.rlo, p.rm, p.wlo, p.wm, q.rlo, q.rm, q.wlo, q.wm);
  if (s.env !== undefined) s.env.callSubprog = rt.callSubprog;
}

/**
 * jitEngineWith returns the compiled engine with its back end chosen by program size (`auto`, the
 * registered `jit`) or forced: `js` uses JavaScript for every program that back end takes
 * (jsgen.ts jsRefusal), `wasm` never does. Tests force each to cover both whatever the sizes.
 */
export function jitEngineWith(backEnd: BackEnd): Engine {
  return {
    name: backEnd === 'auto' ? 'jit' : `jit-${backEnd}`,
    prepare(spec: ProgramSpec): Executable {
      return new JitExecutable(spec, jitProgramOf(spec), backEnd);
    },
  };
}

/** jitEngine is the compiled engine, registered as `jit`. */
export const jitEngine: Engine = jitEngineWith('auto');

/** jitBackEndOf tells which back end an executable prepared by this engine runs (tests, tools). */
export function jitBackEndOf(exe: Executable): 'js' | 'wasm' | undefined {
  if (!(exe instanceof JitExecutable)) return undefined;
  return exe.useJs ? 'js' : 'wasm';
}
