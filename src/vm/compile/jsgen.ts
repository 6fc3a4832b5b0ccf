/**
 * jsgen — eBPF to JavaScript source, the jit engine's back end for small programs (jit.ts picks
 * it or WebAssembly per program; measurements are in jit.ts).
 *
 * The program becomes one JavaScript function, `new Function`-compiled once per Memory: registers
 * r0..r9 are pairs of int32 locals (`lN` low half, `hN` high half, as the interpreter's register
 * file and alu.ts keep them), r10 is the parameter `fp` (high half 0). TurboFan keeps such locals
 * unboxed in machine registers, folds known high halves and inlines the helper a call site always
 * calls. The control-flow graph is the same "ladder" as the wasm back end (codegen.ts): a labelled
 * block per basic block in instruction order, so every forward jump is a `break`; a function with
 * backward jumps sits in a `for (;;)` whose head dispatches on a block number with a `switch`.
 *
 * Only what is simple to get exactly right is accepted: one function (no bpf-to-bpf calls, no
 * callx, no callback entries) that never writes r10. Anything else is compiled to WebAssembly.
 *
 * Budget: a function without backward jumps executes each instruction at most once, so when the
 * budget left at its entry covers all its instructions (`Compiled.maxPath`) no per-instruction
 * check can fire; the caller (jit.ts) runs the WebAssembly version otherwise, which checks exactly.
 * Blocks then only subtract their length from the local `left`. A function with loops has, like
 * the wasm back end, a checked copy of every block (a budget check before each instruction) used
 * when fewer instructions than the block's length remain.
 *
 * Memory: the wasm back end's fast path in the same order — an access through the context
 * pointer tries its inline cache first — then the packet slot, the stack from fp - 512 to the
 * top, the victim slot. The slots are the regions the runtime's shared slow path (the wasm `slow`
 * import) put in its SlotCaches, but their bounds and permissions are read live from the Region
 * objects at run start, after a helper and after the slow path (no per-run cache refresh). A miss
 * calls that slow path, which does the interpreter's full check and faults with its message, or
 * validates a context field into this site's inline cache (the effective address its plan gives;
 * an access the runtime performs itself, a hooked store or an inexpressible load, is not cached:
 * ctx-plan.ts); those caches are valid while the
 * context region they were validated in keeps the bounds, permissions and policy it had
 * (compared once per run; see icNote). r10-relative accesses at constant offsets inside the
 * 512-byte frame are not checked (always in the stack's live bounds). Faults count instructions
 * as the interpreter does: the block's length is charged at its entry, so before a call that may
 * fault the code stores the budget left as if the rest of the block had not been charged.
 *
 * Size: V8 leaves a function unoptimised above --max-optimized-bytecode-size (60 KB); measured
 * with Node 20 on generated code, 58 KB of source was still optimised and 77 KB was not (about
 * 30x slower), so jit.ts takes this back end only below 40 KB of source.
 */
import type { Insn } from '../../isa/insn.js';
import { BPF_CMPXCHG, BPF_FETCH, BPF_XCHG, MAX_BPF_STACK, MAX_CALL_FRAMES } from '../../isa/opcodes.js';
import { analyze, blocksFrom, hiZeroMasks, hiZeroTransfer, Kind, type Analysis, type Block } from './analyze.js';
import { contextMasks, ctxTransfer, SiteKind, type Site } from './codegen.js';
import { CtxKind } from '../ctx-plan.js';
import { Birth, ptrFacts, type PtrFacts } from './ptrtypes.js';

/** JsCompiled is a program translated to the source of a JavaScript factory. */
export interface JsCompiled {
  /**
   * The body of `new Function('K', source)`: K is the runtime's kit (see jit.ts JsKit); it
   * returns `{ run, bind, entry }`: `run(l1, h1, ..., l5, h5, fp, left)` runs the program and
   * returns r0's low half (high half in K.st.r0h, budget left in K.st.left), for tail calls;
   * `bind(helpers)` resolves every helper call site against a helper table; `entry(env, arg1,
   * arg2)` is a whole run (jit.ts runJs specialised to this program: only the per-run set-up
   * its code needs, and `run` inlined) returning the RunResult.
   */
  readonly source: string;
  /** Runtime sites, numbered from the `siteBase` given to compileJs. */
  readonly sites: readonly Site[];
  /** Helper ids per helper call site (bind resolves `H<k>` to helpers.get(ids[k])). */
  readonly helperIds: readonly number[];
  /** Instruction index of each helper call site (for the unknown-helper fault). */
  readonly helperInsns: readonly number[];
  /** Least budget left at entry for the unchecked body: all reachable instructions; 0 with loops. */
  readonly maxPath: number;
}

/**
 * jsRefusal tells why the JavaScript back end does not take a program, or undefined when it
 * does: local calls, callx and callback entries (more than one function), writes to r10.
 */
export function jsRefusal(a: Analysis): string | undefined {
  if (a.entries.length !== 1) return 'more than one function (bpf-to-bpf calls or callbacks)';
  if (a.writesR10) return 'writes r10';
  for (let i = 0; i < a.n; i++) if (a.kind[i] === Kind.Callx) return 'callx';
  return undefined;
}

const TWO32 = 4294967296;
/** INLINE_RELOAD_CALLS: up to this many helper and tail-call sites reload the slots inline. */
const INLINE_RELOAD_CALLS = 8;
/** STACK_BYTES is the stack region's used size: all call frames (the top is frame 0's end). */
const STACK_BYTES = MAX_CALL_FRAMES * MAX_BPF_STACK;

/** imm64 returns the halves of a sign-extended 32-bit immediate as source text. */
function immHalves(imm: number): [string, string] {
  return [String(imm | 0), imm < 0 ? '-1' : '0'];
}

