/**
 * validate — the load-time checks of bytecode: everything the kernel refuses before it starts
 * its abstract interpretation, so every engine can assume well-formed instructions.
 *
 * The rules come from kernel/bpf/verifier.c: resolve_pseudo_ldimm64() (unknown opcodes via
 * bpf_opcode_in_insntable(), lddw shape and pseudo forms, LDX reserved fields),
 * add_subprog_and_kfunc() and check_subprogs() (call targets, jumps that leave their subprogram,
 * a subprogram whose last instruction can fall through), check_cfg() (unreachable code),
 * check_alu_op(), check_atomic(), check_reg_arg() (register numbers, the read-only frame pointer)
 * and the per-class reserved-field checks of do_check_insn(); the field layout is RFC 9669.
 *
 * Deliberate differences from the kernel, each because the bpf_conformance suite needs it:
 * - `callx` (0x8d, register in dst) is accepted; the kernel's instruction table has no BPF_X call
 *   ("unknown opcode 8d").
 * - Three kernel checks on values rather than encoding — division/modulo by a zero immediate,
 *   shift immediates outside 0..width-1 (check_alu_op) and unreachable instructions (check_cfg) —
 *   apply only with `strict: true`, like the refusal of callx; the suite's `{arsh,lsh,rsh}*-imm-*`
 *   tests shift by out-of-range immediates and `callx` needs callx (the suite's Linux CI excludes both).
 * - The kernel leaves exit's off unchecked (do_check_insn checks its dst, src and imm only), while
 *   RFC 9669 reserves it and bpf_conformance's negative/unused-exit-offset.data expects a refusal:
 *   `rfc9669: true` adds that check. test/isa/validate.test.ts loads every refused case into the
 *   running kernel and checks that its verifier refuses it with the matching message.
 * What the kernel accepts but xdpsim does not implement (kfunc calls, may_goto, load-acquire /
 * store-release, addr_space_cast) is refused with NotSupportedError naming the feature.
 * Rules that depend on the program type are the loader's: the kernel refuses ld_abs/ld_ind in XDP
 * programs (may_access_skb), which this module accepts because TC programs may use them.
 */
import { NotSupportedError, VerifyError, type ErrorFields } from '../errors.js';
import type { Insn, InsnIndex } from './insn.js';
import { disasmInsn, UNKNOWN } from './disasm.js';
import { atomicOpName, mnemonic, OpcodeKind, opcodeInfo } from './mnemonic.js';
import { findUninitRead } from './reg-init.js';
import {
  BPF_ALU64,
  BPF_ARSH,
  BPF_CMPXCHG,
  BPF_DIV,
  BPF_DW,
  BPF_FETCH,
  BPF_JMP32,
  BPF_LSH,
  BPF_MOD,
  BPF_MOV,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE,
  BPF_RSH,
  BPF_W,
  BPF_X,
  OP_EXIT,
  OP_JA,
  OP_JA32,
  R10,
} from './opcodes.js';

