/**
 * codegen — eBPF to WebAssembly, one wasm function per function entry (see analyze.ts).
 *
 * Registers r0..r9 are i64 locals (the function's parameters: a bpf-to-bpf call passes the
 * whole register file and gets r0..r5 back, so it behaves exactly like the interpreter's shared
 * register file); r10 is the frame pointer `fp`, an i32 parameter. The control-flow graph
 * becomes a "ladder" of nested wasm blocks in instruction order, so every forward jump is a
 * direct `br`; when a function has backward jumps the ladder sits in a `loop` whose head
 * dispatches on a block number with `br_table` (one indirect jump per loop iteration). This
 * handles any CFG, reducible or not.
 *
 * Budget: each block charges its instruction count to a local copy of the shared `left` global
 * on entry (synced with the global around every call out). When fewer than that remain, a second
 * copy of the block runs that checks before every instruction, so the E_INSN_BUDGET fault names
 * exactly the instruction the interpreter names, after exactly the same side effects; a memory
 * fault refunds the instructions of its block it did not reach, so counts match too.
 *
 * Memory: every load/store computes the 64-bit effective address and accepts it on a fast path
 * of a subtract and an unsigned compare against a cached region held in locals (the packet
 * slot, the stack from this frame's bottom to the top of frame 0, and a "victim" slot for the
 * last other region hit), then a per-instruction inline cache for context fields (keyed by the
 * address, holding the effective address of the field's access plan, ctx-plan.ts; loads through
 * a register known to hold the context try it first); otherwise it calls the runtime's slow
 * path, which does the interpreter's full check and faults with its message, or performs a
 * context access a plain wasm load or store cannot (a store hook, a sign-extended field). The check is dropped only for r10-relative accesses at constant offsets that stay
 * inside the current 512-byte frame (always inside the stack region's live bounds).
 *
 * Exports per program: `run` (entry 0 compiled once more for the per-packet call: budget, stack
 * top and slots come in as parameters, r0 and the count go out packed in one f64), `e<insn>`
 * (every entry, for tail calls and callbacks), `f<insn>` (the raw functions), `init`, `left`.
 */
import type { Insn } from '../../isa/insn.js';
import { BPF_CMPXCHG, BPF_FETCH, BPF_XCHG, MAX_BPF_STACK, MAX_CALL_FRAMES } from '../../isa/opcodes.js';
import { CtxKind } from '../ctx-plan.js';
import { FaultCode } from '../fault.js';
import { analyze, blocksFrom, Kind, type Analysis, type Block, type Refusal } from './analyze.js';
import { BLOCK_VOID, ByteWriter, F64, I32, I64, ModuleBuilder, Op, type ValType } from './wasm.js';

/** SiteKind says what a call into the runtime is about. */
export const SiteKind = {
  Mem: 0,
  Helper: 1,
  TailCall: 2,
  Trap: 3,
  Budget: 4,
} as const;
export type SiteKind = (typeof SiteKind)[keyof typeof SiteKind];

/** Site describes one place where compiled code calls into the runtime. */
export interface Site {
  readonly kind: SiteKind;
  readonly insn: number;
  /** Mem: base register number, offset, access size, write. */
  readonly base: number;
  readonly off: number;
  readonly size: number;
  readonly write: boolean;
  /** Mem: the kind of instruction (a context region's plan depends on it). */
  readonly access: CtxKind;
  /** Instructions charged on block entry but not executed when this site faults. */
  readonly refund: number;
  /** Helper: id (callx: -1, the id comes in at run time). */
  readonly helper: number;
  /** Trap: the fault to raise. */
  readonly refusal?: Refusal;
}

/** Compiled is a program translated to a wasm module, with its sites and entry exports. */
export interface Compiled {
  readonly wasm: Uint8Array<ArrayBuffer>;
  readonly sites: readonly Site[];
  /** Function entries (instruction indexes) exported as `e<insn>`. */
  readonly entries: readonly number[];
}

/** Names of the module's imports (module "x"), shared by every program on one Memory. */
export const IMPORT = {
  mem: 'mem',
  left: 'left',
  top: 'top',
  pRlo: 'pRlo',
  pRm: 'pRm',
  pWlo: 'pWlo',
  pWm: 'pWm',
  vRlo: 'vRlo',
  vRm: 'vRm',
  vWlo: 'vWlo',
  vWm: 'vWm',
  epoch: 'epoch',
  slow: 'slow',
  ctxLo: 'ctxLo',
  ctxHi: 'ctxHi',
  helper: 'helper',
  tail: 'tail',
  trap: 'trap',
  r0lo: 'r0lo',
  r0hi: 'r0hi',
  setR0: 'setR0',
} as const;

/** The shared globals, in import order (all mutable i32). */
export const SHARED_GLOBALS = [
  IMPORT.left,
  IMPORT.top,
  IMPORT.pRlo,
  IMPORT.pRm,
  IMPORT.pWlo,
  IMPORT.pWm,
  IMPORT.vRlo,
  IMPORT.vRm,
  IMPORT.vWlo,
  IMPORT.vWm,
  IMPORT.epoch,
] as const;

/** Lowest frame pointer a bpf-to-bpf call may start from: top - (MAX_CALL_FRAMES-1)*512. */
const DEEPEST = (MAX_CALL_FRAMES - 1) * MAX_BPF_STACK;

// Global indexes (imports first, in SHARED_GLOBALS order).
const G_LEFT = 0;
const G_TOP = 1;
const G_PRLO = 2;
const G_PRM = 3;
const G_PWLO = 4;
const G_PWM = 5;
const G_VRLO = 6;
const G_VRM = 7;
const G_VWLO = 8;
const G_VWM = 9;
const G_EPOCH = 10;

