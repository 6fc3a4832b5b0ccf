/**
 * ptrtypes — a verifier-style abstract interpretation of one function (the JavaScript back end's
 * entry 0) that proves packet accesses in bounds, so jsgen can drop their runtime window checks.
 *
 * It follows what kernel/bpf/verifier.c proves for XDP and TC programs, in a reduced form:
 * - r1 at entry is the context (PTR_TO_CTX, offset 0). A 4-byte zero-extending load from it at
 *   the offset of `data` (xdp_md 0, __sk_buff 76) gives a packet pointer (PTR_TO_PACKET) with a
 *   fresh id; at the offset of `data_end` (xdp_md 4, __sk_buff 80) PTR_TO_PACKET_END. These loads
 *   are the "births"; jsgen guards each one at run time (see below).
 * - A packet pointer is `base(id) + off` with a constant off in [0, 0xffff] (MAX_PACKET_OFF);
 *   adding a bounded non-negative scalar gives a new id with off 0 (the kernel keeps the variable
 *   part in the register's var_off and gives it a new id too, adjust_ptr_min_max_vals).
 * - An unsigned 64-bit compare of a packet pointer with the end pointer proves, on the edge where
 *   `base + off <= end` holds, that `range(id) >= off` (find_good_pkt_pointers via
 *   try_match_pkt_pointers; the strict forms are taken with the same conservative range).
 * - Scalars are tracked only as "in [0, max]" for small max (the `(ihl * 4) & 60` idiom).
 * - A helper or tail call forgets every packet and end pointer and every range, as
 *   clear_all_pkt_pointers does after helpers that may change packet data.
 * An access through `base(id) + off` with `off + insn.off >= 0` and `off + insn.off + size <=
 * range(id)` is proven. Anything not understood makes the register unknown.
 *
 * What a proof means at run time: the address lies in [data, end) for some `data` and `end`
 * values the program loaded at births since the last call out. jsgen checks at each birth that
 * the loaded value lies in the packet slot's window (and, for data, that the window is writable
 * as well as readable); a failed check, or a slot reload by the slow path, clears the function's
 * `pv` flag and every proven access then runs its full check. So the proof never has to trust the
 * context's contents, the program type or the hook: a crafted context only costs the fast path.
 * Births give a fresh id each, so two loads of `data` that differ (the context was written in
 * between) never share a range.
 */
import type { Insn } from '../../isa/insn.js';
import { ProgType } from '../../object/sections.js';
import { Kind, type Analysis, type Block } from './analyze.js';

/** CtxLayout is where a program type's context keeps the packet pointers (include/uapi/linux/bpf.h). */
export interface CtxLayout {
  readonly data: number;
  readonly dataEnd: number;
}

/** ctxLayout returns the packet pointer offsets of a program type's context, or undefined. */
export function ctxLayout(progType: number | undefined): CtxLayout | undefined {
  if (progType === ProgType.XDP) return { data: 0, dataEnd: 4 }; // struct xdp_md
  if (progType === ProgType.SCHED_CLS || progType === ProgType.SCHED_ACT) return { data: 76, dataEnd: 80 }; // struct __sk_buff
  return undefined;
}

/** MAX_PACKET_OFF bounds constant packet offsets, as the kernel's MAX_PACKET_OFF (0xffff). */
const MAX_PACKET_OFF = 0xffff;

/** Reg is one register's abstract value. */
type Reg =
  | { readonly k: 'u' }
  | { readonly k: 'ctx' }
  | { readonly k: 'pkt'; readonly id: number; readonly off: number }
  | { readonly k: 'end' }
  | { readonly k: 'sc'; readonly max: number };

const U: Reg = { k: 'u' };

interface State {
  readonly r: Reg[];
  /** Proven range per packet pointer id: base(id) + range <= some guarded end. */
  readonly range: Map<number, number>;
}

/** Birth tells what a context load at an instruction yields. */
export const Birth = { None: 0, Data: 1, End: 2 } as const;
export type Birth = (typeof Birth)[keyof typeof Birth];

