/**
 * parser — operand syntax of the bpf_conformance assembly dialect (FORMAT.md §3): registers,
 * immediates, offsets, memory operands and jump targets. Each function takes one word and the
 * line it came from, and throws DecodeError (code E_ASM_*, fields.line) on bad input.
 */
import { DecodeError } from '../../errors.js';

/** AsmCode lists the stable codes of assembler errors. */
export const AsmCode = {
  /** Unknown mnemonic (fields: mnemonic). */
  Mnemonic: 'E_ASM_MNEMONIC',
  /** Wrong number of operands (fields: mnemonic, expected, got). */
  OperandCount: 'E_ASM_OPERAND_COUNT',
  /** Not a register name, or a register where none is allowed (fields: operand). */
  Register: 'E_ASM_REGISTER',
  /** Immediate not a number or outside its range (fields: operand). */
  Immediate: 'E_ASM_IMMEDIATE',
  /** Memory operand malformed, or offset outside 16 bits (fields: operand). */
  Offset: 'E_ASM_OFFSET',
  /** Jump or call to a label that is not defined (fields: label). */
  Label: 'E_ASM_LABEL',
  /** A label defined twice (fields: label). */
  DuplicateLabel: 'E_ASM_DUPLICATE_LABEL',
  /** Operand of the wrong kind for this mnemonic (fields: operand). */
  Operand: 'E_ASM_OPERAND',
} as const;
export type AsmCode = (typeof AsmCode)[keyof typeof AsmCode];

/** asmError builds the DecodeError for line `line`. */
export function asmError(code: AsmCode, line: number, why: string, fields: Record<string, string | number> = {}): DecodeError {
  return new DecodeError(code, `line ${line}: ${why}`, { line, ...fields });
}

/** MAX_REGISTER_NUMBER is the largest register the dialect names: %r11..%r15 exist only to build negative tests. */
const MAX_REGISTER_NUMBER = 15;

/** isRegister tells whether a word is written as a register (starts with %). */
export function isRegister(word: string): boolean {
  return word.startsWith('%');
}

/** parseRegister reads `%rN`, N in 0..15. */
export function parseRegister(word: string, line: number): number {
  const m = /^%r(\d+)$/.exec(word);
  const n = m === null ? -1 : Number(m[1]);
  if (m === null || n > MAX_REGISTER_NUMBER || (m[1].length > 1 && m[1].startsWith('0'))) {
    throw asmError(AsmCode.Register, line, `invalid register "${word}"`, { operand: word });
  }
  return n;
}

/** parseInteger reads a decimal or 0x-hex integer with an optional sign, exactly, or returns undefined. */
function parseInteger(word: string): { value: bigint; hex: boolean } | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|\d+)$/.exec(word);
  if (m === null) return undefined;
  const hex = m[2].length > 2 && (m[2][1] === 'x' || m[2][1] === 'X');
  const mag = BigInt(m[2]);
  return { value: m[1] === '-' ? -mag : mag, hex };
}

/**
 * parseImm32 reads a 32-bit immediate: hex is a 32-bit bit pattern (0..0xffffffff, so 0x80000000
 * is INT32_MIN), decimal must fit in int32. Returns the signed 32-bit value.
 */
export function parseImm32(word: string, line: number): number {
  const p = parseInteger(word);
  if (p === undefined) throw asmError(AsmCode.Immediate, line, `invalid immediate "${word}"`, { operand: word });
  const { value, hex } = p;
  const ok = hex ? value >= -0x80000000n && value <= 0xffffffffn : value >= -0x80000000n && value <= 0x7fffffffn;
  if (!ok) throw asmError(AsmCode.Immediate, line, `immediate ${word} is outside the 32-bit range`, { operand: word });
  return Number(BigInt.asIntN(32, value));
}

/** parseImm64 reads lddw's 64-bit immediate (hex unsigned up to 2^64-1, or signed decimal). */
export function parseImm64(word: string, line: number): bigint {
  const p = parseInteger(word);
  if (p === undefined) throw asmError(AsmCode.Immediate, line, `invalid immediate "${word}"`, { operand: word });
  const { value } = p;
  if (value < -(1n << 63n) || value > (1n << 64n) - 1n) {
    throw asmError(AsmCode.Immediate, line, `immediate ${word} is outside the 64-bit range`, { operand: word });
  }
  return BigInt.asUintN(64, value);
}

/**
 * parseOffset reads a 16-bit offset: hex is a 16-bit bit pattern (0..0xffff), decimal must fit in
 * int16 (a leading + or - is part of the number). Returns the signed 16-bit value.
 */
export function parseOffset(word: string, line: number): number {
  const p = parseInteger(word);
  if (p === undefined) throw asmError(AsmCode.Offset, line, `invalid offset "${word}"`, { operand: word });
  const { value, hex } = p;
  const ok = hex ? value >= -0x8000n && value <= 0xffffn : value >= -0x8000n && value <= 0x7fffn;
  if (!ok) throw asmError(AsmCode.Offset, line, `offset ${word} is outside the 16-bit range`, { operand: word });
  return Number(BigInt.asIntN(16, value));
}

/** MemOperand is `[%rN+off]`. */
export interface MemOperand {
  readonly reg: number;
  readonly off: number;
}

/** parseMem reads `[%rN]`, `[%rN+off]` or `[%rN-off]`. */
export function parseMem(word: string, line: number): MemOperand {
  const m = /^\[(%[^\]+-]+)([+-][^\]]+)?\]$/.exec(word);
  if (m === null) {
    throw asmError(AsmCode.Offset, line, `expected a memory operand [%rN+offset], got "${word}"`, { operand: word });
  }
  const reg = parseRegister(m[1], line);
  const off = m[2] === undefined ? 0 : parseOffset(m[2], line);
  return { reg, off };
}

/** JumpTarget is either a relative slot count (+N/-N) or a label to resolve later. */
export type JumpTarget = { readonly rel: number } | { readonly label: string };

/** parseTarget reads `+N`, `-N` (wide = 32-bit for ja32 and local calls, else 16-bit) or a label. */
export function parseTarget(word: string, line: number, wide: boolean): JumpTarget {
  if (word.startsWith('+') || word.startsWith('-')) {
    return { rel: wide ? parseImm32(word, line) : parseOffset(word, line) };
  }
  if (!/^[A-Za-z_.$][\w.$]*$/.test(word)) {
    throw asmError(AsmCode.Label, line, `invalid jump target "${word}"`, { label: word });
  }
  return { label: word };
}
