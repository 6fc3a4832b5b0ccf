/**
 * isa-semantics — one table of small programs per instruction class, on edge values, run on
 * every registered engine. Expected r0 values come from the ISA definition (RFC 9669 and
 * kernel/bpf/core.c), written out by hand.
 */
import { describe, expect, it } from 'vitest';
import { engineNames, getEngine } from '../../src/vm/engines.js';
import { r0Of, runAsm } from './util.js';

interface Case {
  name: string;
  asm: string;
  r0: bigint;
  mem?: number[];
}

const INT64_MIN = 'lddw %r0, 0x8000000000000000';

const ALU64: Case[] = [
  { name: 'add wraps at 2^64', asm: 'lddw %r0, 0xffffffffffffffff\nadd %r0, 1\nexit', r0: 0n },
  { name: 'add carries into the high half', asm: 'lddw %r0, 0xffffffff\nadd %r0, 1\nexit', r0: 0x1_0000_0000n },
  { name: 'add imm -1 is sign-extended', asm: 'mov %r0, 5\nadd %r0, -1\nexit', r0: 4n },
  { name: 'sub borrows from the high half', asm: 'lddw %r0, 0x100000000\nsub %r0, 1\nexit', r0: 0xffff_ffffn },
  { name: 'sub below zero wraps', asm: 'mov %r0, 0\nsub %r0, 1\nexit', r0: 0xffff_ffff_ffff_ffffn },
  { name: 'mul full 64-bit low product', asm: 'lddw %r0, 0x123456789abcdef0\nlddw %r1, 0x0fedcba987654321\nmul %r0, %r1\nexit', r0: 0x2236d88fe5618cf0n },
  { name: 'mul INT64_MIN * -1 wraps', asm: `${INT64_MIN}\nmul %r0, -1\nexit`, r0: 0x8000_0000_0000_0000n },
  { name: 'div unsigned 64-bit', asm: 'lddw %r0, 0xffffffffffffffff\nmov %r1, 3\ndiv %r0, %r1\nexit', r0: 0x5555_5555_5555_5555n },
  { name: 'div imm -1 is 2^64-1 unsigned', asm: 'lddw %r0, 0xfffffffffffffffe\ndiv %r0, -1\nexit', r0: 0n },
  { name: 'div by zero register gives 0', asm: 'mov %r0, 5\nmov %r1, 0\ndiv %r0, %r1\nexit', r0: 0n },
  { name: 'mod by zero leaves dst', asm: 'lddw %r0, 0x1234567890\nmov %r1, 0\nmod %r0, %r1\nexit', r0: 0x12_3456_7890n },
  { name: 'mod 64-bit', asm: 'lddw %r0, 0xffffffffffffffff\nlddw %r1, 0x100000001\nmod %r0, %r1\nexit', r0: 0n },
  { name: 'sdiv truncates toward zero', asm: 'mov %r0, -7\nsdiv %r0, 2\nexit', r0: 0xffff_ffff_ffff_fffdn },
  { name: 'sdiv INT64_MIN / -1 = INT64_MIN', asm: `${INT64_MIN}\nsdiv %r0, -1\nexit`, r0: 0x8000_0000_0000_0000n },
  { name: 'sdiv by zero gives 0', asm: 'mov %r0, -7\nmov %r1, 0\nsdiv %r0, %r1\nexit', r0: 0n },
  { name: 'smod sign follows dividend', asm: 'mov %r0, -7\nsmod %r0, 3\nexit', r0: 0xffff_ffff_ffff_ffffn },
  { name: 'smod positive by negative', asm: 'mov %r0, 7\nsmod %r0, -3\nexit', r0: 1n },
  { name: 'smod INT64_MIN % -1 = 0', asm: `${INT64_MIN}\nsmod %r0, -1\nexit`, r0: 0n },
  { name: 'smod by zero leaves dst', asm: 'mov %r0, -7\nmov %r1, 0\nsmod %r0, %r1\nexit', r0: 0xffff_ffff_ffff_fff9n },
  { name: 'neg INT64_MIN = INT64_MIN', asm: `${INT64_MIN}\nneg %r0\nexit`, r0: 0x8000_0000_0000_0000n },
  { name: 'neg 1', asm: 'mov %r0, 1\nneg %r0\nexit', r0: 0xffff_ffff_ffff_ffffn },
  { name: 'or/and/xor imm sign-extend', asm: 'mov %r0, 0\nor %r0, -2\nand %r0, -4\nxor %r0, 1\nexit', r0: 0xffff_ffff_ffff_fffdn },
  { name: 'lsh by 63', asm: 'mov %r0, 1\nlsh %r0, 63\nexit', r0: 0x8000_0000_0000_0000n },
  { name: 'lsh across halves', asm: 'lddw %r0, 0x80000001\nlsh %r0, 4\nexit', r0: 0x8_0000_0010n },
  { name: 'lsh register count masked to 6 bits', asm: 'mov %r0, 1\nmov %r1, 68\nlsh %r0, %r1\nexit', r0: 16n },
  { name: 'lsh imm count masked (-1 = 63)', asm: 'mov %r0, 1\nlsh %r0, -1\nexit', r0: 0x8000_0000_0000_0000n },
  { name: 'rsh is logical', asm: 'mov %r0, -1\nrsh %r0, 60\nexit', r0: 15n },
  { name: 'rsh across halves', asm: 'lddw %r0, 0x1000000010\nrsh %r0, 4\nexit', r0: 0x1_0000_0001n },
  { name: 'arsh fills with the sign', asm: `${INT64_MIN}\narsh %r0, 63\nexit`, r0: 0xffff_ffff_ffff_ffffn },
  { name: 'arsh by 32', asm: 'lddw %r0, 0xfffffff000000000\narsh %r0, 32\nexit', r0: 0xffff_ffff_ffff_fff0n },
  { name: 'arsh register count masked', asm: 'mov %r0, -256\nmov %r1, 72\narsh %r0, %r1\nexit', r0: 0xffff_ffff_ffff_ffffn },
  { name: 'mov imm sign-extends', asm: 'mov %r0, -10\nexit', r0: 0xffff_ffff_ffff_fff6n },
  { name: 'mov hex imm 0x80000000 is INT32_MIN, sign-extended', asm: 'mov %r0, 0x80000000\nexit', r0: 0xffff_ffff_8000_0000n },
  { name: 'movsx864', asm: 'mov %r1, 0x80\nmovsx864 %r0, %r1\nexit', r0: 0xffff_ffff_ffff_ff80n },
  { name: 'movsx1664', asm: 'lddw %r1, 0x123458000\nmovsx1664 %r0, %r1\nexit', r0: 0xffff_ffff_ffff_8000n },
  { name: 'movsx3264', asm: 'lddw %r1, 0x1ffffffff\nmovsx3264 %r0, %r1\nexit', r0: 0xffff_ffff_ffff_ffffn },
  { name: 'bswap16 zero-extends', asm: 'lddw %r0, 0x1122334455667788\nbswap16 %r0\nexit', r0: 0x8877n },
  { name: 'bswap32 zero-extends', asm: 'lddw %r0, 0x1122334455667788\nbswap32 %r0\nexit', r0: 0x8877_6655n },
  { name: 'bswap64', asm: 'lddw %r0, 0x1122334455667788\nbswap64 %r0\nexit', r0: 0x8877_6655_4433_2211n },
];

