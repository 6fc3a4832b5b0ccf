/**
 * asm — the bpf_conformance assembler: every form of the dialect against its encoding written
 * out from FORMAT.md §3 / RFC 9669, and every error with its code and line.
 */
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../src/errors.js';
import { AsmCode, assemble } from '../../src/isa/asm/index.js';
import type { Insn } from '../../src/isa/insn.js';

const I = (opcode: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ opcode, dst, src, off, imm });

const ENCODINGS: Array<[string, Insn[]]> = [
  ['add %r1, %r2', [I(0x0f, 1, 2)]],
  ['add64 %r1, 5', [I(0x07, 1, 0, 0, 5)]],
  ['add32 %r1, -1', [I(0x04, 1, 0, 0, -1)]],
  ['mov %r0, 0x80000000', [I(0xb7, 0, 0, 0, -0x80000000)]],
  ['mov32 %r0, 0xffffffff', [I(0xb4, 0, 0, 0, -1)]],
  ['neg %r3', [I(0x87, 3)]],
  ['neg32 %r3', [I(0x84, 3)]],
  ['sdiv %r1, %r2', [I(0x3f, 1, 2, 1)]],
  ['smod32 %r1, 3', [I(0x94, 1, 0, 1, 3)]],
  ['movsx832 %r1, %r2', [I(0xbc, 1, 2, 8)]],
  ['movsx3264 %r1, %r2', [I(0xbf, 1, 2, 32)]],
  ['le16 %r1', [I(0xd4, 1, 0, 0, 16)]],
  ['be64 %r1', [I(0xdc, 1, 0, 0, 64)]],
  ['bswap32 %r1', [I(0xd7, 1, 0, 0, 32)]],
  ['swap16 %r1', [I(0xd7, 1, 0, 0, 16)]],
  ['ldxdw %r0, [%r1+8]', [I(0x79, 0, 1, 8)]],
  ['ldxb %r0, [%r10-1]', [I(0x71, 0, 10, -1)]],
  ['ldxh %r0, [%r1]', [I(0x69, 0, 1, 0)]],
  ['ldxsw %r0, [%r1+0x7fff]', [I(0x81, 0, 1, 0x7fff)]],
  ['ldxsh %r0, [%r1+0xffff]', [I(0x89, 0, 1, -1)]],
  ['stw [%r10-4], 0xdeadbeef', [I(0x62, 10, 0, -4, 0xdeadbeef | 0)]],
  ['stxdw [%r10-8], %r3', [I(0x7b, 10, 3, -8)]],
  ['lddw %r0, 0x1122334455667788', [I(0x18, 0, 0, 0, 0x55667788), I(0, 0, 0, 0, 0x11223344)]],
  ['lddw %r2, -1', [I(0x18, 2, 0, 0, -1), I(0, 0, 0, 0, -1)]],
  ['ja +3', [I(0x05, 0, 0, 3)]],
  ['ja32 -2', [I(0x06, 0, 0, 0, -2)]],
  ['jeq %r1, %r2, +1', [I(0x1d, 1, 2, 1)]],
  ['jsle32 %r1, -5, -1', [I(0xd6, 1, 0, -1, -5)]],
  ['jset %r1, 0x80000000, +0', [I(0x45, 1, 0, 0, -0x80000000)]],
  ['call 5', [I(0x85, 0, 0, 0, 5)]],
  ['call helper 7', [I(0x85, 0, 0, 0, 7)]],
  ['call %r2', [I(0x8d, 2)]],
  ['call helper %r3', [I(0x8d, 3)]],
  ['call local +2', [I(0x85, 0, 1, 0, 2)]],
  ['call runtime 9', [I(0x85, 0, 2, 0, 9)]],
  ['exit', [I(0x95)]],
  ['lock add [%r10-8], %r1', [I(0xdb, 10, 1, -8, 0x00)]],
  ['lock fetch or32 [%r10-4], %r2', [I(0xc3, 10, 2, -4, 0x41)]],
  ['lock and [%r1], %r2', [I(0xdb, 1, 2, 0, 0x50)]],
  ['lock fetch xor [%r1+4], %r2', [I(0xdb, 1, 2, 4, 0xa1)]],
  ['lock xchg32 [%r1], %r2', [I(0xc3, 1, 2, 0, 0xe1)]],
  ['lock cmpxchg [%r1], %r2', [I(0xdb, 1, 2, 0, 0xf1)]],
  ['add %r1, 1 # trailing comment', [I(0x07, 1, 0, 0, 1)]],
];