/** Gen emits the function for entry 0. */
class Gen {
  private readonly out: string[] = [];
  private readonly blocks: Block[];
  private readonly blockOf = new Map<number, number>();
  private readonly hasLoop: boolean;
  private readonly ctxIn: Uint16Array;
  private ctxMask = 0;
  /** Registers whose high half is known zero, per block entry and before the current instruction. */
  private readonly hzIn: Uint16Array;
  private hz = 0;
  private bi = 0;
  private icCount = 0;
  private tailCalls = 0;
  /** Helper and tail-call sites in the function. */
  private calls = 0;
  readonly sites: Site[] = [];
  readonly helperIds: number[] = [];
  readonly helperInsns: number[] = [];
  /** Helper sites (by H index) of bpf_map_lookup_elem with a constant map handle in r1 (see arrayLookup). */
  private readonly arrayLookups = new Map<number, number>();
  readonly maxPath: number;
  /** Proven packet accesses and the context loads to guard (ptrtypes.ts). */
  private readonly ptr: PtrFacts;

  constructor(
    private readonly insns: readonly Insn[],
    private readonly a: Analysis,
    private readonly siteBase: number,
    progType?: number,
  ) {
    this.blocks = blocksFrom(a, 0);
    this.blocks.forEach((b, i) => this.blockOf.set(b.start, i));
    let loop = false;
    let total = 0;
    for (const [i, b] of this.blocks.entries()) {
      total += b.insns.length;
      const last = b.insns[b.insns.length - 1];
      const k = a.kind[last];
      if ((k === Kind.Ja || k === Kind.Cond) && (this.blockOf.get(a.target[last]) as number) <= i) loop = true;
    }
    this.hasLoop = loop;
    this.maxPath = loop ? 0 : total;
    for (const b of this.blocks) for (const i of b.insns) if (a.kind[i] === Kind.Helper || a.kind[i] === Kind.TailCall) this.calls++;
    this.ctxIn = contextMasks(insns, a, this.blocks, this.blockOf, true);
    this.hzIn = hiZeroMasks(insns, a, this.blocks, this.blockOf);
    this.ptr = ptrFacts(insns, a, this.blocks, this.blockOf, progType);
  }

  private emit(s: string): void {
    this.out.push(s);
  }

  private site(s: Omit<Site, 'base' | 'off' | 'size' | 'write' | 'access' | 'helper' | 'refund'> & Partial<Site>): number {
    this.sites.push({ base: 0, off: 0, size: 0, write: false, access: CtxKind.Load, helper: 0, refund: 0, ...s });
    return this.siteBase + this.sites.length - 1;
  }

  /** source returns the factory body. */
  source(): string {
    const body = this.fnBody();
    const ics: string[] = [];
    for (let k = 0; k < this.icCount; k++) ics.push(`ia${k} = -1, ie${k} = 0, ea${k} = 0`);
    const hs = this.helperIds.map((_, k) => `H${k} = undefined`);
    for (const k of this.arrayLookups.keys()) hs.push(`Ab${k} = 0, Am${k} = -1, As${k} = 0, Ac${k} = 0`);
    const decl = [...ics, ...hs];
    return [
      "'use strict';",
      'const { rt, st, mem, slow, trap, hErr, conv, tail, EXIT, umulhi32, S, div64, mod64, sdiv64, smod64, div32, mod32, sdiv32, smod32, lsh64, rsh64, arsh64, unknown, NAME, WP, CS, SMALL, SA, AO, fail, result, AL } = K;',
      'const P = rt.pkt, V = rt.vic, CV = rt.ctxValue;',
      // The factory's mutable state is `var`, not `let`: a closure's `let` is read with a
      // temporal-dead-zone check at every use in optimised code, a `var` is not.
      decl.length > 0 ? `var ${decl.join(', ')};` : '',
      // Context inline caches (see icNote): valid while ie<k> === E; E moves on when the context
      // region they were validated in (cR, as it was then) changes or another one is validated.
      'var cR = undefined, cLo = 0, cHi = 0, cRd = false, cWr = false, cPol = undefined, E = 1;',
      // The packet and victim slots as reloadSlots reads them: [read lo, read span, write lo,
      // write span] each, 0 and 0 (every check fails) for an empty slot, a region with a context
      // policy or no permission.
      'const SL = new Int32Array(8);',
      'function slot(g, k) {',
      '  if (g === undefined || g.ctxPlan !== undefined) { SL[k] = 0; SL[k + 1] = 0; SL[k + 2] = 0; SL[k + 3] = 0; return; }',
      '  const lo = g.lo, span = g.hi - lo;',
      '  if (g.readable) { SL[k] = lo; SL[k + 1] = span; } else { SL[k] = 0; SL[k + 1] = 0; }',
      '  if (g.writable) { SL[k + 2] = lo; SL[k + 3] = span; } else { SL[k + 2] = 0; SL[k + 3] = 0; }',
      '}',
      'function slots() { slot(P.region, 0); slot(V.region, 4); }',
      'function icNote(a) {',
      '  const g = mem.regionAt(a);',
      '  if (g !== cR) { E = E + 1 | 0; cR = g; cLo = g.lo; cHi = g.hi; cRd = g.readable; cWr = g.writable; cPol = g.ctxPlan; }',
      '  return E;',
      '}',
      'function bind(helpers) {',
      ...this.helperIds.map((id, k) => `  H${k} = helpers.get(${id}) ?? unknown(${id}, ${this.helperInsns[k]});`),
      ...[...this.arrayLookups].map(([k, h]) => `  { const L = AL(H${k}, ${h}); if (L === undefined || L.keySize !== 4) Am${k} = -1; else { Ab${k} = L.base; Am${k} = L.maxEntries; As${k} = L.indexStride; Ac${k} = L.cpuStride; } }`),
      '}',
      'function run(l1, h1, l2, h2, l3, h3, l4, h4, l5, h5, fp, left) {',
      body,
      '}',
      this.entrySource(),
      'return { run, bind, entry };',
    ].join('\n');
  }