// Function locals: params r0..r9 (0..9), fp (10); then the declared locals below. Callees get
// the caller's whole register file and hand back r0..r5, as the interpreter's shared register
// file does (r6..r9 come back unchanged because the callee's copies are its own).
const L_FP = 10;
const L_R10 = 11; // i64 copy of r10, used only when the program writes r10
const L_A = 12; // i64 effective address
const L_T = 13; // i64 temporary
const L_SLO = 14; // i64 bottom of the accessible stack (fp - 512)
const L_SM = 15; // i64 (top - (fp - 512)) - 8
const L_PC = 16; // i32 dispatch block number
const L_X = 17; // i32 temporary
const L_X2 = 18; // i32 temporary
const L_F = 19; // f64 helper result
const L_LEFT = 20; // i32 budget left (the shared global, synced around every call out)
const L_PRLO = 21; // i64 packet slot (read): lo, and hi - lo - 8
const L_PRM = 22;
const L_PWLO = 23; // i64 packet slot (write)
const L_PWM = 24;
const L_VRLO = 25; // i64 victim slot (read), (write)
const L_VRM = 26;
const L_VWLO = 27;
const L_VWM = 28;
const EXTRA_LOCALS: readonly ValType[] = [I64, I64, I64, I64, I64, I32, I32, I32, F64, I32, I64, I64, I64, I64, I64, I64, I64, I64];
/** SLOT_LOCALS are the slot locals in the order of their globals (G_PRLO..G_VWM). */
const SLOT_LOCALS = [L_PRLO, L_PRM, L_PWLO, L_PWM, L_VRLO, L_VRM, L_VWLO, L_VWM];

const REG_LOCAL = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

const FN_PARAMS: readonly ValType[] = [I64, I64, I64, I64, I64, I64, I64, I64, I64, I64, I32];
const FN_RESULTS: readonly ValType[] = [I64, I64, I64, I64, I64, I64];
/** Parameters of the run export: arg1, arg2, left, top, then the packet and victim slots. */
const RUN_PARAMS: readonly ValType[] = [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32];
const ENTRY_PARAMS: readonly ValType[] = [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32];

/** Emitter writes one function body. */
class Emitter {
  readonly w = new ByteWriter();
  /** Added to every local index: 0 normally, the parameter count for the run export. */
  localBase = 0;
  /** Extra nesting (blocks/ifs) around the current position, on top of the block ladder. */
  nest = 0;

  op(b: number): this {
    this.w.byte(b);
    return this;
  }
  i32(v: number): this {
    this.w.byte(Op.i32Const).s32(v);
    return this;
  }
  i64(hi: number, lo: number): this {
    this.w.byte(Op.i64Const).s64(hi, lo);
    return this;
  }
  /** i64s pushes a sign-extended 32-bit immediate. */
  i64s(imm: number): this {
    return this.i64(imm >> 31, imm);
  }
  get(l: number): this {
    this.w.byte(Op.localGet).u32(l + this.localBase);
    return this;
  }
  set(l: number): this {
    this.w.byte(Op.localSet).u32(l + this.localBase);
    return this;
  }
  tee(l: number): this {
    this.w.byte(Op.localTee).u32(l + this.localBase);
    return this;
  }
  /** param reads parameter `i` of a function whose locals are shifted by localBase. */
  param(i: number): this {
    this.w.byte(Op.localGet).u32(i);
    return this;
  }
  gget(g: number): this {
    this.w.byte(Op.globalGet).u32(g);
    return this;
  }
  gset(g: number): this {
    this.w.byte(Op.globalSet).u32(g);
    return this;
  }
  call(f: number): this {
    this.w.byte(Op.call).u32(f);
    return this;
  }
  mem(op: number, align: number): this {
    this.w.byte(op).u32(align).u32(0);
    return this;
  }
  /** atomic emits a threads-proposal atomic memory instruction (prefix 0xfe) at offset 0. */
  atomic(op: number, alignLog2: number): this {
    this.w.byte(0xfe).u32(op).u32(alignLog2).u32(0);
    return this;
  }
  block(): this {
    this.w.byte(Op.block).byte(BLOCK_VOID);
    this.nest++;
    return this;
  }
  if(type: number = BLOCK_VOID): this {
    this.w.byte(Op.if).byte(type);
    this.nest++;
    return this;
  }
  else(): this {
    this.w.byte(Op.else);
    return this;
  }
  end(): this {
    this.w.byte(Op.end);
    this.nest--;
    return this;
  }
  br(depth: number): this {
    this.w.byte(Op.br).u32(depth);
    return this;
  }
  brIf(depth: number): this {
    this.w.byte(Op.brIf).u32(depth);
    return this;
  }
}

/** Funcs holds the function indexes of the imports. */
interface Funcs {
  slow: number;
  ctxLo: number;
  ctxHi: number;
  helper: number;
  tail: number;
  trap: number;
  r0lo: number;
  r0hi: number;
  setR0: number;
}

/** FunctionCompiler emits the wasm function for one entry. */
class FunctionCompiler {
  private readonly e = new Emitter();
  private readonly blocks: Block[];
  private readonly blockOf = new Map<number, number>();
  private readonly hasLoop: boolean;
  private readonly ctxIn: Uint16Array;
  /** Registers that surely hold the context pointer at the instruction being emitted. */
  private ctxMask = 0;
  private bi = 0;

  constructor(
    private readonly insns: readonly Insn[],
    private readonly a: Analysis,
    entry: number,
    private readonly sites: Site[],
    private readonly funcs: Funcs,
    private readonly fnIndex: ReadonlyMap<number, number>,
    private readonly icGlobals: () => [number, number, number],
    /** True for the run export: i32 parameters (see RUN_PARAMS), registers as plain locals. */
    private readonly asRun = false,
    /** True when the module imports a shared memory: atomics use wasm's atomic instructions. */
    private readonly shared = false,
  ) {
    if (asRun) this.e.localBase = RUN_PARAMS.length;
    this.blocks = blocksFrom(a, entry);
    this.blocks.forEach((b, i) => this.blockOf.set(b.start, i));
    let loop = false;
    for (const [i, b] of this.blocks.entries()) {
      const last = b.insns[b.insns.length - 1];
      const t = a.target[last];
      const k = a.kind[last];
      if ((k === Kind.Ja || k === Kind.Cond) && (this.blockOf.get(t) as number) <= i) loop = true;
    }
    this.hasLoop = loop;
    this.ctxIn = contextMasks(insns, a, this.blocks, this.blockOf, entry === 0);
  }

  private site(s: Omit<Site, 'base' | 'off' | 'size' | 'write' | 'access' | 'helper' | 'refund'> & Partial<Site>): number {
    this.sites.push({ base: 0, off: 0, size: 0, write: false, access: CtxKind.Load, helper: 0, refund: 0, ...s });
    return this.sites.length - 1;
  }