/** PtrFacts is the analysis result, indexed by instruction. */
export interface PtrFacts {
  /** 1 where a load or store is proven inside [data, end). */
  readonly proven: Uint8Array;
  /** Birth kind per instruction (a context load of data or data_end jsgen must guard). */
  readonly birth: Uint8Array;
}

function sameReg(a: Reg, b: Reg): boolean {
  if (a.k !== b.k) return false;
  if (a.k === 'pkt' && b.k === 'pkt') return a.id === b.id && a.off === b.off;
  if (a.k === 'sc' && b.k === 'sc') return a.max === b.max;
  return true;
}

/**
 * meet joins the states of two paths into block `bi`. A register that is a packet pointer on both
 * paths, with different ids or offsets, becomes a pointer with a join id of its own (one per block
 * and register, off 0) whose range is the least one either path proves for its value; any other
 * register still carrying that join id (from an earlier pass round a loop) is forgotten.
 */
function meet(a: State, b: State, bi: number): State {
  const range = new Map<number, number>();
  for (const [id, v] of a.range) {
    const w = b.range.get(id);
    if (w !== undefined) range.set(id, Math.min(v, w));
  }
  const r = a.r.map((x, i) => (sameReg(x, b.r[i]) ? x : U));
  for (let i = 0; i < 11; i++) {
    const x = a.r[i];
    const y = b.r[i];
    if (sameReg(x, y) || x.k !== 'pkt' || y.k !== 'pkt') continue;
    const id = -(bi * 16 + i + 1);
    for (let j = 0; j < 11; j++) {
      const z = r[j];
      if (z.k === 'pkt' && z.id === id) r[j] = U;
    }
    const rx = (a.range.get(x.id) ?? 0) - x.off;
    const ry = (b.range.get(y.id) ?? 0) - y.off;
    r[i] = { k: 'pkt', id, off: 0 };
    range.set(id, Math.max(0, Math.min(rx, ry)));
  }
  return { r, range };
}

function sameState(a: State, b: State): boolean {
  if (!a.r.every((x, i) => sameReg(x, b.r[i]))) return false;
  if (a.range.size !== b.range.size) return false;
  for (const [id, v] of a.range) if (b.range.get(id) !== v) return false;
  return true;
}

function clone(s: State): State {
  return { r: [...s.r], range: new Map(s.range) };
}

/** forgetPackets drops every packet and end pointer and every range (clear_all_pkt_pointers). */
function forgetPackets(s: State): void {
  for (let i = 0; i < 11; i++) if (s.r[i].k === 'pkt' || s.r[i].k === 'end') s.r[i] = U;
  s.range.clear();
}

/** freshId gives register d a new pointer id, dropping any older value that had it (loops). */
function freshId(s: State, d: number, id: number): void {
  for (let i = 0; i < 11; i++) {
    const x = s.r[i];
    if (x.k === 'pkt' && x.id === id) s.r[i] = U;
  }
  s.range.delete(id);
  s.r[d] = { k: 'pkt', id, off: 0 };
}

function scalar(max: number): Reg {
  return max >= 0 && max <= MAX_PACKET_OFF ? { k: 'sc', max } : U;
}

/** provenAt tells whether an access through register `base` at `off`, `size` bytes is in range. */
function provenAt(s: State, base: number, off: number, size: number): boolean {
  const b = s.r[base];
  if (b.k !== 'pkt') return false;
  const lo = b.off + off;
  const r = s.range.get(b.id) ?? 0;
  return lo >= 0 && lo + size <= r;
}

