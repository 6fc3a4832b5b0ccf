/**
 * interp — the reference interpreter (DESIGN.md, "Engines"), the engine named `interp`.
 *
 * `prepare` predecodes a program once into typed arrays (opcode, dst, src, off, imm, and for
 * the run loop one Int32Array of two ints per slot), with a few opcodes rewritten to private
 * codes so the run loop needs no second look at a field: signed div/mod (off = 1), movsx
 * (off != 0), be16/be32, local calls (src = 1) and bpf_tail_call (helper 12) get codes from the
 * opcode space the ISA leaves unused, and every instruction that must not run (unknown opcodes,
 * unresolved pseudo lddw, the second lddw slot, a jump leaving the program, falling off its end)
 * becomes opcode 0 with its fault recorded in a side table. The first slot of each group of
 * instructions clang emits together (a pointer plus a constant compared with data_end, a load
 * tested against a constant, a constant return, ...; see `fuse`) gets a superinstruction code
 * that runs the whole group in one dispatch.
 *
 * Running is split three ways, for V8: `hot` is one switch over the common opcodes of one frame
 * of one program (small enough for TurboFan to compile in a fraction of the time the single
 * loop took, and to keep its loop values in registers); `rareOp` runs the rest (64-bit mul, div
 * and mod, signed division, movsx, le and 64-bit swaps, sign-extending loads, atomics, refused
 * slots); `drive` handles exits, bpf-to-bpf calls and tail calls between frames. A load or store
 * tests two access windows first; on a miss a load tries its slot's cached context access
 * (ctxFast: a compare and a read), and anything else goes out of line to loadSlow/storeSlow,
 * which follow the region's context plan (ctx-plan.ts). Registers are
 * int32 halves (see program.ts) in the module's REGS, copied to env.regs where helpers and
 * callers read them; 64-bit arithmetic is in alu.ts. Nothing is
 * allocated per instruction; a run allocates at most its RunResult (and a BigInt for r0 when
 * r0 >= 1024), and none when it ends like the previous run.
 *
 * Kernel references: kernel/bpf/core.c ___bpf_prog_run (every opcode, JMP_TAIL_CALL),
 * kernel/bpf/verifier.c for what a valid program looks like. Where the kernel interpreter and
 * JITs differ on values the verifier forbids reading (r1-r5 after a call), this engine leaves
 * what the callee or helper left there; programs that pass the verifier cannot tell.
 */
import {
  BPF_ADD,
  BPF_AND,
  BPF_CMPXCHG,
  BPF_FETCH,
  BPF_OR,
  BPF_XCHG,
  BPF_XOR,
  MAX_BPF_STACK,
  MAX_CALL_FRAMES,
  MAX_TAIL_CALL_CNT,
} from '../isa/opcodes.js';
import { makeInsn, type Insn } from '../isa/insn.js';
import { MAX_MEMORY, Memory, PAGE_SHIFT, RegionKind, type Region } from './memory.js';
import { CtxKind, isPlainAt, readPlanned, type CtxAccess, type CtxPlan } from './ctx-plan.js';
import { createRunEnv } from './run.js';
import { FaultCode, GuestFault, makeFault as makeSpecFault, memoryFault, type VmFault } from './fault.js';
import { findRefusals, type Refusal } from './refusal.js';
import { sharedAtomic } from './atomics.js';

/** ATOMIC_OLD receives the old value of an atomic done by sharedAtomic. */
const ATOMIC_OLD = new Int32Array(2);

/**
 * REGS is the register file the engine runs on: r0..r10 as int32 halves like env.regs (see
 * program.ts), 32 entries so that every index a register field can form (0..31) is in bounds.
 * WIN holds the access windows (see State.winRegion). Why module constants: TurboFan compiles
 * a module-level typed array into the code as a constant (its address and length), while
 * env.regs and a per-State array are values whose map, length and data pointer it re-loaded and
 * re-checked at every register access of the run loop (the loop's calls out make it forget
 * them); measured on the bench's header parser (valgrind --tool=callgrind, together with the
 * uint32 carry tests of add/sub), 2806 machine instructions per run instead of 3175. env.regs
 * stays what others read: r0..r5 are copied there before each helper call (helpers read their
 * arguments there), r0 when a run ends, all of r0..r10 when it faults. A run nested in a
 * helper saves and restores REGS (see InterpExecutable.run); WIN is re-read from the running
 * State after every helper call.
 */
const REGS = new Int32Array(32);
const WIN = new Int32Array(8);
import type { Engine, Executable, ProgramSpec, RunEnv, RunResult } from './program.js';
import {
  arsh64,
  bswap16,
  bswap32,
  bswap64,
  div32,
  div64,
  lsh64,
  mod32,
  mod64,
  mul64,
  neg64,
  rsh64,
  sdiv32,
  sdiv64,
  setFromBigInt,
  setFromNumber,
  smod32,
  smod64,
  toBigU64,
} from './alu.js';

/** BPF_FUNC_TAIL_CALL is the id of bpf_tail_call (12), which the engine handles itself. */
export const BPF_FUNC_TAIL_CALL = 12;

// Private opcodes (ALU/JMP operation codes 0xe0 and 0xf0 are unused by the ISA; raw bytecode
// using them is rewritten to opcode 0 by prepare, so they cannot be reached from input). The
// switches in `hot` and `rareOp` name them by their numeric value: V8 (Node 20) compiles a switch
// to a jump table only up to its first case label that is not a number literal and tests every
// later case one by one, which measured 5% slower on the bench's header parser.
const OP_SDIV64_K = 0xe7;
const OP_SDIV64_X = 0xef;
const OP_SMOD64_K = 0xf7;
const OP_SMOD64_X = 0xff;
const OP_SDIV32_K = 0xe4;
const OP_SDIV32_X = 0xec;
const OP_SMOD32_K = 0xf4;
const OP_SMOD32_X = 0xfc;
const OP_LOCAL_CALL = 0xf5;
const OP_TAIL_CALL = 0xe5;
// Private opcodes from the LD class, where only 0x18 is defined (the rest is refused): movsx
// (mov with a non-zero offset) and be16/be32, so the hot loop's cases need no second look at
// off or imm.
const OP_MOVSX64 = 0x08;
const OP_MOVSX32 = 0x10;
const OP_BE16 = 0x20;
const OP_BE32 = 0x28;
// Superinstructions, also from the LD class: the first slot of a pair (or triple) clang emits
// back to back gets one of these codes and `hot` runs the whole group in one dispatch; the
// later slots keep their own code, so a jump into the middle of a group runs it as before.
/** mov64 rX, rY; add64 rX, K — a pointer plus a constant. */
const OP_MOV_ADD = 0x30;
/** mov64 rX, rY; add64 rX, K; jgt/jge rX, rZ — the packet bounds check. */
const OP_MOV_ADD_JGX = 0x38;
/** mov64 rX, K; jgt/jge rA, rB — a verdict set before a bounds check. */
const OP_MOVK_JGX = 0x40;
/** mov64 rX, K; jeq/jne rA, K2 — a verdict set before a test. */
const OP_MOVK_JEK = 0x48;
/** ldxb/ldxh/ldxw rX, [rY+off]; jeq/jne rX, K — a header field tested. */
const OP_LDXB_JEK = 0x50;
const OP_LDXH_JEK = 0x58;
const OP_LDXW_JEK = 0x60;
/** lsh64 rX, K; or64 rX, rY and lsh32 wX, K; or32 wX, wY — bytes assembled into a field. */
const OP_LSH_OR = 0x68;
const OP_LSH32_OR32 = 0x70;
/** mov64 rX, K; exit and mov32 wX, K; exit — a return with a constant verdict. */
const OP_MOVK_EXIT = 0x78;
const OP_MOV32K_EXIT = 0x80;

/** STACK_BYTES is the size of the stack region used: all call frames. */
const STACK_BYTES = MAX_CALL_FRAMES * MAX_BPF_STACK;

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/** Code is a predecoded program. Arrays have n+1 entries; entry n is a fall-off sentinel. */
interface Code {
  readonly spec: ProgramSpec;
  readonly name: string;
  readonly n: number;
  readonly op: Uint8Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly off: Int32Array;
  readonly imm: Int32Array;
  /**
   * The run loop's copy, two ints per slot: x[2i] = op | dst << 8 | src << 12 | off << 16 and
   * x[2i+1] = imm, so one instruction is one array (one map and bounds check) and two loads.
   */
  readonly x: Int32Array;
  readonly refusals: ReadonlyMap<number, Refusal>;
  /**
   * Context access cache (see ctxAccess), per slot: the address it is for, plan, effective
   * address; ctxFast holds the address only when the plan is an access of the instruction's own
   * width and kind at ctxEff (the run loop then loads from ctxEff itself).
   */
  readonly ctxAddr: Float64Array;
  readonly ctxFast: Float64Array;
  readonly ctxPlan: Array<CtxAccess | undefined>;
  readonly ctxEff: Int32Array;
  /** The context regions the cache relies on, as they were, and the memory they belong to. */
  ctxRecs: CtxRec[];
  ctxMem: Memory | undefined;
}

/** CtxRec is a context region whose plans are in a Code's cache, with the state they were resolved in. */
interface CtxRec {
  readonly region: Region;
  readonly lo: number;
  readonly hi: number;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly plan: CtxPlan | undefined;
}

/** NO_ADDR marks an empty context cache slot (no address equals it). */
const NO_ADDR = -0.5;


