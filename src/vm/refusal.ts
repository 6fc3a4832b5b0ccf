/**
 * refusal — which instructions of a program must not run, and the fault each raises when it is
 * reached. Both engines take this one answer, so an instruction the interpreter refuses is the
 * instruction the compiled engine refuses, with the same words. Programs normally pass
 * isa/validate.ts first; these are the run-time backstops for bytecode that did not.
 */
import type { Insn } from '../isa/insn.js';
import { BPF_ADD, BPF_AND, BPF_CMPXCHG, BPF_FETCH, BPF_OR, BPF_XCHG, BPF_XOR } from '../isa/opcodes.js';
import { FaultCode } from './fault.js';

/** Refusal is why an instruction must not run: the fault it raises when reached. */
export interface Refusal {
  readonly code: FaultCode;
  readonly message: string;
}

/** KNOWN_OPCODES execute as they are (kernel/bpf/core.c BPF_INSN_MAP plus callx, gotol, v4). */
export const KNOWN_OPCODES: ReadonlySet<number> = new Set<number>([
  // ALU64 K / X
  0x07, 0x17, 0x27, 0x37, 0x47, 0x57, 0x67, 0x77, 0x87, 0x97, 0xa7, 0xb7, 0xc7, 0xd7,
  0x0f, 0x1f, 0x2f, 0x3f, 0x4f, 0x5f, 0x6f, 0x7f, 0x9f, 0xaf, 0xbf, 0xcf,
  // ALU K / X
  0x04, 0x14, 0x24, 0x34, 0x44, 0x54, 0x64, 0x74, 0x84, 0x94, 0xa4, 0xb4, 0xc4, 0xd4,
  0x0c, 0x1c, 0x2c, 0x3c, 0x4c, 0x5c, 0x6c, 0x7c, 0x9c, 0xac, 0xbc, 0xcc, 0xdc,
  // JMP K / X
  0x05, 0x15, 0x25, 0x35, 0x45, 0x55, 0x65, 0x75, 0x85, 0x95, 0xa5, 0xb5, 0xc5, 0xd5,
  0x1d, 0x2d, 0x3d, 0x4d, 0x5d, 0x6d, 0x7d, 0x8d, 0xad, 0xbd, 0xcd, 0xdd,
  // JMP32 K / X
  0x06, 0x16, 0x26, 0x36, 0x46, 0x56, 0x66, 0x76, 0xa6, 0xb6, 0xc6, 0xd6,
  0x1e, 0x2e, 0x3e, 0x4e, 0x5e, 0x6e, 0x7e, 0xae, 0xbe, 0xce, 0xde,
  // LD, LDX, LDX MEMSX, ST, STX, atomics
  0x18, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b,
  0xc3, 0xdb,
]);

/** isCondJump tells whether an opcode is a conditional jump (JMP or JMP32, not ja/call/exit). */
export function isCondJump(op: number): boolean {
  const cls = op & 7;
  const code = op & 0xf0;
  return (cls === 5 || cls === 6) && code !== 0x00 && code !== 0x80 && code !== 0x90;
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/**
 * findRefusals maps every slot that must not run to its fault, plus slot n (falling off the end).
 * The second slot of an lddw is refused (a jump into the middle of lddw).
 */
export function findRefusals(insns: readonly Insn[]): Map<number, Refusal> {
  const n = insns.length;
  const refusals = new Map<number, Refusal>();
  const refuse = (i: number, code: FaultCode, message: string): void => {
    refusals.set(i, { code, message });
  };
  refuse(n, FaultCode.PcOutOfRange, `execution fell off the end of the program (${n} instructions)`);
  const inRange = (t: number): boolean => t >= 0 && t < n;
  for (let i = 0; i < n; i++) {
    const insn = insns[i];
    const o = insn.opcode;
    if (!KNOWN_OPCODES.has(o)) {
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
      }
      i++;
      refuse(i, FaultCode.BadInsn, 'second slot of lddw executed (a jump into the middle of lddw)');
    } else if (o === 0x85) {
      if (insn.src === 1) {
        if (!inRange(i + insn.imm + 1)) refuse(i, FaultCode.PcOutOfRange, `local call target ${i + insn.imm + 1} is outside the program`);
      } else if (insn.src !== 0) {
        refuse(i, FaultCode.BadInsn, `call with src ${insn.src} (kfunc calls are not supported)`);
      }
    } else if (o === 0x05 || isCondJump(o)) {
      if (!inRange(i + insn.off + 1)) refuse(i, FaultCode.PcOutOfRange, `jump target ${i + insn.off + 1} is outside the program`);
    } else if (o === 0x06) {
      if (!inRange(i + insn.imm + 1)) refuse(i, FaultCode.PcOutOfRange, `jump target ${i + insn.imm + 1} is outside the program`);
    } else if (o === 0xc3 || o === 0xdb) {
      const a = insn.imm;
      const okOp =
        a === BPF_ADD || a === BPF_OR || a === BPF_AND || a === BPF_XOR ||
        a === (BPF_ADD | BPF_FETCH) || a === (BPF_OR | BPF_FETCH) || a === (BPF_AND | BPF_FETCH) ||
        a === (BPF_XOR | BPF_FETCH) || a === BPF_XCHG || a === BPF_CMPXCHG;
      if (!okOp) refuse(i, FaultCode.BadInsn, `atomic operation ${hex(a)} is not supported`);
    }
  }
  return refusals;
}
