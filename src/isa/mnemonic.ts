/**
 * mnemonic — the table of opcodes the kernel knows, and short names for instructions.
 *
 * `OPCODE_TABLE` is the equivalent of the kernel's BPF_INSN_MAP (kernel/bpf/core.c), which
 * `bpf_opcode_in_insntable()` consults in resolve_pseudo_ldimm64() (kernel/bpf/verifier.c) to refuse
 * unknown opcodes, plus `callx` (0x8d), which the kernel does not accept but the bpf_conformance
 * suite does (group "callx"). Names follow the bpf_conformance assembler dialect
 * (shared/conformance/FORMAT.md §3) because that is the text tests are written in; `mnemonic()`
 * refines them with the fields that change the operation (sdiv/smod, movsx, le/be/bswap width,
 * atomic op, local call).
 */
import type { Insn } from './insn.js';
import {
  BPF_ABS,
  BPF_ADD,
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
  BPF_ARSH,
  BPF_ATOMIC,
  BPF_B,
  BPF_CALL,
  BPF_CMPXCHG,
  BPF_DIV,
  BPF_DW,
  BPF_END,
  BPF_EXIT,
  BPF_FETCH,
  BPF_H,
  BPF_IMM,
  BPF_IND,
  BPF_JA,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JLE,
  BPF_JLT,
  BPF_JMP,
  BPF_JMP32,
  BPF_JNE,
  BPF_JSET,
  BPF_JSGE,
  BPF_JSGT,
  BPF_JSLE,
  BPF_JSLT,
  BPF_K,
  BPF_LD,
  BPF_LDX,
  BPF_LSH,
  BPF_MEM,
  BPF_MEMSX,
  BPF_MOD,
  BPF_MOV,
  BPF_MUL,
  BPF_NEG,
  BPF_OR,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_RSH,
  BPF_ST,
  BPF_STX,
  BPF_SUB,
  BPF_TO_BE,
  BPF_TO_LE,
  BPF_W,
  BPF_X,
  BPF_XCHG,
  BPF_XOR,
} from './opcodes.js';

/** OpcodeKind groups opcodes by the fields they use, which is what validation and printing need. */
export const OpcodeKind = {
  /** ALU/ALU64 binary operation, immediate or register source. */
  Alu: 'alu',
  /** neg (ALU/ALU64, K only). */
  Neg: 'neg',
  /** Byte swap: le/be (ALU class) or bswap (ALU64 class). */
  End: 'end',
  /** Conditional jump (JMP/JMP32), immediate or register source. */
  CondJump: 'cond-jump',
  /** ja (offset in off) or ja32/gotol (offset in imm). */
  Ja: 'ja',
  /** call by helper id, local call (src=1) or kfunc (src=2). */
  Call: 'call',
  /** callx: call the helper whose id is in the dst register (bpf_conformance only). */
  Callx: 'callx',
  Exit: 'exit',
  /** lddw, two slots. */
  Lddw: 'lddw',
  /** Legacy packet loads ld_abs / ld_ind. */
  LdAbs: 'ld-abs',
  LdInd: 'ld-ind',
  /** LDX MEM and MEMSX. */
  Ldx: 'ldx',
  /** ST MEM (store immediate). */
  St: 'st',
  /** STX MEM (store register). */
  Stx: 'stx',
  /** STX ATOMIC W/DW read-modify-write. */
  Atomic: 'atomic',
  /** Opcodes the kernel 6.18 knows but xdpsim does not implement (may_goto, load-acquire/store-release on B/H). */
  Unsupported: 'unsupported',
} as const;
/** OpcodeKind is the value type of the OpcodeKind table. */
export type OpcodeKind = (typeof OpcodeKind)[keyof typeof OpcodeKind];

/** OpcodeInfo describes one legal opcode byte. */
export interface OpcodeInfo {
  readonly opcode: number;
  /** Base mnemonic in the bpf_conformance dialect ("add32", "jeq", "ldxw", "lock32" ...). */
  readonly name: string;
  readonly kind: OpcodeKind;
}