/** predecode turns a ProgramSpec into a Code. */
function predecode(spec: ProgramSpec): Code {
  const insns: readonly Insn[] = spec.insns;
  const n = insns.length;
  const op = new Uint8Array(n + 1);
  const dst = new Uint8Array(n + 1);
  const src = new Uint8Array(n + 1);
  const off = new Int32Array(n + 1);
  const imm = new Int32Array(n + 1);
  const refusals = findRefusals(insns);
  for (let i = 0; i < n; i++) {
    const insn = insns[i];
    const o = insn.opcode;
    dst[i] = insn.dst * 2;
    src[i] = insn.src * 2;
    off[i] = insn.off;
    imm[i] = insn.imm;
    // A refused slot runs as opcode 0, whose case raises its refusal.
    if (refusals.has(i)) continue;
    op[i] = o;
    const cls = o & 7;
    const code = o & 0xf0;
    if ((cls === 7 || cls === 4) && (code === 0x30 || code === 0x90) && insn.off === 1) {
      const x = (o & 8) !== 0;
      if (cls === 7) op[i] = code === 0x30 ? (x ? OP_SDIV64_X : OP_SDIV64_K) : x ? OP_SMOD64_X : OP_SMOD64_K;
      else op[i] = code === 0x30 ? (x ? OP_SDIV32_X : OP_SDIV32_K) : x ? OP_SMOD32_X : OP_SMOD32_K;
    } else if ((o === 0xbf || o === 0xbc) && insn.off !== 0) {
      op[i] = o === 0xbf ? OP_MOVSX64 : OP_MOVSX32;
    } else if (o === 0xdc && (insn.imm === 16 || insn.imm === 32)) {
      op[i] = insn.imm === 16 ? OP_BE16 : OP_BE32;
    } else if (o === 0x85) {
      if (insn.src === 1) op[i] = OP_LOCAL_CALL;
      else if (insn.imm === BPF_FUNC_TAIL_CALL) op[i] = OP_TAIL_CALL;
    }
  }
  const fused = fuse(op, dst, n);
  const x = new Int32Array(2 * (n + 1));
  for (let i = 0; i <= n; i++) {
    x[2 * i] = (fused[i] !== 0 ? fused[i] : op[i]) | ((dst[i] >> 1) << 8) | ((src[i] >> 1) << 12) | (off[i] << 16);
    x[2 * i + 1] = imm[i];
  }
  const ctxAddr = new Float64Array(n + 1).fill(NO_ADDR);
  const ctxFast = new Float64Array(n + 1).fill(NO_ADDR);
  const ctxPlan = new Array<CtxAccess | undefined>(n + 1).fill(undefined);
  const ctxEff = new Int32Array(n + 1);
  return { spec, name: spec.name, n, op, dst, src, off, imm, x, refusals, ctxAddr, ctxFast, ctxPlan, ctxEff, ctxRecs: [], ctxMem: undefined };
}

/**
 * fuse picks the superinstructions (OP_MOV_ADD ... OP_MOV32K_EXIT) of a predecoded program: the
 * code for slot i when slots i, i+1 (and i+2) form one of their groups, else 0. It looks at the
 * codes after predecode's rewriting (a refused slot is 0, a movsx is OP_MOVSX64, so 0xbf is a
 * plain mov); no group's later slot starts a group, so later slots keep their own codes.
 *
 * Why: a dispatch through `hot`'s switch (budget, slot load, jump table, spilled loop values)
 * costs more than these operations. On the bench's header parser 35 instructions run in 23
 * dispatches; the groups before mov + exit took it from 3421 to 3175 machine instructions per
 * run (callgrind).
 */
function fuse(op: Uint8Array, dst: Uint8Array, n: number): Uint8Array {
  const fused = new Uint8Array(n + 1);
  for (let i = 0; i + 1 < n; i++) {
    const a = op[i];
    const b = op[i + 1];
    const same = dst[i + 1] === dst[i];
    if (a === 0xbf && b === 0x07 && same) {
      const c = op[i + 2]; // op has n+1 entries; op[n] is the refused fall-off sentinel
      fused[i] = (c === 0x2d || c === 0x3d) && dst[i + 2] === dst[i] ? OP_MOV_ADD_JGX : OP_MOV_ADD;
    } else if (a === 0xb7 && (b === 0x2d || b === 0x3d)) fused[i] = OP_MOVK_JGX;
    else if (a === 0xb7 && (b === 0x15 || b === 0x55)) fused[i] = OP_MOVK_JEK;
    else if ((a === 0x71 || a === 0x69 || a === 0x61) && (b === 0x15 || b === 0x55) && same) {
      fused[i] = a === 0x71 ? OP_LDXB_JEK : a === 0x69 ? OP_LDXH_JEK : OP_LDXW_JEK;
    } else if (a === 0x67 && b === 0x4f && same) fused[i] = OP_LSH_OR;
    else if (a === 0x64 && b === 0x4c && same) fused[i] = OP_LSH32_OR32;
    else if ((a === 0xb7 || a === 0xb4) && b === 0x95) fused[i] = a === 0xb7 ? OP_MOVK_EXIT : OP_MOV32K_EXIT;
  }
  return fused;
}

/** CODE_CACHE keeps one predecoded Code per spec (tail-call targets prepared by other engines). */
const CODE_CACHE = new WeakMap<ProgramSpec, Code>();

function codeOf(spec: ProgramSpec): Code {
  let c = CODE_CACHE.get(spec);
  if (c === undefined) {
    c = predecode(spec);
    CODE_CACHE.set(spec, c);
  }
  return c;
}

/** SubprogFault carries a fault out of a callback run by env.callSubprog, unchanged. */
class SubprogFault extends GuestFault {
  constructor(readonly fault: VmFault) {
    super(fault.code, fault.message, fault.access);
  }
}

/** State is the mutable per-run state; pooled so a run allocates nothing. */
class State {
  env!: RunEnv;
  budget = 0;
  tailCnt = 0;
  /** Return pc per call depth. */
  readonly retPc = new Int32Array(MAX_CALL_FRAMES);
  /** Saved r6..r9 halves per call depth (8 ints each). */
  readonly saved = new Int32Array(MAX_CALL_FRAMES * 8);
  /** Whole register file saved around a callback, per depth. */
  readonly cbSaved = new Int32Array(MAX_CALL_FRAMES * 22);
  /** Code to return to, per depth (tail calls may change the running program). */
  readonly retCode: Array<Code | undefined> = new Array<Code | undefined>(MAX_CALL_FRAMES).fill(undefined);
  /** Where the current helper call was made: for callSubprog. */
  curCode: Code | undefined;
  curDepth = 0;
  /** Call depth of the running frame, and where `hot` stopped (see S_*). */
  depth = 0;
  pc = 0;
  /** The fault `hot` or `rareOp` stopped with (status S_FAULT). */
  fault: VmFault | undefined;
  /** Address of the top of frame 0 (r10 at depth 0). */
  top = 0;
  /**
   * Access windows, in WIN: [lo, hi) of regions already checked, two for reads (WIN[0..3]) and
   * two for writes (WIN[4..7]), so most loads and stores cost two compares. `winRegion[k]` is the id of
   * the region behind window k (0: none). Region bounds change between and during runs (the
   * packet moves per frame and with bpf_xdp_adjust_head, the stack bound follows the call
   * depth), so windows are re-read from their regions at run start, after every helper call,
   * on bpf-to-bpf calls and returns and on tail calls. Regions with a context plan never get
   * a window (see ctxAccess).
   */
  readonly winRegion = new Uint16Array(4);
  /** The caller's REGS, while this State runs a run nested in a helper of another run. */
  readonly outerRegs = new Int32Array(22);
  /** Memory the windows refer to. */
  winMem: Memory | undefined;
  readonly callSubprog = (insn: number, args: readonly bigint[]): bigint => runCallback(this, insn, args);
}

const POOL: State[] = [];
let poolDepth = 0;

const SMALL_BIGINTS: readonly bigint[] = Array.from({ length: 1024 }, (_, i) => BigInt(i));

/** r0Big returns r0 as an unsigned 64-bit bigint, without allocating for small values. */
function r0Big(R: Int32Array): bigint {
  const lo = R[0];
  if (R[1] === 0 && lo >= 0 && lo < 1024) return SMALL_BIGINTS[lo];
  return toBigU64(R[1], lo);
}

function makeFault(code: Code, pc: number, fc: FaultCode, message: string, access?: VmFault['access']): VmFault {
  return makeSpecFault(code.spec, pc, fc, message, access);
}

/** memFault explains a failed access through base register b (an index into R) + off of `size` bytes. */
function memFault(mem: Memory, code: Code, pc: number, R: Int32Array, b: number, offv: number, size: number, write: boolean, kind?: CtxKind): VmFault {
  return memoryFault(mem, code.spec, pc, R[b], R[b + 1], b >> 1, offv, size, write, kind);
}


/**
 * accessOk tells whether [a, a+size) may be read or written in place by an atomic (write) or a
 * plain access: one page-owner lookup, then the region's live bounds, permission and, in a
 * context region, a plan that is a plain access of the same bytes (the same rules as
 * Memory.check).
 */
function accessOk(regions: readonly Region[], owner: Uint16Array, a: number, size: number, write: boolean): boolean {
  if (a < 0 || a >= MAX_MEMORY) return false;
  const rg = regions[owner[a >>> PAGE_SHIFT]];
  const plan = rg.ctxPlan;
  return (
    a >= rg.lo &&
    a + size <= rg.hi &&
    (write ? rg.writable : rg.readable) &&
    (plan === undefined || isPlainAt(plan.resolve(a - rg.lo, size, write ? CtxKind.Atomic : CtxKind.Load), a - rg.lo, size))
  );
}

/** slowAccess checks an access the windows did not cover, and opens a window on success. */
function slowAccess(st: State, regions: readonly Region[], owner: Uint16Array, a: number, size: number, write: boolean): boolean {
  if (!accessOk(regions, owner, a, size, write)) return false;
  const id = owner[a >>> PAGE_SHIFT];
  const rg = regions[id];
  if (rg.ctxPlan === undefined) {
    const win = WIN;
    const wr = st.winRegion;
    const k = write ? 2 : 0;
    win[2 * k + 2] = win[2 * k];
    win[2 * k + 3] = win[2 * k + 1];
    wr[k + 1] = wr[k];
    win[2 * k] = rg.lo;
    win[2 * k + 1] = rg.hi;
    wr[k] = id;
  }
  return true;
}

/** refreshWindows re-reads every window's bounds and permission from its region. */
function refreshWindows(st: State, regions: readonly Region[]): void {
  const win = WIN;
  const wr = st.winRegion;
  for (let k = 0; k < 4; k++) {
    const id = wr[k];
    const rg = regions[id];
    if (id !== 0 && (k < 2 ? rg.readable : rg.writable) && rg.ctxPlan === undefined) {
      win[2 * k] = rg.lo;
      win[2 * k + 1] = rg.hi;
    } else {
      wr[k] = 0;
      win[2 * k] = 0;
      win[2 * k + 1] = 0;
    }
  }
}

// ---------------------------------------------------------------- context access plans
//
// Loads and stores the windows do not cover come here. A context region has no window (its
// accesses are not plain memory: see ctx-plan.ts); instead each instruction slot caches the plan
// it resolved, keyed by the address it accessed, so a hot context load (xdp_md.data on every
// packet) costs a compare and a read in the run loop (ctxFast), with no policy call. The cache
// belongs to the Code and is checked against its memory and regions (bounds, permissions, plan)
// when a run starts with that Code or a tail call enters it; like the jit's inline caches, it
// assumes a helper does not change a context region's bounds or plan in the middle of a run.