const ALU32: Case[] = [
  { name: 'add32 wraps and zero-extends', asm: 'lddw %r0, 0xffffffffffffffff\nadd32 %r0, 1\nexit', r0: 0n },
  { name: 'add32 result zero-extends', asm: 'mov %r0, -1\nadd32 %r0, 0\nexit', r0: 0xffff_ffffn },
  { name: 'mov32 zero-extends', asm: 'mov %r1, -1\nmov32 %r0, %r1\nexit', r0: 0xffff_ffffn },
  { name: 'mov32 imm -10', asm: 'mov32 %r0, -10\nexit', r0: 0xffff_fff6n },
  { name: 'sub32', asm: 'mov32 %r0, 0\nsub32 %r0, 1\nexit', r0: 0xffff_ffffn },
  { name: 'mul32 INT32_MIN * -1 wraps', asm: 'mov32 %r0, 0x80000000\nmul32 %r0, -1\nexit', r0: 0x8000_0000n },
  { name: 'mul32 uses low halves', asm: 'lddw %r0, 0x100000003\nlddw %r1, 0x200000005\nmul32 %r0, %r1\nexit', r0: 15n },
  { name: 'div32 is unsigned', asm: 'mov32 %r0, -1\ndiv32 %r0, 2\nexit', r0: 0x7fff_ffffn },
  { name: 'div32 uses the low 32 bits of the divisor', asm: 'mov %r0, 12\nlddw %r1, 0x100000003\ndiv32 %r0, %r1\nexit', r0: 4n },
  { name: 'div32 by zero (high bits set) gives 0', asm: 'mov %r0, 12\nlddw %r1, 0x100000000\ndiv32 %r0, %r1\nexit', r0: 0n },
  { name: 'mod32 by zero keeps dst, zero-extended', asm: 'lddw %r0, 0xffffffff00000005\nmov %r1, 0\nmod32 %r0, %r1\nexit', r0: 5n },
  { name: 'sdiv32 INT32_MIN / -1', asm: 'mov32 %r0, 0x80000000\nsdiv32 %r0, -1\nexit', r0: 0x8000_0000n },
  { name: 'sdiv32 negative', asm: 'mov32 %r0, -7\nsdiv32 %r0, 2\nexit', r0: 0xffff_fffdn },
  { name: 'smod32 INT32_MIN % -1 = 0', asm: 'mov32 %r0, 0x80000000\nsmod32 %r0, -1\nexit', r0: 0n },
  { name: 'smod32 by zero keeps dst, zero-extended', asm: 'mov %r0, -7\nmov %r1, 0\nsmod32 %r0, %r1\nexit', r0: 0xffff_fff9n },
  { name: 'neg32 INT32_MIN', asm: 'mov32 %r0, 0x80000000\nneg32 %r0\nexit', r0: 0x8000_0000n },
  { name: 'lsh32 imm 60 shifts by 28', asm: 'mov32 %r0, 0x11\nlsh32 %r0, 60\nexit', r0: 0x1000_0000n },
  { name: 'lsh32 imm -4 shifts by 28', asm: 'mov32 %r0, 1\nlsh32 %r0, -4\nexit', r0: 0x1000_0000n },
  { name: 'rsh32 register with high bits set', asm: 'mov32 %r0, -1\nlddw %r1, 0x100000001f\nrsh32 %r0, %r1\nexit', r0: 1n },
  { name: 'arsh32 sign fill, zero-extended', asm: 'mov32 %r0, 0x80000000\narsh32 %r0, 31\nexit', r0: 0xffff_ffffn },
  { name: 'movsx832', asm: 'mov %r1, 0x1ff\nmovsx832 %r0, %r1\nexit', r0: 0xffff_ffffn },
  { name: 'movsx1632', asm: 'mov %r1, 0x8000\nmovsx1632 %r0, %r1\nexit', r0: 0xffff_8000n },
  { name: 'le16 truncates', asm: 'lddw %r0, 0x1122334455667788\nle16 %r0\nexit', r0: 0x7788n },
  { name: 'le32 truncates', asm: 'lddw %r0, 0x1122334455667788\nle32 %r0\nexit', r0: 0x5566_7788n },
  { name: 'le64 is identity', asm: 'lddw %r0, 0x1122334455667788\nle64 %r0\nexit', r0: 0x1122_3344_5566_7788n },
  { name: 'be16 swaps and zero-extends', asm: 'lddw %r0, 0x1122334455667788\nbe16 %r0\nexit', r0: 0x8877n },
  { name: 'be32', asm: 'lddw %r0, 0x1122334455667788\nbe32 %r0\nexit', r0: 0x8877_6655n },
  { name: 'be64', asm: 'lddw %r0, 0x1122334455667788\nbe64 %r0\nexit', r0: 0x8877_6655_4433_2211n },
];