/** step applies instruction i to s in place, recording facts when `facts` is given. */
function step(insns: readonly Insn[], i: number, kind: Kind, s: State, layout: CtxLayout | undefined, facts: PtrFacts | undefined): void {
  if (kind === Kind.Helper || kind === Kind.TailCall || kind === Kind.LocalCall || kind === Kind.Callx) {
    for (let r = 0; r <= 5; r++) s.r[r] = U;
    forgetPackets(s);
    return;
  }
  const insn = insns[i];
  const d = insn.dst;
  if (kind === Kind.Lddw) {
    s.r[d] = insns[i + 1].imm === 0 && insn.imm >= 0 ? scalar(insn.imm) : U;
    return;
  }
  if (kind !== Kind.Plain) return;
  const o = insn.opcode;
  const cls = o & 7;
  const size = [4, 2, 1, 8][(o >> 3) & 3];
  if (cls === 1) {
    const sx = (o & 0xe0) === 0x80;
    if (facts !== undefined && provenAt(s, insn.src, insn.off, size)) facts.proven[i] = 1;
    const base = s.r[insn.src];
    if (base.k === 'ctx' && layout !== undefined && size === 4 && !sx && insn.off === layout.data) {
      if (facts !== undefined) facts.birth[i] = Birth.Data;
      freshId(s, d, i + 1);
      return;
    }
    if (base.k === 'ctx' && layout !== undefined && size === 4 && !sx && insn.off === layout.dataEnd) {
      if (facts !== undefined) facts.birth[i] = Birth.End;
      s.r[d] = { k: 'end' };
      return;
    }
    s.r[d] = !sx && size === 1 ? scalar(0xff) : !sx && size === 2 ? scalar(0xffff) : U;
    return;
  }
  if (cls === 2 || (cls === 3 && (o & 0xe0) === 0x60)) {
    if (facts !== undefined && provenAt(s, d, insn.off, size)) facts.proven[i] = 1;
    return;
  }
  if (cls === 3) {
    // Atomics: never proven; a fetch writes src, cmpxchg writes r0.
    if (insn.imm === 0xf1) s.r[0] = U;
    else if ((insn.imm & 1) !== 0) s.r[insn.src] = U;
    return;
  }
  const x = (o & 8) !== 0;
  const code = o & 0xf0;
  const src: Reg = x ? s.r[insn.src] : insn.imm >= 0 ? scalar(insn.imm) : U;
  const dst = s.r[d];
  if (cls === 4) {
    // ALU32: the result is a 32-bit value, zero-extended; only a few bounded forms are kept.
    if (code === 0xb0 && !x) s.r[d] = insn.imm >= 0 ? scalar(insn.imm) : U;
    else if (code === 0x50 && !x && insn.imm >= 0) s.r[d] = scalar(dst.k === 'sc' ? Math.min(dst.max, insn.imm) : insn.imm);
    else if (code === 0x60 && !x && dst.k === 'sc' && (insn.imm & 31) < 16) s.r[d] = scalar(dst.max * 2 ** (insn.imm & 31));
    else if (code === 0x70 && !x && dst.k === 'sc') s.r[d] = scalar(Math.floor(dst.max / 2 ** (insn.imm & 31)));
    else s.r[d] = U;
    return;
  }
  if (cls !== 7) return;
  switch (code) {
    case 0xb0:
      s.r[d] = x && insn.off !== 0 ? U : src;
      return;
    case 0x00:
      if (dst.k === 'pkt' && src.k === 'sc' && !x) {
        const off = dst.off + src.max;
        s.r[d] = off <= MAX_PACKET_OFF ? { k: 'pkt', id: dst.id, off } : U;
      } else if (dst.k === 'pkt' && src.k === 'sc') {
        if (dst.off + src.max <= MAX_PACKET_OFF) freshId(s, d, i + 1);
        else s.r[d] = U;
      } else if (dst.k === 'sc' && src.k === 'pkt' && x) {
        if (src.off + dst.max <= MAX_PACKET_OFF) freshId(s, d, i + 1);
        else s.r[d] = U;
      } else if (dst.k === 'sc' && src.k === 'sc') s.r[d] = scalar(dst.max + src.max);
      else s.r[d] = U;
      return;
    case 0x50:
      if (!x && insn.imm >= 0) s.r[d] = scalar(dst.k === 'sc' ? Math.min(dst.max, insn.imm) : insn.imm);
      else s.r[d] = dst.k === 'sc' && src.k === 'sc' ? scalar(Math.min(dst.max, src.max)) : U;
      return;
    case 0x60:
      s.r[d] = !x && dst.k === 'sc' && (insn.imm & 63) < 16 ? scalar(dst.max * 2 ** (insn.imm & 63)) : U;
      return;
    case 0x70:
      s.r[d] = !x && dst.k === 'sc' ? scalar(Math.floor(dst.max / 2 ** (insn.imm & 63))) : U;
      return;
    default:
      s.r[d] = U;
  }
}