/** WINDOW is what ctxAccess returns for a plain (non-context) access, for which it opened a window. */
const WINDOW: CtxAccess = { op: 'load', off: 0, size: 1, signed: false };

/** ctxEffective is the effective address of the access ctxAccess last resolved. */
let ctxEffective = 0;

/** checkCtxCache empties a Code's context cache if a region it relies on changed (or the memory did). */
function checkCtxCache(code: Code, mem: Memory): void {
  const recs = code.ctxRecs;
  let stale = code.ctxMem !== mem && recs.length > 0;
  for (let i = 0; i < recs.length && !stale; i++) {
    const r = recs[i];
    const rg = r.region;
    stale = rg.lo !== r.lo || rg.hi !== r.hi || rg.readable !== r.readable || rg.writable !== r.writable || rg.ctxPlan !== r.plan;
  }
  if (stale) {
    code.ctxAddr.fill(NO_ADDR);
    code.ctxFast.fill(NO_ADDR);
    code.ctxPlan.fill(undefined);
    code.ctxRecs = [];
  }
  code.ctxMem = mem;
}

/**
 * ctxAccess resolves the access of the slot at pc to address `a`: its cached context plan, or a
 * full check — WINDOW for a plain region (a window is opened), the plan for a context region
 * (cached), undefined when the access faults. Sets ctxEffective.
 */
function ctxAccess(st: State, code: Code, pc: number, a: number, size: number, kind: CtxKind): CtxAccess | undefined {
  const mem = st.env.mem;
  if (code.ctxAddr[pc] === a) {
    ctxEffective = code.ctxEff[pc];
    return code.ctxPlan[pc];
  }
  if (a < 0 || a >= MAX_MEMORY) return undefined;
  const owner = mem.owner;
  const id = owner[a >>> PAGE_SHIFT];
  const rg = mem.regions[id];
  const write = kind >= CtxKind.Store;
  if (!(a >= rg.lo && a + size <= rg.hi && (write ? rg.writable : rg.readable))) return undefined;
  const plan = rg.ctxPlan;
  if (plan === undefined) {
    slowAccess(st, mem.regions, owner, a, size, write);
    ctxEffective = a;
    return WINDOW;
  }
  const p = plan.resolve(a - rg.lo, size, kind);
  if (p.op === 'refuse') return undefined;
  if (!code.ctxRecs.some((r) => r.region === rg)) {
    code.ctxRecs.push({ region: rg, lo: rg.lo, hi: rg.hi, readable: rg.readable, writable: rg.writable, plan });
  }
  code.ctxAddr[pc] = a;
  code.ctxPlan[pc] = p;
  code.ctxEff[pc] = ctxEffective = rg.lo + p.off;
  if (p.size === size && (p.op === 'load' ? !p.signed : p.hook === undefined)) code.ctxFast[pc] = a;
  return p;
}

/**
 * loadSlow performs a load of `size` bytes at `a` into R[d] that the windows did not cover (sx:
 * BPF_MEMSX); returns the fault, if any. b is the base register (for the fault).
 */
function loadSlow(st: State, code: Code, pc: number, d: number, b: number, a: number, size: number, sx: boolean): VmFault | undefined {
  const kind = sx ? CtxKind.LoadSx : CtxKind.Load;
  const p = ctxAccess(st, code, pc, a, size, kind);
  const R = REGS;
  const mem = st.env.mem;
  if (p === undefined || p.op !== 'load') return memFault(mem, code, pc, R, b, code.off[pc], size, false, kind);
  readPlanned(mem.dv, ctxEffective, p === WINDOW ? size : p.size, p.signed, size, sx, R, d);
  return undefined;
}

/**
 * storeSlow performs a store of the value hi:lo (`size` bytes) at `a` that the windows did not
 * cover (kind: Store for STX, StoreImm for ST); returns the fault, if any. d is the base register.
 */
function storeSlow(st: State, code: Code, pc: number, d: number, a: number, size: number, lo: number, hi: number, kind: CtxKind): VmFault | undefined {
  const p = ctxAccess(st, code, pc, a, size, kind);
  const mem = st.env.mem;
  if (p === undefined || (p !== WINDOW && p.op !== 'store')) return memFault(mem, code, pc, REGS, d, code.off[pc], size, true, kind);
  const dv = mem.dv;
  const at = ctxEffective;
  if (p.op === 'store' && p.hook !== undefined) p.hook(dv, at, lo, hi, kind);
  else if (size === 4) dv.setInt32(at, lo, true);
  else if (size === 2) dv.setInt16(at, lo, true);
  else if (size === 1) dv.setInt8(at, lo);
  else {
    dv.setInt32(at, lo, true);
    dv.setInt32(at + 4, hi, true);
  }
  return undefined;
}

/** callHelper runs helper `id` for the instruction at pc; returns a fault or undefined. */
function callHelper(st: State, code: Code, pc: number, depth: number, id: number): VmFault | undefined {
  const env = st.env;
  const fn = env.helpers.get(id);
  if (fn === undefined) return makeFault(code, pc, FaultCode.UnknownHelper, `call to helper ${id}, which is not available here`);
  const cur = env.current;
  if (cur === undefined) env.current = { program: code.name, insn: pc };
  else {
    cur.program = code.name;
    cur.insn = pc;
  }
  st.curCode = code;
  st.curDepth = depth;
  const regs = env.regs;
  for (let i = 0; i < 12; i++) regs[i] = REGS[i];
  let res: number | bigint;
  try {
    res = fn(env);
  } catch (e) {
    if (e instanceof SubprogFault) return e.fault;
    if (e instanceof GuestFault) return makeFault(code, pc, e.code, `helper ${id}: ${e.message}`, e.access);
    throw e;
  }
  if (typeof res === 'number') setFromNumber(REGS, 0, res);
  else setFromBigInt(REGS, 0, res);
  return undefined;
}

/** runCallback implements env.callSubprog: run a subprogram as a new call frame and return its r0. */
function runCallback(st: State, insn: number, args: readonly bigint[]): bigint {
  const code = st.curCode;
  if (code === undefined) throw new Error('interp: callSubprog called outside a helper call');
  const depth = st.curDepth + 1;
  if (depth >= MAX_CALL_FRAMES) {
    throw new GuestFault(FaultCode.CallDepth, `callback at instruction ${insn} would exceed ${MAX_CALL_FRAMES} call frames`);
  }
  if (insn < 0 || insn >= code.n) {
    throw new GuestFault(FaultCode.PcOutOfRange, `callback target ${insn} is outside the program`);
  }
  const env = st.env;
  const R = REGS;
  const save = st.cbSaved;
  const base = (depth - 1) * 22;
  for (let i = 0; i < 22; i++) save[base + i] = R[i];
  for (let i = 1; i <= 5; i++) {
    const v = args[i - 1];
    if (v === undefined) {
      R[2 * i] = 0;
      R[2 * i + 1] = 0;
    } else setFromBigInt(R, 2 * i, v);
  }
  const savedCode = st.curCode;
  const savedDepth = st.curDepth;
  const f = execute(st, code, insn, depth);
  st.curCode = savedCode;
  st.curDepth = savedDepth;
  st.depth = savedDepth;
  if (f !== undefined) throw new SubprogFault(f);
  const r0 = toBigU64(R[1], R[0]);
  for (let i = 0; i < 22; i++) R[i] = save[base + i];
  const regs = env.regs; // the helper's arguments, as it saw them before the callback
  for (let i = 0; i < 12; i++) regs[i] = R[i];
  env.stack.lo = st.top - (savedDepth + 1) * MAX_BPF_STACK;
  return r0;
}

// Statuses `hot` stops with; the pc it stopped at is in st.pc.
/** S_EXIT: an exit instruction. */
const S_EXIT = 0;
/** S_FAULT: st.fault says why. */
const S_FAULT = 1;
/** S_LOCAL_CALL: a bpf-to-bpf call. */
const S_LOCAL_CALL = 2;
/** S_TAIL_CALL: bpf_tail_call. */
const S_TAIL_CALL = 3;
/** S_HALT: a helper asked to end the run (env.exitRequested). */
const S_HALT = 4;

/**
 * hot runs `code` from `pc` within one call frame (depth st.depth) until an instruction that
 * changes frame or program (exit, local call, tail call), a fault, or a helper ending the run,
 * and returns which (S_*), with the pc in st.pc and the remaining budget in st.budget.
 *
 * Why a frame at a time: with the running program fixed, its instruction array is a
 * constant of the loop rather than loop-carried values V8 must keep in registers (or spill)
 * and re-check, and the function stays small enough for TurboFan to compile quickly and keep
 * every hot value in a register. Rare opcodes (64-bit multiply and divide, signed division,
 * movsx, byte swaps other than be16/be32, sign-extending loads, atomics, refused slots) run in
 * `rareOp`, outside this function.
 */