  /** compile returns the function body. */
  compile(): Uint8Array {
    const e = this.e;
    if (this.asRun) {
      // r1 = arg1, r2 = arg2 (zero-extended); fp = top; budget and slots from the parameters
      // (the globals are written only before control leaves the function: syncOut).
      e.param(0).op(Op.i64ExtendI32U).set(REG_LOCAL[1]);
      e.param(1).op(Op.i64ExtendI32U).set(REG_LOCAL[2]);
      e.param(2).set(L_LEFT);
      e.param(3).set(L_FP);
      SLOT_LOCALS.forEach((l, k) => e.param(4 + k).op(Op.i64ExtendI32U).set(l));
    }
    // Stack bounds for this frame: [fp - 512, top).
    e.get(L_FP).i32(MAX_BPF_STACK).op(Op.i32Sub).op(Op.i64ExtendI32U).set(L_SLO);
    this.top();
    e.get(L_FP).op(Op.i32Sub).i32(MAX_BPF_STACK - 8).op(Op.i32Add).op(Op.i64ExtendI32U).set(L_SM);
    if (this.a.writesR10) e.get(L_FP).op(Op.i64ExtendI32U).set(L_R10);
    if (!this.asRun) this.syncIn();
    const nb = this.blocks.length;
    if (this.hasLoop) e.w.byte(Op.loop).byte(BLOCK_VOID);
    for (let j = nb - 1; j >= 1; j--) e.w.byte(Op.block).byte(BLOCK_VOID);
    if (this.hasLoop) {
      e.w.byte(Op.block).byte(BLOCK_VOID);
      e.get(L_PC);
      e.w.byte(Op.brTable).u32(nb);
      for (let j = 0; j < nb; j++) e.w.u32(j);
      e.w.u32(0);
      e.w.byte(Op.end);
    }
    for (let i = 0; i < nb; i++) {
      this.bi = i;
      this.emitBlock(this.blocks[i]);
      if (i < nb - 1) e.w.byte(Op.end);
    }
    if (this.hasLoop) e.w.byte(Op.end);
    e.op(Op.unreachable);
    return e.w.finish();
  }

  /** jumpTo emits an unconditional transfer to the block starting at `t`. */
  private jumpTo(t: number): void {
    const e = this.e;
    const j = this.blockOf.get(t) as number;
    if (j > this.bi) {
      e.br(j - this.bi - 1 + e.nest);
    } else {
      e.i32(j).set(L_PC);
      e.br(this.blocks.length - 1 - this.bi + e.nest);
    }
  }

  /** isFallthrough tells whether block `t` is the next block in ladder order. */
  private isNext(t: number): boolean {
    return this.blockOf.get(t) === this.bi + 1;
  }

  private emitBlock(b: Block): void {
    const e = this.e;
    const n = b.insns.length;
    const last = b.insns[n - 1];
    const lastKind = this.a.kind[last];
    const control = lastKind !== Kind.Plain && lastKind !== Kind.Lddw;
    const body = control ? b.insns.slice(0, n - 1) : b.insns;
    // if (left < n) { checked copy } else { left -= n; fast copy }. TurboFan (V8 11) lays out
    // the false arm as the fall-through, so the fast copy goes there.
    const entryMask = this.ctxIn[this.bi];
    e.get(L_LEFT).i32(n).op(Op.i32LtS).if();
    this.ctxMask = entryMask;
    b.insns.forEach((i, k) => {
      this.budgetCheck(i);
      if (k < body.length) {
        this.emitInsn(i, 0);
        this.ctxMask = ctxTransfer(this.insns[i], this.a.kind[i], this.ctxMask);
      }
    });
    e.else();
    e.get(L_LEFT).i32(n).op(Op.i32Sub).set(L_LEFT);
    this.ctxMask = entryMask;
    body.forEach((i, k) => {
      this.emitInsn(i, n - 1 - k);
      this.ctxMask = ctxTransfer(this.insns[i], this.a.kind[i], this.ctxMask);
    });
    e.end();
    if (control) this.emitControl(last);
    else {
      const next = this.a.kind[last] === Kind.Lddw ? last + 2 : last + 1;
      if (!this.isNext(next)) this.jumpTo(next);
    }
  }

  private budgetCheck(i: number): void {
    const e = this.e;
    e.get(L_LEFT).op(Op.i32Eqz).if();
    this.syncOut();
    e.i32(this.site({ kind: SiteKind.Budget, insn: i })).call(this.funcs.trap).op(Op.unreachable);
    e.end();
    e.get(L_LEFT).i32(1).op(Op.i32Sub).set(L_LEFT);
  }

  // ------------------------------------------------------------------ registers
  private getReg(r: number): void {
    if (r === 10) {
      if (this.a.writesR10) this.e.get(L_R10);
      else this.e.get(L_FP).op(Op.i64ExtendI32U);
    } else this.e.get(REG_LOCAL[r]);
  }
  private setReg(r: number): void {
    this.e.set(r === 10 ? L_R10 : REG_LOCAL[r]);
  }
  private getReg32(r: number): void {
    this.getReg(r);
    this.e.op(Op.i32WrapI64);
  }