/**
 * refine returns the state on one edge of a conditional jump at i (`taken` or the fall-through),
 * adding the range a packet-pointer-versus-end compare proves on that edge.
 */
function refine(insn: Insn, taken: boolean, s: State): State {
  const o = insn.opcode;
  // Only the unsigned 64-bit register forms (BPF_JMP | BPF_X), as try_match_pkt_pointers.
  if ((o & 7) !== 5 || (o & 8) === 0) return s;
  const code = o & 0xf0;
  const d = s.r[insn.dst];
  const r = s.r[insn.src];
  let p: Reg | undefined;
  if (d.k === 'pkt' && r.k === 'end') {
    // pkt > end, pkt >= end: the fall-through has pkt <= end; pkt < end, pkt <= end: the taken edge.
    if (((code === 0x20 || code === 0x30) && !taken) || ((code === 0xa0 || code === 0xb0) && taken)) p = d;
  } else if (d.k === 'end' && r.k === 'pkt') {
    // end > pkt, end >= pkt: taken; end < pkt, end <= pkt: the fall-through has end >= pkt.
    if (((code === 0x20 || code === 0x30) && taken) || ((code === 0xa0 || code === 0xb0) && !taken)) p = r;
  }
  if (p === undefined || p.k !== 'pkt') return s;
  const out = clone(s);
  out.range.set(p.id, Math.max(out.range.get(p.id) ?? 0, p.off));
  return out;
}

/**
 * ptrFacts runs the analysis over a function's blocks (blocksFrom(a, 0)) to a fixed point and
 * returns, per instruction, which accesses are proven and which loads are births. `progType`
 * selects the context layout; without a known layout nothing is proven.
 */
export function ptrFacts(insns: readonly Insn[], a: Analysis, blocks: readonly Block[], blockOf: ReadonlyMap<number, number>, progType: number | undefined): PtrFacts {
  const facts: PtrFacts = { proven: new Uint8Array(a.n + 1), birth: new Uint8Array(a.n + 1) };
  const layout = ctxLayout(progType);
  if (layout === undefined || blocks.length === 0) return facts;
  const nb = blocks.length;
  const inState: (State | undefined)[] = new Array(nb).fill(undefined);
  const entry: Reg[] = new Array<Reg>(11).fill(U);
  entry[1] = { k: 'ctx' };
  // r10 is the frame pointer: not a packet pointer, unknown here.
  inState[0] = { r: entry, range: new Map() };
  const work: number[] = [0];
  const queued = new Uint8Array(nb);
  queued[0] = 1;
  const push = (t: number, s: State): void => {
    const j = blockOf.get(t);
    if (j === undefined) return;
    const old = inState[j];
    const next = old === undefined ? clone(s) : meet(old, s, j);
    if (old !== undefined && sameState(old, next)) return;
    inState[j] = next;
    if (queued[j] === 0) {
      queued[j] = 1;
      work.push(j);
    }
  };
  while (work.length > 0) {
    work.sort((x, y) => y - x);
    const bi = work.pop() as number;
    queued[bi] = 0;
    const s = clone(inState[bi] as State);
    const b = blocks[bi];
    for (const i of b.insns) {
      const k = a.kind[i] as Kind;
      if (k === Kind.Cond) {
        push(a.target[i], refine(insns[i], true, s));
        push(i + 1, refine(insns[i], false, s));
      } else if (k === Kind.Ja) push(a.target[i], s);
      else if (k === Kind.Exit || k === Kind.Refused) break;
      else {
        step(insns, i, k, s, layout, undefined);
        if (i === b.insns[b.insns.length - 1]) push(k === Kind.Lddw ? i + 2 : i + 1, s);
      }
    }
  }
  // One final pass with the fixed-point entry states records the facts.
  for (let bi = 0; bi < nb; bi++) {
    const st = inState[bi];
    if (st === undefined) continue;
    const s = clone(st);
    for (const i of blocks[bi].insns) {
      const k = a.kind[i] as Kind;
      if (k === Kind.Cond || k === Kind.Ja || k === Kind.Exit || k === Kind.Refused) break;
      step(insns, i, k, s, layout, facts);
    }
  }
  return facts;
}