const ALU_OPS: ReadonlyArray<readonly [number, string]> = [
  [BPF_ADD, 'add'],
  [BPF_SUB, 'sub'],
  [BPF_MUL, 'mul'],
  [BPF_DIV, 'div'],
  [BPF_OR, 'or'],
  [BPF_AND, 'and'],
  [BPF_LSH, 'lsh'],
  [BPF_RSH, 'rsh'],
  [BPF_MOD, 'mod'],
  [BPF_XOR, 'xor'],
  [BPF_MOV, 'mov'],
  [BPF_ARSH, 'arsh'],
];

const JMP_OPS: ReadonlyArray<readonly [number, string]> = [
  [BPF_JEQ, 'jeq'],
  [BPF_JGT, 'jgt'],
  [BPF_JGE, 'jge'],
  [BPF_JSET, 'jset'],
  [BPF_JNE, 'jne'],
  [BPF_JSGT, 'jsgt'],
  [BPF_JSGE, 'jsge'],
  [BPF_JLT, 'jlt'],
  [BPF_JLE, 'jle'],
  [BPF_JSLT, 'jslt'],
  [BPF_JSLE, 'jsle'],
];

const SIZE_SUFFIX: ReadonlyArray<readonly [number, string]> = [
  [BPF_B, 'b'],
  [BPF_H, 'h'],
  [BPF_W, 'w'],
  [BPF_DW, 'dw'],
];

function buildTable(): ReadonlyMap<number, OpcodeInfo> {
  const t = new Map<number, OpcodeInfo>();
  const add = (opcode: number, name: string, kind: OpcodeKind): void => {
    if (t.has(opcode)) throw new Error(`opcode table: duplicate 0x${opcode.toString(16)}`);
    t.set(opcode, { opcode, name, kind });
  };
  for (const [cls, suffix] of [
    [BPF_ALU64, ''],
    [BPF_ALU, '32'],
  ] as const) {
    for (const [op, name] of ALU_OPS) {
      add(cls | op | BPF_K, name + suffix, OpcodeKind.Alu);
      add(cls | op | BPF_X, name + suffix, OpcodeKind.Alu);
    }
    add(cls | BPF_NEG | BPF_K, 'neg' + suffix, OpcodeKind.Neg);
  }
  add(BPF_ALU | BPF_END | BPF_TO_LE, 'le', OpcodeKind.End);
  add(BPF_ALU | BPF_END | BPF_TO_BE, 'be', OpcodeKind.End);
  add(BPF_ALU64 | BPF_END | BPF_TO_LE, 'bswap', OpcodeKind.End);
  for (const [cls, suffix] of [
    [BPF_JMP, ''],
    [BPF_JMP32, '32'],
  ] as const) {
    for (const [op, name] of JMP_OPS) {
      add(cls | op | BPF_K, name + suffix, OpcodeKind.CondJump);
      add(cls | op | BPF_X, name + suffix, OpcodeKind.CondJump);
    }
  }
  add(BPF_JMP | BPF_JA, 'ja', OpcodeKind.Ja);
  add(BPF_JMP32 | BPF_JA, 'ja32', OpcodeKind.Ja);
  add(BPF_JMP | BPF_CALL, 'call', OpcodeKind.Call);
  add(BPF_JMP | BPF_CALL | BPF_X, 'callx', OpcodeKind.Callx);
  add(BPF_JMP | BPF_EXIT, 'exit', OpcodeKind.Exit);
  // may_goto: BPF_JMP | BPF_JCOND (0xe0), kernel 6.9+.
  add(BPF_JMP | 0xe0, 'may_goto', OpcodeKind.Unsupported);
  add(BPF_LD | BPF_IMM | BPF_DW, 'lddw', OpcodeKind.Lddw);
  for (const [size, s] of SIZE_SUFFIX) {
    if (size !== BPF_DW) {
      add(BPF_LD | BPF_ABS | size, 'ldabs' + s, OpcodeKind.LdAbs);
      add(BPF_LD | BPF_IND | size, 'ldind' + s, OpcodeKind.LdInd);
      add(BPF_LDX | BPF_MEMSX | size, 'ldxs' + s, OpcodeKind.Ldx);
    }
    add(BPF_LDX | BPF_MEM | size, 'ldx' + s, OpcodeKind.Ldx);
    add(BPF_ST | BPF_MEM | size, 'st' + s, OpcodeKind.St);
    add(BPF_STX | BPF_MEM | size, 'stx' + s, OpcodeKind.Stx);
  }
  add(BPF_STX | BPF_ATOMIC | BPF_W, 'lock32', OpcodeKind.Atomic);
  add(BPF_STX | BPF_ATOMIC | BPF_DW, 'lock', OpcodeKind.Atomic);
  // load-acquire / store-release on 8- and 16-bit operands, kernel 6.15+.
  add(BPF_STX | BPF_ATOMIC | BPF_B, 'lock8', OpcodeKind.Unsupported);
  add(BPF_STX | BPF_ATOMIC | BPF_H, 'lock16', OpcodeKind.Unsupported);
  return t;
}