/** VerifyCode lists the stable codes of the VerifyErrors validateProgram throws. */
export const VerifyCode = {
  EmptyProgram: 'E_EMPTY_PROGRAM',
  ProgramTooLarge: 'E_PROGRAM_TOO_LARGE',
  UnknownOpcode: 'E_UNKNOWN_OPCODE',
  /** A field the instruction does not use is not zero (fields: field, got). */
  ReservedField: 'E_RESERVED_FIELD',
  /** A register field used by the instruction names a register above r10 (fields: field, got). */
  BadRegister: 'E_BAD_REGISTER',
  /** The instruction writes r10, the read-only frame pointer. */
  FramePointerWrite: 'E_R10_WRITE',
  /** le/be/bswap with a width other than 16, 32, 64. */
  BadSwapWidth: 'E_BAD_SWAP_WIDTH',
  /** Atomic with an imm that is not a known read-modify-write operation. */
  BadAtomicOp: 'E_BAD_ATOMIC_OP',
  /** Read-modify-write atomic on an 8- or 16-bit operand. */
  BadAtomicSize: 'E_BAD_ATOMIC_SIZE',
  /** lddw in the last slot, with no second slot. */
  LddwTruncated: 'E_LDDW_TRUNCATED',
  /** lddw second slot with a nonzero opcode, register or offset. */
  LddwBadSecondSlot: 'E_LDDW_BAD_SECOND_SLOT',
  /** lddw with a pseudo src outside 0..6, or a map fd/index form with a nonzero high word. */
  LddwBadPseudo: 'E_LDDW_BAD_PSEUDO',
  /** Jump, local call or function reference whose target is outside the program (fields: target). */
  JumpOutOfRange: 'E_JUMP_OUT_OF_RANGE',
  /** Jump or call whose target is the second slot of an lddw (fields: target). */
  JumpIntoLddw: 'E_JUMP_INTO_LDDW',
  /** Jump from one subprogram into another (fields: target). */
  JumpOutOfSubprog: 'E_JUMP_OUT_OF_SUBPROG',
  /** The last instruction of a subprogram is neither exit nor an unconditional jump. */
  FallsOffEnd: 'E_FALLS_OFF_END',
  /** Call to a helper id the caller's helper table does not have (fields: helper). */
  UnknownHelper: 'E_UNKNOWN_HELPER',
  /** strict only: div/mod by immediate 0. */
  DivByZeroImm: 'E_DIV_BY_ZERO_IMM',
  /** strict only: shift by an immediate outside 0..width-1. */
  ShiftOutOfRange: 'E_SHIFT_OUT_OF_RANGE',
  /** strict only: an instruction no path from the entry reaches. */
  Unreachable: 'E_UNREACHABLE',
  /** A register is read that no path from the entry has written (fields: reg). */
  UninitRegister: 'E_UNINIT_REGISTER',
} as const;
/** VerifyCode is the type of one stable verify error code. */
export type VerifyCode = (typeof VerifyCode)[keyof typeof VerifyCode];

/** NOT_SUPPORTED_CODE is the code of the NotSupportedError validateProgram throws. */
export const NOT_SUPPORTED_CODE = 'E_NOT_SUPPORTED';

/** BPF_COMPLEXITY_LIMIT_INSNS (include/linux/bpf.h): the most instructions a privileged load accepts. */
export const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;

/** ValidateOptions tunes validateProgram. */
export interface ValidateOptions {
  /** knownHelper says whether a helper id exists; when absent, helper ids are not checked. */
  knownHelper?: (id: number) => boolean;
  /** name of the program, used in messages and in the `program` field. */
  name?: string;
  /** strict adds the kernel checks the conformance suite violates on purpose (see module comment). */
  strict?: boolean;
  /** rfc9669 also refuses the reserved fields RFC 9669 defines and the kernel ignores (exit's off). */
  rfc9669?: boolean;
  /**
   * entryRegs are the registers holding a value at instruction 0 besides r10: the kernel passes
   * the context in r1 (the default); the bpf_conformance suite passes r1 = memory and r2 = length.
   */
  entryRegs?: readonly number[];
  /**
   * regInit also refuses a read of a register no path from the entry has written (the kernel's
   * "R%d !read_ok", see reg-init.ts). Off by default because it is a dataflow check, not an
   * encoding one: the tables of single instructions in the tests read registers they never set.
   */
  regInit?: boolean;
}

/** BPF_LOAD_ACQ and BPF_STORE_REL (include/uapi/linux/bpf.h, kernel 6.15+): atomic imm values. */
const BPF_LOAD_ACQ = 0x100;
const BPF_STORE_REL = 0x110;
/** BPF_ADDR_SPACE_CAST: the off of an ALU64 MOV X that casts between address spaces (arena). */
const BPF_ADDR_SPACE_CAST = 1;

class Checker {
  private readonly where: string;

  constructor(
    private readonly insns: readonly Insn[],
    private readonly opts: ValidateOptions,
  ) {
    this.where = opts.name === undefined ? '' : `program ${opts.name}: `;
  }