  // ------------------------------------------------------------------ memory
  /**
   * addr pushes the i32 address of a checked access through base register `base` + off. The
   * check faults (via the runtime) when the access is not allowed. `refund` is the number of
   * instructions of the block charged but not reached if this one faults. `access` is the kind
   * of instruction; a context access goes where its plan says (ctx-plan.ts): the inline cache
   * holds the effective address, and when the runtime performed the access itself (a store hook,
   * a load the instruction cannot express) `done` runs (pushing nothing) and control leaves the
   * block enclosing this one — callers passing `done` wrap addr and the access in a block.
   * `value` pushes a store's value as two i32 halves for the runtime (default: zeros).
   */
  private addr(i: number, base: number, off: number, size: number, write: boolean, refund: number, access: CtxKind = CtxKind.Load, value?: () => void, done?: () => void): void {
    const e = this.e;
    if (base === 10 && !this.a.writesR10 && off >= -MAX_BPF_STACK && off + size <= 0) {
      e.get(L_FP).i32(off).op(Op.i32Add);
      return;
    }
    this.getReg(base);
    if (off !== 0) e.i64s(off).op(Op.i64Add);
    e.set(L_A);
    const adj = 8 - size;
    const slot = (lo: () => void, m: () => void): void => {
      e.get(L_A);
      lo();
      e.op(Op.i64Sub);
      m();
      if (adj !== 0) e.i64(0, adj).op(Op.i64Add);
      e.op(Op.i64LeU).brIf(0);
    };
    const [icA, icE, icF] = this.icGlobals();
    const ic = (): void => {
      e.get(L_A).gget(icA).op(Op.i64Eq).gget(icE).gget(G_EPOCH).op(Op.i32Eq).op(Op.i32And).if();
      e.gget(icF).set(L_A).br(1);
      e.end();
    };
    const ctxFirst = ((this.ctxMask >> base) & 1) !== 0;
    e.block();
    if (ctxFirst) ic();
    slot(
      () => e.get(write ? L_PWLO : L_PRLO),
      () => e.get(write ? L_PWM : L_PRM),
    );
    slot(
      () => e.get(L_SLO),
      () => e.get(L_SM),
    );
    slot(
      () => e.get(write ? L_VWLO : L_VRLO),
      () => e.get(write ? L_VWM : L_VRM),
    );
    if (!ctxFirst) ic();
    const s = this.site({ kind: SiteKind.Mem, insn: i, base, off, size, write, access, refund });
    e.i32(s);
    this.getReg(base);
    e.op(Op.i32WrapI64);
    this.getReg(base);
    e.i64(0, 32).op(Op.i64ShrU).op(Op.i32WrapI64);
    e.get(L_FP);
    if (value !== undefined) value();
    else e.i32(0).i32(0);
    this.syncOut();
    e.call(this.funcs.slow);
    e.set(L_X);
    this.loadSlots();
    // The runtime's answer: 0 a plain region (slots refreshed), 1 done by the runtime, else the
    // effective address of a context access, cached per site.
    e.get(L_X).i32(1).op(Op.i32GtU).if();
    e.get(L_A).gset(icA).gget(G_EPOCH).gset(icE);
    e.get(L_X).op(Op.i64ExtendI32U).tee(L_A).gset(icF);
    e.end();
    if (done !== undefined) {
      e.get(L_X).i32(1).op(Op.i32Eq).if();
      done();
      e.br(2);
      e.end();
    }
    e.end();
    e.get(L_A).op(Op.i32WrapI64);
  }

  // ------------------------------------------------------------------ instructions
  /** emitInsn emits a non-control instruction; `refund` as for addr. */
  private emitInsn(i: number, refund: number): void {
    const e = this.e;
    const insn = this.insns[i];
    const k = this.a.kind[i];
    if (k === Kind.Refused) throw new Error(`codegen: refused instruction ${i} in a block body`);
    if (k === Kind.Lddw) {
      e.i64(this.insns[i + 1].imm, insn.imm);
      this.setReg(insn.dst);
      return;
    }
    const o = insn.opcode;
    const cls = o & 7;
    const d = insn.dst;
    const s = insn.src;
    if (cls === 7) this.alu64(insn);
    else if (cls === 4) this.alu32(insn);
    else if (cls === 1) {
      // LDX (MEM zero-extends, MEMSX sign-extends)
      const sx = (o & 0xe0) === 0x80;
      const size = [4, 2, 1, 8][(o >> 3) & 3];
      e.block();
      this.addr(i, s, insn.off, size, false, refund, sx ? CtxKind.LoadSx : CtxKind.Load, undefined, () => {
        // a context load the instruction cannot express: the runtime computed the value
        e.call(this.funcs.ctxLo).op(Op.i64ExtendI32U);
        e.call(this.funcs.ctxHi).op(Op.i64ExtendI32U).i64(0, 32).op(Op.i64Shl).op(Op.i64Or);
        this.setReg(d);
      });
      const op =
        size === 8 ? Op.i64Load
        : size === 4 ? (sx ? Op.i64Load32S : Op.i64Load32U)
        : size === 2 ? (sx ? Op.i64Load16S : Op.i64Load16U)
        : sx ? Op.i64Load8S : Op.i64Load8U;
      e.mem(op, 0);
      this.setReg(d);
      e.end();
    } else if (cls === 2 || (cls === 3 && (o & 0xe0) === 0x60)) {
      const size = [4, 2, 1, 8][(o >> 3) & 3];
      const value = (): void => {
        if (cls === 2) e.i32(insn.imm).i32(insn.imm >> 31);
        else {
          this.getReg32(s);
          this.getReg(s);
          e.i64(0, 32).op(Op.i64ShrU).op(Op.i32WrapI64);
        }
      };
      e.block();
      this.addr(i, d, insn.off, size, true, refund, cls === 2 ? CtxKind.StoreImm : CtxKind.Store, value, () => {});
      if (cls === 2) e.i64s(insn.imm);
      else this.getReg(s);
      e.mem(size === 8 ? Op.i64Store : size === 4 ? Op.i64Store32 : size === 2 ? Op.i64Store16 : Op.i64Store8, 0);
      e.end();
    } else if (cls === 3) {
      this.atomic(i, insn, refund);
    } else {
      throw new Error(`codegen: unexpected opcode 0x${o.toString(16)} at ${i}`);
    }
  }

  private atomic(i: number, insn: Insn, refund: number): void {
    const e = this.e;
    const wide = insn.opcode === 0xdb;
    const size = wide ? 8 : 4;
    const aop = insn.imm;
    const s = insn.src;
    this.addr(i, insn.dst, insn.off, size, true, refund, CtxKind.Atomic);
    e.set(L_X);
    if (this.shared) {
      // Another thread may update the same value (replay --workers): wasm atomics, which need
      // natural alignment; a misaligned operand takes the plain path below.
      e.get(L_X).i32(size - 1).op(Op.i32And).op(Op.i32Eqz).if();
      this.atomicShared(insn, wide);
      e.else();
    }
    // old value (i64, zero-extended for 32-bit) in L_T
    e.get(L_X).mem(wide ? Op.i64Load : Op.i64Load32U, 0).set(L_T);
    const store = (): void => {
      e.mem(wide ? Op.i64Store : Op.i64Store32, 0);
    };
    const base = aop & ~BPF_FETCH;
    if (aop === BPF_CMPXCHG) {
      // compare with r0 (low 32 bits for the 32-bit form); r0 always gets the old value
      e.get(L_T);
      this.getReg(0);
      if (!wide) e.i64(0, -1).op(Op.i64And);
      e.op(Op.i64Eq).if();
      e.get(L_X);
      this.getReg(s);
      store();
      e.end();
      e.get(L_T);
      this.setReg(0);
      if (this.shared) e.end();
      return;
    }
    e.get(L_X);
    if (aop === BPF_XCHG) this.getReg(s);
    else {
      e.get(L_T);
      this.getReg(s);
      e.op(base === 0x00 ? Op.i64Add : base === 0x40 ? Op.i64Or : base === 0x50 ? Op.i64And : Op.i64Xor);
    }
    store();
    if ((aop & BPF_FETCH) !== 0) {
      e.get(L_T);
      this.setReg(s);
    }
    if (this.shared) e.end();
  }

