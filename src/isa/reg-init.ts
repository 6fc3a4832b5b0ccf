/**
 * reg-init — which registers an instruction may read before anything wrote them.
 *
 * The kernel's verifier refuses a read of a register that holds no value ("R%d !read_ok",
 * check_reg_arg() in kernel/bpf/verifier.c): at program entry only r1 (the context) and r10 (the
 * frame pointer) hold values; a subprogram or callback starts with r1..r5 (its arguments) and r10;
 * after a helper call, a local call, callx or ld_abs/ld_ind, the caller-saved r1..r5 are
 * scratched (mark_reg_not_init) and r0 holds the result. Only the main program's exit reads r0.
 *
 * The kernel walks paths; this is a dataflow pass over the control-flow graph that keeps, per
 * instruction, the registers *some* path has written (union at joins). It refuses a read only
 * when no path from the entry writes the register first, so it never refuses a program the
 * kernel accepts through a path it can reach — only code that reads a register no path
 * initialises (the bpf_conformance suite's negative/error.data: `or %r0, %r10` at entry).
 */
import type { Insn, InsnIndex } from './insn.js';
import { OpcodeKind, opcodeInfo } from './mnemonic.js';
import { BPF_CMPXCHG, BPF_FETCH, BPF_MOV, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_X, OP_JA32, R10 } from './opcodes.js';

/** UninitRead is the first instruction found reading a register no path has written. */
export interface UninitRead {
  readonly insn: InsnIndex;
  readonly reg: number;
}

const bit = (r: number): number => 1 << r;
/** R1_R5 is the mask of the argument / caller-saved registers. */
const R1_R5 = 0b111110;
const FP = bit(R10);

/** regUse is what one instruction reads and writes, as register masks, plus what a call scratches. */
interface RegUse {
  reads: number;
  writes: number;
  /** A call-like instruction: r1..r5 are scratched and r0 is written after it. */
  call: boolean;
}

function regUse(insn: Insn): RegUse {
  const kind = opcodeInfo(insn.opcode)?.kind;
  const isX = (insn.opcode & BPF_X) !== 0;
  const dst = bit(insn.dst);
  const src = bit(insn.src);
  switch (kind) {
    case OpcodeKind.Alu:
      if ((insn.opcode & 0xf0) === BPF_MOV) return { reads: isX ? src : 0, writes: dst, call: false };
      return { reads: dst | (isX ? src : 0), writes: dst, call: false };
    case OpcodeKind.Neg:
    case OpcodeKind.End:
      return { reads: dst, writes: dst, call: false };
    case OpcodeKind.CondJump:
      return { reads: dst | (isX ? src : 0), writes: 0, call: false };
    case OpcodeKind.Call:
      return { reads: 0, writes: 0, call: true };
    case OpcodeKind.Callx:
      return { reads: dst, writes: 0, call: true };
    case OpcodeKind.Exit:
      return { reads: bit(0), writes: 0, call: false };
    case OpcodeKind.Lddw:
      return { reads: 0, writes: dst, call: false };
    case OpcodeKind.LdAbs:
      // ld_abs reads the skb through r6 implicitly (check_ld_abs: "R6 !read_ok").
      return { reads: bit(6), writes: 0, call: true };
    case OpcodeKind.LdInd:
      return { reads: bit(6) | src, writes: 0, call: true };
    case OpcodeKind.Ldx:
      return { reads: src, writes: dst, call: false };
    case OpcodeKind.St:
      return { reads: dst, writes: 0, call: false };
    case OpcodeKind.Stx:
      return { reads: dst | src, writes: 0, call: false };
    case OpcodeKind.Atomic:
    case OpcodeKind.Unsupported:
      if (insn.imm === BPF_CMPXCHG) return { reads: dst | src | bit(0), writes: bit(0), call: false };
      return { reads: dst | src, writes: (insn.imm & BPF_FETCH) !== 0 ? src : 0, call: false };
    default:
      return { reads: 0, writes: 0, call: false };
  }
}

/**
 * findUninitRead returns the lowest-indexed instruction that reads a register no path from its
 * subprogram's entry has written, or undefined. `insns` must already be structurally valid (jump
 * targets inside the program, lddw pairs whole); `entryRegs` are the registers holding values at
 * instruction 0 besides r10 (the kernel: r1).
 */
export function findUninitRead(insns: readonly Insn[], entryRegs: readonly number[] = [1]): UninitRead | undefined {
  const n = insns.length;
  const state = new Uint16Array(n);
  const seen = new Uint8Array(n);
  const work: number[] = [];
  const flow = (t: number, mask: number): void => {
    if (t < 0 || t >= n) return;
    const merged = state[t] | mask;
    if (seen[t] === 1 && merged === state[t]) return;
    seen[t] = 1;
    state[t] = merged;
    work.push(t);
  };
  let entry = FP;
  for (const r of entryRegs) entry |= bit(r);
  flow(0, entry);
  for (let i = work.pop(); i !== undefined; i = work.pop()) {
    const insn = insns[i];
    const kind = opcodeInfo(insn.opcode)?.kind;
    const use = regUse(insn);
    let out = state[i] | use.writes;
    if (use.call) out = (out & ~R1_R5) | bit(0);
    if (kind === OpcodeKind.Exit) continue;
    if (kind === OpcodeKind.Call && insn.src === BPF_PSEUDO_CALL) flow(i + insn.imm + 1, R1_R5 | FP);
    if (kind === OpcodeKind.Lddw) {
      if (insn.src === BPF_PSEUDO_FUNC) flow(i + insn.imm + 1, R1_R5 | FP);
      flow(i + 2, out);
      continue;
    }
    if (kind === OpcodeKind.CondJump) flow(i + insn.off + 1, out);
    if (kind === OpcodeKind.Ja) {
      flow(i + (insn.opcode === OP_JA32 ? insn.imm : insn.off) + 1, out);
      continue;
    }
    flow(i + 1, out);
  }
  // Only the main program's exit reads r0 (check_return_code). A subprogram's exit hands its r0,
  // written or not, back to the caller (prepare_func_exit), which this pass already treats as
  // written after the call.
  let mainEnd = n;
  for (let i = 0; i < n; i++) {
    const insn = insns[i];
    const kind = opcodeInfo(insn.opcode)?.kind;
    const isLocalCall = kind === OpcodeKind.Call && insn.src === BPF_PSEUDO_CALL;
    const isFuncRef = kind === OpcodeKind.Lddw && insn.src === BPF_PSEUDO_FUNC;
    if ((isLocalCall || isFuncRef) && i + insn.imm + 1 > 0) mainEnd = Math.min(mainEnd, i + insn.imm + 1);
    if (kind === OpcodeKind.Lddw) i++;
  }
  for (let i = 0; i < n; i++) {
    if (seen[i] === 0) continue;
    const use = regUse(insns[i]);
    const reads = opcodeInfo(insns[i].opcode)?.kind === OpcodeKind.Exit && i >= mainEnd ? 0 : use.reads;
    const missing = reads & ~state[i];
    if (missing !== 0) return { insn: i, reg: 31 - Math.clz32(missing & -missing) };
  }
  return undefined;
}