  fail(code: VerifyCode, i: InsnIndex, why: string, extra: ErrorFields = {}): never {
    const m = mnemonic(this.insns[i]);
    throw new VerifyError(code, `${this.where}instruction ${i} (${this.describe(i)}): ${why}`, {
      program: this.opts.name,
      insn: i,
      mnemonic: m,
      ...extra,
    });
  }

  /** describe names an instruction for a message: its mnemonic, and its llvm-objdump text when it has one. */
  describe(i: InsnIndex): string {
    const m = mnemonic(this.insns[i]);
    const text = disasmInsn(this.insns, i);
    return text === UNKNOWN ? m : `${m}: ${text}`;
  }

  unsupported(i: InsnIndex, feature: string): never {
    const m = mnemonic(this.insns[i]);
    throw new NotSupportedError(NOT_SUPPORTED_CODE, `${this.where}instruction ${i} (${this.describe(i)}): ${feature} is not supported`, {
      program: this.opts.name,
      insn: i,
      mnemonic: m,
      feature,
    });
  }

  /** zero requires an unused field to be zero (the kernel's "uses reserved fields"). */
  zero(i: InsnIndex, field: 'dst' | 'src' | 'off' | 'imm'): void {
    const got = this.insns[i][field];
    if (got !== 0) this.fail(VerifyCode.ReservedField, i, `reserved field ${field} must be 0, got ${got}`, { field, got });
  }

  /** reg requires a used register field to name r0..r10 (check_reg_arg: "R%d is invalid"). */
  reg(i: InsnIndex, field: 'dst' | 'src'): void {
    const got = this.insns[i][field];
    if (got > R10) this.fail(VerifyCode.BadRegister, i, `${field} register r${got} does not exist (r0..r10)`, { field, got });
  }

  /** writes requires a register the instruction writes not to be r10 ("frame pointer is read only"). */
  writes(i: InsnIndex, field: 'dst' | 'src'): void {
    this.reg(i, field);
    if (this.insns[i][field] === R10) this.fail(VerifyCode.FramePointerWrite, i, `writes r10, the read-only frame pointer`, { field });
  }

  checkAlu(i: InsnIndex, insn: Insn): void {
    const op = insn.opcode & 0xf0;
    const isX = (insn.opcode & BPF_X) !== 0;
    const is64 = (insn.opcode & 0x07) === BPF_ALU64;
    if (op === BPF_MOV) {
      if (isX) {
        if (is64 && insn.off === BPF_ADDR_SPACE_CAST && (insn.imm === 1 || insn.imm === 0x10000)) this.unsupported(i, 'addr_space_cast (arena)');
        const offs = is64 ? [0, 8, 16, 32] : [0, 8, 16];
        if (!offs.includes(insn.off)) {
          this.fail(VerifyCode.ReservedField, i, `off must be one of ${offs.join('/')} in a register mov, got ${insn.off}`, {
            field: 'off',
            got: insn.off,
          });
        }
        this.zero(i, 'imm');
        this.reg(i, 'src');
      } else {
        this.zero(i, 'src');
        this.zero(i, 'off');
      }
    } else {
      // off=1 selects sdiv/smod and is reserved for every other operation.
      if (insn.off !== 0 && !(insn.off === 1 && (op === BPF_DIV || op === BPF_MOD))) this.zero(i, 'off');
      if (isX) {
        this.zero(i, 'imm');
        this.reg(i, 'src');
      } else {
        this.zero(i, 'src');
        if (this.opts.strict === true) {
          if ((op === BPF_DIV || op === BPF_MOD) && insn.imm === 0) {
            this.fail(VerifyCode.DivByZeroImm, i, 'division by immediate zero');
          }
          const width = is64 ? 64 : 32;
          if ((op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH) && (insn.imm < 0 || insn.imm >= width)) {
            this.fail(VerifyCode.ShiftOutOfRange, i, `shift by ${insn.imm} is outside 0..${width - 1}`, { got: insn.imm });
          }
        }
      }
    }
    this.writes(i, 'dst');
  }