  /**
   * atomicShared emits the atomic form of a BPF atomic whose aligned address is in L_X: the
   * threads proposal's i64.atomic.rmw / rmw32 (zero-extending) add, or, and, xor, xchg and
   * cmpxchg, whose result is the old value, as BPF_FETCH wants it.
   */
  private atomicShared(insn: Insn, wide: boolean): void {
    const e = this.e;
    const aop = insn.imm;
    const s = insn.src;
    // Opcode groups of the threads proposal: i64 form = group + 1, i64 rmw32_u form = group + 6.
    const group = aop === BPF_CMPXCHG ? 0x48 : aop === BPF_XCHG ? 0x41 : ((aop & ~BPF_FETCH) === 0x00 ? 0x1e : (aop & ~BPF_FETCH) === 0x40 ? 0x33 : (aop & ~BPF_FETCH) === 0x50 ? 0x2c : 0x3a);
    const op = wide ? group + 1 : group + 6;
    const align = wide ? 3 : 2;
    e.get(L_X);
    if (aop === BPF_CMPXCHG) {
      this.getReg(0);
      this.getReg(s);
      e.atomic(op, align);
      this.setReg(0);
      return;
    }
    this.getReg(s);
    e.atomic(op, align);
    if ((aop & BPF_FETCH) !== 0) this.setReg(s);
    else e.op(Op.drop);
  }


  /** src64 pushes the 64-bit source operand (register, or sign-extended immediate). */
  private src64(insn: Insn): void {
    if ((insn.opcode & 8) !== 0) this.getReg(insn.src);
    else this.e.i64s(insn.imm);
  }
  private src32(insn: Insn): void {
    if ((insn.opcode & 8) !== 0) this.getReg32(insn.src);
    else this.e.i32(insn.imm);
  }

  private alu64(insn: Insn): void {
    const e = this.e;
    const d = insn.dst;
    const code = insn.opcode & 0xf0;
    const x = (insn.opcode & 8) !== 0;
    const simple: Record<number, number> = {
      0x00: Op.i64Add,
      0x10: Op.i64Sub,
      0x20: Op.i64Mul,
      0x40: Op.i64Or,
      0x50: Op.i64And,
      0x60: Op.i64Shl,
      0x70: Op.i64ShrU,
      0xa0: Op.i64Xor,
      0xc0: Op.i64ShrS,
    };
    const so = simple[code];
    if (so !== undefined) {
      this.getReg(d);
      this.src64(insn);
      e.op(so);
      this.setReg(d);
      return;
    }
    switch (code) {
      case 0x80: // neg
        e.i64(0, 0);
        this.getReg(d);
        e.op(Op.i64Sub);
        this.setReg(d);
        return;
      case 0xb0: // mov, movsx
        if (!x) e.i64s(insn.imm);
        else {
          this.getReg(insn.src);
          if (insn.off === 8) e.op(Op.i64Extend8S);
          else if (insn.off === 16) e.op(Op.i64Extend16S);
          else if (insn.off === 32) e.op(Op.i64Extend32S);
        }
        this.setReg(d);
        return;
      case 0x30: // div / sdiv: by zero gives 0; sdiv by -1 negates (no trap on INT_MIN)
      case 0x90: {
        // mod / smod: by zero leaves dst; smod INT_MIN % -1 = 0 (wasm rem_s does not trap)
        const signed = insn.off === 1;
        const div = code === 0x30;
        this.src64(insn);
        e.set(L_T);
        e.get(L_T).op(Op.i64Eqz).if(I64);
        if (div) e.i64(0, 0);
        else this.getReg(d);
        e.else();
        if (div && signed) {
          e.get(L_T).i64(-1, -1).op(Op.i64Eq).if(I64);
          e.i64(0, 0);
          this.getReg(d);
          e.op(Op.i64Sub);
          e.else();
          this.getReg(d);
          e.get(L_T).op(Op.i64DivS);
          e.end();
        } else {
          this.getReg(d);
          e.get(L_T).op(div ? Op.i64DivU : signed ? Op.i64RemS : Op.i64RemU);
        }
        e.end();
        this.setReg(d);
        return;
      }
      case 0xd0: // bswap16/32/64 (ALU64 class END): unconditional
        this.swap(d, insn.imm);
        return;
      default:
        throw new Error(`codegen: ALU64 op 0x${code.toString(16)}`);
    }
  }

  /** swap byte-swaps the low `width` bits of register d, zero-extending. */
  private swap(d: number, width: number): void {
    const e = this.e;
    if (width === 16) {
      this.getReg32(d);
      e.set(L_X);
      e.get(L_X).i32(0xff).op(Op.i32And).i32(8).op(Op.i32Shl);
      e.get(L_X).i32(8).op(Op.i32ShrU).i32(0xff).op(Op.i32And);
      e.op(Op.i32Or).op(Op.i64ExtendI32U);
      this.setReg(d);
    } else if (width === 32) {
      this.getReg32(d);
      this.bswap32Top();
      e.op(Op.i64ExtendI32U);
      this.setReg(d);
    } else {
      this.getReg(d);
      e.set(L_T);
      e.get(L_T).op(Op.i32WrapI64);
      this.bswap32Top();
      e.op(Op.i64ExtendI32U).i64(0, 32).op(Op.i64Shl);
      e.get(L_T).i64(0, 32).op(Op.i64ShrU).op(Op.i32WrapI64);
      this.bswap32Top();
      e.op(Op.i64ExtendI32U).op(Op.i64Or);
      this.setReg(d);
    }
  }

  /** bswap32Top reverses the bytes of the i32 on top of the stack. */
  private bswap32Top(): void {
    const e = this.e;
    e.set(L_X2);
    e.get(L_X2).i32(8).op(Op.i32Rotr).i32(0xff00ff00 | 0).op(Op.i32And);
    e.get(L_X2).i32(8).op(Op.i32Rotl).i32(0x00ff00ff).op(Op.i32And);
    e.op(Op.i32Or);
  }