/** OPCODE_TABLE maps every legal opcode byte to its description; a byte not in it is an unknown opcode. */
export const OPCODE_TABLE: ReadonlyMap<number, OpcodeInfo> = buildTable();

/** opcodeInfo returns the description of an opcode byte, or undefined when the kernel does not know it. */
export function opcodeInfo(opcode: number): OpcodeInfo | undefined {
  return OPCODE_TABLE.get(opcode);
}

const ATOMIC_OPS: ReadonlyMap<number, string> = new Map([
  [BPF_ADD, 'add'],
  [BPF_OR, 'or'],
  [BPF_AND, 'and'],
  [BPF_XOR, 'xor'],
  [BPF_ADD | BPF_FETCH, 'fetch add'],
  [BPF_OR | BPF_FETCH, 'fetch or'],
  [BPF_AND | BPF_FETCH, 'fetch and'],
  [BPF_XOR | BPF_FETCH, 'fetch xor'],
  [BPF_XCHG, 'xchg'],
  [BPF_CMPXCHG, 'cmpxchg'],
]);

/** atomicOpName names the read-modify-write operation in an atomic's imm, or undefined if unknown. */
export function atomicOpName(imm: number): string | undefined {
  return ATOMIC_OPS.get(imm);
}

/**
 * mnemonic names one instruction in the bpf_conformance dialect, refined by the fields that select
 * the operation: `sdiv`/`smod` (off=1), `movsx832`…`movsx3264` (off=8/16/32), `le16`/`be32`/`bswap64`
 * (imm), `lock fetch add32`, `call local`, `call kfunc`. Unknown opcodes are named `opcode 0xNN`.
 */
export function mnemonic(insn: Insn): string {
  const info = OPCODE_TABLE.get(insn.opcode);
  if (info === undefined) return `opcode 0x${insn.opcode.toString(16).padStart(2, '0')}`;
  const is32 = (insn.opcode & 0x07) === BPF_ALU;
  switch (info.kind) {
    case OpcodeKind.Alu: {
      const op = insn.opcode & 0xf0;
      if ((op === BPF_DIV || op === BPF_MOD) && insn.off === 1) return 's' + info.name;
      if (op === BPF_MOV && (insn.opcode & BPF_X) !== 0 && (insn.off === 8 || insn.off === 16 || insn.off === 32)) {
        return `movsx${insn.off}${is32 ? 32 : 64}`;
      }
      return info.name;
    }
    case OpcodeKind.End:
      return `${info.name}${insn.imm}`;
    case OpcodeKind.Call:
      if (insn.src === BPF_PSEUDO_CALL) return 'call local';
      if (insn.src === BPF_PSEUDO_KFUNC_CALL) return 'call kfunc';
      return 'call';
    case OpcodeKind.Atomic: {
      const op = ATOMIC_OPS.get(insn.imm);
      const width = (insn.opcode & 0x18) === BPF_W ? '32' : '';
      return op === undefined ? `${info.name} op 0x${(insn.imm >>> 0).toString(16)}` : `lock ${op}${width}`;
    }
    default:
      return info.name;
  }
}
