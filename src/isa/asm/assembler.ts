/**
 * assembler — the bpf_conformance assembly dialect (FORMAT.md §3) to instruction slots, so
 * tests can be written as text. One instruction per line; labels `name:`; jump targets are
 * labels or +N/-N slots relative to the next slot (lddw counts two); the first `exit` is also
 * the implicit label `exit`. Errors are DecodeErrors with an E_ASM_* code and the line number.
 */
import { makeInsn, type Insn } from '../insn.js';
import {
  BPF_ADD,
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
  BPF_CMPXCHG,
  BPF_FETCH,
  BPF_JMP,
  BPF_JMP32,
  BPF_K,
  BPF_OR,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_X,
  BPF_XCHG,
  BPF_XOR,
  OP_CALL,
  OP_CALLX,
  OP_EXIT,
  OP_JA,
  OP_JA32,
  OP_LDDW,
} from '../opcodes.js';
import { lexAsm, type SourceLine } from './lexer.js';
import {
  AsmCode,
  asmError,
  isRegister,
  parseImm32,
  parseImm64,
  parseMem,

  parseRegister,
  parseTarget,
  type JumpTarget,
} from './parser.js';

const ALU_OPS: Readonly<Record<string, number>> = {
  add: 0x00, sub: 0x10, mul: 0x20, div: 0x30, or: 0x40, and: 0x50, lsh: 0x60, rsh: 0x70,
  mod: 0x90, xor: 0xa0, mov: 0xb0, arsh: 0xc0, sdiv: 0x30, smod: 0x90,
};
const JMP_OPS: Readonly<Record<string, number>> = {
  jeq: 0x10, jgt: 0x20, jge: 0x30, jset: 0x40, jne: 0x50, jsgt: 0x60, jsge: 0x70,
  jlt: 0xa0, jle: 0xb0, jslt: 0xc0, jsle: 0xd0,
};
const LDX_OPS: Readonly<Record<string, number>> = {
  ldxw: 0x61, ldxh: 0x69, ldxb: 0x71, ldxdw: 0x79, ldxsw: 0x81, ldxsh: 0x89, ldxsb: 0x91,
};
const ST_OPS: Readonly<Record<string, number>> = { stw: 0x62, sth: 0x6a, stb: 0x72, stdw: 0x7a };
const STX_OPS: Readonly<Record<string, number>> = { stxw: 0x63, stxh: 0x6b, stxb: 0x73, stxdw: 0x7b };
const ATOMIC_OPS: Readonly<Record<string, number>> = {
  add: BPF_ADD, or: BPF_OR, and: BPF_AND, xor: BPF_XOR, xchg: BPF_XCHG, cmpxchg: BPF_CMPXCHG,
};
/** movsx<from><to>: offset (source width) and class. */
const MOVSX: Readonly<Record<string, { off: number; cls: number }>> = {
  movsx832: { off: 8, cls: BPF_ALU }, movsx1632: { off: 16, cls: BPF_ALU },
  movsx864: { off: 8, cls: BPF_ALU64 }, movsx1664: { off: 16, cls: BPF_ALU64 }, movsx3264: { off: 32, cls: BPF_ALU64 },
};

/** Fixup is a label reference to resolve once all labels are known. */
interface Fixup {
  readonly slot: number;
  readonly label: string;
  readonly line: number;
  /** true: the target goes in imm (ja32, call local); false: in off (16-bit). */
  readonly wide: boolean;
}

/** own is own-property lookup in a record (so "constructor" is not a mnemonic). */
function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
}