  private alu32(insn: Insn): void {
    const e = this.e;
    const d = insn.dst;
    const code = insn.opcode & 0xf0;
    const x = (insn.opcode & 8) !== 0;
    const simple: Record<number, number> = {
      0x00: Op.i32Add,
      0x10: Op.i32Sub,
      0x20: Op.i32Mul,
      0x40: Op.i32Or,
      0x50: Op.i32And,
      0x60: Op.i32Shl,
      0x70: Op.i32ShrU,
      0xa0: Op.i32Xor,
      0xc0: Op.i32ShrS,
    };
    const so = simple[code];
    if (so !== undefined) {
      this.getReg32(d);
      this.src32(insn);
      e.op(so).op(Op.i64ExtendI32U);
      this.setReg(d);
      return;
    }
    switch (code) {
      case 0x80:
        e.i32(0);
        this.getReg32(d);
        e.op(Op.i32Sub).op(Op.i64ExtendI32U);
        this.setReg(d);
        return;
      case 0xb0:
        if (!x) e.i64(0, insn.imm);
        else {
          this.getReg32(insn.src);
          if (insn.off === 8) e.op(Op.i32Extend8S);
          else if (insn.off === 16) e.op(Op.i32Extend16S);
          e.op(Op.i64ExtendI32U);
        }
        this.setReg(d);
        return;
      case 0x30:
      case 0x90: {
        const signed = insn.off === 1;
        const div = code === 0x30;
        this.src32(insn);
        e.set(L_X);
        e.get(L_X).op(Op.i32Eqz).if(I32);
        if (div) e.i32(0);
        else this.getReg32(d);
        e.else();
        if (div && signed) {
          e.get(L_X).i32(-1).op(Op.i32Eq).if(I32);
          e.i32(0);
          this.getReg32(d);
          e.op(Op.i32Sub);
          e.else();
          this.getReg32(d);
          e.get(L_X).op(Op.i32DivS);
          e.end();
        } else if (!div && signed) {
          // wasm i32.rem_s(INT_MIN, -1) is 0 without trapping
          this.getReg32(d);
          e.get(L_X).op(Op.i32RemS);
        } else {
          this.getReg32(d);
          e.get(L_X).op(div ? Op.i32DivU : Op.i32RemU);
        }
        e.end();
        e.op(Op.i64ExtendI32U);
        this.setReg(d);
        return;
      }
      case 0xd0: // le (0xd4) truncates, be (0xdc) swaps
        if (insn.opcode === 0xd4) {
          if (insn.imm === 16) {
            this.getReg(d);
            e.i64(0, 0xffff).op(Op.i64And);
            this.setReg(d);
          } else if (insn.imm === 32) {
            this.getReg(d);
            e.i64(0, -1).op(Op.i64And);
            this.setReg(d);
          }
        } else this.swap(d, insn.imm);
        return;
      default:
        throw new Error(`codegen: ALU op 0x${code.toString(16)}`);
    }
  }

  /** cond pushes the i32 truth of a conditional jump. */
  private cond(insn: Insn): void {
    const e = this.e;
    const o = insn.opcode;
    const wide = (o & 7) === 5;
    const code = o & 0xf0;
    if (wide) {
      this.getReg(insn.dst);
      this.src64(insn);
    } else {
      this.getReg32(insn.dst);
      this.src32(insn);
    }
    const ops64: Record<number, number> = {
      0x10: Op.i64Eq, 0x20: Op.i64GtU, 0x30: Op.i64GeU, 0x50: Op.i64Ne, 0x60: Op.i64GtS, 0x70: Op.i64GeS,
      0xa0: Op.i64LtU, 0xb0: Op.i64LeU, 0xc0: Op.i64LtS, 0xd0: Op.i64LeS,
    };
    const ops32: Record<number, number> = {
      0x10: Op.i32Eq, 0x20: Op.i32GtU, 0x30: Op.i32GeU, 0x50: Op.i32Ne, 0x60: Op.i32GtS, 0x70: Op.i32GeS,
      0xa0: Op.i32LtU, 0xb0: Op.i32LeU, 0xc0: Op.i32LtS, 0xd0: Op.i32LeS,
    };
    if (code === 0x40) {
      // jset
      if (wide) e.op(Op.i64And).op(Op.i64Eqz).op(Op.i32Eqz);
      else e.op(Op.i32And).op(Op.i32Eqz).op(Op.i32Eqz);
      return;
    }
    const op = (wide ? ops64 : ops32)[code];
    if (op === undefined) throw new Error(`codegen: jump op 0x${o.toString(16)}`);
    e.op(op);
  }

  /** top pushes the stack top (a parameter of the run export, else the shared global). */
  private top(): void {
    if (this.asRun) this.e.param(3);
    else this.e.gget(G_TOP);
  }

  /**
   * syncOut stores the local budget into the shared global before control leaves the function;
   * the run export, whose other globals live in parameters, also stores the stack top and the
   * slots before a call out (callees, helpers and the runtime read them from the globals).
   */
  private syncOut(callOut = true): void {
    const e = this.e;
    e.get(L_LEFT).gset(G_LEFT);
    if (this.asRun && callOut) {
      e.param(3).gset(G_TOP);
      SLOT_LOCALS.forEach((l, k) => e.get(l).op(Op.i32WrapI64).gset(G_PRLO + k));
    }
  }

  /** syncIn reloads what a call out may have changed: the budget and the packet slot. */
  private syncIn(): void {
    this.e.gget(G_LEFT).set(L_LEFT);
    this.loadSlots();
  }

  /** loadSlots copies the packet slot globals into locals. */
  private loadSlots(): void {
    const e = this.e;
    e.gget(G_PRLO).op(Op.i64ExtendI32U).set(L_PRLO);
    e.gget(G_PRM).op(Op.i64ExtendI32U).set(L_PRM);
    e.gget(G_PWLO).op(Op.i64ExtendI32U).set(L_PWLO);
    e.gget(G_PWM).op(Op.i64ExtendI32U).set(L_PWM);
    e.gget(G_VRLO).op(Op.i64ExtendI32U).set(L_VRLO);
    e.gget(G_VRM).op(Op.i64ExtendI32U).set(L_VRM);
    e.gget(G_VWLO).op(Op.i64ExtendI32U).set(L_VWLO);
    e.gget(G_VWM).op(Op.i64ExtendI32U).set(L_VWM);
  }