/** Jumps: r0 = 1 when taken, 0 when not. */
const jump = (setup: string, j: string): string => `${setup}\nmov %r0, 1\n${j}, taken\nmov %r0, 0\ntaken:\nexit`;
const JMP: Case[] = [
  { name: 'jgt imm -1 is 2^64-1 unsigned: not taken', asm: jump('mov %r1, 5', 'jgt %r1, -1'), r0: 0n },
  { name: 'jsgt imm -1 signed: taken', asm: jump('mov %r1, 5', 'jsgt %r1, -1'), r0: 1n },
  { name: 'jeq imm -1 matches all-ones', asm: jump('mov %r1, -1', 'jeq %r1, -1'), r0: 1n },
  { name: 'jeq imm -1 does not match 0xffffffff', asm: jump('mov32 %r1, -1', 'jeq %r1, -1'), r0: 0n },
  { name: 'jne compares high halves', asm: jump('lddw %r1, 0x100000000', 'jne %r1, 0'), r0: 1n },
  { name: 'jge equal', asm: jump('mov %r1, 7', 'jge %r1, 7'), r0: 1n },
  { name: 'jlt unsigned', asm: jump('mov %r1, -1', 'jlt %r1, 1'), r0: 0n },
  { name: 'jle reg', asm: jump('mov %r1, 3\nmov %r2, 3', 'jle %r1, %r2'), r0: 1n },
  { name: 'jslt signed', asm: jump('mov %r1, -1', 'jslt %r1, 1'), r0: 1n },
  { name: 'jsle INT64_MIN', asm: jump('lddw %r1, 0x8000000000000000\nmov %r2, -1', 'jsle %r1, %r2'), r0: 1n },
  { name: 'jsge reg', asm: jump('mov %r1, -1\nmov %r2, -2', 'jsge %r1, %r2'), r0: 1n },
  { name: 'jset high half', asm: jump('lddw %r1, 0x100000000\nlddw %r2, 0x300000000', 'jset %r1, %r2'), r0: 1n },
  { name: 'jset imm sign-extended reaches the high half', asm: jump('lddw %r1, 0x8000000000000000', 'jset %r1, -1'), r0: 1n },
  { name: 'jgt32 ignores high halves', asm: jump('lddw %r1, 0xff00000001', 'jgt32 %r1, 1'), r0: 0n },
  { name: 'jeq32 on low half', asm: jump('lddw %r1, 0xff00000005', 'jeq32 %r1, 5'), r0: 1n },
  { name: 'jsgt32 signed low half', asm: jump('mov32 %r1, 0x80000000', 'jsgt32 %r1, 0'), r0: 0n },
  { name: 'jlt32 unsigned low half', asm: jump('mov32 %r1, 0x80000000', 'jlt32 %r1, 1'), r0: 0n },
  { name: 'jsle32 reg', asm: jump('mov32 %r1, -5\nmov32 %r2, -5', 'jsle32 %r1, %r2'), r0: 1n },
  { name: 'jset32 reg', asm: jump('mov %r1, 6\nmov %r2, 2', 'jset32 %r1, %r2'), r0: 1n },
  { name: 'negative offset loop', asm: 'mov %r0, 0\nmov %r1, 10\nloop:\nadd %r0, 3\nsub %r1, 1\njne %r1, 0, loop\nexit', r0: 30n },
  { name: 'ja +1 skips one slot', asm: 'mov %r0, 1\nja +1\nmov %r0, 2\nexit', r0: 1n },
  { name: 'ja over lddw counts two slots', asm: 'mov %r0, 1\nja +2\nlddw %r0, 5\nexit', r0: 1n },
  { name: 'ja32 backwards and forwards', asm: 'mov %r0, 1\nja32 fwd\nback:\nadd %r0, 10\nexit\nfwd:\nadd %r0, 100\nja32 back', r0: 111n },
];

