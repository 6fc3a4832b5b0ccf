/**
 * fault — a program fault is a result, not an exception (DESIGN.md; STYLE.md "guest faults are
 * typed results"). Engines return a VmFault when a program misbehaves at run time; the hook then
 * applies the abort verdict and the run goes on with the next packet.
 */
import type { InsnIndex } from '../isa/insn.js';
import type { CtxKind } from './ctx-plan.js';
import { MAX_MEMORY, type Memory, type Region } from './memory.js';
import type { ProgramSpec } from './program.js';

/** FaultCode lists every way a running program can fail. */
export const FaultCode = {
  /** A load or store outside every region or its permissions. */
  MemoryAccess: 'E_MEM_ACCESS',
  /** A pointer register whose upper 32 bits are not zero was dereferenced. */
  BadPointer: 'E_BAD_POINTER',
  /** The per-run instruction budget ran out (a runaway loop). */
  Budget: 'E_INSN_BUDGET',
  /** bpf-to-bpf calls nested deeper than MAX_CALL_FRAMES. */
  CallDepth: 'E_CALL_DEPTH',
  /** A helper refused its arguments the way the verifier would have. */
  HelperArgs: 'E_HELPER_ARGS',
  /** callx/call to a helper id with no implementation. */
  UnknownHelper: 'E_UNKNOWN_HELPER',
  /** Execution reached an instruction the engine cannot execute. */
  BadInsn: 'E_BAD_INSN',
  /** Execution left the program (fell off the end or jumped outside). */
  PcOutOfRange: 'E_PC_RANGE',
} as const;
export type FaultCode = (typeof FaultCode)[keyof typeof FaultCode];

/** VmFault describes one run-time fault: where it happened and what went wrong. */
export interface VmFault {
  readonly code: FaultCode;
  /** Name of the program that was running (after tail calls, the one that faulted). */
  readonly program: string;
  /** Instruction index within that program. */
  readonly insn: InsnIndex;
  /** One-line description: what (mnemonic, access kind/size/address, region) and why. */
  readonly message: string;
  /** For memory faults. */
  readonly access?: { kind: 'read' | 'write'; addr: number; size: number; region?: string };
  /** C source location from BTF line info, when known: "file.c:42:7". */
  source?: string;
}

/**
 * GuestFault carries a VmFault out of a helper implementation to the engine's run boundary.
 * Helpers throw it; engines catch it and return the fault as a result. It never escapes a run.
 */
export class GuestFault extends Error {
  constructor(
    readonly code: FaultCode,
    message: string,
    readonly access?: VmFault['access'],
  ) {
    super(message);
    this.name = 'GuestFault';
  }
}

/** formatFault renders a fault for humans: program, instruction, source line, message. */
export function formatFault(f: VmFault): string {
  const where = f.source !== undefined ? ` (${f.source})` : '';
  return `${f.program}: insn ${f.insn}${where}: ${f.message} [${f.code}]`;
}

/** makeFault builds the VmFault of instruction `pc` of `spec`, with its C source line when known. */
export function makeFault(spec: ProgramSpec, pc: InsnIndex, code: FaultCode, message: string, access?: VmFault['access']): VmFault {
  const source = spec.lineInfo?.get(pc);
  const f: VmFault = { code, program: spec.name, insn: pc, message, access };
  if (source !== undefined) f.source = source;
  return f;
}

/**
 * memoryFault explains a failed load or store of `size` bytes through register `reg` (value
 * hi:lo) plus `offv`: a pointer with upper bits set, an address outside the space, or the
 * region check that refused it. Every engine reports memory faults through this one function,
 * so the same access faults with the same words in all of them. `ctxKind` names the instruction
 * kind when it is not a plain load or STX store (a context region's plan depends on it).
 */
export function memoryFault(
  mem: Memory, spec: ProgramSpec, pc: InsnIndex,
  lo: number, hi: number, reg: number, offv: number, size: number, write: boolean, ctxKind?: CtxKind,
): VmFault {
  const kind = write ? 'write' : 'read';
  if (hi !== 0) {
    const ptr = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    return makeFault(
      spec,
      pc,
      FaultCode.BadPointer,
      `${kind} of ${size} bytes through r${reg} = 0x${ptr.toString(16)} + ${offv}: pointer has nonzero upper 32 bits`,
      { kind, addr: Number(BigInt.asUintN(32, ptr + BigInt(offv))), size },
    );
  }
  const addr = (lo >>> 0) + offv;
  let reason: string;
  let region: Region | undefined;
  if (addr < 0 || addr + size > MAX_MEMORY) {
    reason = 'address is outside the address space';
  } else {
    const c = mem.check(addr, size, write, ctxKind);
    reason = c.ok ? 'access check failed' : c.reason;
    region = c.region;
  }
  const a = addr < 0 ? addr + 0x1_0000_0000 : addr;
  return makeFault(spec, pc, FaultCode.MemoryAccess, `${kind} of ${size} bytes at 0x${a.toString(16)} (r${reg}${offv < 0 ? '' : '+'}${offv}): ${reason}`, {
    kind,
    addr: a,
    size,
    region: region?.name,
  });
}