  /** returnRegs returns r0..r5 to the caller (the run export: r0 and the count, packed). */
  private returnRegs(): void {
    const e = this.e;
    this.syncOut(false);
    if (this.asRun) {
      // r0 * 2^32 + count in one f64, exact while -2^20 <= r0 < 2^20; otherwise NaN, with r0
      // handed over through setR0 and the count left for left() to tell.
      this.getReg(0);
      e.i64(0, 0x10_0000).op(Op.i64Add).i64(0, 0x20_0000).op(Op.i64LtU).if(F64);
      this.getReg(0);
      e.i64(0, 32).op(Op.i64Shl).param(2).get(L_LEFT).op(Op.i32Sub).op(Op.i64ExtendI32U).op(Op.i64Or).op(Op.f64ConvertI64S);
      e.else();
      this.getReg(0);
      e.op(Op.i32WrapI64);
      this.getReg(0);
      e.i64(0, 32).op(Op.i64ShrU).op(Op.i32WrapI64).call(this.funcs.setR0);
      e.w.byte(Op.f64Const).bytes(new Uint8Array(new Float64Array([NaN]).buffer));
      e.end();
      e.op(Op.return);
      return;
    }
    for (let r = 0; r <= 5; r++) this.getReg(r);
    e.op(Op.return);
  }

  /** argsHalves pushes r1..r5 as ten i32 halves (lo, hi). */
  private argsHalves(): void {
    const e = this.e;
    for (let r = 1; r <= 5; r++) {
      this.getReg(r);
      e.op(Op.i32WrapI64);
      this.getReg(r);
      e.i64(0, 32).op(Op.i64ShrU).op(Op.i32WrapI64);
    }
  }

  /** r0FromF64 converts a runtime result (f64 integer, or NaN = read r0 from the register file). */
  private r0FromF64(): void {
    const e = this.e;
    e.get(L_F).get(L_F).op(Op.f64Ne).if(I64);
    e.call(this.funcs.r0lo).op(Op.i64ExtendI32U);
    e.call(this.funcs.r0hi).op(Op.i64ExtendI32U).i64(0, 32).op(Op.i64Shl).op(Op.i64Or);
    e.else();
    e.get(L_F).op(Op.i64TruncF64S);
    e.end();
  }

  private emitControl(i: number): void {
    const e = this.e;
    const insn = this.insns[i];
    const k = this.a.kind[i];
    switch (k) {
      case Kind.Refused: {
        const s = this.site({ kind: SiteKind.Trap, insn: i, refusal: this.a.refusals.get(i) });
        this.syncOut();
        e.i32(s).call(this.funcs.trap).op(Op.unreachable);
        return;
      }
      case Kind.Exit:
        this.returnRegs();
        return;
      case Kind.Ja:
        this.jumpTo(this.a.target[i]);
        return;
      case Kind.Cond: {
        const t = this.a.target[i];
        const j = this.blockOf.get(t) as number;
        this.cond(insn);
        if (j > this.bi) e.brIf(j - this.bi - 1 + e.nest);
        else {
          e.if();
          this.jumpTo(t);
          e.end();
        }
        if (!this.isNext(i + 1)) this.jumpTo(i + 1);
        return;
      }
      case Kind.Helper:
      case Kind.Callx: {
        const s = this.site({ kind: SiteKind.Helper, insn: i, helper: k === Kind.Helper ? insn.imm : -1 });
        e.i32(s);
        if (k === Kind.Helper) e.i32(insn.imm);
        else this.getReg32(insn.dst);
        this.argsHalves();
        e.get(L_FP);
        this.syncOut();
        e.call(this.funcs.helper).set(L_F);
        this.syncIn();
        this.r0FromF64();
        this.setReg(0);
        break;
      }
      case Kind.TailCall: {
        const s = this.site({ kind: SiteKind.TailCall, insn: i });
        e.i32(s);
        this.argsHalves();
        e.get(L_FP);
        this.syncOut();
        e.call(this.funcs.tail).set(L_F);
        this.syncIn();
        // +Infinity: the tail call did not happen, go on; otherwise the target's r0 is ours.
        e.get(L_F).w.byte(Op.f64Const).bytes(new Uint8Array(new Float64Array([Infinity]).buffer));
        e.w.byte(0x61); // f64.eq
        e.op(Op.i32Eqz).if();
        this.r0FromF64();
        this.setReg(0);
        this.returnRegs();
        e.end();
        break;
      }
      case Kind.LocalCall: {
        // kernel/bpf/verifier.c check_func_call: at most MAX_CALL_FRAMES frames.
        const s = this.site({
          kind: SiteKind.Trap,
          insn: i,
          refusal: { code: FaultCode.CallDepth, message: `bpf-to-bpf call would exceed ${MAX_CALL_FRAMES} call frames` },
        });
        this.top();
        e.get(L_FP).op(Op.i32Sub).i32(DEEPEST).op(Op.i32GeU).if();
        this.syncOut();
        e.i32(s).call(this.funcs.trap).op(Op.unreachable);
        e.end();
        for (let r = 0; r <= 9; r++) this.getReg(r);
        e.get(L_FP).i32(MAX_BPF_STACK).op(Op.i32Sub);
        this.syncOut();
        e.call(this.fnIndex.get(this.a.target[i]) as number);
        this.syncIn();
        for (let r = 5; r >= 0; r--) this.setReg(r);
        if (this.a.writesR10) e.get(L_FP).op(Op.i64ExtendI32U).set(L_R10);
        break;
      }
      default:
        throw new Error(`codegen: control kind ${k} at ${i}`);
    }
    // calls fall through to the next instruction
    if (!this.isNext(i + 1)) this.jumpTo(i + 1);
  }
}

/**
 * ctxTransfer updates the set of registers holding the context pointer across one instruction:
 * a 64-bit register move copies the bit, anything else that writes a register clears it.
 */
export function ctxTransfer(insn: Insn | undefined, kind: number, mask: number): number {
  if (insn === undefined || kind === Kind.Refused) return mask;
  const o = insn.opcode;
  const cls = o & 7;
  switch (kind) {
    case Kind.Helper:
    case Kind.Callx:
    case Kind.TailCall:
      return mask & ~1;
    case Kind.LocalCall:
      return mask & ~0x3f;
    case Kind.Lddw:
      return mask & ~(1 << insn.dst);
    default:
      break;
  }
  if (o === 0xbf && insn.off === 0) return (mask & ~(1 << insn.dst)) | (((mask >> insn.src) & 1) << insn.dst);
  if (cls === 4 || cls === 7 || cls === 1) return mask & ~(1 << insn.dst);
  if (o === 0xc3 || o === 0xdb) return insn.imm === BPF_CMPXCHG ? mask & ~1 : (insn.imm & BPF_FETCH) !== 0 ? mask & ~(1 << insn.src) : mask;
  return mask;
}