  /**
   * entrySource is the whole-run function: runJs (jit.ts) specialised to this program, plus
   * `arm`, the part of the run's set-up that only a call out of the compiled code needs (the
   * stack bounds the slow path and helpers check against, the flag a nested run looks at, the
   * helper binding and the exit flag). The code arms the run before a slow-path or helper call; a
   * run that never makes one, the common packet, does not pay for it. `rt.active` says whether
   * the current run is armed: entry restores the stack bounds it read at its start when it is. A
   * tail call needs none of it (entry resets the chain's count, jsTail binds the target), and a
   * tail-call target's own call outs arm the run it continues.
   *
   * Measured (Node 20, 2-core VM under load; same-process interleaved A/B of generated variants):
   * V8 inlines `entry` into its caller only below --max-inlined-bytecode-size (460 bytes of
   * bytecode); parse's entry at 448 bytes ran at 68 ns per packet, the same entry at 470+ bytes
   * (not inlined) at 74-88 ns. So entry keeps only the per-run essentials and the rest sits in
   * arm, icCheck and the kit's functions.
   */
  private entrySource(): string {
    const calls = this.helperIds.length > 0 || this.tailCalls > 0;
    const mem = this.icCount > 0;
    const out: string[] = [];
    const e = (l: string): void => {
      out.push(l);
    };
    e('var lastOk = undefined, lastR0 = -1, lastCount = -1, table = undefined;');
    if (calls || mem) {
      e('function arm() {');
      e('const env = rt.env, stack = env.stack, top = rt.top;');
      e(`stack.hi = top; stack.lo = top - ${MAX_BPF_STACK};`);
      e('rt.active = 1;');
      if (calls) {
        e('env.exitRequested = false; env.callSubprog = CS;');
        e('if (env.current === undefined) env.current = { program: NAME, insn: 0 };');
        e('if (env.helpers !== table) { bind(env.helpers); table = env.helpers; }');
      }
      e('}');
    }
    if (mem) {
      e('function icCheck() {');
      e('const r = cR;');
      e('if (r.lo !== cLo || r.hi !== cHi || r.readable !== cRd || r.writable !== cWr || r.ctxPlan !== cPol) { E = E + 1 | 0; cR = undefined; }');
      e('}');
    }
    e('function entry(env, arg1, arg2) {');
    e(`const budget = env.insnBudget, stack = env.stack, top = stack.start + ${STACK_BYTES};`);
    if (calls || mem) e('const sLo = stack.lo, sHi = stack.hi;');
    e(this.tailCalls > 0 ? 'rt.env = env; rt.top = top; rt.tailCnt = 0;' : 'rt.env = env; rt.top = top;');
    if (mem) e('if (cR !== undefined) icCheck();');
    e('let lo = 0;');
    const disarm = calls || mem ? 'if (rt.active !== 0) { rt.active = 0; stack.lo = sLo; stack.hi = sHi; }' : '';
    e('try { lo = run(arg1 | 0, 0, arg2 | 0, 0, 0, 0, 0, 0, 0, 0, top, budget); }');
    e(`catch (err) { ${disarm} return fail(err, budget); }`);
    if (disarm !== '') e(disarm);
    e('const hi = st.r0h, count = budget - st.left, R = env.regs;');
    e('R[0] = lo; R[1] = hi;');
    e('if (hi === 0 && lo >= 0 && lo < 1024) {');
    e('if (lo === lastR0 && count === lastCount) return lastOk;');
    e('lastR0 = lo; lastCount = count; lastOk = { ok: true, r0: SMALL[lo], insnCount: count };');
    e('return lastOk;');
    e('}');
    e('return result(hi, lo, count);');
    e('}');
    return out.join('\n');
  }

  private fnBody(): string {
    const e = (s: string): void => this.emit(s);
    e('const env = rt.env, R = env.regs;');
    e('let dv = mem.dv, u8 = mem.u8;');
    e('let pRlo = 0, pRm = 0, pWlo = 0, pWm = 0, vRlo = 0, vRm = 0, vWlo = 0, vWm = 0, g = undefined, gl = 0, gs = 0;');
    const slotsAt = this.out.length;
    e('');
    e(`const slo = fp - ${MAX_BPF_STACK}, sm = rt.top - slo;`);
    e('let l0 = 0, h0 = 0, l6 = 0, h6 = 0, l7 = 0, h7 = 0, l8 = 0, h8 = 0, l9 = 0, h9 = 0;');
    e('let a = 0, t = 0, u = 0, x = 0, bl = 0, bh = 0, c = null, pc = 0;');
    // pv: every packet-pointer birth so far lay in the packet slot's window (see guardBirth).
    e('let pv = 1;');
    const nb = this.blocks.length;
    if (this.hasLoop) e('L: for (;;) {');
    for (let j = nb - 1; j >= 1; j--) e(`B${j}: {`);
    if (this.hasLoop) {
      e('switch (pc) {');
      for (let j = 1; j < nb; j++) e(`case ${j}: break B${j};`);
      e('}');
    }
    for (let i = 0; i < nb; i++) {
      this.bi = i;
      this.emitBlock(this.blocks[i]);
      if (i < nb - 1) e('}');
    }
    if (this.hasLoop) e('}');
    e("throw new Error('jit js: fell out of the block ladder');");
    if (this.icCount > 0) this.out[slotsAt] = this.loadSlotsInline();
    return this.out.join('\n');
  }

  private jumpTo(t: number): string {
    const j = this.blockOf.get(t) as number;
    if (j > this.bi) return `break B${j};`;
    return `{ pc = ${j}; continue L; }`;
  }

  private isNext(t: number): boolean {
    return this.blockOf.get(t) === this.bi + 1;
  }