function hot(st: State, code: Code, pc: number): number {
  const env = st.env;
  const R = REGS;
  const mem = env.mem;
  const regions = mem.regions;
  const x = code.x;
  const win = WIN;
  let dv = mem.dv;
  let budget = st.budget | 0;
  let p = pc << 1;
  for (;;) {
    budget = (budget - 1) | 0;
    if (budget < 0) {
      st.budget = 0;
      st.fault = makeFault(code, p >> 1, FaultCode.Budget, `instruction budget of ${env.insnBudget} exhausted (runaway loop?)`);
      return S_FAULT;
    }
    const w = x[p];
    const d = (w >> 7) & 0x1e;
    switch (w & 0xff) {
      // ---------------------------------------------------------------- ALU64, immediate
      case 0x07: { const k = x[p + 1]; const a = R[d]; const l = (a + k) | 0; R[d] = l; R[d + 1] = (R[d + 1] + (k >> 31) + (l >>> 0 < a >>> 0 ? 1 : 0)) | 0; break; }
      case 0x17: { const k = x[p + 1]; const a = R[d]; R[d] = (a - k) | 0; R[d + 1] = (R[d + 1] - (k >> 31) - (a >>> 0 < k >>> 0 ? 1 : 0)) | 0; break; }
      case 0x47: { const k = x[p + 1]; R[d] |= k; R[d + 1] |= k >> 31; break; }
      case 0x57: { const k = x[p + 1]; R[d] &= k; R[d + 1] &= k >> 31; break; }
      case 0x67: { // lsh64 by a constant
        const n = x[p + 1] & 63;
        const lo = R[d];
        if (n >= 32) { R[d + 1] = lo << (n - 32); R[d] = 0; }
        else if (n !== 0) { R[d + 1] = (R[d + 1] << n) | (lo >>> (32 - n)); R[d] = lo << n; }
        break;
      }
      case 0x77: { // rsh64 by a constant
        const n = x[p + 1] & 63;
        const hi = R[d + 1];
        if (n >= 32) { R[d] = hi >>> (n - 32); R[d + 1] = 0; }
        else if (n !== 0) { R[d] = (R[d] >>> n) | (hi << (32 - n)); R[d + 1] = hi >>> n; }
        break;
      }
      case 0xc7: { // arsh64 by a constant
        const n = x[p + 1] & 63;
        const hi = R[d + 1];
        if (n >= 32) { R[d] = hi >> (n - 32); R[d + 1] = hi >> 31; }
        else if (n !== 0) { R[d] = (R[d] >>> n) | (hi << (32 - n)); R[d + 1] = hi >> n; }
        break;
      }
      case 0xa7: { const k = x[p + 1]; R[d] ^= k; R[d + 1] ^= k >> 31; break; }
      case 0xb7: { const k = x[p + 1]; R[d] = k; R[d + 1] = k >> 31; break; }
      // ---------------------------------------------------------------- ALU64, register
      case 0x0f: { const s = (w >> 11) & 0x1e; const a = R[d]; const l = (a + R[s]) | 0; R[d] = l; R[d + 1] = (R[d + 1] + R[s + 1] + (l >>> 0 < a >>> 0 ? 1 : 0)) | 0; break; }
      case 0x1f: { const s = (w >> 11) & 0x1e; const a = R[d]; const b = R[s]; R[d] = (a - b) | 0; R[d + 1] = (R[d + 1] - R[s + 1] - (a >>> 0 < b >>> 0 ? 1 : 0)) | 0; break; }
      case 0x4f: { const s = (w >> 11) & 0x1e; R[d] |= R[s]; R[d + 1] |= R[s + 1]; break; }
      case 0x5f: { const s = (w >> 11) & 0x1e; R[d] &= R[s]; R[d + 1] &= R[s + 1]; break; }
      case 0xaf: { const s = (w >> 11) & 0x1e; R[d] ^= R[s]; R[d + 1] ^= R[s + 1]; break; }
      case 0xbf: { const s = (w >> 11) & 0x1e; R[d] = R[s]; R[d + 1] = R[s + 1]; break; } // mov (movsx is OP_MOVSX64)
      // ---------------------------------------------------------------- ALU (32-bit)
      case 0x04: R[d] = (R[d] + x[p + 1]) | 0; R[d + 1] = 0; break;
      case 0x14: R[d] = (R[d] - x[p + 1]) | 0; R[d + 1] = 0; break;
      case 0x24: R[d] = Math.imul(R[d], x[p + 1]); R[d + 1] = 0; break;
      case 0x44: R[d] |= x[p + 1]; R[d + 1] = 0; break;
      case 0x54: R[d] &= x[p + 1]; R[d + 1] = 0; break;
      case 0x64: R[d] <<= x[p + 1]; R[d + 1] = 0; break; // JS masks the count with & 31
      case 0x74: R[d] = R[d] >>> x[p + 1]; R[d + 1] = 0; break;
      case 0xa4: R[d] ^= x[p + 1]; R[d + 1] = 0; break;
      case 0xb4: R[d] = x[p + 1]; R[d + 1] = 0; break;
      case 0xc4: R[d] >>= x[p + 1]; R[d + 1] = 0; break;
      case 0x0c: R[d] = (R[d] + R[(w >> 11) & 0x1e]) | 0; R[d + 1] = 0; break;
      case 0x1c: R[d] = (R[d] - R[(w >> 11) & 0x1e]) | 0; R[d + 1] = 0; break;
      case 0x2c: R[d] = Math.imul(R[d], R[(w >> 11) & 0x1e]); R[d + 1] = 0; break;
      case 0x4c: R[d] |= R[(w >> 11) & 0x1e]; R[d + 1] = 0; break;
      case 0x5c: R[d] &= R[(w >> 11) & 0x1e]; R[d + 1] = 0; break;
      case 0x6c: R[d] <<= R[(w >> 11) & 0x1e]; R[d + 1] = 0; break;
      case 0x7c: R[d] = R[d] >>> R[(w >> 11) & 0x1e]; R[d + 1] = 0; break;
      case 0xac: R[d] ^= R[(w >> 11) & 0x1e]; R[d + 1] = 0; break;
      case 0xbc: R[d] = R[(w >> 11) & 0x1e]; R[d + 1] = 0; break; // mov32 (movsx is OP_MOVSX32)
      case 0xcc: R[d] >>= R[(w >> 11) & 0x1e]; R[d + 1] = 0; break;
      case 0x20: /* OP_BE16 */ { const v = R[d]; R[d] = ((v & 0xff) << 8) | ((v >>> 8) & 0xff); R[d + 1] = 0; break; }
      case 0x28: /* OP_BE32 */ { const v = R[d]; R[d] = (v << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24); R[d + 1] = 0; break; }
      // ---------------------------------------------------------------- LD: lddw (src 0 only)
      case 0x18: R[d] = x[p + 1]; R[d + 1] = x[p + 3]; p = (p + 4) | 0; continue;
      // ---------------------------------------------------------------- LDX
      case 0x61: { // ldxw
        const b = (w >> 11) & 0x1e;
        const a = R[b + 1] === 0 ? (R[b] >>> 0) + (w >> 16) : -1;
        if ((a >= win[0] && a + 4 <= win[1]) || (a >= win[2] && a + 4 <= win[3])) { R[d] = dv.getInt32(a, true); R[d + 1] = 0; }
        else if (code.ctxFast[p >> 1] === a) { const e = code.ctxEff[p >> 1]; R[d] = dv.getInt32(e, true); R[d + 1] = 0; }
        else { const f = loadSlow(st, code, p >> 1, d, b, a, 4, false); if (f !== undefined) { st.budget = budget; st.fault = f; return S_FAULT; } }
        break;
      }
      case 0x69: { // ldxh
        const b = (w >> 11) & 0x1e;
        const a = R[b + 1] === 0 ? (R[b] >>> 0) + (w >> 16) : -1;
        if ((a >= win[0] && a + 2 <= win[1]) || (a >= win[2] && a + 2 <= win[3])) { R[d] = dv.getUint16(a, true); R[d + 1] = 0; }
        else if (code.ctxFast[p >> 1] === a) { const e = code.ctxEff[p >> 1]; R[d] = dv.getUint16(e, true); R[d + 1] = 0; }
        else { const f = loadSlow(st, code, p >> 1, d, b, a, 2, false); if (f !== undefined) { st.budget = budget; st.fault = f; return S_FAULT; } }
        break;
      }
      case 0x71: { // ldxb
        const b = (w >> 11) & 0x1e;
        const a = R[b + 1] === 0 ? (R[b] >>> 0) + (w >> 16) : -1;
        if ((a >= win[0] && a + 1 <= win[1]) || (a >= win[2] && a + 1 <= win[3])) { R[d] = dv.getUint8(a); R[d + 1] = 0; }
        else if (code.ctxFast[p >> 1] === a) { const e = code.ctxEff[p >> 1]; R[d] = dv.getUint8(e); R[d + 1] = 0; }
        else { const f = loadSlow(st, code, p >> 1, d, b, a, 1, false); if (f !== undefined) { st.budget = budget; st.fault = f; return S_FAULT; } }
        break;
      }
      case 0x79: { // ldxdw
        const b = (w >> 11) & 0x1e;
        const a = R[b + 1] === 0 ? (R[b] >>> 0) + (w >> 16) : -1;
        if ((a >= win[0] && a + 8 <= win[1]) || (a >= win[2] && a + 8 <= win[3])) { R[d] = dv.getInt32(a, true); R[d + 1] = dv.getInt32(a + 4, true); }
        else if (code.ctxFast[p >> 1] === a) { const e = code.ctxEff[p >> 1]; R[d] = dv.getInt32(e, true); R[d + 1] = dv.getInt32(e + 4, true); }
        else { const f = loadSlow(st, code, p >> 1, d, b, a, 8, false); if (f !== undefined) { st.budget = budget; st.fault = f; return S_FAULT; } }
        break;
      }
      // ---------------------------------------------------------------- ST (immediate; stdw sign-extends)
      case 0x62: case 0x6a: case 0x72: case 0x7a: {
        const o = w & 0xff;
        const size = o === 0x62 ? 4 : o === 0x6a ? 2 : o === 0x7a ? 8 : 1;
        const a = R[d + 1] === 0 ? (R[d] >>> 0) + (w >> 16) : -1;
        const v = x[p + 1];
        if ((a >= win[4] && a + size <= win[5]) || (a >= win[6] && a + size <= win[7])) {
          if (size === 4) dv.setInt32(a, v, true);
          else if (size === 2) dv.setInt16(a, v, true);
          else if (size === 1) dv.setInt8(a, v);
          else { dv.setInt32(a, v, true); dv.setInt32(a + 4, v >> 31, true); }
        } else { const f = storeSlow(st, code, p >> 1, d, a, size, v, v >> 31, CtxKind.StoreImm); if (f !== undefined) { st.budget = budget; st.fault = f; return S_FAULT; } }
        break;
      }
      // ---------------------------------------------------------------- STX
      case 0x63: { // stxw
        const a = R[d + 1] === 0 ? (R[d] >>> 0) + (w >> 16) : -1;
        const s = (w >> 11) & 0x1e;
        if ((a >= win[4] && a + 4 <= win[5]) || (a >= win[6] && a + 4 <= win[7])) dv.setInt32(a, R[s], true);
        else { const f = storeSlow(st, code, p >> 1, d, a, 4, R[s], R[s + 1], CtxKind.Store); if (f !== undefined) { st.budget = budget; st.fault = f; return S_FAULT; } }
        break;
      }
      case 0x6b: { // stxh
        const a = R[d + 1] === 0 ? (R[d] >>> 0) + (w >> 16) : -1;
        const s = (w >> 11) & 0x1e;
        if ((a >= win[4] && a + 2 <= win[5]) || (a >= win[6] && a + 2 <= win[7])) dv.setInt16(a, R[s], true);
        else { const f = storeSlow(st, code, p >> 1, d, a, 2, R[s], R[s + 1], CtxKind.Store); if (f !== undefined) { st.budget = budget; st.fault = f; return S_FAULT; } }
        break;
      }
      case 0x73: { // stxb
        const a = R[d + 1] === 0 ? (R[d] >>> 0) + (w >> 16) : -1;
        const s = (w >> 11) & 0x1e;
        if ((a >= win[4] && a + 1 <= win[5]) || (a >= win[6] && a + 1 <= win[7])) dv.setInt8(a, R[s]);
        else { const f = storeSlow(st, code, p >> 1, d, a, 1, R[s], R[s + 1], CtxKind.Store); if (f !== undefined) { st.budget = budget; st.fault = f; return S_FAULT; } }
        break;
      }
      case 0x7b: { // stxdw
        const a = R[d + 1] === 0 ? (R[d] >>> 0) + (w >> 16) : -1;
        const s = (w >> 11) & 0x1e;
        if ((a >= win[4] && a + 8 <= win[5]) || (a >= win[6] && a + 8 <= win[7])) { dv.setInt32(a, R[s], true); dv.setInt32(a + 4, R[s + 1], true); }
        else { const f = storeSlow(st, code, p >> 1, d, a, 8, R[s], R[s + 1], CtxKind.Store); if (f !== undefined) { st.budget = budget; st.fault = f; return S_FAULT; } }
        break;
      }
      // ---------------------------------------------------------------- JMP, immediate (imm sign-extended to 64)
      case 0x05: p = (p + ((w >> 16) << 1) + 2) | 0; continue;
      case 0x15: { const k = x[p + 1]; if (R[d] === k && R[d + 1] === k >> 31) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0x25: { const k = x[p + 1]; if (R[d + 1] === k >> 31 ? R[d] >>> 0 > k >>> 0 : R[d + 1] >>> 0 > (k >> 31) >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0x35: { const k = x[p + 1]; if (R[d + 1] === k >> 31 ? R[d] >>> 0 >= k >>> 0 : R[d + 1] >>> 0 > (k >> 31) >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0x45: { const k = x[p + 1]; if ((R[d] & k) !== 0 || (R[d + 1] & (k >> 31)) !== 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0x55: { const k = x[p + 1]; if (R[d] !== k || R[d + 1] !== k >> 31) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0x65: { const k = x[p + 1]; if (R[d + 1] === k >> 31 ? R[d] >>> 0 > k >>> 0 : R[d + 1] > k >> 31) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0x75: { const k = x[p + 1]; if (R[d + 1] === k >> 31 ? R[d] >>> 0 >= k >>> 0 : R[d + 1] > k >> 31) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0xa5: { const k = x[p + 1]; if (k >> 31 === R[d + 1] ? k >>> 0 > R[d] >>> 0 : (k >> 31) >>> 0 > R[d + 1] >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0xb5: { const k = x[p + 1]; if (k >> 31 === R[d + 1] ? k >>> 0 >= R[d] >>> 0 : (k >> 31) >>> 0 > R[d + 1] >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0xc5: { const k = x[p + 1]; if (k >> 31 === R[d + 1] ? k >>> 0 > R[d] >>> 0 : k >> 31 > R[d + 1]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0xd5: { const k = x[p + 1]; if (k >> 31 === R[d + 1] ? k >>> 0 >= R[d] >>> 0 : k >> 31 > R[d + 1]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      // ---------------------------------------------------------------- JMP, register
      case 0x1d: { const s = (w >> 11) & 0x1e; if (R[d] === R[s] && R[d + 1] === R[s + 1]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0x2d: { const s = (w >> 11) & 0x1e; if (R[d + 1] === R[s + 1] ? R[d] >>> 0 > R[s] >>> 0 : R[d + 1] >>> 0 > R[s + 1] >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0x3d: { const s = (w >> 11) & 0x1e; if (R[d + 1] === R[s + 1] ? R[d] >>> 0 >= R[s] >>> 0 : R[d + 1] >>> 0 > R[s + 1] >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0x4d: { const s = (w >> 11) & 0x1e; if ((R[d] & R[s]) !== 0 || (R[d + 1] & R[s + 1]) !== 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0x5d: { const s = (w >> 11) & 0x1e; if (R[d] !== R[s] || R[d + 1] !== R[s + 1]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0x6d: { const s = (w >> 11) & 0x1e; if (R[d + 1] === R[s + 1] ? R[d] >>> 0 > R[s] >>> 0 : R[d + 1] > R[s + 1]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0x7d: { const s = (w >> 11) & 0x1e; if (R[d + 1] === R[s + 1] ? R[d] >>> 0 >= R[s] >>> 0 : R[d + 1] > R[s + 1]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0xad: { const s = (w >> 11) & 0x1e; if (R[s + 1] === R[d + 1] ? R[s] >>> 0 > R[d] >>> 0 : R[s + 1] >>> 0 > R[d + 1] >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0xbd: { const s = (w >> 11) & 0x1e; if (R[s + 1] === R[d + 1] ? R[s] >>> 0 >= R[d] >>> 0 : R[s + 1] >>> 0 > R[d + 1] >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0xcd: { const s = (w >> 11) & 0x1e; if (R[s + 1] === R[d + 1] ? R[s] >>> 0 > R[d] >>> 0 : R[s + 1] > R[d + 1]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      case 0xdd: { const s = (w >> 11) & 0x1e; if (R[s + 1] === R[d + 1] ? R[s] >>> 0 >= R[d] >>> 0 : R[s + 1] > R[d + 1]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break; }
      // ---------------------------------------------------------------- JMP32 (low halves only)
      case 0x06: p = (p + (x[p + 1] << 1) + 2) | 0; continue; // ja32 / gotol: offset in imm
      case 0x16: if (R[d] === x[p + 1]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0x26: if (R[d] >>> 0 > x[p + 1] >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0x36: if (R[d] >>> 0 >= x[p + 1] >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0x46: if ((R[d] & x[p + 1]) !== 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0x56: if (R[d] !== x[p + 1]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0x66: if (R[d] > x[p + 1]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0x76: if (R[d] >= x[p + 1]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0xa6: if (R[d] >>> 0 < x[p + 1] >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0xb6: if (R[d] >>> 0 <= x[p + 1] >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0xc6: if (R[d] < x[p + 1]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0xd6: if (R[d] <= x[p + 1]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0x1e: if (R[d] === R[(w >> 11) & 0x1e]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0x2e: if (R[d] >>> 0 > R[(w >> 11) & 0x1e] >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0x3e: if (R[d] >>> 0 >= R[(w >> 11) & 0x1e] >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0x4e: if ((R[d] & R[(w >> 11) & 0x1e]) !== 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0x5e: if (R[d] !== R[(w >> 11) & 0x1e]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0x6e: if (R[d] > R[(w >> 11) & 0x1e]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0x7e: if (R[d] >= R[(w >> 11) & 0x1e]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0xae: if (R[d] >>> 0 < R[(w >> 11) & 0x1e] >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0xbe: if (R[d] >>> 0 <= R[(w >> 11) & 0x1e] >>> 0) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0xce: if (R[d] < R[(w >> 11) & 0x1e]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      case 0xde: if (R[d] <= R[(w >> 11) & 0x1e]) { p = (p + ((w >> 16) << 1) + 2) | 0; continue; } break;
      // ---------------------------------------------------------------- superinstructions (see fuse)
      // Each runs its first instruction, then, when the budget covers the rest (one instruction
      // more per slot), the rest; otherwise it stops after the first and the next slot runs on
      // its own (and runs out of budget there). A jump's target is relative to its own slot.
      case 0x30: { // OP_MOV_ADD: mov64 rX, rY; add64 rX, K
        const s = (w >> 11) & 0x1e;
        const sl = R[s];
        const sh = R[s + 1];
        if (budget === 0) { R[d] = sl; R[d + 1] = sh; break; }
        budget = (budget - 1) | 0;
        const k = x[p + 3];
        const l = (sl + k) | 0;
        R[d] = l; R[d + 1] = (sh + (k >> 31) + (l >>> 0 < sl >>> 0 ? 1 : 0)) | 0;
        p = (p + 4) | 0;
        continue;
      }
      case 0x38: { // OP_MOV_ADD_JGX: mov64 rX, rY; add64 rX, K; jgt/jge rX, rZ
        const s = (w >> 11) & 0x1e;
        const sl = R[s];
        const sh = R[s + 1];
        if (budget < 2) { R[d] = sl; R[d + 1] = sh; break; }
        budget = (budget - 2) | 0;
        const k = x[p + 3];
        const lo = (sl + k) | 0;
        const hi = (sh + (k >> 31) + (lo >>> 0 < sl >>> 0 ? 1 : 0)) | 0;
        R[d] = lo; R[d + 1] = hi;
        const wj = x[p + 4];
        const z = (wj >> 11) & 0x1e;
        const zh = R[z + 1];
        if (hi === zh ? ((wj & 0xff) === 0x3d ? lo >>> 0 >= R[z] >>> 0 : lo >>> 0 > R[z] >>> 0) : hi >>> 0 > zh >>> 0) { p = (p + ((wj >> 16) << 1) + 6) | 0; continue; }
        p = (p + 6) | 0;
        continue;
      }
      case 0x40: { // OP_MOVK_JGX: mov64 rX, K; jgt/jge rA, rB
        const k = x[p + 1];
        R[d] = k; R[d + 1] = k >> 31;
        if (budget === 0) break;
        budget = (budget - 1) | 0;
        const wj = x[p + 2];
        const a = (wj >> 7) & 0x1e;
        const b = (wj >> 11) & 0x1e;
        const ah = R[a + 1];
        const bh = R[b + 1];
        if (ah === bh ? ((wj & 0xff) === 0x3d ? R[a] >>> 0 >= R[b] >>> 0 : R[a] >>> 0 > R[b] >>> 0) : ah >>> 0 > bh >>> 0) { p = (p + ((wj >> 16) << 1) + 4) | 0; continue; }
        p = (p + 4) | 0;
        continue;
      }
      case 0x48: { // OP_MOVK_JEK: mov64 rX, K; jeq/jne rA, K2
        const k = x[p + 1];
        R[d] = k; R[d + 1] = k >> 31;
        if (budget === 0) break;
        budget = (budget - 1) | 0;
        const wj = x[p + 2];
        const k2 = x[p + 3];
        const a = (wj >> 7) & 0x1e;
        if ((R[a] === k2 && R[a + 1] === k2 >> 31) === ((wj & 0xff) === 0x15)) { p = (p + ((wj >> 16) << 1) + 4) | 0; continue; }
        p = (p + 4) | 0;
        continue;
      }
      case 0x50: { // OP_LDXB_JEK: ldxb rX, [rY+off]; jeq/jne rX, K (a window miss runs the jump on its own)
        const b = (w >> 11) & 0x1e;
        const a = R[b + 1] === 0 ? (R[b] >>> 0) + (w >> 16) : -1;
        let v: number;
        if ((a >= win[0] && a + 1 <= win[1]) || (a >= win[2] && a + 1 <= win[3])) v = dv.getUint8(a);
        else if (code.ctxFast[p >> 1] === a) v = dv.getUint8(code.ctxEff[p >> 1]);
        else { const f = loadSlow(st, code, p >> 1, d, b, a, 1, false); if (f !== undefined) { st.budget = budget; st.fault = f; return S_FAULT; } break; }
        R[d] = v; R[d + 1] = 0;
        if (budget === 0) break;
        budget = (budget - 1) | 0;
        const k = x[p + 3];
        if ((v === k && k >= 0) === ((x[p + 2] & 0xff) === 0x15)) { p = (p + ((x[p + 2] >> 16) << 1) + 4) | 0; continue; }
        p = (p + 4) | 0;
        continue;
      }
      case 0x58: { // OP_LDXH_JEK: ldxh rX, [rY+off]; jeq/jne rX, K
        const b = (w >> 11) & 0x1e;
        const a = R[b + 1] === 0 ? (R[b] >>> 0) + (w >> 16) : -1;
        let v: number;
        if ((a >= win[0] && a + 2 <= win[1]) || (a >= win[2] && a + 2 <= win[3])) v = dv.getUint16(a, true);
        else if (code.ctxFast[p >> 1] === a) v = dv.getUint16(code.ctxEff[p >> 1], true);
        else { const f = loadSlow(st, code, p >> 1, d, b, a, 2, false); if (f !== undefined) { st.budget = budget; st.fault = f; return S_FAULT; } break; }
        R[d] = v; R[d + 1] = 0;
        if (budget === 0) break;
        budget = (budget - 1) | 0;
        const k = x[p + 3];
        if ((v === k && k >= 0) === ((x[p + 2] & 0xff) === 0x15)) { p = (p + ((x[p + 2] >> 16) << 1) + 4) | 0; continue; }
        p = (p + 4) | 0;
        continue;
      }
      case 0x60: { // OP_LDXW_JEK: ldxw rX, [rY+off]; jeq/jne rX, K
        const b = (w >> 11) & 0x1e;
        const a = R[b + 1] === 0 ? (R[b] >>> 0) + (w >> 16) : -1;
        let v: number;
        if ((a >= win[0] && a + 4 <= win[1]) || (a >= win[2] && a + 4 <= win[3])) v = dv.getInt32(a, true);
        else if (code.ctxFast[p >> 1] === a) v = dv.getInt32(code.ctxEff[p >> 1], true);
        else { const f = loadSlow(st, code, p >> 1, d, b, a, 4, false); if (f !== undefined) { st.budget = budget; st.fault = f; return S_FAULT; } break; }
        R[d] = v; R[d + 1] = 0;
        if (budget === 0) break;
        budget = (budget - 1) | 0;
        const k = x[p + 3];
        if ((v === k && k >= 0) === ((x[p + 2] & 0xff) === 0x15)) { p = (p + ((x[p + 2] >> 16) << 1) + 4) | 0; continue; }
        p = (p + 4) | 0;
        continue;
      }
      case 0x68: { // OP_LSH_OR: lsh64 rX, K; or64 rX, rY
        const n = x[p + 1] & 63;
        const lo = R[d];
        if (n >= 32) { R[d + 1] = lo << (n - 32); R[d] = 0; }
        else if (n !== 0) { R[d + 1] = (R[d + 1] << n) | (lo >>> (32 - n)); R[d] = lo << n; }
        if (budget === 0) break;
        budget = (budget - 1) | 0;
        const s = (x[p + 2] >> 11) & 0x1e;
        R[d] |= R[s]; R[d + 1] |= R[s + 1];
        p = (p + 4) | 0;
        continue;
      }
      case 0x70: { // OP_LSH32_OR32: lsh32 wX, K; or32 wX, wY
        R[d] <<= x[p + 1]; R[d + 1] = 0;
        if (budget === 0) break;
        budget = (budget - 1) | 0;
        R[d] |= R[(x[p + 2] >> 11) & 0x1e];
        p = (p + 4) | 0;
        continue;
      }
      case 0x78: case 0x80: { // OP_MOVK_EXIT, OP_MOV32K_EXIT: mov64/mov32 rX, K; exit
        const k = x[p + 1];
        R[d] = k; R[d + 1] = (w & 0xff) === 0x78 ? k >> 31 : 0;
        if (budget === 0) break;
        st.budget = (budget - 1) | 0;
        st.pc = (p >> 1) + 1;
        return S_EXIT;
      }
      // ---------------------------------------------------------------- calls and exit
      case 0x85: case 0x8d: { // helper call by imm, or callx: helper id in the dst register
        const id = (w & 0xff) === 0x85 ? x[p + 1] : R[d];
        st.budget = budget;
        const f = callHelper(st, code, p >> 1, st.depth, id);
        if (f !== undefined) { st.fault = f; return S_FAULT; }
        budget = st.budget | 0;
        dv = mem.dv; // a helper may have grown memory
        refreshWindows(st, regions); // ... or moved a region's bounds
        if (env.exitRequested === true) {
          env.exitRequested = false;
          st.pc = p >> 1;
          return S_HALT;
        }
        break;
      }
      case 0x95: st.budget = budget; st.pc = p >> 1; return S_EXIT;
      case 0xf5: /* OP_LOCAL_CALL */ st.budget = budget; st.pc = p >> 1; return S_LOCAL_CALL;
      case 0xe5: /* OP_TAIL_CALL */ st.budget = budget; st.pc = p >> 1; return S_TAIL_CALL;
      default: {
        st.budget = budget;
        const next = rareOp(st, code, p >> 1, w);
        if (next < 0) return S_FAULT;
        p = next << 1;
        continue;
      }
    }
    p = (p + 2) | 0;
  }
}

/** rareCheck is the access check of rareOp: the windows, then the slow path. */
function rareCheck(st: State, a: number, size: number, write: boolean): boolean {
  const win = WIN;
  const k = write ? 4 : 0;
  if ((a >= win[k] && a + size <= win[k + 1]) || (a >= win[k + 2] && a + size <= win[k + 3])) return true;
  const mem = st.env.mem;
  return slowAccess(st, mem.regions, mem.owner, a, size, write);
}

/**
 * rareOp executes the instruction at pc that `hot` does not (see there), and returns the next
 * pc, or -1 after storing its fault in st.fault.
 */
function rareOp(st: State, code: Code, pc: number, w: number): number {
  const env = st.env;
  const R = REGS;
  const d = (w >> 7) & 0x1e;
  const s = (w >> 11) & 0x1e;
  const k = code.imm[pc];
  switch (w & 0xff) {
    case 0x27: mul64(R, d, k >> 31, k); break;
    case 0x37: div64(R, d, k >> 31, k); break;
    case 0x87: neg64(R, d); break;
    case 0x97: mod64(R, d, k >> 31, k); break;
    case 0xe7: /* OP_SDIV64_K */ sdiv64(R, d, k >> 31, k); break;
    case 0xf7: /* OP_SMOD64_K */ smod64(R, d, k >> 31, k); break;
    case 0xd7: // bswap16/32/64 (ALU64 class END, v4): unconditional swap, zero-extended
      if (k === 16) { R[d] = bswap16(R[d]); R[d + 1] = 0; }
      else if (k === 32) { R[d] = bswap32(R[d]); R[d + 1] = 0; }
      else bswap64(R, d);
      break;
    case 0x2f: mul64(R, d, R[s + 1], R[s]); break;
    case 0x3f: div64(R, d, R[s + 1], R[s]); break;
    case 0x6f: lsh64(R, d, R[s] & 63); break;
    case 0x7f: rsh64(R, d, R[s] & 63); break;
    case 0x9f: mod64(R, d, R[s + 1], R[s]); break;
    case 0xcf: arsh64(R, d, R[s] & 63); break;
    case 0xef: /* OP_SDIV64_X */ sdiv64(R, d, R[s + 1], R[s]); break;
    case 0xff: /* OP_SMOD64_X */ smod64(R, d, R[s + 1], R[s]); break;
    case 0x08: /* OP_MOVSX64 */ { // movsx: sign-extend the low 8/16/32 bits of src
      const o = code.off[pc];
      if (o === 8) { R[d] = (R[s] << 24) >> 24; R[d + 1] = R[d] >> 31; }
      else if (o === 16) { R[d] = (R[s] << 16) >> 16; R[d + 1] = R[d] >> 31; }
      else { R[d] = R[s]; R[d + 1] = R[s] >> 31; }
      break;
    }
    case 0x34: R[d] = div32(R[d], k); R[d + 1] = 0; break;
    case 0x84: R[d] = -R[d] | 0; R[d + 1] = 0; break;
    case 0x94: R[d] = mod32(R[d], k); R[d + 1] = 0; break;
    case 0xe4: /* OP_SDIV32_K */ R[d] = sdiv32(R[d], k); R[d + 1] = 0; break;
    case 0xf4: /* OP_SMOD32_K */ R[d] = smod32(R[d], k); R[d + 1] = 0; break;
    case 0x3c: R[d] = div32(R[d], R[s]); R[d + 1] = 0; break;
    case 0x9c: R[d] = mod32(R[d], R[s]); R[d + 1] = 0; break;
    case 0xec: /* OP_SDIV32_X */ R[d] = sdiv32(R[d], R[s]); R[d + 1] = 0; break;
    case 0xfc: /* OP_SMOD32_X */ R[d] = smod32(R[d], R[s]); R[d + 1] = 0; break;
    case 0x10: /* OP_MOVSX32 */ { // movsx 8/16 into 32 bits, zero-extended
      const v = R[s];
      R[d] = code.off[pc] === 8 ? (v << 24) >> 24 : (v << 16) >> 16;
      R[d + 1] = 0;
      break;
    }
    case 0xd4: // le16/le32/le64: on a little-endian machine, truncate to the width
      if (k === 16) { R[d] &= 0xffff; R[d + 1] = 0; }
      else if (k === 32) R[d + 1] = 0;
      break;
    case 0xdc: bswap64(R, d); break; // be64 (be16/be32 are OP_BE16/OP_BE32)
    case 0x81: case 0x89: case 0x91: { // ldxsw, ldxsh, ldxsb (v4 MEMSX): sign-extending loads
      const o = w & 0xff;
      const size = o === 0x81 ? 4 : o === 0x89 ? 2 : 1;
      const offv = code.off[pc];
      const a = R[s + 1] === 0 ? (R[s] >>> 0) + offv : -1;
      const win = WIN;
      if ((a >= win[0] && a + size <= win[1]) || (a >= win[2] && a + size <= win[3])) {
        const dv = env.mem.dv;
        R[d] = size === 4 ? dv.getInt32(a, true) : size === 2 ? dv.getInt16(a, true) : dv.getInt8(a);
        R[d + 1] = R[d] >> 31;
      } else {
        const f = loadSlow(st, code, pc, d, s, a, size, true);
        if (f !== undefined) { st.fault = f; return -1; }
      }
      break;
    }
    // ---------------------------------------------------------------- atomics (kernel: BPF_STX | BPF_ATOMIC)
    case 0xc3: { // 32-bit
      const offv = code.off[pc];
      const a = R[d + 1] === 0 ? (R[d] >>> 0) + offv : -1;
      if (!rareCheck(st, a, 4, true)) { st.fault = memFault(env.mem, code, pc, R, d, offv, 4, true, CtxKind.Atomic); return -1; }
      if (sharedAtomic(env.mem, a, false, k, R[s], R[s + 1], R[0], R[1], ATOMIC_OLD)) {
        // Another thread may hold the same value (replay --workers): done with Atomics (atomics.ts).
        if (k === BPF_CMPXCHG) { R[0] = ATOMIC_OLD[0]; R[1] = 0; }
        else if ((k & BPF_FETCH) !== 0) { R[s] = ATOMIC_OLD[0]; R[s + 1] = 0; }
        break;
      }
      const dv = env.mem.dv;
      const old = dv.getInt32(a, true);
      switch (k & ~BPF_FETCH) {
        case BPF_ADD: dv.setInt32(a, (old + R[s]) | 0, true); break;
        case BPF_OR: dv.setInt32(a, old | R[s], true); break;
        case BPF_AND: dv.setInt32(a, old & R[s], true); break;
        case BPF_XOR: dv.setInt32(a, old ^ R[s], true); break;
        case BPF_XCHG & ~BPF_FETCH: dv.setInt32(a, R[s], true); break;
        default: // cmpxchg: compare the low 32 bits of r0; r0 always gets the old value, zero-extended
          if (old === R[0]) dv.setInt32(a, R[s], true);
          R[0] = old;
          R[1] = 0;
          break;
      }
      if ((k & BPF_FETCH) !== 0 && k !== BPF_CMPXCHG) { R[s] = old; R[s + 1] = 0; }
      break;
    }
    case 0xdb: { // 64-bit
      const offv = code.off[pc];
      const a = R[d + 1] === 0 ? (R[d] >>> 0) + offv : -1;
      if (!rareCheck(st, a, 8, true)) { st.fault = memFault(env.mem, code, pc, R, d, offv, 8, true, CtxKind.Atomic); return -1; }
      if (sharedAtomic(env.mem, a, true, k, R[s], R[s + 1], R[0], R[1], ATOMIC_OLD)) {
        if (k === BPF_CMPXCHG) { R[0] = ATOMIC_OLD[0]; R[1] = ATOMIC_OLD[1]; }
        else if ((k & BPF_FETCH) !== 0) { R[s] = ATOMIC_OLD[0]; R[s + 1] = ATOMIC_OLD[1]; }
        break;
      }
      const dv = env.mem.dv;
      const ol = dv.getInt32(a, true);
      const oh = dv.getInt32(a + 4, true);
      const sl = R[s];
      const sh = R[s + 1];
      switch (k & ~BPF_FETCH) {
        case BPF_ADD: {
          const l = (ol >>> 0) + (sl >>> 0);
          dv.setInt32(a, l | 0, true);
          dv.setInt32(a + 4, (oh + sh + (l >= 4294967296 ? 1 : 0)) | 0, true);
          break;
        }
        case BPF_OR: dv.setInt32(a, ol | sl, true); dv.setInt32(a + 4, oh | sh, true); break;
        case BPF_AND: dv.setInt32(a, ol & sl, true); dv.setInt32(a + 4, oh & sh, true); break;
        case BPF_XOR: dv.setInt32(a, ol ^ sl, true); dv.setInt32(a + 4, oh ^ sh, true); break;
        case BPF_XCHG & ~BPF_FETCH: dv.setInt32(a, sl, true); dv.setInt32(a + 4, sh, true); break;
        default: // cmpxchg64
          if (ol === R[0] && oh === R[1]) { dv.setInt32(a, sl, true); dv.setInt32(a + 4, sh, true); }
          R[0] = ol;
          R[1] = oh;
          break;
      }
      if ((k & BPF_FETCH) !== 0 && k !== BPF_CMPXCHG) { R[s] = ol; R[s + 1] = oh; }
      break;
    }
    default: {
      const r = code.refusals.get(pc);
      st.fault = r !== undefined ? makeFault(code, pc, r.code, r.message) : makeFault(code, pc, FaultCode.BadInsn, `opcode ${hex(w & 0xff)} cannot be executed`);
      return -1;
    }
  }
  return pc + 1;
}

/**
 * execute runs `code` from `pc` at call depth `base` until the exit of depth `base`. r0 is left
 * in the register file; the return value is the fault that stopped the run, if any. The
 * instructions run in `hot`; this loop handles what changes the frame or the program.
 */
function execute(st: State, code0: Code, pc0: number, base: number): VmFault | undefined {
  const env = st.env;
  const R = REGS;
  const mem = env.mem;
  const regions = mem.regions;
  const stack = env.stack;
  const top = st.top;
  st.depth = base;
  R[20] = top - base * MAX_BPF_STACK;
  R[21] = 0;
  stack.lo = R[20] - MAX_BPF_STACK;
  if (st.winMem !== mem) {
    st.winRegion.fill(0);
    st.winMem = mem;
  }
  refreshWindows(st, regions);
  if (code0.ctxMem !== mem || code0.ctxRecs.length !== 0) checkCtxCache(code0, mem);
  return drive(st, code0, hot(st, code0, pc0), base);
}

/**
 * drive goes on from status `s0`, which `hot` returned running `code0` at depth `base`: it
 * handles exits, bpf-to-bpf calls and tail calls, and runs `hot` again, until the exit of
 * depth `base` or a fault (returned).
 */
function drive(st: State, code0: Code, s0: number, base: number): VmFault | undefined {
  const env = st.env;
  const R = REGS;
  const regions = env.mem.regions;
  const stack = env.stack;
  const top = st.top;
  let code = code0;
  let s = s0;
  let pc = st.pc;
  let depth = st.depth;
  for (;;) {
    if (s === S_EXIT) {
      if (depth === base) return undefined;
      depth--;
      st.depth = depth;
      const sv = st.saved;
      const p = depth * 8;
      for (let i = 0; i < 8; i++) R[12 + i] = sv[p + i];
      R[20] = top - depth * MAX_BPF_STACK;
      stack.lo = R[20] - MAX_BPF_STACK;
      refreshWindows(st, regions);
      pc = st.retPc[depth];
      code = st.retCode[depth] as Code;
    } else if (s === S_LOCAL_CALL) {
      if (depth + 1 >= MAX_CALL_FRAMES) {
        return makeFault(code, pc, FaultCode.CallDepth, `bpf-to-bpf call would exceed ${MAX_CALL_FRAMES} call frames`);
      }
      const sv = st.saved;
      const p = depth * 8;
      for (let i = 0; i < 8; i++) sv[p + i] = R[12 + i];
      st.retPc[depth] = pc + 1;
      st.retCode[depth] = code;
      depth++;
      st.depth = depth;
      R[20] = top - depth * MAX_BPF_STACK;
      stack.lo = R[20] - MAX_BPF_STACK;
      refreshWindows(st, regions);
      pc += code.imm[pc] + 1;
    } else if (s === S_TAIL_CALL) {
      // kernel/bpf/core.c JMP_TAIL_CALL: r2 = prog array, r3 = index. On failure the program
      // goes on after the call; the count rises only when the index is in range.
      const resolver = env.tailCall;
      const target = resolver === undefined || R[5] !== 0 ? undefined : resolver(R[4] >>> 0, R[6] >>> 0);
      if (target === undefined || st.tailCnt >= MAX_TAIL_CALL_CNT) pc++;
      else {
        st.tailCnt++;
        if (target === null) pc++;
        else {
          code = codeOf(target.spec);
          refreshWindows(st, regions);
          if (code.ctxMem !== env.mem || code.ctxRecs.length !== 0) checkCtxCache(code, env.mem);
          pc = 0;
        }
      }
    } else if (s === S_HALT) {
      return undefined;
    } else {
      const f = st.fault as VmFault;
      st.fault = undefined;
      return f;
    }
    s = hot(st, code, pc);
    pc = st.pc;
  }
}

/** InterpExecutable is a program prepared by the interpreter. */
class InterpExecutable implements Executable {
  constructor(
    readonly spec: ProgramSpec,
    private readonly code: Code,
  ) {}

  /**
   * The last successful result and its r0 halves: results are immutable, so a run ending with
   * the same r0 and instruction count (every packet of a flow, usually) returns it again instead
   * of allocating a RunResult (and possibly a BigInt) per packet.
   */
  private last: RunResult | undefined;
  private lastLo = 0;
  private lastHi = 0;

  run(env: RunEnv, arg1: number, arg2 = 0): RunResult {
    const nested = poolDepth;
    const st = nested < POOL.length ? POOL[nested] : (POOL[nested] = new State());
    poolDepth++;
    if (nested !== 0) st.outerRegs.set(REGS.subarray(0, 22));
    const stack = env.stack;
    const savedLo = stack.lo;
    const savedHi = stack.hi;
    try {
      st.env = env;
      st.budget = env.insnBudget;
      st.tailCnt = 0;
      st.curCode = undefined;
      st.top = stack.start + STACK_BYTES;
      stack.hi = st.top;
      env.exitRequested = false;
      env.callSubprog = st.callSubprog;
      const R = REGS;
      // r0..r9 start at zero (the kernel leaves them undefined and the verifier forbids reading
      // them; zero keeps every engine deterministic). Unrolled: a loop here cost more than the run.
      R[0] = 0; R[1] = 0; R[2] = arg1 | 0; R[3] = 0; R[4] = arg2 | 0; R[5] = 0; R[6] = 0; R[7] = 0;
      R[8] = 0; R[9] = 0; R[10] = 0; R[11] = 0; R[12] = 0; R[13] = 0; R[14] = 0; R[15] = 0;
      R[16] = 0; R[17] = 0; R[18] = 0; R[19] = 0;
      // execute(st, this.code, 0, 0), with its frame set-up written out: one call less per run.
      const mem = env.mem;
      st.depth = 0;
      R[20] = st.top;
      R[21] = 0;
      stack.lo = st.top - MAX_BPF_STACK;
      if (st.winMem !== mem) {
        st.winRegion.fill(0);
        st.winMem = mem;
      }
      refreshWindows(st, mem.regions);
      const code = this.code;
      if (code.ctxMem !== mem || code.ctxRecs.length !== 0) checkCtxCache(code, mem);
      const s = hot(st, code, 0);
      const f = s === S_EXIT || s === S_HALT ? undefined : drive(st, code, s, 0);
      const insnCount = env.insnBudget - st.budget;
      if (f !== undefined) {
        const regs = env.regs; // the registers as the fault left them, for whoever looks
        for (let i = 0; i < 22; i++) regs[i] = R[i];
        return { ok: false, fault: f, insnCount };
      }
      const lo = R[0];
      const hi = R[1];
      env.regs[0] = lo;
      env.regs[1] = hi;
      const last = this.last;
      if (last !== undefined && lo === this.lastLo && hi === this.lastHi && last.insnCount === insnCount) return last;
      const res: RunResult = { ok: true, r0: r0Big(R), insnCount };
      this.last = res;
      this.lastLo = lo;
      this.lastHi = hi;
      return res;
    } finally {
      poolDepth--;
      if (nested !== 0) REGS.set(st.outerRegs);
      stack.lo = savedLo;
      stack.hi = savedHi;
    }
  }
}

/**
 * warmUpProgram builds a loop that executes every opcode the interpreter knows, on operands that
 * change every iteration (a 64-bit LCG), including values above 2^31 and negative ones.
 *
 * Why: V8 optimises `execute` from the type feedback of the cases that have run. A case first
 * reached after optimisation (a new program using an opcode no earlier program used) deopts
 * the whole function, and re-optimising this large function takes 50-150 ms; measured on the
 * bench programs, the first few hundred thousand runs of a second program were twice as slow.
 * Running this once, before any user program, gives every case general feedback up front.
 */
export function warmUpProgram(): Insn[] {
  const p: Insn[] = [];
  const I = (opcode: number, dst = 0, src = 0, off = 0, imm = 0): void => {
    p.push(makeInsn(opcode, dst, src, off, imm));
  };
  I(0xbf, 5, 1); // r5: a scratch region (r1); r4: a region with a context policy (r1 + 4096)
  I(0xbf, 4, 1);
  I(0x07, 4, 0, 0, 4096);
  I(0xb7, 6, 0, 0, 0x2545f491); // r6: LCG state
  I(0xb7, 9, 0, 0, 24); // r9: iterations
  const loop = p.length;
  I(0x18, 1, 0, 0, 0x4c957f2d); // r1 = 6364136223846793005 (LCG multiplier)
  I(0, 0, 0, 0, 0x5851f42d);
  I(0x2f, 6, 1); // r6 *= r1
  I(0x07, 6, 0, 0, 1442695); // r6 += c
  I(0xbf, 7, 6); // r7 = r6 rotated: a second operand
  I(0x77, 7, 0, 0, 29);
  I(0xb7, 8, 0, 0, 0);
  const fresh = (): void => I(0xbf, 1, 6); // r1 = r6 before every operation
  for (const cls of [0x07, 0x04]) {
    for (const op of [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0]) {
      // Shifts by a constant branch on the count (>= 32, 1..31, 0): give each branch feedback.
      const shift = op === 0x60 || op === 0x70 || op === 0xc0;
      const forms: ReadonlyArray<readonly [number, number]> = shift ? [[0, 0x7fff3], [0, 5], [0, 0], [8, 0]] : [[0, 0x7fff3], [8, 0]];
      for (const [srcBit, k] of forms) {
        fresh();
        I(cls | op | srcBit, 1, srcBit === 8 ? 7 : 0, 0, k);
        if (op === 0x30 || op === 0x90) {
          fresh();
          I(cls | op | srcBit, 1, srcBit === 8 ? 7 : 0, 1, k); // sdiv / smod
          fresh();
          I(cls | op | srcBit, 1, srcBit === 8 ? 8 : 0, 0, k); // by zero (r8 = 0)
        }
        I(0x0f, 8, 1); // r8 += r1, keeping results live
        I(0xb7, 8, 0, 0, 0);
      }
    }
    fresh();
    I(cls | 0x80, 1); // neg
  }
  for (const o of [8, 16, 32]) {
    fresh();
    I(0xbf, 1, 7, o);
    if (o !== 32) I(0xbc, 1, 7, o);
  }
  for (const opc of [0xd4, 0xdc, 0xd7]) {
    for (const w of [16, 32, 64]) {
      fresh();
      I(opc, 1, 0, 0, w);
    }
  }
  // Conditional jumps, both classes, K and X, to the next instruction (taken or not), on
  // operands that differ, that are equal, and whose low halves are equal but high halves not.
  I(0x18, 3, 0, 0, -7); // r3 = 0xfffffffffffffff9 (equal to the imm -7 sign-extended)
  I(0, 0, 0, 0, -1);
  I(0x18, 2, 0, 0, -7); // r2 = 0x00000001fffffff9 (same low half, other high half)
  I(0, 0, 0, 0, 1);
  for (const cls of [0x05, 0x06]) {
    for (const op of [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]) {
      for (const r of [6, 3, 2]) I(cls | op, r, 0, 0, -7);
      for (const [a, b] of [[6, 7], [6, 6], [3, 2], [2, 3]]) I(cls | op | 8, a, b, 0);
    }
  }
  I(0x05, 0, 0, 0);
  I(0x06, 0, 0, 0, 0);
  // Stores, loads, sign-extending loads and atomics, on the stack, the scratch region and the
  // context-policy region in turn, so that every access-window test (a hit in either window, a
  // miss, a region that is never windowed) runs at every access site.
  const mem = (opc: number, reg: number, off: number, srcOrImm: 'src' | 'imm', atomicImm = 0): void => {
    for (const [base, o] of [[10, off], [10, off], [5, off + 32], [10, off], [4, off + 32]] as const) {
      if (opc === 0xdb || opc === 0xc3) {
        I(0xbf, 2, 7);
        I(0xbf, 0, 6);
        I(opc, base, 2, o, atomicImm);
      } else if ((opc & 7) === 1) I(opc, reg, base, o);
      else if (srcOrImm === 'src') I(opc, base, reg, o);
      else I(opc, base, 0, o, -5);
    }
  };
  mem(0x7b, 6, -8, 'src');
  mem(0x63, 7, -12, 'src');
  mem(0x6b, 7, -14, 'src');
  mem(0x73, 7, -15, 'src');
  for (const [opc, off] of [[0x7a, -24], [0x62, -28], [0x6a, -30], [0x72, -31]] as const) mem(opc, 0, off, 'imm');
  for (const opc of [0x79, 0x61, 0x69, 0x71, 0x81, 0x89, 0x91]) mem(opc, 1, -16, 'src');
  for (const opc of [0xdb, 0xc3]) {
    for (const a of [0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1]) mem(opc, 0, -8, 'src', a);
  }
  // Superinstructions (see fuse), their jumps taken and not taken, their loads on every kind
  // of region as above.
  for (const r of [6, 7]) {
    I(0xbf, 1, r); I(0x07, 1, 0, 0, 14); I(0x2d, 1, 6, 1, 0); I(0xb7, 8, 0, 0, 1);
    I(0xbf, 1, r); I(0x07, 1, 0, 0, -3); I(0x3d, 1, 7, 1, 0); I(0xb7, 8, 0, 0, 1);
    I(0xbf, 1, r); I(0x07, 1, 0, 0, 5); I(0x0f, 8, 1);
    I(0xb7, 0, 0, 0, 2); I(0x2d, r, 1, 1, 0); I(0xb7, 0, 0, 0, 1); I(0x3d, 1, r, 0, 0);
    I(0xb7, 0, 0, 0, 3); I(0x15, 0, 0, 1, 3); I(0xb7, 0, 0, 0, 3); I(0x55, r, 0, 0, 7);
    I(0xb7, 0, 0, 0, 3); I(0x15, r, 0, 0, 7); I(0xb7, 0, 0, 0, 3); I(0x55, 0, 0, 0, 3);
    I(0x67, 1, 0, 0, 8); I(0x4f, 1, r); I(0x67, 1, 0, 0, 40); I(0x4f, 1, r);
    I(0x64, 1, 0, 0, 8); I(0x4c, 1, r);
    I(0x0f, 8, 1);
  }

  for (const opc of [0x61, 0x69, 0x71]) {
    for (const j of [0x15, 0x55]) {
      for (const [base, o] of [[10, -16], [10, -16], [5, 16], [10, -16], [4, 16]] as const) {
        I(opc, 1, base, o);
        I(j, 1, 0, 1, 0);
        I(j, 1, 0, 0, -1);
      }
    }
  }
  // Calls: helper, callx, a failing tail call, a local call.
  I(0xbf, 1, 6);
  I(0x85, 0, 0, 0, 1);
  I(0xb7, 3, 0, 0, 1);
  I(0x8d, 3);
  I(0xb7, 3, 0, 0, 0);
  I(0x85, 0, 0, 0, 12);
  const call = p.length;
  I(0x85, 0, 1, 0, 0); // patched below
  I(0x17, 9, 0, 0, 1);
  I(0x55, 9, 0, loop - (p.length + 1), 0);
  I(0xbf, 0, 8);
  I(0x95);
  p[call] = makeInsn(0x85, 0, 1, 0, p.length - call - 1);
  I(0x45, 9, 0, 2, 1); // the local function: returns through mov64 + exit or mov32 + exit
  I(0xb7, 0, 0, 0, -5);
  I(0x95);
  I(0xb4, 0, 0, 0, 7);
  I(0x95);
  return p;
}

let warmedUp = false;

/** warmUp runs warmUpProgram once per process, before the first user program. */
function warmUp(): void {
  warmedUp = true;
  const memory = new Memory(1 << 17);
  const scratch = memory.map(RegionKind.Scratch, 'warm-up', 64);
  memory.map(RegionKind.Context, 'warm-up-ctx', 64, { ctxPolicy: () => true });
  const env = createRunEnv(memory, { helpers: new Map([[1, (e: RunEnv) => e.regs[2]]]) });
  const spec: ProgramSpec = { name: 'interp-warm-up', insns: warmUpProgram() };
  const exe = new InterpExecutable(spec, predecode(spec));
  const r = exe.run(env, scratch.start);
  if (!r.ok) throw new Error(`interp: warm-up program faulted: ${r.fault.message}`);
}

/** interpEngine is the reference interpreter, registered as `interp`. */
export const interpEngine: Engine = {
  name: 'interp',
  prepare(spec: ProgramSpec): Executable {
    if (!warmedUp) warmUp();
    return new InterpExecutable(spec, codeOf(spec));
  },
};
