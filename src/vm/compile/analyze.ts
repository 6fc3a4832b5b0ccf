/**
 * analyze — what the compiler needs to know about a program before emitting code: which
 * instructions may not run (and the fault they raise, worded exactly as the interpreter words
 * it), the function entries (instruction 0, bpf-to-bpf call targets, callback addresses loaded
 * by lddw) and, per entry, the reachable instructions split into basic blocks.
 *
 * A "function" here is everything reachable from an entry without following call edges, so
 * code that falls from one subprogram into the next (which the verifier refuses but the
 * interpreter executes) is compiled into both, with the same meaning.
 */
import type { Insn } from '../../isa/insn.js';
import { BPF_CMPXCHG, BPF_FETCH } from '../../isa/opcodes.js';
import { CODE_BASE } from '../program.js';
import { findRefusals, isCondJump, type Refusal } from '../refusal.js';

/** BPF_FUNC_TAIL_CALL is helper id 12, compiled as a tail call. */
export const BPF_FUNC_TAIL_CALL = 12;

/** Refusal comes from the engines' shared refusal rules (vm/refusal.ts). */
export type { Refusal } from '../refusal.js';

/** Kind classifies an executable instruction for the control-flow graph. */
export const Kind = {
  Plain: 0,
  Lddw: 1,
  Ja: 2,
  Cond: 3,
  Helper: 4,
  Callx: 5,
  TailCall: 6,
  LocalCall: 7,
  Exit: 8,
  Refused: 9,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** Analysis is the per-program result. Arrays have n+1 entries; entry n is the fall-off sentinel. */
export interface Analysis {
  readonly n: number;
  readonly kind: Uint8Array;
  /** Jump or call target per instruction (Ja, Cond, LocalCall), else -1. */
  readonly target: Int32Array;
  readonly refusals: ReadonlyMap<number, Refusal>;
  /** Function entries: 0, local call targets, callback addresses (CODE_BASE + 8*insn) in lddw. */
  readonly entries: readonly number[];
  /** True when some instruction writes r10 (refused by the validator, executed by the interpreter). */
  readonly writesR10: boolean;
}

/** writesDst tells whether an executable instruction writes its dst register. */
function writesDst(insn: Insn): boolean {
  const cls = insn.opcode & 7;
  return cls === 4 || cls === 7 || cls === 1 || insn.opcode === 0x18;
}

/** analyze classifies every instruction the way the interpreter's predecode does. */
export function analyze(insns: readonly Insn[], extraEntries: readonly number[] = []): Analysis {
  const n = insns.length;
  const kind = new Uint8Array(n + 1);
  const target = new Int32Array(n + 1).fill(-1);
  const refusals = findRefusals(insns);
  const entries = new Set<number>([0, ...extraEntries]);
  let writesR10 = false;
  kind[n] = Kind.Refused;
  for (let i = 0; i < n; i++) {
    const insn = insns[i];
    const o = insn.opcode;
    if (refusals.has(i)) {
      kind[i] = Kind.Refused;
      continue;
    }
    kind[i] = Kind.Plain;
    if (o === 0x18) {
      kind[i] = Kind.Lddw;
      const lo = insn.imm >>> 0;
      if (insns[i + 1].imm === 0 && lo >= CODE_BASE && (lo - CODE_BASE) % 8 === 0 && (lo - CODE_BASE) / 8 < n) {
        entries.add((lo - CODE_BASE) / 8);
      }
      if (insn.dst === 10) writesR10 = true;
      continue;
    } else if (o === 0x85) {
      if (insn.src === 1) {
        const t = i + insn.imm + 1;
        kind[i] = Kind.LocalCall;
        target[i] = t;
        entries.add(t);
      } else {
        kind[i] = insn.imm === BPF_FUNC_TAIL_CALL ? Kind.TailCall : Kind.Helper;
      }
      continue;
    } else if (o === 0x8d) {
      kind[i] = Kind.Callx;
      continue;
    } else if (o === 0x95) {
      kind[i] = Kind.Exit;
      continue;
    } else if (o === 0x05 || isCondJump(o)) {
      kind[i] = o === 0x05 ? Kind.Ja : Kind.Cond;
      target[i] = i + insn.off + 1;
      continue;
    } else if (o === 0x06) {
      kind[i] = Kind.Ja;
      target[i] = i + insn.imm + 1;
      continue;
    } else if (o === 0xc3 || o === 0xdb) {
      const a = insn.imm;
      if ((a & BPF_FETCH) !== 0 && a !== BPF_CMPXCHG && insn.src === 10) writesR10 = true;
      continue;
    }
    if (insn.dst === 10 && writesDst(insn)) writesR10 = true;
  }
  return { n, kind, target, refusals, entries: [...entries].sort((a, b) => a - b), writesR10 };
}

/** Block is a straight-line run of instructions [start, end) charged to the budget at once. */
export interface Block {
  readonly start: number;
  /** One past the last slot (an lddw's second slot included). */
  readonly end: number;
  /** Instruction indexes executed in order (an lddw counts once). */
  readonly insns: readonly number[];
}

/** successors lists where control goes after instruction i (not following calls). */
function successors(a: Analysis, i: number): number[] {
  switch (a.kind[i]) {
    case Kind.Refused:
    case Kind.Exit:
      return [];
    case Kind.Ja:
      return [a.target[i]];
    case Kind.Cond:
      return [i + 1, a.target[i]];
    case Kind.Lddw:
      return [i + 2];
    default:
      return [i + 1];
  }
}

/** endsBlock tells whether instruction i is the last of its block whatever follows. */
function endsBlock(a: Analysis, i: number): boolean {
  const k = a.kind[i];
  return k !== Kind.Plain && k !== Kind.Lddw;
}

/** blocksFrom splits the instructions reachable from `entry` into blocks in index order. */
export function blocksFrom(a: Analysis, entry: number): Block[] {
  const reach = new Uint8Array(a.n + 1);
  const leader = new Uint8Array(a.n + 1);
  leader[entry] = 1;
  const work = [entry];
  reach[entry] = 1;
  while (work.length > 0) {
    const i = work.pop() as number;
    const k = a.kind[i];
    const succ = successors(a, i);
    for (const s of succ) {
      if (k === Kind.Ja || k === Kind.Cond) leader[s] = 1;
      if (endsBlock(a, i)) leader[s] = 1;
      if (reach[s] === 0) {
        reach[s] = 1;
        work.push(s);
      }
    }
  }
  const blocks: Block[] = [];
  for (let i = 0; i <= a.n; i++) {
    if (reach[i] === 0 || leader[i] === 0) continue;
    const list: number[] = [];
    let j = i;
    for (;;) {
      list.push(j);
      const next = a.kind[j] === Kind.Lddw ? j + 2 : j + 1;
      if (endsBlock(a, j) || next > a.n || leader[next] === 1 || reach[next] === 0) {
        blocks.push({ start: i, end: next, insns: list });
        break;
      }
      j = next;
    }
  }
  return blocks;
}

/** R10_BIT is the frame pointer's bit in a register mask: its high half is always zero. */
const R10_BIT = 1 << 10;

/**
 * hiZeroTransfer returns the set of registers (bit r) whose high half is known to be zero after
 * instruction i of kind `kind`, given the set before it. Conservative: a register drops out of
 * the set whenever the instruction may leave its high half non-zero (an add's carry, a sign
 * extension, a 64-bit load, a call's result).
 */
export function hiZeroTransfer(insns: readonly Insn[], i: number, kind: Kind, mask: number): number {
  // Calls leave r0 and (for the verifier) r1-r5 unknown.
  if (kind === Kind.Helper || kind === Kind.TailCall || kind === Kind.LocalCall || kind === Kind.Callx) return (mask & ~0x3f) | R10_BIT;
  if (kind !== Kind.Plain && kind !== Kind.Lddw) return mask | R10_BIT;
  const insn = insns[i];
  const o = insn.opcode;
  const d = insn.dst;
  const bit = 1 << d;
  const set = (on: boolean): number => (on ? mask | bit : mask & ~bit) | R10_BIT;
  if (kind === Kind.Lddw) return set(insns[i + 1].imm === 0);
  const cls = o & 7;
  const srcHz = (o & 8) !== 0 ? ((mask >> insn.src) & 1) === 1 : insn.imm >= 0;
  const dstHz = ((mask >> d) & 1) === 1;
  switch (cls) {
    case 0:
      return (mask & ~0x3f) | R10_BIT;
    case 1:
      // LDX: 1-, 2- and 4-byte loads zero-extend; BPF_MEMSX sign-extends; 8 bytes: unknown.
      return set(((o >> 3) & 3) !== 3 && (o & 0xe0) !== 0x80);
    case 3: {
      if ((o & 0xe0) !== 0xc0) return mask | R10_BIT;
      // Atomics: a fetch writes the old value into src, cmpxchg into r0.
      const w = insn.imm === BPF_CMPXCHG ? 0 : (insn.imm & BPF_FETCH) !== 0 ? insn.src : -1;
      return w < 0 ? mask | R10_BIT : (mask & ~(1 << w)) | R10_BIT;
    }
    case 4:
      // ALU32 zero-extends, except BPF_TO_LE 64 (no change) and BPF_TO_BE 64 (a full swap).
      if ((o & 0xf0) === 0xd0 && insn.imm === 64) return o === 0xd4 ? mask | R10_BIT : set(false);
      return set(true);
    case 7:
      switch (o & 0xf0) {
        case 0xb0:
          return set((o & 8) !== 0 && insn.off !== 0 ? false : srcHz);
        case 0x50:
          return set(dstHz || srcHz);
        case 0x40:
        case 0xa0:
          return set(dstHz && srcHz);
        case 0x70:
          return set(dstHz || ((o & 8) === 0 && (insn.imm & 63) >= 32));
        case 0xc0:
          return set(dstHz);
        case 0xd0:
          return set(insn.imm !== 64);
        default:
          return set(false);
      }
    default:
      return mask | R10_BIT;
  }
}

/**
 * hiZeroMasks runs hiZeroTransfer over a function's blocks to a fixed point and returns the set
 * known at each block's entry: the meet (intersection) over every predecessor, backward jumps
 * included. The entry block starts with r0 and r6-r9 (the compiled function zeroes them) and r10.
 */
export function hiZeroMasks(insns: readonly Insn[], a: Analysis, blocks: readonly Block[], blockOf: ReadonlyMap<number, number>): Uint16Array {
  const nb = blocks.length;
  const ALL = 0x7ff;
  const masks = new Uint16Array(nb).fill(ALL);
  masks[0] = 0x7c1;
  const preds: number[][] = Array.from({ length: nb }, () => []);
  for (let bi = 0; bi < nb; bi++) {
    const last = blocks[bi].insns[blocks[bi].insns.length - 1];
    const k = a.kind[last];
    const succ: number[] = [];
    if (k === Kind.Ja) succ.push(a.target[last]);
    else if (k === Kind.Cond) succ.push(last + 1, a.target[last]);
    else if (k !== Kind.Exit && k !== Kind.Refused) succ.push(k === Kind.Lddw ? last + 2 : last + 1);
    for (const t of succ) {
      const j = blockOf.get(t);
      if (j !== undefined) preds[j].push(bi);
    }
  }
  const out = new Uint16Array(nb).fill(ALL);
  for (let changed = true; changed; ) {
    changed = false;
    for (let bi = 0; bi < nb; bi++) {
      let m = bi === 0 ? 0x7c1 : ALL;
      for (const p of preds[bi]) m &= out[p];
      if (bi === 0 && preds[0].length > 0) m &= 0x7c1;
      masks[bi] = m | R10_BIT;
      for (const i of blocks[bi].insns) m = hiZeroTransfer(insns, i, a.kind[i] as Kind, m);
      if (m !== out[bi]) {
        out[bi] = m;
        changed = true;
      }
    }
  }
  return masks;
}