  private emitBlock(b: Block): void {
    const n = b.insns.length;
    const last = b.insns[n - 1];
    const lastKind = this.a.kind[last];
    const control = lastKind !== Kind.Plain && lastKind !== Kind.Lddw;
    const body = control ? b.insns.slice(0, n - 1) : b.insns;
    const entryMask = this.ctxIn[this.bi];
    if (this.hasLoop) {
      this.emit(`if (left < ${n}) {`);
      this.ctxMask = entryMask;
      this.hz = this.hzIn[this.bi];
      b.insns.forEach((i, k) => {
        this.budgetCheck(i);
        if (k < body.length) {
          this.emitInsn(i, 0);
          this.ctxMask = ctxTransfer(this.insns[i], this.a.kind[i], this.ctxMask);
          this.hz = hiZeroTransfer(this.insns, i, this.a.kind[i] as Kind, this.hz);
        }
      });
      this.emit('} else {');
    }
    this.emit(`left = left - ${n} | 0;`);
    this.ctxMask = entryMask;
    this.hz = this.hzIn[this.bi];
    body.forEach((i, k) => {
      this.emitInsn(i, n - 1 - k);
      this.ctxMask = ctxTransfer(this.insns[i], this.a.kind[i], this.ctxMask);
      this.hz = hiZeroTransfer(this.insns, i, this.a.kind[i] as Kind, this.hz);
    });
    if (this.hasLoop) this.emit('}');
    if (control) this.emitControl(last);
    else {
      const next = lastKind === Kind.Lddw ? last + 2 : last + 1;
      if (!this.isNext(next)) this.emit(this.jumpTo(next));
    }
  }

  private budgetCheck(i: number): void {
    const s = this.site({ kind: SiteKind.Budget, insn: i });
    this.emit(`if (left === 0) { st.left = 0; trap(${s}); } left = left - 1 | 0;`);
  }

  // ------------------------------------------------------------------ operands
  private lo(r: number): string {
    return r === 10 ? 'fp' : `l${r}`;
  }
  private hi(r: number): string {
    return r === 10 ? '0' : `h${r}`;
  }
  /** hiZero tells whether register r's high half is known zero before the current instruction. */
  private hiZero(r: number): boolean {
    return r === 10 || ((this.hz >> r) & 1) === 1;
  }
  /** srcHiZero tells the same of an instruction's source operand (a register or an immediate). */
  private srcHiZero(insn: Insn): boolean {
    return (insn.opcode & 8) !== 0 ? this.hiZero(insn.src) : insn.imm >= 0;
  }
  /** srcHalves returns the source operand's halves (register or sign-extended immediate). */
  private srcHalves(insn: Insn): [string, string] {
    if ((insn.opcode & 8) !== 0) return [this.lo(insn.src), this.hi(insn.src)];
    return immHalves(insn.imm);
  }

  // ------------------------------------------------------------------ memory
  /**
   * addr emits the checked computation of the access address into `a`. A context access goes where
   * its plan says (ctx-plan.ts): the site's inline cache holds the effective address (ea<k>), and
   * when the runtime performed the access itself (a store hook, a load the instruction cannot
   * express; the slow path returns 1) the code runs `self` (a load takes its value from CV) and
   * leaves the access's labelled block `M<k>`, which the caller closes after the access, so the
   * fast path carries no test for that case. `self` undefined: the runtime never performs this
   * access (atomics into a context are refused), no block. `value` is a store's value as two int32
   * halves, for the runtime's store hooks. Returns whether a block was opened.
   */
  private addr(i: number, base: number, off: number, size: number, write: boolean, refund: number, access: CtxKind, self: string | undefined, value: readonly [string, string] = ['0', '0']): boolean {
    if (base === 10 && off >= -MAX_BPF_STACK && off + size <= 0) {
      this.emit(`a = fp + ${off} | 0;`);
      return false;
    }
    const lb = this.lo(base);
    const hb = this.hi(base);
    const k = this.icCount++;
    // A base whose high half is known zero (hiZeroMasks) needs no test of it.
    const hz = this.hiZero(base);
    const hit = hz ? `a === ia${k} && ie${k} === E` : `${hb} === 0 && a === ia${k} && ie${k} === E`;
    const slot = (lo: string, m: string): string => `(a - ${lo}) >>> 0 > ${m} - ${size}`;
    const misses = [
      slot(write ? 'pWlo' : 'pRlo', write ? 'pWm' : 'pRm'),
      slot('slo', 'sm'),
      slot(write ? 'vWlo' : 'vRlo', write ? 'vWm' : 'vRm'),
    ].join(' && ');
    const s = this.site({ kind: SiteKind.Mem, insn: i, base, off, size, write, access });
    const performed = self === undefined ? 'a = -1;' : `{ ${self} break M${k}; }`;
    const slow = [
      `st.left = left + ${refund} | 0; if (rt.active === 0) arm();`,
      `x = slow(${s}, ${lb}, ${hb}, fp, ${value[0]}, ${value[1]});`,
      `if (x === 0) { pv = 0; ${this.reloadSlots()} } else if (x === 1) ${performed} else { ia${k} = a; ie${k} = icNote(a); ea${k} = x; a = x; }`,
    ].join(' ');
    if (self !== undefined) this.emit(`M${k}: {`);
    this.emit(`a = ${lb} + ${off} | 0;`);
    const miss = hz ? misses : `${hb} !== 0 || ${misses}`;
    // A proven access (ptrtypes.ts) lies in the packet slot's window while pv holds.
    const check = ((this.ctxMask >> base) & 1) !== 0 ? `if (${hit}) a = ea${k}; else if (${miss}) { ${slow} }` : `if (${miss}) { if (${hit}) a = ea${k}; else { ${slow} } }`;
    this.emit(this.ptr.proven[i] === 1 ? `if (pv === 0) { ${check} }` : check);
    return self !== undefined;
  }

  /**
   * guardBirth checks a packet pointer the program just loaded from its context (ptrtypes.ts): it
   * must lie in the packet slot's window (data: a window readable and writable alike), else pv is
   * cleared and every proven access runs its full check for the rest of the run.
   */
  private guardBirth(d: number, data: boolean): void {
    const w = data ? ' || pWlo !== pRlo || pWm !== pRm' : '';
    this.emit(`if (h${d} !== 0 || (l${d} - pRlo) >>> 0 > pRm${w}) pv = 0;`);
  }

  /**
   * loadSlotsInline reads the regions in the runtime's packet and victim slots at the function's
   * start (every run; the locals start at 0 and 0, every check failing): the lowest address and
   * the span a read (write) may use, left at 0 and 0 when the slot is empty, the region has a
   * context policy or lacks the permission.
   */
  private loadSlotsInline(): string {
    const one = (S: string, v: string): string =>
      `g = ${S}.region; if (g !== undefined && g.ctxPlan === undefined) { gl = g.lo; gs = g.hi - gl; ` +
      `if (g.readable) { ${v}Rlo = gl; ${v}Rm = gs; } if (g.writable) { ${v}Wlo = gl; ${v}Wm = gs; } }`;
    return `${one('P', 'p')}\n${one('V', 'v')}`;
  }