describe('assemble: encodings', () => {
  it.each(ENCODINGS)('%s', (text, want) => {
    expect(assemble(text)).toEqual(want);
  });
});

describe('assemble: labels', () => {
  it('resolves forward and backward labels relative to the next slot, counting lddw as two', () => {
    const insns = assemble(['top:', 'ja end', 'lddw %r0, 1', 'jne %r0, 0, top', 'end:', 'exit'].join('\n'));
    expect(insns.map((i) => i.off)).toEqual([3, 0, 0, -4, 0]);
  });

  it('the first exit is the implicit label "exit"', () => {
    const insns = assemble('jne %r0, %r1, exit\nmov %r0, 1\nexit\nmov %r0, 2\nexit');
    expect(insns[0].off).toBe(1);
  });

  it('ja32 and call local put the label offset in imm', () => {
    const insns = assemble('ja32 l\ncall local l\nexit\nl:\nexit');
    expect(insns[0].imm).toBe(2);
    expect(insns[1].imm).toBe(1);
    expect(insns[1].src).toBe(1);
  });
});

const ERRORS: Array<[string, string, AsmCode, number]> = [
  ['decimal imm above int32', 'mov32 %r0, 2147483648\nexit', AsmCode.Immediate, 1],
  ['hex imm above 32 bits', 'exit\nmov32 %r0, 0x100000000', AsmCode.Immediate, 2],
  ['unknown label', 'ja NOT_A_LABEL\nexit', AsmCode.Label, 1],
  ['lock without src', 'lock or [%r10-8]\nexit', AsmCode.OperandCount, 1],
  ['bare lock', 'lock\nexit', AsmCode.OperandCount, 1],
  ['unknown mnemonic', 'ldxq %r0, %r1\nexit', AsmCode.Mnemonic, 1],
  ['register instead of memory operand', 'ldxb %r0, %r1\nexit', AsmCode.Offset, 1],
  ['offset above 16 bits', 'ldxb %r0, [%r1+0x10000]\nexit', AsmCode.Offset, 1],
  ['decimal offset below int16', 'ldxb %r0, [%r1-32769]\nexit', AsmCode.Offset, 1],
  ['missing operand', 'lddw %r0\nexit', AsmCode.OperandCount, 1],
  ['register 50', 'or %r0, %r50\nexit', AsmCode.Register, 1],
  ['not a register', 'mov r0, 1', AsmCode.Register, 1],
  ['duplicate label', 'a:\nexit\na:\nexit', AsmCode.DuplicateLabel, 3],
  ['bad call mode', 'call far 3', AsmCode.Operand, 1],
  ['movsx from an immediate', 'movsx864 %r0, 5', AsmCode.Operand, 1],
  ['garbage immediate', 'mov %r0, 12abc', AsmCode.Immediate, 1],
  ['lddw above 64 bits', 'lddw %r0, 0x10000000000000000', AsmCode.Immediate, 1],
  ['exit with operands', 'exit %r0', AsmCode.OperandCount, 1],
  ['jump out of 16-bit range', `ja far\n${'mov %r0, 0\n'.repeat(40000)}far:\nexit`, AsmCode.Offset, 1],
];

describe('assemble: errors are DecodeErrors with a code and the line', () => {
  it.each(ERRORS)('%s', (_name, text, code, line) => {
    let err: unknown;
    try {
      assemble(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as DecodeError).code).toBe(code);
    expect((err as DecodeError).fields.line).toBe(line);
  });

  it('accepts %r11..%r15 (the dialect keeps them for negative tests)', () => {
    expect(assemble('mov %r15, 1')[0].dst).toBe(15);
  });
});