class Assembler {
  readonly out: Insn[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: Fixup[] = [];
  private implicitExit: number | undefined;

  assemble(lines: readonly SourceLine[]): Insn[] {
    for (const l of lines) {
      if (l.label !== undefined) {
        if (this.labels.has(l.label)) {
          throw asmError(AsmCode.DuplicateLabel, l.line, `label "${l.label}" is defined twice`, { label: l.label });
        }
        this.labels.set(l.label, this.out.length);
      }
      if (l.words.length > 0) this.insn(l.line, l.words[0], l.words.slice(1));
    }
    for (const f of this.fixups) {
      const at = this.labels.get(f.label) ?? (f.label === 'exit' ? this.implicitExit : undefined);
      if (at === undefined) throw asmError(AsmCode.Label, f.line, `unknown label "${f.label}"`, { label: f.label });
      const rel = at - f.slot - 1;
      const insn = this.out[f.slot];
      if (f.wide) insn.imm = rel | 0;
      else {
        if (rel < -0x8000 || rel > 0x7fff) {
          throw asmError(AsmCode.Offset, f.line, `jump to "${f.label}" is ${rel} slots away, beyond a 16-bit offset`, { label: f.label });
        }
        insn.off = rel;
      }
    }
    return this.out;
  }

  private count(line: number, mnemonic: string, ops: readonly string[], expected: number): void {
    if (ops.length !== expected) {
      throw asmError(
        AsmCode.OperandCount,
        line,
        `invalid number of operands for ${mnemonic}: expected ${expected}, got ${ops.length}`,
        { mnemonic, expected, got: ops.length },
      );
    }
  }

  private target(line: number, word: string, wide: boolean): number {
    const t: JumpTarget = parseTarget(word, line, wide);
    if ('rel' in t) return t.rel;
    this.fixups.push({ slot: this.out.length, label: t.label, line, wide });
    return 0;
  }

  private insn(line: number, m: string, ops: readonly string[]): void {
    // Byte order: le/be (ALU class, 0xd4/0xdc) and bswap/swap (ALU64 class, 0xd7).
    const swap = /^(le|be|bswap|swap)(16|32|64)$/.exec(m);
    if (swap !== null) {
      this.count(line, m, ops, 1);
      const opcode = swap[1] === 'le' ? 0xd4 : swap[1] === 'be' ? 0xdc : 0xd7;
      this.out.push(makeInsn(opcode, parseRegister(ops[0], line), 0, 0, Number(swap[2])));
      return;
    }
    const movsx = own(MOVSX, m);
    if (movsx !== undefined) {
      this.count(line, m, ops, 2);
      if (!isRegister(ops[1])) throw asmError(AsmCode.Operand, line, `${m} takes a register source, got "${ops[1]}"`, { operand: ops[1] });
      this.out.push(makeInsn(movsx.cls | BPF_X | 0xb0, parseRegister(ops[0], line), parseRegister(ops[1], line), movsx.off, 0));
      return;
    }
    const alu = /^([a-z]+?)(32|64)?$/.exec(m);
    if (alu !== null && (own(ALU_OPS, alu[1]) !== undefined || alu[1] === 'neg')) {
      const cls = alu[2] === '32' ? BPF_ALU : BPF_ALU64;
      const dst = (): number => parseRegister(ops[0], line);
      if (alu[1] === 'neg') {
        this.count(line, m, ops, 1);
        this.out.push(makeInsn(cls | 0x80, dst()));
        return;
      }
      this.count(line, m, ops, 2);
      const code = own(ALU_OPS, alu[1]) as number;
      const off = alu[1] === 'sdiv' || alu[1] === 'smod' ? 1 : 0;
      if (isRegister(ops[1])) this.out.push(makeInsn(cls | code | BPF_X, dst(), parseRegister(ops[1], line), off, 0));
      else this.out.push(makeInsn(cls | code | BPF_K, dst(), 0, off, parseImm32(ops[1], line)));
      return;
    }
    const jmp = /^(j[a-z]+?)(32)?$/.exec(m);
    if (jmp !== null && own(JMP_OPS, jmp[1]) !== undefined) {
      this.count(line, m, ops, 3);
      const cls = jmp[2] === '32' ? BPF_JMP32 : BPF_JMP;
      const code = own(JMP_OPS, jmp[1]) as number;
      const d = parseRegister(ops[0], line);
      const insn = isRegister(ops[1])
        ? makeInsn(cls | code | BPF_X, d, parseRegister(ops[1], line))
        : makeInsn(cls | code | BPF_K, d, 0, 0, parseImm32(ops[1], line));
      insn.off = this.target(line, ops[2], false);
      this.out.push(insn);
      return;
    }
    const ldx = own(LDX_OPS, m);
    if (ldx !== undefined) {
      this.count(line, m, ops, 2);
      const d = parseRegister(ops[0], line);
      const mem = parseMem(ops[1], line);
      this.out.push(makeInsn(ldx, d, mem.reg, mem.off));
      return;
    }
    const st = own(ST_OPS, m);
    if (st !== undefined) {
      this.count(line, m, ops, 2);
      const mem = parseMem(ops[0], line);
      this.out.push(makeInsn(st, mem.reg, 0, mem.off, parseImm32(ops[1], line)));
      return;
    }
    const stx = own(STX_OPS, m);
    if (stx !== undefined) {
      this.count(line, m, ops, 2);
      const mem = parseMem(ops[0], line);
      this.out.push(makeInsn(stx, mem.reg, parseRegister(ops[1], line), mem.off));
      return;
    }
    switch (m) {
      case 'lddw': {
        this.count(line, m, ops, 2);
        const d = parseRegister(ops[0], line);
        const v = parseImm64(ops[1], line);
        this.out.push(makeInsn(OP_LDDW, d, 0, 0, Number(BigInt.asIntN(32, v))));
        this.out.push(makeInsn(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n))));
        return;
      }
      case 'ja': {
        this.count(line, m, ops, 1);
        const insn = makeInsn(OP_JA);
        insn.off = this.target(line, ops[0], false);
        this.out.push(insn);
        return;
      }
      case 'ja32':
      case 'gotol': {
        this.count(line, m, ops, 1);
        const insn = makeInsn(OP_JA32);
        insn.imm = this.target(line, ops[0], true);
        this.out.push(insn);
        return;
      }
      case 'exit':
        this.count(line, m, ops, 0);
        if (this.implicitExit === undefined) this.implicitExit = this.out.length;
        this.out.push(makeInsn(OP_EXIT));
        return;
      case 'call':
        this.call(line, ops);
        return;
      case 'lock':
        this.lock(line, ops);
        return;
      default:
        throw asmError(AsmCode.Mnemonic, line, `invalid mnemonic "${m}"`, { mnemonic: m });
    }
  }

  /** call N | call helper N | call %rN | call helper %rN | call local target | call runtime N. */
  private call(line: number, ops: readonly string[]): void {
    if (ops.length !== 1 && ops.length !== 2) this.count(line, 'call', ops, 2);
    const mode = ops.length === 1 ? 'helper' : ops[0];
    const t = ops[ops.length - 1];
    switch (mode) {
      case 'helper':
        if (isRegister(t)) this.out.push(makeInsn(OP_CALLX, parseRegister(t, line)));
        else this.out.push(makeInsn(OP_CALL, 0, 0, 0, parseImm32(t, line)));
        return;
      case 'local': {
        const insn = makeInsn(OP_CALL, 0, BPF_PSEUDO_CALL);
        insn.imm = this.target(line, t, true);
        this.out.push(insn);
        return;
      }
      case 'runtime':
        this.out.push(makeInsn(OP_CALL, 0, BPF_PSEUDO_KFUNC_CALL, 0, parseImm32(t, line)));
        return;
      default:
        throw asmError(AsmCode.Operand, line, `invalid call mode "${mode}" (helper, local or runtime)`, { operand: mode });
    }
  }

  /** lock [fetch] add|or|and|xor|xchg|cmpxchg[32] [dst+off], src. */
  private lock(line: number, ops: readonly string[]): void {
    const fetch = ops[0] === 'fetch';
    const rest = fetch ? ops.slice(1) : ops;
    if (rest.length !== 3) {
      throw asmError(AsmCode.OperandCount, line, `invalid number of operands for lock: expected [fetch] op [dst+off], src`, {
        mnemonic: 'lock',
        expected: 3,
        got: rest.length,
      });
    }
    const am = /^([a-z]+?)(32)?$/.exec(rest[0]);
    const aop = am === null ? undefined : own(ATOMIC_OPS, am[1]);
    if (am === null || aop === undefined) {
      throw asmError(AsmCode.Mnemonic, line, `invalid atomic operation "${rest[0]}"`, { mnemonic: `lock ${rest[0]}` });
    }
    const mem = parseMem(rest[1], line);
    const src = parseRegister(rest[2], line);
    const opcode = am[2] === '32' ? 0xc3 : 0xdb;
    this.out.push(makeInsn(opcode, mem.reg, src, mem.off, fetch ? aop | BPF_FETCH : aop));
  }
}

/** assemble turns conformance-dialect assembly into instruction slots (lddw takes two). */
export function assemble(text: string): Insn[] {
  return new Assembler().assemble(lexAsm(text));
}