  /** reloadSlots is loadSlotsInline after a call out, which may have changed any of them. */
  private reloadSlots(): string {
    return 'slots(); pRlo = SL[0]; pRm = SL[1]; pWlo = SL[2]; pWm = SL[3]; vRlo = SL[4]; vRm = SL[5]; vWlo = SL[6]; vWm = SL[7];';
  }

  // ------------------------------------------------------------------ instructions
  private emitInsn(i: number, refund: number): void {
    const insn = this.insns[i];
    const k = this.a.kind[i];
    if (k === Kind.Refused) throw new Error(`jsgen: refused instruction ${i} in a block body`);
    const d = insn.dst;
    if (k === Kind.Lddw) {
      this.emit(`l${d} = ${insn.imm | 0}; h${d} = ${this.insns[i + 1].imm | 0};`);
      return;
    }
    const o = insn.opcode;
    const cls = o & 7;
    if (cls === 7) this.alu64(insn);
    else if (cls === 4) this.alu32(insn);
    else if (cls === 1) {
      const sx = (o & 0xe0) === 0x80;
      const size = [4, 2, 1, 8][(o >> 3) & 3];
      const block = this.addr(i, insn.src, insn.off, size, false, refund, sx ? CtxKind.LoadSx : CtxKind.Load, `l${d} = CV[0]; h${d} = CV[1];`);
      let load: string;
      if (size === 8) load = `l${d} = dv.getInt32(a, true); h${d} = dv.getInt32(a + 4, true);`;
      else if (size === 4) load = sx ? `l${d} = dv.getInt32(a, true); h${d} = l${d} >> 31;` : `l${d} = dv.getInt32(a, true); h${d} = 0;`;
      else if (size === 2) load = sx ? `l${d} = dv.getInt16(a, true); h${d} = l${d} >> 31;` : `l${d} = dv.getUint16(a, true); h${d} = 0;`;
      else load = sx ? `l${d} = u8[a] << 24 >> 24; h${d} = l${d} >> 31;` : `l${d} = u8[a]; h${d} = 0;`;
      this.emit(block ? `${load} }` : load);
      if (this.ptr.birth[i] !== Birth.None) this.guardBirth(d, this.ptr.birth[i] === Birth.Data);
    } else if (cls === 2 || (cls === 3 && (o & 0xe0) === 0x60)) {
      const size = [4, 2, 1, 8][(o >> 3) & 3];
      const [vl, vh] = cls === 2 ? immHalves(insn.imm) : [this.lo(insn.src), this.hi(insn.src)];
      // The value is read before the address check could change anything (it cannot: registers
      // are locals), so the order matches the interpreter.
      const block = this.addr(i, d, insn.off, size, true, refund, cls === 2 ? CtxKind.StoreImm : CtxKind.Store, '', [vl, vh]);
      let store: string;
      if (size === 8) store = `dv.setInt32(a, ${vl}, true); dv.setInt32(a + 4, ${vh}, true);`;
      else if (size === 4) store = `dv.setInt32(a, ${vl}, true);`;
      else if (size === 2) store = `dv.setInt16(a, ${vl}, true);`;
      else store = `u8[a] = ${vl};`;
      this.emit(block ? `${store} }` : store);
    } else if (cls === 3) this.atomic(i, insn, refund);
    else throw new Error(`jsgen: unexpected opcode 0x${o.toString(16)} at ${i}`);
  }

  private atomic(i: number, insn: Insn, refund: number): void {
    const wide = insn.opcode === 0xdb;
    const aop = insn.imm;
    const s = insn.src;
    const sl = this.lo(s);
    const sh = this.hi(s);
    // Atomics into a context are refused (check_atomic), so the runtime never performs one itself.
    this.addr(i, insn.dst, insn.off, wide ? 8 : 4, true, refund, CtxKind.Atomic, undefined, [sl, sh]);
    // On a shared memory (replay --workers) another thread may update the same value: Atomics.
    const post = aop === BPF_CMPXCHG ? 'l0 = AO[0]; h0 = AO[1];' : (aop & BPF_FETCH) !== 0 && s !== 10 ? `l${s} = AO[0]; h${s} = AO[1];` : '';
    this.emit(`if (mem.shared !== undefined && SA(mem, a, ${wide}, ${aop}, ${sl}, ${sh}, l0, h0, AO)) { ${post} } else {`);
    // old value in (t, u), zero-extended for the 32-bit form
    this.emit(wide ? 't = dv.getInt32(a, true); u = dv.getInt32(a + 4, true);' : 't = dv.getInt32(a, true); u = 0;');
    const store = (lo: string, hi: string): void => {
      this.emit(wide ? `dv.setInt32(a, ${lo}, true); dv.setInt32(a + 4, ${hi}, true);` : `dv.setInt32(a, ${lo}, true);`);
    };
    if (aop === BPF_CMPXCHG) {
      this.emit(wide ? 'if (t === l0 && u === h0) {' : 'if (t === l0) {');
      store(sl, sh);
      this.emit('}');
      this.emit('l0 = t; h0 = u;');
      this.emit('}');
      return;
    }
    const base = aop & ~BPF_FETCH;
    if (aop === BPF_XCHG) store(sl, sh);
    else if (base === 0x00) {
      this.emit(`x = (t >>> 0) + (${sl} >>> 0);`);
      this.emit(`bl = x | 0; bh = u + ${sh} + (x >= ${TWO32} ? 1 : 0) | 0;`);
      store('bl', 'bh');
    } else {
      const op = base === 0x40 ? '|' : base === 0x50 ? '&' : '^';
      this.emit(`bl = t ${op} ${sl}; bh = u ${op} ${sh};`);
      store('bl', 'bh');
    }
    if ((aop & BPF_FETCH) !== 0 && s !== 10) this.emit(`l${s} = t; h${s} = u;`);
    this.emit('}');
  }