const MEM: Case[] = [
  { name: 'ldxb/ldxh/ldxw/ldxdw little-endian', mem: [1, 2, 3, 4, 5, 6, 7, 8],
    asm: 'ldxdw %r0, [%r1+0]\nldxw %r2, [%r1+4]\nldxh %r3, [%r1+2]\nldxb %r4, [%r1+7]\nadd %r0, %r2\nadd %r0, %r3\nadd %r0, %r4\nexit',
    r0: 0x0807060504030201n + 0x08070605n + 0x0403n + 8n },
  { name: 'ldxsb sign-extends', mem: [0x80], asm: 'ldxsb %r0, [%r1]\nexit', r0: 0xffff_ffff_ffff_ff80n },
  { name: 'ldxsh sign-extends', mem: [0x00, 0x80], asm: 'ldxsh %r0, [%r1]\nexit', r0: 0xffff_ffff_ffff_8000n },
  { name: 'ldxsw sign-extends', mem: [0, 0, 0, 0x80], asm: 'ldxsw %r0, [%r1]\nexit', r0: 0xffff_ffff_8000_0000n },
  { name: 'ldxw zero-extends', mem: [0xff, 0xff, 0xff, 0xff], asm: 'mov %r0, -1\nldxw %r0, [%r1]\nexit', r0: 0xffff_ffffn },
  { name: 'stdw sign-extends its imm', asm: 'stdw [%r10-8], -2\nldxdw %r0, [%r10-8]\nexit', r0: 0xffff_ffff_ffff_fffen },
  { name: 'stw/sth/stb write their width', asm: 'stdw [%r10-8], 0\nstw [%r10-8], -1\nsth [%r10-4], 0x1234\nstb [%r10-2], 0x56\nldxdw %r0, [%r10-8]\nexit', r0: 0x0056_1234_ffff_ffffn },
  { name: 'stx sizes', asm: 'lddw %r1, 0x1122334455667788\nstxdw [%r10-16], %r1\nstxw [%r10-8], %r1\nstxh [%r10-4], %r1\nstxb [%r10-2], %r1\nstb [%r10-1], 0\nldxdw %r0, [%r10-8]\nldxdw %r2, [%r10-16]\njne %r2, %r1, +1\nexit\nmov %r0, 0\nexit', r0: 0x0088_7788_5566_7788n },
  { name: 'store into mem is visible to a later load', mem: [0, 0, 0, 0], asm: 'stw [%r1], 0x01020304\nldxb %r0, [%r1+3]\nexit', r0: 1n },
];

