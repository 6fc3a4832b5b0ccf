/**
 * disasm — instruction text in the syntax of `llvm-objdump -d --no-show-raw-insn` (LLVM 16).
 *
 * What is matched: the instruction text after the address column (`r0 = *(u32 *)(r1 + 0x4)`),
 * byte for byte, for every slot — valid, v4 and malformed — checked against the committed golden
 * output of llvm-objdump-16 and llvm-objdump-19 (test/isa/fixtures/objdump.tsv, made by
 * scripts/gen-objdump-fixture.ts). Jump/call target annotations (`<LBB0_2>`, `<.text+0x38>`)
 * depend on the object's symbols, so they are printed only when the caller passes `symbolize`.
 *
 * Where LLVM 16 has no syntax for an instruction or decodes it wrongly, the text is LLVM 17+'s
 * (checked against llvm-objdump-19), so the output never hides what an instruction does:
 * - LLVM 16 prints `<unknown>` for BPF_ST stores (`*(u32 *)(r10 - 0x8) = 0x1`), jset
 *   (`if r1 & 0x4 goto +0x3`), bswap (`r0 = bswap16 r0`), gotol (`gotol +0x4`), ldsx
 *   (`r0 = *(s8 *)(r1 + 0x0)`) and may_goto (`may_goto +0x3`);
 * - it ignores the off field of div/mod and mov, so sdiv/smod/movsx come out as `r0 /= r1` or
 *   `r0 = r1`; we print LLVM 17+'s `r0 s/= r1`, `r0 s%= r1`, `r0 = (s8)r1`, `w0 = (s16)w1`;
 * - it reads the callx register from imm; the instruction set (and LLVM 19) use dst: `callx r2`;
 * - without +alu32 neither LLVM 16 nor 19 can decode 32-bit atomics other than add, and both show a
 *   32-bit fetch_add as a plain `lock ... +=`; we print their +alu32 syntax
 *   (`w2 = atomic_fetch_or((u32 *)(r1 + 0x0), w2)`, `w0 = cmpxchg32_32(r1 + 0x0, w0, w2)`).
 * For encodings LLVM 16 decodes despite nonzero reserved fields (it ignores most of them), the text
 * is LLVM 16's; `<unknown>` is printed exactly where LLVM prints it.
 *
 * Option `alu32` mirrors `--mattr=+alu32`: 8/16/32-bit loads, stores and atomics name w registers.
 */
import type { Insn, InsnIndex } from './insn.js';
import { OPCODE_TABLE, OpcodeKind } from './mnemonic.js';

/** DisasmOptions selects the llvm-objdump flavour and target annotations. */
export interface DisasmOptions {
  /** alu32 prints what `llvm-objdump --mattr=+alu32` prints (w registers for sub-64-bit memory ops). */
  alu32?: boolean;
  /** symbolize names a jump target slot; the name is printed as ` <name>` after the offset. */
  symbolize?: (target: InsnIndex) => string | undefined;
}

/** UNKNOWN is what llvm-objdump prints for bytes it cannot decode. */
export const UNKNOWN = '<unknown>';

const ALU_SYMBOL: Readonly<Record<number, string>> = {
  0x00: '+=',
  0x10: '-=',
  0x20: '*=',
  0x30: '/=',
  0x40: '|=',
  0x50: '&=',
  0x60: '<<=',
  0x70: '>>=',
  0x90: '%=',
  0xa0: '^=',
  0xb0: '=',
  0xc0: 's>>=',
};

const JMP_SYMBOL: Readonly<Record<number, string>> = {
  0x10: '==',
  0x20: '>',
  0x30: '>=',
  0x40: '&',
  0x50: '!=',
  0x60: 's>',
  0x70: 's>=',
  0xa0: '<',
  0xb0: '<=',
  0xc0: 's<',
  0xd0: 's<=',
};

const ATOMIC_SYMBOL: Readonly<Record<number, string>> = { 0x00: '+=', 0x40: '|=', 0x50: '&=', 0xa0: '^=' };
const ATOMIC_FETCH: Readonly<Record<number, string>> = { 0x00: 'add', 0x40: 'or', 0x50: 'and', 0xa0: 'xor' };

const SIZE_NAME: Readonly<Record<number, string>> = { 0x00: '32', 0x08: '16', 0x10: '8', 0x18: '64' };