  private alu64(insn: Insn): void {
    const d = insn.dst;
    const code = insn.opcode & 0xf0;
    const x = (insn.opcode & 8) !== 0;
    const [sl, sh] = this.srcHalves(insn);
    const L = `l${d}`;
    const H = `h${d}`;
    const viaS = (call: string): void => {
      this.emit(`S[0] = ${L}; S[1] = ${H}; ${call}; ${L} = S[0]; ${H} = S[1];`);
    };
    switch (code) {
      case 0x00:
        // int32 only: the carry is (sum <u addend); with both high halves zero, it is the high half
        if (this.hiZero(d) && this.srcHiZero(insn)) this.emit(`bl = ${sl}; t = ${L}; ${L} = t + bl | 0; ${H} = (${L} >>> 0) < (t >>> 0) ? 1 : 0;`);
        else this.emit(`bl = ${sl}; bh = ${sh}; t = ${L}; ${L} = t + bl | 0; ${H} = ${H} + bh + ((${L} >>> 0) < (t >>> 0) ? 1 : 0) | 0;`);
        return;
      case 0x10:
        this.emit(`bl = ${sl}; bh = ${sh}; t = ${L}; ${L} = t - bl | 0; ${H} = ${H} - bh - ((t >>> 0) < (bl >>> 0) ? 1 : 0) | 0;`);
        return;
      case 0x20:
        this.emit(`bl = ${sl}; bh = ${sh}; t = ${L}; ${L} = Math.imul(t, bl); ${H} = umulhi32(t, bl) + Math.imul(t, bh) + Math.imul(${H}, bl) | 0;`);
        return;
      case 0x40:
      case 0x50:
      case 0xa0: {
        const op = code === 0x40 ? '|' : code === 0x50 ? '&' : '^';
        this.emit(`bl = ${sl}; bh = ${sh}; ${L} = ${L} ${op} bl; ${H} = ${H} ${op} bh;`);
        return;
      }
      case 0x60:
      case 0x70:
      case 0xc0: {
        const fn = code === 0x60 ? 'lsh64' : code === 0x70 ? 'rsh64' : 'arsh64';
        if (x) {
          viaS(`${fn}(S, 0, ${sl} & 63)`);
          return;
        }
        const n = insn.imm & 63;
        if (n === 0) return;
        if (code === 0x60) {
          if (n < 32) this.emit(`${H} = ${H} << ${n} | ${L} >>> ${32 - n}; ${L} = ${L} << ${n};`);
          else this.emit(`${H} = ${L} << ${n - 32}; ${L} = 0;`);
        } else if (code === 0x70) {
          if (n < 32) this.emit(`${L} = ${L} >>> ${n} | ${H} << ${32 - n}; ${H} = ${H} >>> ${n} | 0;`);
          else this.emit(`${L} = ${H} >>> ${n - 32} | 0; ${H} = 0;`);
        } else {
          if (n < 32) this.emit(`${L} = ${L} >>> ${n} | ${H} << ${32 - n}; ${H} = ${H} >> ${n};`);
          else this.emit(`${L} = ${H} >> ${n - 32}; ${H} = ${H} >> 31;`);
        }
        return;
      }
      case 0x80:
        this.emit(`t = ${L}; ${L} = -t | 0; ${H} = ~${H} + (t === 0 ? 1 : 0) | 0;`);
        return;
      case 0xb0:
        if (!x || insn.off === 0) this.emit(`${L} = ${sl}; ${H} = ${sh};`);
        else if (insn.off === 8) this.emit(`${L} = ${sl} << 24 >> 24; ${H} = ${L} >> 31;`);
        else if (insn.off === 16) this.emit(`${L} = ${sl} << 16 >> 16; ${H} = ${L} >> 31;`);
        else this.emit(`${L} = ${sl}; ${H} = ${L} >> 31;`);
        return;
      case 0x30:
      case 0x90: {
        const signed = insn.off === 1;
        const fn = code === 0x30 ? (signed ? 'sdiv64' : 'div64') : signed ? 'smod64' : 'mod64';
        this.emit(`bl = ${sl}; bh = ${sh};`);
        viaS(`${fn}(S, 0, bh, bl)`);
        return;
      }
      case 0xd0:
        this.swap(d, insn.imm);
        return;
      default:
        throw new Error(`jsgen: ALU64 op 0x${code.toString(16)}`);
    }
  }

  /** swap byte-swaps the low `width` bits of register d, zero-extending. */
  private swap(d: number, width: number): void {
    const L = `l${d}`;
    const H = `h${d}`;
    const b32 = (v: string): string => `((${v} & 0xff) << 24 | (${v} & 0xff00) << 8 | (${v} >>> 8) & 0xff00 | ${v} >>> 24)`;
    if (width === 16) this.emit(`${L} = (${L} & 0xff) << 8 | (${L} >>> 8) & 0xff; ${H} = 0;`);
    else if (width === 32) this.emit(`${L} = ${b32(L)}; ${H} = 0;`);
    else this.emit(`t = ${L}; ${L} = ${b32(H)}; ${H} = ${b32('t')};`);
  }