/**
 * contextMasks computes, per block of `blocks` (blockOf: start instruction → block index), which
 * registers surely still hold the context pointer (r1 at entry to the program when `main`),
 * through register moves (ctxTransfer). Only used to order the memory checks: loads through the
 * context try its inline cache first. Blocks reached by a backward jump start with nothing known.
 * Shared by the wasm and the JavaScript back ends.
 */
export function contextMasks(insns: readonly Insn[], a: Analysis, blocks: readonly Block[], blockOf: ReadonlyMap<number, number>, main: boolean): Uint16Array {
  const nb = blocks.length;
  const masks = new Uint16Array(nb);
  const known = new Uint8Array(nb);
  const meet = (j: number, m: number): void => {
    masks[j] = known[j] === 0 ? m : masks[j] & m;
    known[j] = 1;
  };
  if (main) meet(0, 1 << 1);
  for (let bi = 0; bi < nb; bi++) {
    const b = blocks[bi];
    let m = known[bi] === 1 ? masks[bi] : 0;
    masks[bi] = m;
    known[bi] = 1;
    for (const i of b.insns) m = ctxTransfer(insns[i], a.kind[i], m);
    const last = b.insns[b.insns.length - 1];
    const k = a.kind[last];
    const succ: number[] = [];
    if (k === Kind.Ja) succ.push(a.target[last]);
    else if (k === Kind.Cond) succ.push(last + 1, a.target[last]);
    else if (k !== Kind.Exit && k !== Kind.Refused) succ.push(k === Kind.Lddw ? last + 2 : last + 1);
    for (const t of succ) {
      const j = blockOf.get(t);
      if (j === undefined) continue;
      if (j <= bi) {
        masks[j] = 0;
        known[j] = 1;
      } else meet(j, m);
    }
  }
  return masks;
}

/**
 * compileProgram translates a program into a wasm module (see the module comment). With
 * `sharedPages` the module imports a shared memory of that maximum (replay --workers).
 */
export function compileProgram(insns: readonly Insn[], extraEntries: readonly number[] = [], sharedPages?: number): Compiled {
  const a = analyze(insns, extraEntries);
  const m = new ModuleBuilder();
  m.importMemory('x', IMPORT.mem, sharedPages);
  const funcs: Funcs = {
    slow: m.importFunc('x', IMPORT.slow, [I32, I32, I32, I32, I32, I32], [I32]),
    ctxLo: m.importFunc('x', IMPORT.ctxLo, [], [I32]),
    ctxHi: m.importFunc('x', IMPORT.ctxHi, [], [I32]),
    helper: m.importFunc('x', IMPORT.helper, [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32], [F64]),
    tail: m.importFunc('x', IMPORT.tail, [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32], [F64]),
    trap: m.importFunc('x', IMPORT.trap, [I32], []),
    r0lo: m.importFunc('x', IMPORT.r0lo, [], [I32]),
    r0hi: m.importFunc('x', IMPORT.r0hi, [], [I32]),
    setR0: m.importFunc('x', IMPORT.setR0, [I32, I32], []),
  };
  for (const g of SHARED_GLOBALS) m.importGlobal('x', g, I32, true);
  const fnIndex = new Map<number, number>();
  for (const entry of a.entries) fnIndex.set(entry, m.declareFunc());
  const sites: Site[] = [];
  const icGlobals = (): [number, number, number] => [m.global(I64, 0), m.global(I32, 0), m.global(I64, 0)];
  for (const entry of a.entries) {
    const body = new FunctionCompiler(insns, a, entry, sites, funcs, fnIndex, icGlobals, false, sharedPages !== undefined).compile();
    m.defineFunc(fnIndex.get(entry) as number, FN_PARAMS, FN_RESULTS, EXTRA_LOCALS, body);
    m.exportFunc(`f${entry}`, fnIndex.get(entry) as number);
  }
  // Entry wrappers: r1..r5 as i32 halves + fp in, r0 out as f64 when exact, else NaN with r0
  // handed over through setR0 (keeps BigInt off the JS/wasm boundary).
  for (const entry of a.entries) {
    const w = new Emitter();
    w.i64(0, 0);
    for (let r = 0; r < 5; r++) {
      w.get(2 * r).op(Op.i64ExtendI32U);
      w.get(2 * r + 1).op(Op.i64ExtendI32U).i64(0, 32).op(Op.i64Shl).op(Op.i64Or);
    }
    for (let r = 6; r <= 9; r++) w.i64(0, 0);
    w.get(10).call(fnIndex.get(entry) as number);
    for (let r = 5; r >= 1; r--) w.op(Op.drop);
    w.set(11);
    w.get(11).i64(0x20_0000, 0).op(Op.i64Add).i64(0x40_0000, 0).op(Op.i64LtU).if(F64);
    w.get(11).op(Op.f64ConvertI64S);
    w.else();
    w.get(11).op(Op.i32WrapI64).get(11).i64(0, 32).op(Op.i64ShrU).op(Op.i32WrapI64).call(funcs.setR0);
    w.w.byte(Op.f64Const).bytes(new Uint8Array(new Float64Array([NaN]).buffer));
    w.end();
    const idx = m.declareFunc();
    m.defineFunc(idx, ENTRY_PARAMS, [F64], [I64], w.w.finish());
    m.exportFunc(`e${entry}`, idx);
  }
  // init(left, top, packet and victim slots) sets the shared globals at the start of a run.
  const initFn = m.declareFunc();
  const ie = new Emitter();
  for (let g = G_LEFT; g <= G_VWM; g++) ie.get(g).gset(g);
  m.defineFunc(initFn, [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32], [], [], ie.w.finish());
  m.exportFunc('init', initFn);
  // run(arg1, arg2, left, top, slots...): one call per packet, entry 0 compiled once more as
  // the export itself (no inner call), returning r0 and the count packed (see returnRegs).
  const runFn = m.declareFunc();
  const runBody = new FunctionCompiler(insns, a, 0, sites, funcs, fnIndex, icGlobals, true, sharedPages !== undefined).compile();
  m.defineFunc(runFn, RUN_PARAMS, [F64], [...FN_PARAMS, ...EXTRA_LOCALS], runBody);
  m.exportFunc('run', runFn);
  // left() reads the shared budget global (for insnCount after a run).
  const leftFn = m.declareFunc();
  m.defineFunc(leftFn, [], [I32], [], new Emitter().gget(G_LEFT).w.finish());
  m.exportFunc('left', leftFn);
  return { wasm: m.build(), sites, entries: a.entries };
}
