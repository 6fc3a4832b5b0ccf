/**
 * validate tests: one row per load-time rule (bad programs with the code and instruction index
 * they must be refused with), a table of well-formed programs that must pass, and the
 * bpf_conformance `negative/unused-*.data` files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NotSupportedError, VerifyError } from '../../src/errors.js';
import { decodeInsns } from '../../src/isa/decode.js';
import { makeInsn as I, type Insn } from '../../src/isa/insn.js';
import { assemble } from '../../src/isa/asm/index.js';
import { validateProgram, VerifyCode, type ValidateOptions } from '../../src/isa/validate.js';

const CONFORMANCE = '/work/shared/conformance';

const EXIT = I(0x95);
const MOV0 = I(0xb7, 0, 0, 0, 0); // r0 = 0
const LDDW = (dst: number, src: number, lo: number, hi: number): Insn[] => [I(0x18, dst, src, 0, lo), I(0, 0, 0, 0, hi)];

function refusal(insns: Insn[], opts: ValidateOptions = {}): VerifyError {
  try {
    validateProgram(insns, opts);
  } catch (e) {
    if (e instanceof VerifyError) return e;
    throw e;
  }
  throw new Error('program was accepted');
}

interface BadCase {
  name: string;
  prog: Insn[];
  code: string;
  insn?: number;
  field?: string;
  opts?: ValidateOptions;
}

const R = VerifyCode.ReservedField;

const BAD: BadCase[] = [
  { name: 'empty program', prog: [], code: VerifyCode.EmptyProgram },
  { name: 'unknown opcode 0x00', prog: [I(0x00), EXIT], code: VerifyCode.UnknownOpcode, insn: 0 },
  { name: 'unknown opcode 0xff', prog: [MOV0, I(0xff), EXIT], code: VerifyCode.UnknownOpcode, insn: 1 },
  { name: 'neg with X bit (0x8f)', prog: [I(0x8f), EXIT], code: VerifyCode.UnknownOpcode, insn: 0 },
  { name: 'ALU op 0xe0', prog: [I(0xe7), EXIT], code: VerifyCode.UnknownOpcode, insn: 0 },
  { name: 'bswap with BE bit (0xdf)', prog: [I(0xdf, 0, 0, 0, 16), EXIT], code: VerifyCode.UnknownOpcode, insn: 0 },
  { name: 'JMP32 call (0x86)', prog: [I(0x86), EXIT], code: VerifyCode.UnknownOpcode, insn: 0 },
  { name: 'JMP32 exit (0x96)', prog: [I(0x96)], code: VerifyCode.UnknownOpcode, insn: 0 },
  { name: 'ldx memsx dw (0x99)', prog: [I(0x99, 0, 1), EXIT], code: VerifyCode.UnknownOpcode, insn: 0 },
  { name: 'ld abs dw (0x38)', prog: [I(0x38), EXIT], code: VerifyCode.UnknownOpcode, insn: 0 },
  { name: 'st atomic (0xdb class ST = 0xda)', prog: [I(0xda), EXIT], code: VerifyCode.UnknownOpcode, insn: 0 },
  { name: 'ja with X bit (0x0d)', prog: [I(0x0d), EXIT], code: VerifyCode.UnknownOpcode, insn: 0 },
  // ALU reserved fields
  { name: 'add imm with src', prog: [I(0x07, 0, 1, 0, 1), EXIT], code: R, insn: 0, field: 'src' },
  { name: 'add32 imm with off', prog: [I(0x04, 0, 0, 1, 1), EXIT], code: R, insn: 0, field: 'off' },
  { name: 'add reg with imm', prog: [I(0x0f, 0, 1, 0, 1), EXIT], code: R, insn: 0, field: 'imm' },
  { name: 'sub reg with off 1 (only div/mod)', prog: [I(0x1f, 0, 1, 1), EXIT], code: R, insn: 0, field: 'off' },
  { name: 'div with off 2', prog: [I(0x3f, 0, 1, 2), EXIT], code: R, insn: 0, field: 'off' },
  { name: 'mov imm with src', prog: [I(0xb7, 0, 1, 0, 1), EXIT], code: R, insn: 0, field: 'src' },
  { name: 'mov32 imm with off', prog: [I(0xb4, 0, 0, 8, 1), EXIT], code: R, insn: 0, field: 'off' },
  { name: 'mov reg with imm', prog: [I(0xbf, 0, 1, 0, 1), EXIT], code: R, insn: 0, field: 'imm' },
  { name: 'movsx32 from 32 bits', prog: [I(0xbc, 0, 1, 32), EXIT], code: R, insn: 0, field: 'off' },
  { name: 'movsx with off 4', prog: [I(0xbf, 0, 1, 4), EXIT], code: R, insn: 0, field: 'off' },
  { name: 'neg with src', prog: [I(0x87, 0, 1), EXIT], code: R, insn: 0, field: 'src' },
  { name: 'neg32 with imm', prog: [I(0x84, 0, 0, 0, 1), EXIT], code: R, insn: 0, field: 'imm' },
  { name: 'neg with off', prog: [I(0x87, 0, 0, 1), EXIT], code: R, insn: 0, field: 'off' },
  { name: 'le with src', prog: [I(0xd4, 0, 1, 0, 16), EXIT], code: R, insn: 0, field: 'src' },
  { name: 'be with off', prog: [I(0xdc, 0, 0, 1, 32), EXIT], code: R, insn: 0, field: 'off' },
  { name: 'be with width 8', prog: [I(0xdc, 0, 0, 0, 8), EXIT], code: VerifyCode.BadSwapWidth, insn: 0 },
  { name: 'bswap with width 0', prog: [I(0xd7, 0, 0, 0, 0), EXIT], code: VerifyCode.BadSwapWidth, insn: 0 },
  { name: 'le with width 128', prog: [I(0xd4, 0, 0, 0, 128), EXIT], code: VerifyCode.BadSwapWidth, insn: 0 },
  // Jumps, calls, exit
  { name: 'jeq imm with src', prog: [I(0x15, 0, 1, 0, 0), EXIT], code: R, insn: 0, field: 'src' },
  { name: 'jgt reg with imm', prog: [I(0x2d, 0, 1, 0, 1), EXIT], code: R, insn: 0, field: 'imm' },
  { name: 'jne32 reg with imm', prog: [I(0x5e, 0, 1, 0, 1), EXIT], code: R, insn: 0, field: 'imm' },
  { name: 'ja with dst', prog: [I(0x05, 1), EXIT], code: R, insn: 0, field: 'dst' },
  { name: 'ja with src', prog: [I(0x05, 0, 1), EXIT], code: R, insn: 0, field: 'src' },
  { name: 'ja with imm', prog: [I(0x05, 0, 0, 0, 1), EXIT], code: R, insn: 0, field: 'imm' },
  { name: 'ja32 with off', prog: [I(0x06, 0, 0, 1, 0), EXIT], code: R, insn: 0, field: 'off' },
  { name: 'exit with dst', prog: [I(0x95, 1)], code: R, insn: 0, field: 'dst' },
  { name: 'exit with src', prog: [I(0x95, 0, 1)], code: R, insn: 0, field: 'src' },
  { name: 'exit with off', prog: [I(0x95, 0, 0, 1)], code: R, insn: 0, field: 'off' },
  { name: 'exit with imm', prog: [I(0x95, 0, 0, 0, 1)], code: R, insn: 0, field: 'imm' },
  { name: 'call with dst', prog: [I(0x85, 1, 0, 0, 1), EXIT], code: R, insn: 0, field: 'dst' },
  { name: 'call with off', prog: [I(0x85, 0, 0, 1, 1), EXIT], code: R, insn: 0, field: 'off' },
  { name: 'call with src 3', prog: [I(0x85, 0, 3, 0, 1), EXIT], code: R, insn: 0, field: 'src' },
  { name: 'callx with imm', prog: [I(0x8d, 2, 0, 0, 1), EXIT], code: R, insn: 0, field: 'imm' },
  { name: 'callx with src', prog: [I(0x8d, 2, 1), EXIT], code: R, insn: 0, field: 'src' },
  { name: 'callx r11', prog: [I(0x8d, 11), EXIT], code: VerifyCode.BadRegister, insn: 0, field: 'dst' },
  // Loads and stores
  { name: 'ldxw with imm', prog: [I(0x61, 0, 1, 0, 1), EXIT], code: R, insn: 0, field: 'imm' },
  { name: 'ldxsb with imm', prog: [I(0x91, 0, 1, 0, 1), EXIT], code: R, insn: 0, field: 'imm' },
  { name: 'stw with src', prog: [I(0x62, 10, 1, -8, 1), EXIT], code: R, insn: 0, field: 'src' },
  { name: 'stxdw with imm', prog: [I(0x7b, 10, 1, -8, 1), EXIT], code: R, insn: 0, field: 'imm' },
  { name: 'ldabsw with dst', prog: [I(0x20, 1, 0, 0, 12), EXIT], code: R, insn: 0, field: 'dst' },
  { name: 'ldabsh with src', prog: [I(0x28, 0, 1, 0, 12), EXIT], code: R, insn: 0, field: 'src' },
  { name: 'ldindb with off', prog: [I(0x50, 0, 1, 1, 12), EXIT], code: R, insn: 0, field: 'off' },
  { name: 'atomic op 0x02', prog: [I(0xdb, 1, 2, 0, 0x02), EXIT], code: VerifyCode.BadAtomicOp, insn: 0 },
  { name: 'atomic op xchg without fetch (0xe0)', prog: [I(0xc3, 1, 2, 0, 0xe0), EXIT], code: VerifyCode.BadAtomicOp, insn: 0 },
  { name: 'atomic op sub', prog: [I(0xdb, 1, 2, 0, 0x10), EXIT], code: VerifyCode.BadAtomicOp, insn: 0 },
  { name: 'atomic add on a byte', prog: [I(0xd3, 1, 2, 0, 0x00), EXIT], code: VerifyCode.BadAtomicSize, insn: 0 },
  // Registers
  { name: 'dst r11', prog: [I(0xb7, 11, 0, 0, 1), EXIT], code: VerifyCode.BadRegister, insn: 0, field: 'dst' },
  { name: 'src r15', prog: [I(0xbf, 0, 15), EXIT], code: VerifyCode.BadRegister, insn: 0, field: 'src' },
  { name: 'jeq dst r12', prog: [I(0x15, 12, 0, 0, 0), EXIT], code: VerifyCode.BadRegister, insn: 0, field: 'dst' },
  { name: 'jeq reg src r11', prog: [I(0x1d, 0, 11, 0, 0), EXIT], code: VerifyCode.BadRegister, insn: 0, field: 'src' },
  { name: 'stx src r11', prog: [I(0x7b, 10, 11, -8), EXIT], code: VerifyCode.BadRegister, insn: 0, field: 'src' },
  { name: 'st dst r13', prog: [I(0x7a, 13, 0, -8, 1), EXIT], code: VerifyCode.BadRegister, insn: 0, field: 'dst' },
  { name: 'ldx base r11', prog: [I(0x79, 0, 11), EXIT], code: VerifyCode.BadRegister, insn: 0, field: 'src' },
  { name: 'atomic base r11', prog: [I(0xdb, 11, 1, 0, 0), EXIT], code: VerifyCode.BadRegister, insn: 0, field: 'dst' },
  { name: 'lddw dst r11', prog: [...LDDW(11, 0, 1, 2), EXIT], code: VerifyCode.BadRegister, insn: 0, field: 'dst' },
  // Writes to r10
  { name: 'mov r10, 0', prog: [I(0xb7, 10, 0, 0, 0), EXIT], code: VerifyCode.FramePointerWrite, insn: 0 },
  { name: 'add r10, 8', prog: [MOV0, I(0x07, 10, 0, 0, 8), EXIT], code: VerifyCode.FramePointerWrite, insn: 1 },
  { name: 'w10 = w1', prog: [I(0xbc, 10, 1), EXIT], code: VerifyCode.FramePointerWrite, insn: 0 },
  { name: 'neg r10', prog: [I(0x87, 10), EXIT], code: VerifyCode.FramePointerWrite, insn: 0 },
  { name: 'be16 r10', prog: [I(0xdc, 10, 0, 0, 16), EXIT], code: VerifyCode.FramePointerWrite, insn: 0 },
  { name: 'ldxdw r10', prog: [I(0x79, 10, 1), EXIT], code: VerifyCode.FramePointerWrite, insn: 0 },
  { name: 'lddw r10', prog: [...LDDW(10, 0, 1, 2), EXIT], code: VerifyCode.FramePointerWrite, insn: 0 },
  { name: 'atomic fetch add into r10', prog: [I(0xdb, 1, 10, 0, 0x01), EXIT], code: VerifyCode.FramePointerWrite, insn: 0 },
  { name: 'xchg into r10', prog: [I(0xc3, 1, 10, 0, 0xe1), EXIT], code: VerifyCode.FramePointerWrite, insn: 0 },
  // lddw
  { name: 'lddw in the last slot', prog: [MOV0, EXIT, I(0x18, 0, 0, 0, 1)], code: VerifyCode.LddwTruncated, insn: 2 },
  { name: 'lddw alone', prog: [I(0x18, 0, 0, 0, 1)], code: VerifyCode.LddwTruncated, insn: 0 },
  { name: 'lddw second slot opcode', prog: [I(0x18, 0, 0, 0, 1), I(0x95), EXIT], code: VerifyCode.LddwBadSecondSlot, insn: 0 },
  { name: 'lddw second slot dst', prog: [I(0x18, 0, 0, 0, 1), I(0, 1), EXIT], code: VerifyCode.LddwBadSecondSlot, insn: 0 },
  { name: 'lddw second slot src', prog: [I(0x18, 0, 0, 0, 1), I(0, 0, 1), EXIT], code: VerifyCode.LddwBadSecondSlot, insn: 0 },
  { name: 'lddw second slot off', prog: [I(0x18, 0, 0, 0, 1), I(0, 0, 0, 1), EXIT], code: VerifyCode.LddwBadSecondSlot, insn: 0 },
  { name: 'lddw with off', prog: [I(0x18, 0, 0, 1, 1), I(0), EXIT], code: R, insn: 0, field: 'off' },
  { name: 'lddw pseudo src 7', prog: [...LDDW(1, 7, 1, 0), EXIT], code: VerifyCode.LddwBadPseudo, insn: 0 },
  { name: 'lddw pseudo src 15', prog: [...LDDW(1, 15, 1, 0), EXIT], code: VerifyCode.LddwBadPseudo, insn: 0 },
  { name: 'lddw map fd with high word', prog: [...LDDW(1, 1, 3, 1), EXIT], code: VerifyCode.LddwBadPseudo, insn: 0 },
  { name: 'lddw map idx with high word', prog: [...LDDW(1, 5, 0, 4), EXIT], code: VerifyCode.LddwBadPseudo, insn: 0 },
  // Control flow
  { name: 'ja past the end', prog: [I(0x05, 0, 0, 1), EXIT], code: VerifyCode.JumpOutOfRange, insn: 0 },
  { name: 'ja before the start', prog: [I(0x05, 0, 0, -2), EXIT], code: VerifyCode.JumpOutOfRange, insn: 0 },
  { name: 'jeq far past the end', prog: [I(0x15, 1, 0, 0x7fff, 0), EXIT], code: VerifyCode.JumpOutOfRange, insn: 0 },
  { name: 'ja32 past the end', prog: [I(0x06, 0, 0, 0, 1), EXIT], code: VerifyCode.JumpOutOfRange, insn: 0 },
  { name: 'ja32 to INT_MIN', prog: [I(0x06, 0, 0, 0, -0x80000000), EXIT], code: VerifyCode.JumpOutOfRange, insn: 0 },
  {
    name: 'jump into lddw',
    prog: [I(0x15, 1, 0, 1, 0), ...LDDW(0, 0, 1, 2), EXIT],
    code: VerifyCode.JumpIntoLddw,
    insn: 0,
  },
  {
    name: 'ja32 into lddw',
    prog: [I(0x06, 0, 0, 0, 1), ...LDDW(0, 0, 1, 2), EXIT],
    code: VerifyCode.JumpIntoLddw,
    insn: 0,
  },
  { name: 'local call past the end', prog: [I(0x85, 0, 1, 0, 5), EXIT], code: VerifyCode.JumpOutOfRange, insn: 0 },
  { name: 'local call before the start', prog: [I(0x85, 0, 1, 0, -3), EXIT], code: VerifyCode.JumpOutOfRange, insn: 0 },
  {
    name: 'local call into lddw',
    prog: [I(0x85, 0, 1, 0, 2), EXIT, ...LDDW(0, 0, 1, 2), EXIT],
    code: VerifyCode.JumpIntoLddw,
    insn: 0,
  },
  { name: 'lddw func ref past the end', prog: [...LDDW(1, 4, 5, 0), EXIT], code: VerifyCode.JumpOutOfRange, insn: 0 },
  {
    name: 'jump from main into a subprogram',
    prog: [I(0x85, 0, 1, 0, 2), I(0x05, 0, 0, 1), EXIT, MOV0, EXIT],
    code: VerifyCode.JumpOutOfSubprog,
    insn: 1,
  },
  {
    name: 'jump from a subprogram back into main',
    prog: [I(0x85, 0, 1, 0, 1), EXIT, I(0x05, 0, 0, -3), EXIT],
    code: VerifyCode.JumpOutOfSubprog,
    insn: 2,
  },
  { name: 'falls off the end', prog: [MOV0], code: VerifyCode.FallsOffEnd, insn: 0 },
  { name: 'ends with a conditional jump', prog: [I(0x15, 0, 0, -1, 0)], code: VerifyCode.FallsOffEnd, insn: 0 },
  { name: 'ends with a call', prog: [MOV0, I(0x85, 0, 0, 0, 1)], code: VerifyCode.FallsOffEnd, insn: 1 },
  { name: 'ends with lddw', prog: [EXIT, ...LDDW(0, 0, 1, 2)], code: VerifyCode.FallsOffEnd, insn: 1 },
  {
    name: 'main falls into its subprogram',
    prog: [I(0x85, 0, 1, 0, 1), MOV0, EXIT],
    code: VerifyCode.FallsOffEnd,
    insn: 1,
  },
  // Helpers
  {
    name: 'unknown helper',
    prog: [I(0x85, 0, 0, 0, 9999), EXIT],
    code: VerifyCode.UnknownHelper,
    insn: 0,
    opts: { knownHelper: (id) => id < 100 },
  },
  {
    name: 'negative helper id',
    prog: [I(0x85, 0, 0, 0, -1), EXIT],
    code: VerifyCode.UnknownHelper,
    insn: 0,
    opts: { knownHelper: (id) => id >= 0 },
  },
  // strict-only kernel value checks
  { name: 'div by imm 0 (strict)', prog: [I(0x37, 0, 0, 0, 0), EXIT], code: VerifyCode.DivByZeroImm, insn: 0, opts: { strict: true } },
  { name: 'smod32 by imm 0 (strict)', prog: [I(0x94, 0, 0, 1, 0), EXIT], code: VerifyCode.DivByZeroImm, insn: 0, opts: { strict: true } },
  { name: 'lsh32 by 32 (strict)', prog: [I(0x64, 0, 0, 0, 32), EXIT], code: VerifyCode.ShiftOutOfRange, insn: 0, opts: { strict: true } },
  { name: 'arsh by -1 (strict)', prog: [I(0xc7, 0, 0, 0, -1), EXIT], code: VerifyCode.ShiftOutOfRange, insn: 0, opts: { strict: true } },
  { name: 'rsh by 64 (strict)', prog: [I(0x77, 0, 0, 0, 64), EXIT], code: VerifyCode.ShiftOutOfRange, insn: 0, opts: { strict: true } },
  { name: 'callx (strict)', prog: [I(0x8d, 2), EXIT], code: VerifyCode.UnknownOpcode, insn: 0, opts: { strict: true } },
  { name: 'unreachable after exit (strict)', prog: [EXIT, MOV0, EXIT], code: VerifyCode.Unreachable, insn: 1, opts: { strict: true } },
  { name: 'unreachable after ja (strict)', prog: [I(0x05, 0, 0, 1), MOV0, EXIT], code: VerifyCode.Unreachable, insn: 1, opts: { strict: true } },
];

describe('validateProgram refuses', () => {
  it.each(BAD)('$name', ({ prog, code, insn, field, opts }) => {
    const e = refusal(prog, { name: 'p', ...opts });
    expect(e.code).toBe(code);
    expect(e.fields.program).toBe('p');
    if (insn !== undefined) expect(e.fields.insn).toBe(insn);
    if (field !== undefined) expect(e.fields.field).toBe(field);
  });

  it('names the instruction index and mnemonic in the message', () => {
    const e = refusal([MOV0, I(0x04, 0, 1, 0, 1), EXIT], { name: 'xdp_fw' });
    expect(e.fields.insn).toBe(1);
    expect(e.fields.mnemonic).toBe('add32');
    expect(e.message).toContain('xdp_fw');
    expect(e.message).toContain('instruction 1');
    expect(e.message).toContain('add32');
  });

  it('refuses a program above the kernel limit', () => {
    const prog = new Array<Insn>(1_000_001).fill(EXIT);
    expect(refusal(prog).code).toBe(VerifyCode.ProgramTooLarge);
  });
});

interface GoodCase {
  name: string;
  prog: Insn[];
  opts?: ValidateOptions;
}

const GOOD: GoodCase[] = [
  { name: 'exit', prog: [EXIT] },
  { name: 'ends with ja back', prog: [MOV0, I(0x05, 0, 0, -2)] },
  { name: 'ends with ja32 back', prog: [MOV0, I(0x06, 0, 0, 0, -2)] },
  { name: 'ja32 forward', prog: [I(0x06, 0, 0, 0, 1), MOV0, EXIT] },
  { name: 'every ALU64 and ALU32 imm op', prog: [...[0x07, 0x17, 0x27, 0x37, 0x47, 0x57, 0x67, 0x77, 0x97, 0xa7, 0xb7, 0xc7].flatMap((op) => [I(op, 1, 0, 0, 3), I(op - 3, 1, 0, 0, 3)]), EXIT] },
  { name: 'every ALU64 and ALU32 reg op', prog: [...[0x0f, 0x1f, 0x2f, 0x3f, 0x4f, 0x5f, 0x6f, 0x7f, 0x9f, 0xaf, 0xbf, 0xcf].flatMap((op) => [I(op, 1, 2), I(op - 3, 1, 2)]), EXIT] },
  { name: 'sdiv/smod imm and reg, 64 and 32', prog: [I(0x37, 0, 0, 1, 3), I(0x3f, 0, 1, 1), I(0x94, 0, 0, 1, 3), I(0x9c, 0, 1, 1), EXIT] },
  { name: 'movsx all forms', prog: [I(0xbf, 0, 1, 8), I(0xbf, 0, 1, 16), I(0xbf, 0, 1, 32), I(0xbc, 0, 1, 8), I(0xbc, 0, 1, 16), EXIT] },
  { name: 'neg, neg32', prog: [I(0x87, 1), I(0x84, 1), EXIT] },
  { name: 'le/be/bswap all widths', prog: [...[0xd4, 0xdc, 0xd7].flatMap((op) => [16, 32, 64].map((w) => I(op, 3, 0, 0, w))), EXIT] },
  { name: 'div by imm 0 and shift 60 (not strict)', prog: [I(0x37, 0, 0, 0, 0), I(0x64, 0, 0, 0, 60), I(0x67, 0, 0, 0, -4), EXIT] },
  { name: 'every conditional jump, 64 and 32', prog: [...[0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0].flatMap((op) => [I(op | 0x05, 1, 0, 0, -1), I(op | 0x0d, 1, 2), I(op | 0x06, 1, 0, 0, 7), I(op | 0x0e, 1, 2)]), EXIT] },
  { name: 'jump to the last instruction', prog: [I(0x15, 1, 0, 1, 0), MOV0, EXIT] },
  { name: 'jump over lddw', prog: [I(0x15, 1, 0, 2, 0), ...LDDW(0, 0, 1, 2), EXIT] },
  { name: 'backward jump onto lddw', prog: [...LDDW(0, 0, 1, 2), I(0x15, 1, 0, -3, 0), EXIT] },
  { name: 'loads and stores through r10', prog: [I(0x7a, 10, 0, -8, 1), I(0x7b, 10, 1, -16), I(0x79, 0, 10, -8), I(0x62, 10, 0, -4, 7), EXIT] },
  { name: 'every ldx/ldxs/st/stx size', prog: [...[0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91].map((op) => I(op, 0, 1, -1)), ...[0x62, 0x6a, 0x72, 0x7a].map((op) => I(op, 1, 0, 0x7fff, -1)), ...[0x63, 0x6b, 0x73, 0x7b].map((op) => I(op, 1, 2, -0x8000)), EXIT] },
  { name: 'every atomic, 64 and 32', prog: [...[0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1].flatMap((op) => [I(0xdb, 1, 2, 8, op), I(0xc3, 10, 2, -8, op)]), EXIT] },
  { name: 'atomic add with r10 as the value', prog: [I(0xdb, 1, 10, 0, 0x00), I(0xdb, 10, 1, -8, 0xf1), EXIT] },
  { name: 'ld abs / ind', prog: [I(0x20, 0, 0, 0, 12), I(0x28, 0, 0, 0, 12), I(0x30, 0, 0, 0, 12), I(0x40, 0, 1, 0, 0), I(0x48, 0, 1, 0, 0), I(0x50, 0, 1, 0, 0), EXIT] },
  { name: 'lddw pseudo forms 0..6', prog: [...LDDW(1, 0, -1, -1), ...LDDW(1, 1, 3, 0), ...LDDW(1, 2, 3, 8), ...LDDW(1, 3, 77, 0), ...LDDW(1, 5, 0, 0), ...LDDW(1, 6, 0, 8), ...LDDW(1, 4, 2, 0), EXIT, MOV0, EXIT] },
  { name: 'helper calls', prog: [I(0x85, 0, 0, 0, 1), I(0x85, 0, 0, 0, 2), EXIT], opts: { knownHelper: (id) => id === 1 || id === 2 } },
  { name: 'callx with register in dst', prog: [I(0xb7, 2, 0, 0, 5), I(0x8d, 2), EXIT] },
  { name: 'local call forward and subprogram ending with ja', prog: [I(0x85, 0, 1, 0, 1), EXIT, MOV0, I(0x15, 1, 0, 1, 0), I(0x05, 0, 0, -3), EXIT] },
  { name: 'recursive-looking local call to itself start', prog: [I(0x85, 0, 1, 0, 1), EXIT, I(0x85, 0, 1, 0, -1), EXIT] },
  { name: 'strict: everything reachable', prog: [I(0x85, 0, 1, 0, 3), I(0x15, 0, 0, 1, 0), I(0x05, 0, 0, -3), EXIT, MOV0, EXIT], opts: { strict: true } },
  { name: 'strict: lddw func ref makes its target reachable', prog: [...LDDW(1, 4, 2, 0), EXIT, MOV0, EXIT], opts: { strict: true } },
];

describe('validateProgram accepts', () => {
  it.each(GOOD)('$name', ({ prog, opts }) => {
    expect(() => validateProgram(prog, opts)).not.toThrow();
  });
});

describe('validateProgram reports what xdpsim does not implement', () => {
  it.each([
    ['kfunc call', [I(0x85, 0, 2, 0, 1234), EXIT]],
    ['may_goto', [I(0xe5, 0, 0, 0, 0), EXIT]],
    ['load-acquire', [I(0xdb, 0, 1, 0, 0x100), EXIT]],
    ['store-release on a byte', [I(0xd3, 1, 2, 0, 0x110), EXIT]],
    ['addr_space_cast', [I(0xbf, 1, 1, 1, 1), EXIT]],
  ] as const)('%s', (_name, prog) => {
    let err: unknown;
    try {
      validateProgram(prog);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotSupportedError);
    expect((err as NotSupportedError).code).toBe('E_NOT_SUPPORTED');
    expect((err as NotSupportedError).fields.insn).toBe(0);
  });
});

/** rawSection returns the lines of a `.data` file's `-- raw` section, comments stripped. */
function rawSection(text: string): string[] {
  const out: string[] = [];
  let inRaw = false;
  for (const line0 of text.split('\n')) {
    const line = line0.replace(/\r$/, '').replace(/#.*/, '').trim();
    if (line.includes('--')) {
      inRaw = line.includes('raw');
      continue;
    }
    if (inRaw && line !== '') out.push(line);
  }
  return out;
}

const FIELD_OF: Record<string, string> = { offset: 'off', src: 'src', dst: 'dst', imm: 'imm' };

describe('bpf_conformance negative/unused-*.data', () => {
  const dir = join(CONFORMANCE, 'negative');
  const files = readdirSync(dir).filter((f) => f.startsWith('unused-') && f.endsWith('.data'));

  it('finds the 45 files', () => {
    expect(files.length).toBe(45);
  });

  it.each(files)('%s is refused for its reserved field', (file) => {
    // FORMAT.md §2.4: one instruction per line, 8 hex bytes in memory order.
    const lines = rawSection(readFileSync(join(dir, file), 'utf8'));
    const bytes = Uint8Array.from(lines.flatMap((l) => l.split(/\s+/).map((b) => parseInt(b, 16))));
    expect(bytes.length).toBe(lines.length * 8);
    const e = refusal(decodeInsns(bytes), { name: file });
    expect(e.code).toBe(VerifyCode.ReservedField);
    expect(e.fields.insn).toBe(0);
    const suffix = /-(\w+)\.data$/.exec(file)?.[1] ?? '';
    expect(e.fields.field).toBe(FIELD_OF[suffix]);
  });
});

/** section returns the lines of one `-- name` section of a `.data` file. */
function section(text: string, name: string): string {
  const out: string[] = [];
  let on = false;
  for (const line of text.split('\n')) {
    if (line.includes('--')) {
      on = line.includes(name);
      continue;
    }
    if (on) out.push(line);
  }
  return out.join('\n');
}

describe('bpf_conformance positive tests', () => {
  const dir = join(CONFORMANCE, 'tests');
  const files = readdirSync(dir).filter((f) => f.endsWith('.data'));
  // INDEX.tsv column libbpf_ci_excluded: tests the suite's Linux CI does not run on the kernel.
  const excluded = new Set(
    readFileSync(join(CONFORMANCE, 'INDEX.tsv'), 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.split('\t'))
      .filter((c) => c.length > 7 && c[7] !== '-')
      .map((c) => c[0]),
  );

  it('all 313 assemble and validate; strict refuses only tests the kernel CI excludes', () => {
    expect(files.length).toBe(313);
    const strictRefused: string[] = [];
    for (const f of files) {
      const insns = assemble(section(readFileSync(join(dir, f), 'utf8'), 'asm'));
      expect(() => validateProgram(insns, { name: f }), f).not.toThrow();
      try {
        validateProgram(insns, { name: f, strict: true });
      } catch (e) {
        if (!(e instanceof VerifyError)) throw e;
        strictRefused.push(f);
      }
    }
    expect(strictRefused.length).toBe(13); // {arsh,lsh,rsh}{32,64}-imm-{high,neg} and callx
    for (const f of strictRefused) expect(excluded.has(f), f).toBe(true);
  });
});

describe('bpf_conformance positive raw tests', () => {
  it('lddw.data validates (also strict)', () => {
    const lines = rawSection(readFileSync(join(CONFORMANCE, 'tests', 'lddw.data'), 'utf8'));
    // FORMAT.md §2.3: each token is one slot as a 64-bit integer, stored little-endian.
    const bytes = new Uint8Array(lines.length * 8);
    const view = new DataView(bytes.buffer);
    lines.forEach((tok, i) => view.setBigUint64(i * 8, BigInt(tok), true));
    const insns = decodeInsns(bytes);
    expect(insns.length).toBe(3);
    expect(() => validateProgram(insns, { name: 'lddw' })).not.toThrow();
    expect(() => validateProgram(insns, { name: 'lddw', strict: true })).not.toThrow();
  });
});