  private alu32(insn: Insn): void {
    const d = insn.dst;
    const code = insn.opcode & 0xf0;
    const x = (insn.opcode & 8) !== 0;
    const sl = (insn.opcode & 8) !== 0 ? this.lo(insn.src) : String(insn.imm | 0);
    const L = `l${d}`;
    const H = `h${d}`;
    const set = (expr: string): void => this.emit(`${L} = ${expr}; ${H} = 0;`);
    switch (code) {
      case 0x00: set(`${L} + ${sl} | 0`); return;
      case 0x10: set(`${L} - ${sl} | 0`); return;
      case 0x20: set(`Math.imul(${L}, ${sl})`); return;
      case 0x40: set(`${L} | ${sl}`); return;
      case 0x50: set(`${L} & ${sl}`); return;
      case 0xa0: set(`${L} ^ ${sl}`); return;
      case 0x60: set(`${L} << (${sl} & 31)`); return;
      case 0x70: set(`${L} >>> (${sl} & 31) | 0`); return;
      case 0xc0: set(`${L} >> (${sl} & 31)`); return;
      case 0x80: set(`-${L} | 0`); return;
      case 0xb0:
        if (!x || insn.off === 0) set(sl);
        else if (insn.off === 8) set(`${sl} << 24 >> 24`);
        else set(`${sl} << 16 >> 16`);
        return;
      case 0x30:
      case 0x90: {
        const signed = insn.off === 1;
        const fn = code === 0x30 ? (signed ? 'sdiv32' : 'div32') : signed ? 'smod32' : 'mod32';
        set(`${fn}(${L}, ${sl})`);
        return;
      }
      case 0xd0:
        if (insn.opcode === 0xd4) {
          if (insn.imm === 16) set(`${L} & 0xffff`);
          else if (insn.imm === 32) this.emit(`${H} = 0;`);
        } else this.swap(d, insn.imm);
        return;
      default:
        throw new Error(`jsgen: ALU op 0x${code.toString(16)}`);
    }
  }

  /** cond returns the JavaScript condition of a conditional jump. */
  private cond(insn: Insn): string {
    const o = insn.opcode;
    const wide = (o & 7) === 5;
    const code = o & 0xf0;
    const dl = this.lo(insn.dst);
    const dh = this.hi(insn.dst);
    const [sl, sh] = this.srcHalves(insn);
    if (!wide) {
      switch (code) {
        case 0x10: return `${dl} === ${sl}`;
        case 0x50: return `${dl} !== ${sl}`;
        case 0x40: return `(${dl} & ${sl}) !== 0`;
        case 0x20: return `${dl} >>> 0 > ${sl} >>> 0`;
        case 0x30: return `${dl} >>> 0 >= ${sl} >>> 0`;
        case 0xa0: return `${dl} >>> 0 < ${sl} >>> 0`;
        case 0xb0: return `${dl} >>> 0 <= ${sl} >>> 0`;
        case 0x60: return `${dl} > ${sl}`;
        case 0x70: return `${dl} >= ${sl}`;
        case 0xc0: return `${dl} < ${sl}`;
        case 0xd0: return `${dl} <= ${sl}`;
        default: throw new Error(`jsgen: jump op 0x${o.toString(16)}`);
      }
    }
    if (this.hiZero(insn.dst) && this.srcHiZero(insn)) {
      // Both operands in [0, 2^32): a 64-bit compare, signed or not, is the low halves' unsigned one.
      switch (code) {
        case 0x10: return `${dl} === ${sl}`;
        case 0x50: return `${dl} !== ${sl}`;
        case 0x40: return `(${dl} & ${sl}) !== 0`;
        case 0x20: case 0x60: return `${dl} >>> 0 > ${sl} >>> 0`;
        case 0x30: case 0x70: return `${dl} >>> 0 >= ${sl} >>> 0`;
        case 0xa0: case 0xc0: return `${dl} >>> 0 < ${sl} >>> 0`;
        case 0xb0: case 0xd0: return `${dl} >>> 0 <= ${sl} >>> 0`;
        default: throw new Error(`jsgen: jump op 0x${o.toString(16)}`);
      }
    }
    if (this.srcHiZero(insn)) {
      // Only the source in [0, 2^32) (a packet pointer against data_end): a set high half decides.
      switch (code) {
        case 0x10: return `(${dh} === 0 && ${dl} === ${sl})`;
        case 0x50: return `(${dh} !== 0 || ${dl} !== ${sl})`;
        case 0x20: return `(${dh} !== 0 || ${dl} >>> 0 > ${sl} >>> 0)`;
        case 0x30: return `(${dh} !== 0 || ${dl} >>> 0 >= ${sl} >>> 0)`;
        case 0xa0: return `(${dh} === 0 && ${dl} >>> 0 < ${sl} >>> 0)`;
        case 0xb0: return `(${dh} === 0 && ${dl} >>> 0 <= ${sl} >>> 0)`;
        default: break;
      }
    }
    const u = (op: string, al: string, ah: string, bl: string, bh: string): string =>
      `(${ah} === ${bh} ? ${al} >>> 0 ${op} ${bl} >>> 0 : ${ah} >>> 0 ${op[0]} ${bh} >>> 0)`;
    const s = (op: string, al: string, ah: string, bl: string, bh: string): string =>
      `(${ah} === ${bh} ? ${al} >>> 0 ${op} ${bl} >>> 0 : ${ah} ${op[0]} ${bh})`;
    switch (code) {
      case 0x10: return `(${dl} === ${sl} && ${dh} === ${sh})`;
      case 0x50: return `(${dl} !== ${sl} || ${dh} !== ${sh})`;
      case 0x40: return `((${dl} & ${sl}) | (${dh} & ${sh})) !== 0`;
      case 0x20: return u('>', dl, dh, sl, sh);
      case 0x30: return u('>=', dl, dh, sl, sh);
      case 0xa0: return u('<', dl, dh, sl, sh);
      case 0xb0: return u('<=', dl, dh, sl, sh);
      case 0x60: return s('>', dl, dh, sl, sh);
      case 0x70: return s('>=', dl, dh, sl, sh);
      case 0xc0: return s('<', dl, dh, sl, sh);
      case 0xd0: return s('<=', dl, dh, sl, sh);
      default: throw new Error(`jsgen: jump op 0x${o.toString(16)}`);
    }
  }

  /**
   * afterCall re-reads what a helper or a tail call may have changed: the memory views (growth)
   * and both slots, written out in full (the `slot` function was a separate 5% in a profile of
   * parse_count) unless the program has many call sites (source size, see the module comment).
   */
  private afterCall(): string {
    return `dv = mem.dv; u8 = mem.u8; ${this.calls <= INLINE_RELOAD_CALLS ? this.reloadSlotsInline() : this.reloadSlots()}`;
  }