  checkAtomic(i: InsnIndex, insn: Insn): void {
    if (insn.imm === BPF_LOAD_ACQ || insn.imm === BPF_STORE_REL) this.unsupported(i, 'load-acquire/store-release');
    if (atomicOpName(insn.imm) === undefined) {
      this.fail(VerifyCode.BadAtomicOp, i, `atomic operation 0x${(insn.imm >>> 0).toString(16)} is not defined`, {
        got: insn.imm,
      });
    }
    const size = insn.opcode & 0x18;
    if (size !== BPF_W && size !== BPF_DW) this.fail(VerifyCode.BadAtomicSize, i, 'atomic read-modify-write needs a 32- or 64-bit operand');
    this.reg(i, 'dst');
    if ((insn.imm & BPF_FETCH) !== 0 && insn.imm !== BPF_CMPXCHG) this.writes(i, 'src');
    else this.reg(i, 'src');
  }

  /** checkSlot applies the per-instruction rules; returns the number of slots the instruction uses. */
  checkSlot(i: InsnIndex): 1 | 2 {
    const insn = this.insns[i];
    const info = opcodeInfo(insn.opcode);
    if (info === undefined) {
      this.fail(VerifyCode.UnknownOpcode, i, `unknown opcode 0x${insn.opcode.toString(16).padStart(2, '0')}`, {
        got: insn.opcode,
      });
    }
    switch (info.kind) {
      case OpcodeKind.Alu:
        this.checkAlu(i, insn);
        return 1;
      case OpcodeKind.Neg:
        this.zero(i, 'src');
        this.zero(i, 'off');
        this.zero(i, 'imm');
        this.writes(i, 'dst');
        return 1;
      case OpcodeKind.End:
        this.zero(i, 'src');
        this.zero(i, 'off');
        if (insn.imm !== 16 && insn.imm !== 32 && insn.imm !== 64) {
          this.fail(VerifyCode.BadSwapWidth, i, `byte swap width must be 16, 32 or 64, got ${insn.imm}`, { got: insn.imm });
        }
        this.writes(i, 'dst');
        return 1;
      case OpcodeKind.CondJump:
        if ((insn.opcode & BPF_X) !== 0) {
          this.zero(i, 'imm');
          this.reg(i, 'src');
        } else {
          this.zero(i, 'src');
        }
        this.reg(i, 'dst');
        return 1;
      case OpcodeKind.Ja:
        this.zero(i, 'dst');
        this.zero(i, 'src');
        this.zero(i, (insn.opcode & 0x07) === BPF_JMP32 ? 'off' : 'imm');
        return 1;
      case OpcodeKind.Call:
        this.zero(i, 'dst');
        if (insn.src !== 0 && insn.src !== BPF_PSEUDO_CALL && insn.src !== BPF_PSEUDO_KFUNC_CALL) this.zero(i, 'src');
        if (insn.src === BPF_PSEUDO_KFUNC_CALL) this.unsupported(i, 'kfunc call');
        this.zero(i, 'off');
        if (insn.src === 0 && this.opts.knownHelper !== undefined && !this.opts.knownHelper(insn.imm)) {
          this.fail(VerifyCode.UnknownHelper, i, `call to unknown helper ${insn.imm}`, { helper: insn.imm });
        }
        return 1;
      case OpcodeKind.Callx:
        if (this.opts.strict === true) this.fail(VerifyCode.UnknownOpcode, i, 'callx (0x8d) is not in the kernel instruction set');
        this.zero(i, 'src');
        this.zero(i, 'off');
        this.zero(i, 'imm');
        this.reg(i, 'dst');
        return 1;
      case OpcodeKind.Exit:
        this.zero(i, 'dst');
        this.zero(i, 'src');
        if (this.opts.rfc9669 === true) this.zero(i, 'off');
        this.zero(i, 'imm');
        return 1;
      case OpcodeKind.Lddw:
        return this.checkLddw(i, insn);
      case OpcodeKind.LdAbs:
        this.zero(i, 'dst');
        this.zero(i, 'src');
        this.zero(i, 'off');
        return 1;
      case OpcodeKind.LdInd:
        this.zero(i, 'dst');
        this.zero(i, 'off');
        this.reg(i, 'src');
        return 1;
      case OpcodeKind.Ldx:
        this.zero(i, 'imm');
        this.reg(i, 'src');
        this.writes(i, 'dst');
        return 1;
      case OpcodeKind.St:
        this.zero(i, 'src');
        this.reg(i, 'dst');
        return 1;
      case OpcodeKind.Stx:
        this.zero(i, 'imm');
        this.reg(i, 'src');
        this.reg(i, 'dst');
        return 1;
      case OpcodeKind.Atomic:
        this.checkAtomic(i, insn);
        return 1;
      case OpcodeKind.Unsupported:
        if (info.name === 'may_goto') this.unsupported(i, 'may_goto');
        this.checkAtomic(i, insn);
        return 1;
    }
  }