/** hex prints a number as LLVM does: `0x` lowercase hex, a leading `-` for negative values. */
function hex(n: number): string {
  return n < 0 ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`;
}

/** hex64 prints a signed 64-bit value from its two 32-bit halves without BigInt. */
function hex64(lo: number, hi: number): string {
  let l = lo >>> 0;
  let h = hi >>> 0;
  let sign = '';
  if ((h & 0x80000000) !== 0) {
    sign = '-';
    l = (~l + 1) >>> 0;
    h = (~h + (l === 0 ? 1 : 0)) >>> 0;
  }
  if (h === 0) return `${sign}0x${l.toString(16)}`;
  return `${sign}0x${h.toString(16)}${l.toString(16).padStart(8, '0')}`;
}

/** jumpOff prints a pc-relative offset with an explicit sign, as llvm-objdump does. */
function jumpOff(n: number): string {
  return n < 0 ? `-0x${(-n).toString(16)}` : `+0x${n.toString(16)}`;
}

/** memRef prints `rN + 0xoff` / `rN - 0xoff`. */
function memRef(base: number, off: number): string {
  return off < 0 ? `r${base} - 0x${(-off).toString(16)}` : `r${base} + 0x${off.toString(16)}`;
}

function annotate(text: string, target: number, opts: DisasmOptions): string {
  const name = opts.symbolize?.(target);
  return name === undefined ? text : `${text} <${name}>`;
}

/** validReg says whether LLVM decodes a register field: r0..r11 exist (r11 is LLVM-internal), r12..r15 do not. */
const validReg = (r: number): boolean => r <= 11;

function disasmAlu(insn: Insn): string {
  const op = insn.opcode & 0xf0;
  const isX = (insn.opcode & 0x08) !== 0;
  const is64 = (insn.opcode & 0x07) === 0x07;
  const p = is64 ? 'r' : 'w';
  if (!validReg(insn.dst) || (isX && !validReg(insn.src))) return UNKNOWN;
  const d = `${p}${insn.dst}`;
  if (op === 0xb0 && isX && (insn.off === 8 || insn.off === 16 || (is64 && insn.off === 32))) {
    return `${d} = (s${insn.off})${p}${insn.src}`;
  }
  let sym = ALU_SYMBOL[op];
  if ((op === 0x30 || op === 0x90) && insn.off === 1) sym = 's' + sym;
  return `${d} ${sym} ${isX ? `${p}${insn.src}` : hex(insn.imm)}`;
}

function disasmMem(insn: Insn, opts: DisasmOptions): string {
  const cls = insn.opcode & 0x07;
  const size = insn.opcode & 0x18;
  const bits = SIZE_NAME[size];
  const w = opts.alu32 === true && size !== 0x18 ? 'w' : 'r';
  switch (cls) {
    case 0x01: {
      // LDX: MEM or MEMSX (sign-extending, always a 64-bit destination).
      if (!validReg(insn.dst) || !validReg(insn.src)) return UNKNOWN;
      const sx = (insn.opcode & 0xe0) === 0x80;
      return `${sx ? 'r' : w}${insn.dst} = *(${sx ? 's' : 'u'}${bits} *)(${memRef(insn.src, insn.off)})`;
    }
    case 0x02:
      if (!validReg(insn.dst)) return UNKNOWN;
      return `*(u${bits} *)(${memRef(insn.dst, insn.off)}) = ${hex(insn.imm)}`;
    default:
      if (!validReg(insn.dst) || !validReg(insn.src)) return UNKNOWN;
      return `*(u${bits} *)(${memRef(insn.dst, insn.off)}) = ${w}${insn.src}`;
  }
}

function disasmAtomic(insn: Insn, opts: DisasmOptions): string {
  if (!validReg(insn.dst) || !validReg(insn.src)) return UNKNOWN;
  const is64 = (insn.opcode & 0x18) === 0x18;
  if (!is64 && (insn.opcode & 0x18) !== 0x00) return UNKNOWN;
  const bits = is64 ? '64' : '32';
  // Without +alu32, LLVM shows 32-bit atomics with r registers (only `lock ... +=` decodes there);
  // we use the +alu32 form for every 32-bit operation other than plain add (see module comment).
  const alu32Form = is64 || opts.alu32 === true || insn.imm !== 0x00;
  const v = `${is64 || !alu32Form ? 'r' : 'w'}${insn.src}`;
  const mem = memRef(insn.dst, insn.off);
  // LLVM's atomic encodings fix imm bits 7-4 (the operation) and, for the fetch forms, bits 3-0 = 1;
  // other imm bits are not looked at, and a fetch form wins over the plain one when both match.
  const op = insn.imm & 0xf0;
  if ((insn.imm & 0x0f) === 0x01) {
    const fetch = ATOMIC_FETCH[op];
    if (fetch !== undefined) return `${v} = atomic_fetch_${fetch}((u${bits} *)(${mem}), ${v})`;
    const r0 = is64 ? 'r0' : 'w0';
    if (op === 0xe0) return `${v} = xchg${is64 ? '' : '32'}_${bits}(${mem}, ${v})`;
    if (op === 0xf0) return `${r0} = cmpxchg${is64 ? '' : '32'}_${bits}(${mem}, ${r0}, ${v})`;
  }
  const plain = ATOMIC_SYMBOL[op];
  if (plain !== undefined) return `lock *(u${bits} *)(${mem}) ${plain} ${v}`;
  return UNKNOWN;
}

/**
 * disasmInsn returns the text of the instruction starting at slot `index` (for lddw, the two
 * slots index and index+1), or `<unknown>` where llvm-objdump prints that.
 */
export function disasmInsn(insns: readonly Insn[], index: InsnIndex, opts: DisasmOptions = {}): string {
  const insn = insns[index];
  const info = OPCODE_TABLE.get(insn.opcode);
  if (info === undefined) return UNKNOWN;
  switch (info.kind) {
    case OpcodeKind.Alu:
      return disasmAlu(insn);
    case OpcodeKind.Neg: {
      if (!validReg(insn.dst)) return UNKNOWN;
      const d = `${(insn.opcode & 0x07) === 0x07 ? 'r' : 'w'}${insn.dst}`;
      return `${d} = -${d}`;
    }
    case OpcodeKind.End: {
      if (!validReg(insn.dst) || (insn.imm !== 16 && insn.imm !== 32 && insn.imm !== 64)) return UNKNOWN;
      const name = insn.opcode === 0xd7 ? 'bswap' : insn.opcode === 0xdc ? 'be' : 'le';
      return `r${insn.dst} = ${name}${insn.imm} r${insn.dst}`;
    }
    case OpcodeKind.CondJump: {
      const is64 = (insn.opcode & 0x07) === 0x05;
      const isX = (insn.opcode & 0x08) !== 0;
      if (!validReg(insn.dst) || (isX && !validReg(insn.src))) return UNKNOWN;
      const p = is64 ? 'r' : 'w';
      const rhs = isX ? `${p}${insn.src}` : hex(insn.imm);
      const text = `if ${p}${insn.dst} ${JMP_SYMBOL[insn.opcode & 0xf0]} ${rhs} goto ${jumpOff(insn.off)}`;
      return annotate(text, index + insn.off + 1, opts);
    }
    case OpcodeKind.Ja:
      if (insn.opcode === 0x06) return annotate(`gotol ${jumpOff(insn.imm)}`, index + insn.imm + 1, opts);
      return annotate(`goto ${jumpOff(insn.off)}`, index + insn.off + 1, opts);
    case OpcodeKind.Call:
      // llvm-objdump annotates no call, local or not (the target of a local call shows in -r output).
      return `call ${hex(insn.imm)}`;
    case OpcodeKind.Callx:
      return validReg(insn.dst) ? `callx r${insn.dst}` : UNKNOWN;
    case OpcodeKind.Exit:
      // LLVM's exit encoding fixes imm = 0 and ignores the other fields.
      return insn.imm === 0 ? 'exit' : UNKNOWN;
    case OpcodeKind.Lddw: {
      if (index + 1 >= insns.length || !validReg(insn.dst) || insn.off !== 0) return UNKNOWN;
      const hi = insns[index + 1];
      if (insn.src === 0) return `r${insn.dst} = ${hex64(insn.imm, hi.imm)} ll`;
      return `ld_pseudo\tr${insn.dst}, ${hex(insn.src)}, 0x${(insn.imm >>> 0).toString(16)}`;
    }
    case OpcodeKind.LdAbs:
      return `r0 = *(u${SIZE_NAME[insn.opcode & 0x18]} *)skb[${hex(insn.imm)}]`;
    case OpcodeKind.LdInd:
      if (!validReg(insn.src)) return UNKNOWN;
      return `r0 = *(u${SIZE_NAME[insn.opcode & 0x18]} *)skb[r${insn.src}]`;
    case OpcodeKind.Ldx:
    case OpcodeKind.St:
    case OpcodeKind.Stx:
      return disasmMem(insn, opts);
    case OpcodeKind.Atomic:
      return disasmAtomic(insn, opts);
    case OpcodeKind.Unsupported:
      if (insn.opcode === 0xe5) return annotate(`may_goto ${jumpOff(insn.off)}`, index + insn.off + 1, opts);
      return UNKNOWN;
  }
}

/** slotCount is how many slots llvm-objdump consumes for the instruction at `index` (2 for lddw). */
export function slotCount(insns: readonly Insn[], index: InsnIndex): 1 | 2 {
  return insns[index].opcode === 0x18 && index + 1 < insns.length ? 2 : 1;
}

/** DisasmLine is one disassembled instruction: its first slot and its text. */
export interface DisasmLine {
  index: InsnIndex;
  text: string;
}

/** disasmLines disassembles a whole program, one entry per instruction (lddw takes two slots). */
export function disasmLines(insns: readonly Insn[], opts: DisasmOptions = {}): DisasmLine[] {
  const out: DisasmLine[] = [];
  for (let i = 0; i < insns.length; i += slotCount(insns, i)) out.push({ index: i, text: disasmInsn(insns, i, opts) });
  return out;
}

/**
 * disasmProgram returns one line per instruction laid out like llvm-objdump's body: the slot index
 * right-aligned in 8 columns, a colon, a tab and the text (`       3:\tr1 = 0x1122334455667788 ll`).
 */
export function disasmProgram(insns: readonly Insn[], opts: DisasmOptions = {}): string[] {
  return disasmLines(insns, opts).map((l) => `${String(l.index).padStart(8)}:\t${l.text}`);
}