  /** reloadSlotsInline is reloadSlots without the SL round trip. */
  private reloadSlotsInline(): string {
    const one = (S: string, v: string): string =>
      `g = ${S}.region; if (g !== undefined && g.ctxPlan === undefined) { gl = g.lo; gs = g.hi - gl; ` +
      `if (g.readable) { ${v}Rlo = gl; ${v}Rm = gs; } else { ${v}Rlo = 0; ${v}Rm = 0; } ` +
      `if (g.writable) { ${v}Wlo = gl; ${v}Wm = gs; } else { ${v}Wlo = 0; ${v}Wm = 0; } } ` +
      `else { ${v}Rlo = 0; ${v}Rm = 0; ${v}Wlo = 0; ${v}Wm = 0; }`;
    return `${one('P', 'p')} ${one('V', 'v')}`;
  }

  /**
   * constR1 returns the map handle r1 holds at helper call `i` when an lddw earlier in the same
   * block set it (the usual `r1 = map ll` before bpf_map_lookup_elem) and nothing wrote r1 since.
   */
  private constR1(i: number): number | undefined {
    const b = this.blocks[this.bi];
    for (let p = b.insns.indexOf(i) - 1; p >= 0; p--) {
      const j = b.insns[p];
      const insn = this.insns[j];
      const cls = insn.opcode & 7;
      if (this.a.kind[j] === Kind.Lddw) {
        if (insn.dst !== 1) continue;
        return this.insns[j + 1].imm === 0 ? insn.imm >>> 0 : undefined;
      }
      if ((cls === 4 || cls === 7 || cls === 1 || cls === 0) && insn.dst === 1) return undefined;
      if (cls === 3 && (insn.opcode & 0xe0) === 0xc0 && (insn.src === 1 || insn.dst === 1)) return undefined;
    }
    return undefined;
  }

  /**
   * arrayLookup opens the inline bpf_map_lookup_elem of helper site `k` on an ARRAY or
   * PERCPU_ARRAY (layout bound with the helper table: src/vm/inline-lookup.ts): with the helper
   * table the site was bound to and a 4-byte key inside the stack frame, the value address is
   * array_map_lookup_elem's (NULL for an index at or above max_entries), as the helper computes
   * it; otherwise the block it leaves open (closed after the call) calls the helper.
   */
  private arrayLookup(k: number): string {
    return (
      `if (Am${k} >= 0 && env.helpers === table && h2 === 0 && (l2 - slo) >>> 0 <= sm - 4) { ` +
      `t = dv.getInt32(l2, true); l0 = (t >>> 0) >= Am${k} ? 0 : Ab${k} + (t >>> 0) * As${k} + (env.cpu ?? 0) * Ac${k} | 0; h0 = 0; R[0] = l0; R[1] = 0; } else {`
    );
  }

  private emitControl(i: number): void {
    const insn = this.insns[i];
    const k = this.a.kind[i];
    const e = (s: string): void => this.emit(s);
    switch (k) {
      case Kind.Refused: {
        const s = this.site({ kind: SiteKind.Trap, insn: i, refusal: this.a.refusals.get(i) });
        e(`st.left = left; trap(${s});`);
        e("throw new Error('jit js: trap returned');");
        return;
      }
      case Kind.Exit:
        e('st.r0h = h0; st.left = left; return l0;');
        return;
      case Kind.Ja:
        e(this.jumpTo(this.a.target[i]));
        return;
      case Kind.Cond: {
        e(`if (${this.cond(insn)}) ${this.jumpTo(this.a.target[i])}`);
        if (!this.isNext(i + 1)) e(this.jumpTo(i + 1));
        return;
      }
      case Kind.Helper: {
        const s = this.site({ kind: SiteKind.Helper, insn: i, helper: insn.imm });
        const hk = this.helperIds.length;
        this.helperIds.push(insn.imm);
        this.helperInsns.push(i);
        const handle = insn.imm === 1 ? this.constR1(i) : undefined;
        if (handle !== undefined) {
          this.arrayLookups.set(hk, handle);
          e(this.arrayLookup(hk));
        }
        e('st.left = left; if (rt.active === 0) arm();');
        e('R[2] = l1; R[3] = h1; R[4] = l2; R[5] = h2; R[6] = l3; R[7] = h3; R[8] = l4; R[9] = h4; R[10] = l5; R[11] = h5; R[20] = fp; R[21] = 0;');
        e(`c = env.current; c.program = NAME; c.insn = ${i}; rt.curFp = fp; rt.curProg = WP;`);
        e(`try { x = H${hk}(env); } catch (err) { throw hErr(err, ${s}); }`);
        e('if (typeof x === "number" && (x | 0) === x) { l0 = x; h0 = x >> 31; R[0] = l0; R[1] = h0; } else { conv(x); l0 = R[0]; h0 = R[1]; }');
        e('left = st.left;');
        e('if (env.exitRequested === true) { env.exitRequested = false; throw EXIT; }');
        e(this.afterCall());
        if (handle !== undefined) e('}');
        break;
      }
      case Kind.TailCall: {
        this.tailCalls++;
        // No arm(): a tail call needs only the count entry reset; the target's own call outs arm.
        e('st.left = left;');
        e('x = tail(rt, l1, h1, l2, h2, l3, h3, l4, h4, l5, h5, fp);');
        e('if (st.tk === 1) return x;');
        e('left = st.left;');
        e(this.afterCall());
        break;
      }
      default:
        throw new Error(`jsgen: control kind ${k} at ${i}`);
    }
    if (!this.isNext(i + 1)) e(this.jumpTo(i + 1));
  }
}

/**
 * compileJs translates a program for the JavaScript back end, or returns why it does not take
 * it (jsRefusal). `progType` (BPF_PROG_TYPE_*) lets ptrtypes.ts prove packet accesses. Sites are numbered from `siteBase` (after the wasm module's own sites, so the
 * runtime's shared functions index one array).
 */
export function compileJs(insns: readonly Insn[], siteBase: number, progType?: number): JsCompiled | string {
  const a = analyze(insns);
  const why = jsRefusal(a);
  if (why !== undefined) return why;
  const g = new Gen(insns, a, siteBase, progType);
  const source = g.source();
  return { source, sites: g.sites, helperIds: g.helperIds, helperInsns: g.helperInsns, maxPath: g.maxPath };
}