  checkLddw(i: InsnIndex, insn: Insn): 2 {
    if (i + 1 >= this.insns.length) this.fail(VerifyCode.LddwTruncated, i, 'lddw in the last slot has no second half');
    const hi = this.insns[i + 1];
    if (hi.opcode !== 0 || hi.dst !== 0 || hi.src !== 0 || hi.off !== 0) {
      this.fail(VerifyCode.LddwBadSecondSlot, i, 'second slot of lddw must have opcode, registers and off 0', {
        got: hi.opcode,
      });
    }
    this.zero(i, 'off');
    if (insn.src > BPF_PSEUDO_MAP_IDX_VALUE) {
      this.fail(VerifyCode.LddwBadPseudo, i, `lddw pseudo source ${insn.src} is not defined (0..6)`, { got: insn.src });
    }
    if ((insn.src === BPF_PSEUDO_MAP_FD || insn.src === BPF_PSEUDO_MAP_IDX) && hi.imm !== 0) {
      this.fail(VerifyCode.LddwBadPseudo, i, `lddw of a map by fd/index needs a zero high word, got ${hi.imm}`, {
        got: hi.imm,
      });
    }
    this.writes(i, 'dst');
    return 2;
  }

  /** target checks one control transfer and returns its target index. */
  target(i: InsnIndex, target: number, isTail: Uint8Array): number {
    if (target < 0 || target >= this.insns.length) {
      this.fail(VerifyCode.JumpOutOfRange, i, `target ${target} is outside the program (0..${this.insns.length - 1})`, {
        target,
      });
    }
    if (isTail[target] === 1) this.fail(VerifyCode.JumpIntoLddw, i, `target ${target} is the second slot of an lddw`, { target });
    return target;
  }

