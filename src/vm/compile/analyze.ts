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
import { BPF_ADD, BPF_AND, BPF_CMPXCHG, BPF_FETCH, BPF_OR, BPF_XCHG, BPF_XOR } from '../../isa/opcodes.js';
import { FaultCode } from '../fault.js';
import { CODE_BASE } from '../program.js';

/** BPF_FUNC_TAIL_CALL is helper id 12, compiled as a tail call. */
export const BPF_FUNC_TAIL_CALL = 12;

/** Refusal is why an instruction must not run: the fault it raises when reached. */
export interface Refusal {
  readonly code: FaultCode;
  readonly message: string;
}

/** Opcodes that execute as they are (kernel/bpf/core.c BPF_INSN_MAP plus callx, gotol, v4). */
const KNOWN = new Set<number>([
  0x07, 0x17, 0x27, 0x37, 0x47, 0x57, 0x67, 0x77, 0x87, 0x97, 0xa7, 0xb7, 0xc7, 0xd7,
  0x0f, 0x1f, 0x2f, 0x3f, 0x4f, 0x5f, 0x6f, 0x7f, 0x9f, 0xaf, 0xbf, 0xcf,
  0x04, 0x14, 0x24, 0x34, 0x44, 0x54, 0x64, 0x74, 0x84, 0x94, 0xa4, 0xb4, 0xc4, 0xd4,
  0x0c, 0x1c, 0x2c, 0x3c, 0x4c, 0x5c, 0x6c, 0x7c, 0x9c, 0xac, 0xbc, 0xcc, 0xdc,
  0x05, 0x15, 0x25, 0x35, 0x45, 0x55, 0x65, 0x75, 0x85, 0x95, 0xa5, 0xb5, 0xc5, 0xd5,
  0x1d, 0x2d, 0x3d, 0x4d, 0x5d, 0x6d, 0x7d, 0x8d, 0xad, 0xbd, 0xcd, 0xdd,
  0x06, 0x16, 0x26, 0x36, 0x46, 0x56, 0x66, 0x76, 0xa6, 0xb6, 0xc6, 0xd6,
  0x1e, 0x2e, 0x3e, 0x4e, 0x5e, 0x6e, 0x7e, 0xae, 0xbe, 0xce, 0xde,
  0x18, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b,
  0xc3, 0xdb,
]);

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/** isCondJump tells whether an opcode is a conditional jump (JMP or JMP32, not ja/call/exit). */
export function isCondJump(op: number): boolean {
  const cls = op & 7;
  const code = op & 0xf0;
  return (cls === 5 || cls === 6) && code !== 0x00 && code !== 0x80 && code !== 0x90;
}

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
  const refusals = new Map<number, Refusal>();
  const entries = new Set<number>([0, ...extraEntries]);
  let writesR10 = false;
  const refuse = (i: number, code: FaultCode, message: string): void => {
    kind[i] = Kind.Refused;
    refusals.set(i, { code, message });
  };
  refuse(n, FaultCode.PcOutOfRange, `execution fell off the end of the program (${n} instructions)`);
  const inRange = (t: number): boolean => t >= 0 && t < n;
  for (let i = 0; i < n; i++) {
    const insn = insns[i];
    const o = insn.opcode;
    kind[i] = Kind.Plain;
    if (!KNOWN.has(o)) {
      refuse(i, FaultCode.BadInsn, `unknown opcode ${hex(o)}`);
      continue;
    }
    if (insn.dst > 10 || insn.src > 10) {
      refuse(i, FaultCode.BadInsn, `register field out of range (dst r${insn.dst}, src r${insn.src})`);
      continue;
    }
    const cls = o & 7;
    const code = o & 0xf0;
    if ((cls === 7 || cls === 4) && (code === 0x30 || code === 0x90)) {
      if (insn.off !== 0 && insn.off !== 1) refuse(i, FaultCode.BadInsn, `division with offset ${insn.off} (only 0 and 1 are defined)`);
    } else if (o === 0xbf || o === 0xbc) {
      const ok = insn.off === 0 || insn.off === 8 || insn.off === 16 || (o === 0xbf && insn.off === 32);
      if (!ok) refuse(i, FaultCode.BadInsn, `mov with offset ${insn.off} (not a movsx width)`);
    } else if (code === 0xd0 && (cls === 4 || cls === 7)) {
      if (insn.imm !== 16 && insn.imm !== 32 && insn.imm !== 64) refuse(i, FaultCode.BadInsn, `byte swap width ${insn.imm}`);
    } else if (o === 0x18) {
      if (i + 1 >= n) {
        refuse(i, FaultCode.BadInsn, 'lddw in the last slot has no second half');
        continue;
      }
      if (insn.src !== 0) {
        refuse(i, FaultCode.BadInsn, `unresolved pseudo lddw (src ${insn.src}); the loader must resolve it before running`);
      } else {
        kind[i] = Kind.Lddw;
        const lo = insn.imm >>> 0;
        if (insns[i + 1].imm === 0 && lo >= CODE_BASE && (lo - CODE_BASE) % 8 === 0 && (lo - CODE_BASE) / 8 < n) {
          entries.add((lo - CODE_BASE) / 8);
        }
        if (insn.dst === 10) writesR10 = true;
      }
      i++;
      refuse(i, FaultCode.BadInsn, 'second slot of lddw executed (a jump into the middle of lddw)');
      continue;
    } else if (o === 0x85) {
      if (insn.src === 1) {
        const t = i + insn.imm + 1;
        if (!inRange(t)) refuse(i, FaultCode.PcOutOfRange, `local call target ${t} is outside the program`);
        else {
          kind[i] = Kind.LocalCall;
          target[i] = t;
          entries.add(t);
        }
      } else if (insn.src === 0) {
        kind[i] = insn.imm === BPF_FUNC_TAIL_CALL ? Kind.TailCall : Kind.Helper;
      } else {
        refuse(i, FaultCode.BadInsn, `call with src ${insn.src} (kfunc calls are not supported)`);
      }
      continue;
    } else if (o === 0x8d) {
      kind[i] = Kind.Callx;
      continue;
    } else if (o === 0x95) {
      kind[i] = Kind.Exit;
      continue;
    } else if (o === 0x05 || isCondJump(o)) {
      const t = i + insn.off + 1;
      if (!inRange(t)) refuse(i, FaultCode.PcOutOfRange, `jump target ${t} is outside the program`);
      else {
        kind[i] = o === 0x05 ? Kind.Ja : Kind.Cond;
        target[i] = t;
      }
      continue;
    } else if (o === 0x06) {
      const t = i + insn.imm + 1;
      if (!inRange(t)) refuse(i, FaultCode.PcOutOfRange, `jump target ${t} is outside the program`);
      else {
        kind[i] = Kind.Ja;
        target[i] = t;
      }
      continue;
    } else if (o === 0xc3 || o === 0xdb) {
      const a = insn.imm;
      const okOp =
        a === BPF_ADD || a === BPF_OR || a === BPF_AND || a === BPF_XOR ||
        a === (BPF_ADD | BPF_FETCH) || a === (BPF_OR | BPF_FETCH) || a === (BPF_AND | BPF_FETCH) ||
        a === (BPF_XOR | BPF_FETCH) || a === BPF_XCHG || a === BPF_CMPXCHG;
      if (!okOp) refuse(i, FaultCode.BadInsn, `atomic operation ${hex(a)} is not supported`);
      else if ((a & BPF_FETCH) !== 0 && a !== BPF_CMPXCHG && insn.src === 10) writesR10 = true;
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