/** Atomics: r0 packs (old value returned in src) and (new memory value) so both are checked. */
const atomic64 = (init: string, src: string, op: string): string =>
  `lddw %r2, ${init}\nstxdw [%r10-8], %r2\nlddw %r1, ${src}\n${op} [%r10-8], %r1\nldxdw %r0, [%r10-8]\nmov %r9, %r1\nexit`;
const ATOMIC: Case[] = [
  { name: 'lock add 64 (no fetch) keeps src', asm: atomic64('0xffffffff', '1', 'lock add') + '', r0: 0x1_0000_0000n },
  { name: 'lock or 64', asm: atomic64('0xf0', '0x0f00000000', 'lock or'), r0: 0xf_0000_00f0n },
  { name: 'lock and 64', asm: atomic64('0xff', '0x0f', 'lock and'), r0: 0x0fn },
  { name: 'lock xor 64', asm: atomic64('0xff', '0x0f', 'lock xor'), r0: 0xf0n },
  { name: 'lock fetch add 64 returns the old value in src',
    asm: 'lddw %r2, 0x100000005\nstxdw [%r10-8], %r2\nmov %r1, 2\nlock fetch add [%r10-8], %r1\nldxdw %r3, [%r10-8]\nlddw %r4, 0x100000007\njne %r3, %r4, fail\nmov %r0, %r1\nexit\nfail:\nmov %r0, -1\nexit',
    r0: 0x1_0000_0005n },
  { name: 'lock fetch and 64', asm: 'stdw [%r10-8], 0x0f\nmov %r1, 0x35\nlock fetch and [%r10-8], %r1\nldxdw %r0, [%r10-8]\nlsh %r1, 8\nor %r0, %r1\nexit', r0: 0x0f05n },
  { name: 'lock fetch or 64', asm: 'stdw [%r10-8], 0x0f\nmov %r1, 0x30\nlock fetch or [%r10-8], %r1\nldxdw %r0, [%r10-8]\nlsh %r1, 8\nor %r0, %r1\nexit', r0: 0x0f3fn },
  { name: 'lock fetch xor 64', asm: 'stdw [%r10-8], 0x0f\nmov %r1, 0x3c\nlock fetch xor [%r10-8], %r1\nldxdw %r0, [%r10-8]\nlsh %r1, 8\nor %r0, %r1\nexit', r0: 0x0f33n },
  { name: 'lock xchg 64', asm: 'lddw %r2, 0x1122334455667788\nstxdw [%r10-8], %r2\nmov %r1, 7\nlock xchg [%r10-8], %r1\nldxdw %r0, [%r10-8]\njne %r0, 7, fail\nmov %r0, %r1\nexit\nfail:\nmov %r0, -1\nexit', r0: 0x1122_3344_5566_7788n },
  { name: 'lock cmpxchg 64 match stores src, r0 = old',
    asm: 'stdw [%r10-8], 5\nmov %r0, 5\nmov %r1, 9\nlock cmpxchg [%r10-8], %r1\nldxdw %r2, [%r10-8]\nlsh %r2, 8\nor %r0, %r2\nexit', r0: 0x0905n },
  { name: 'lock cmpxchg 64 mismatch leaves memory, r0 = old',
    asm: 'stdw [%r10-8], 5\nmov %r0, 6\nmov %r1, 9\nlock cmpxchg [%r10-8], %r1\nldxdw %r2, [%r10-8]\nlsh %r2, 8\nor %r0, %r2\nexit', r0: 0x0505n },
  { name: 'lock cmpxchg 64 compares high halves',
    asm: 'lddw %r2, 0x100000005\nstxdw [%r10-8], %r2\nmov %r0, 5\nmov %r1, 9\nlock cmpxchg [%r10-8], %r1\nldxdw %r0, [%r10-8]\nexit', r0: 0x1_0000_0005n },
  { name: 'lock add32 wraps in 32 bits, leaves the upper word',
    asm: 'lddw %r2, 0x11111111ffffffff\nstxdw [%r10-8], %r2\nmov %r1, 1\nlock add32 [%r10-8], %r1\nldxdw %r0, [%r10-8]\nexit', r0: 0x1111_1111_0000_0000n },
  { name: 'lock fetch add32 zero-extends the old value into src',
    asm: 'stw [%r10-4], -1\nmov %r1, -1\nlock fetch add32 [%r10-4], %r1\nmov %r0, %r1\nexit', r0: 0xffff_ffffn },
  { name: 'lock fetch and32', asm: 'stw [%r10-4], 0x0f\nmov %r1, 0x35\nlock fetch and32 [%r10-4], %r1\nldxw %r0, [%r10-4]\nlsh %r1, 8\nor %r0, %r1\nexit', r0: 0x0f05n },
  { name: 'lock fetch or32', asm: 'stw [%r10-4], 0x0f\nmov %r1, 0x30\nlock fetch or32 [%r10-4], %r1\nldxw %r0, [%r10-4]\nlsh %r1, 8\nor %r0, %r1\nexit', r0: 0x0f3fn },
  { name: 'lock fetch xor32', asm: 'stw [%r10-4], 0x0f\nmov %r1, 0x3c\nlock fetch xor32 [%r10-4], %r1\nldxw %r0, [%r10-4]\nlsh %r1, 8\nor %r0, %r1\nexit', r0: 0x0f33n },
  { name: 'lock or32/and32/xor32 (no fetch) keep src',
    asm: 'stw [%r10-4], 0x0f\nmov %r1, 0x30\nlock or32 [%r10-4], %r1\nmov %r2, 0x1e\nlock and32 [%r10-4], %r2\nmov %r3, 0x0f\nlock xor32 [%r10-4], %r3\nldxw %r0, [%r10-4]\nadd %r0, %r1\nadd %r0, %r2\nadd %r0, %r3\nexit',
    r0: (((0x0fn | 0x30n) & 0x1en) ^ 0x0fn) + 0x30n + 0x1en + 0x0fn },
  { name: 'lock xchg32 zero-extends', asm: 'stw [%r10-4], -1\nmov %r1, 3\nlock xchg32 [%r10-4], %r1\nldxw %r0, [%r10-4]\nlsh %r0, 32\nor %r0, %r1\nexit', r0: 0x3_ffff_ffffn },
  { name: 'lock cmpxchg32 compares low 32 bits of r0, zero-extends old into r0',
    asm: 'stw [%r10-4], -1\nmov %r0, -1\nmov %r1, 2\nlock cmpxchg32 [%r10-4], %r1\nldxw %r2, [%r10-4]\nlsh %r2, 32\nor %r0, %r2\nexit', r0: 0x2_ffff_ffffn },
];

const TABLES: Array<[string, Case[]]> = [
  ['ALU64', ALU64],
  ['ALU', ALU32],
  ['JMP/JMP32', JMP],
  ['LDX/ST/STX', MEM],
  ['atomics', ATOMIC],
];

describe.each(engineNames())('engine %s', (engineName) => {
  const engine = getEngine(engineName);
  describe.each(TABLES)('%s', (_cls, cases) => {
    it.each(cases)('$name', (c) => {
      const { res } = runAsm(engine, c.asm, { mem: c.mem === undefined ? undefined : Uint8Array.from(c.mem) });
      expect(r0Of(res)).toBe(c.r0);
    });
  });
});