  run(): void {
    const n = this.insns.length;
    if (n === 0) throw new VerifyError(VerifyCode.EmptyProgram, `${this.where}program has no instructions`, { program: this.opts.name });
    if (n > BPF_COMPLEXITY_LIMIT_INSNS) {
      throw new VerifyError(VerifyCode.ProgramTooLarge, `${this.where}program has ${n} instructions, the limit is ${BPF_COMPLEXITY_LIMIT_INSNS}`, {
        program: this.opts.name,
        got: n,
      });
    }
    // Pass 1: each instruction on its own; remember which slots are lddw second halves.
    const isTail = new Uint8Array(n);
    for (let i = 0; i < n; ) {
      const slots = this.checkSlot(i);
      if (slots === 2) isTail[i + 1] = 1;
      i += slots;
    }
    // Pass 2: subprogram starts (check_subprogs): entry, local call targets, function references.
    const starts = new Set<number>([0]);
    for (let i = 0; i < n; i++) {
      if (isTail[i] === 1) continue;
      const insn = this.insns[i];
      const info = opcodeInfo(insn.opcode);
      if (info?.kind === OpcodeKind.Call && insn.src === BPF_PSEUDO_CALL) starts.add(this.target(i, i + insn.imm + 1, isTail));
      if (info?.kind === OpcodeKind.Lddw && insn.src === BPF_PSEUDO_FUNC) starts.add(this.target(i, i + insn.imm + 1, isTail));
    }
    const sorted = [...starts].sort((a, b) => a - b);
    const subprogOf = new Int32Array(n);
    for (let s = 0; s < sorted.length; s++) {
      const end = s + 1 < sorted.length ? sorted[s + 1] : n;
      subprogOf.fill(s, sorted[s], end);
    }
    // Pass 3: jumps stay inside their subprogram; each subprogram ends with exit or ja.
    for (let i = 0; i < n; i++) {
      if (isTail[i] === 1) continue;
      const t = jumpTarget(this.insns[i], i);
      if (t === undefined) continue;
      this.target(i, t, isTail);
      if (subprogOf[t] !== subprogOf[i]) {
        this.fail(VerifyCode.JumpOutOfSubprog, i, `jump to ${t} leaves the subprogram starting at ${sorted[subprogOf[i]]}`, {
          target: t,
        });
      }
    }
    for (let s = 0; s < sorted.length; s++) {
      const last = (s + 1 < sorted.length ? sorted[s + 1] : n) - 1;
      const op = this.insns[last].opcode;
      if (isTail[last] === 1 || (op !== OP_EXIT && op !== OP_JA && op !== OP_JA32)) {
        const at = isTail[last] === 1 ? last - 1 : last;
        this.fail(VerifyCode.FallsOffEnd, at, `last instruction of the subprogram starting at ${sorted[s]} is not exit or ja`);
      }
    }
    if (this.opts.strict === true) this.checkReachable(isTail);
    const uninit = this.opts.regInit === true ? findUninitRead(this.insns, this.opts.entryRegs) : undefined;
    if (uninit !== undefined) {
      this.fail(VerifyCode.UninitRegister, uninit.insn, `reads r${uninit.reg}, which no path from the entry has written (the kernel: "R${uninit.reg} !read_ok")`, {
        reg: uninit.reg,
      });
    }
  }

  /** checkReachable refuses instructions no path from the entry reaches (check_cfg: "unreachable insn"). */
  checkReachable(isTail: Uint8Array): void {
    const n = this.insns.length;
    const seen = new Uint8Array(n);
    const stack: number[] = [0];
    seen[0] = 1;
    const push = (t: number): void => {
      if (t < n && seen[t] === 0) {
        seen[t] = 1;
        stack.push(t);
      }
    };
    for (let i = stack.pop(); i !== undefined; i = stack.pop()) {
      const insn = this.insns[i];
      const kind = opcodeInfo(insn.opcode)?.kind;
      if (kind === OpcodeKind.Exit) continue;
      if (kind === OpcodeKind.Lddw) {
        if (insn.src === BPF_PSEUDO_FUNC) push(i + insn.imm + 1);
        push(i + 2);
        continue;
      }
      if (kind === OpcodeKind.Call && insn.src === BPF_PSEUDO_CALL) push(i + insn.imm + 1);
      const t = jumpTarget(insn, i);
      if (t !== undefined) push(t);
      if (kind !== OpcodeKind.Ja) push(i + 1);
    }
    for (let i = 0; i < n; i++) {
      if (seen[i] === 0 && isTail[i] === 0) this.fail(VerifyCode.Unreachable, i, 'no path from the entry reaches this instruction');
    }
  }
}

/** jumpTarget returns the target slot of a jump (ja, ja32/gotol, conditional), or undefined. */
export function jumpTarget(insn: Insn, index: InsnIndex): InsnIndex | undefined {
  const kind = opcodeInfo(insn.opcode)?.kind;
  if (kind === OpcodeKind.CondJump) return index + insn.off + 1;
  if (kind === OpcodeKind.Ja) return index + (insn.opcode === OP_JA32 ? insn.imm : insn.off) + 1;
  return undefined;
}

/**
 * validateProgram throws a VerifyError (code from VerifyCode; fields program, insn, mnemonic and
 * the offending field/target) for bytecode the kernel refuses at load, and a NotSupportedError for
 * valid bytecode xdpsim does not implement. It returns normally for a well-formed program.
 */
export function validateProgram(insns: readonly Insn[], opts: ValidateOptions = {}): void {
  new Checker(insns, opts).run();
}
