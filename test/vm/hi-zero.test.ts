/**
 * hi-zero — the compiler's known-zero-high-half analysis (src/vm/compile/analyze.ts
 * hiZeroTransfer/hiZeroMasks): which instructions prove a register's upper 32 bits zero, and
 * programs whose result depends on a high half the analysis must not assume zero, run on the
 * interpreter and on the JavaScript back end that uses the facts.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/isa/asm/index.js';
import { analyze, blocksFrom, hiZeroMasks, hiZeroTransfer, Kind } from '../../src/vm/compile/analyze.js';
import { jitEngineWith } from '../../src/vm/compile/jit.js';
import { interpEngine } from '../../src/vm/interp.js';
import { Memory } from '../../src/vm/memory.js';
import { createRunEnv } from '../../src/vm/run.js';

/** afterLast returns the known-zero set after the last instruction of `text`, from `start`. */
function afterLast(text: string, start: number): number {
  const insns = assemble(text);
  const a = analyze(insns);
  let m = start;
  for (let i = 0; i < insns.length; i += a.kind[i] === Kind.Lddw ? 2 : 1) m = hiZeroTransfer(insns, i, a.kind[i] as Kind, m);
  return m;
}

const R2 = 1 << 2;
const ALL = 0x7ff;

describe('hiZeroTransfer', () => {
  const cases: [string, string, number, boolean][] = [
    ['a 4-byte load zero-extends', 'ldxw %r2, [%r1+0]', 0, true],
    ['a 1-byte load zero-extends', 'ldxb %r2, [%r1+0]', 0, true],
    ['an 8-byte load is unknown', 'ldxdw %r2, [%r1+0]', ALL, false],
    ['a sign-extending load is unknown', 'ldxsw %r2, [%r1+0]', ALL, false],
    ['ALU32 zero-extends', 'add32 %r2, -1', 0, true],
    ['a 64-bit add may carry', 'add %r2, 1', ALL, false],
    ['mov of a negative immediate sign-extends', 'mov %r2, -1', ALL, false],
    ['mov of a non-negative immediate', 'mov %r2, 7', 0, true],
    ['mov copies the source fact', 'mov %r2, %r3', ALL & ~(1 << 3), false],
    ['and with a non-negative immediate', 'and %r2, 0xff', 0, true],
    ['and with a negative immediate keeps the unknown high half', 'and %r2, -1', 0, false],
    ['rsh by 32 or more', 'rsh %r2, 32', 0, true],
    ['rsh by less keeps an unknown high half unknown', 'rsh %r2, 31', 0, false],
    ['lsh is unknown', 'lsh %r2, 1', ALL, false],
    ['lddw with a zero high word', 'lddw %r2, 0x12345678', 0, true],
    ['lddw with a non-zero high word', 'lddw %r2, 0x100000000', ALL, false],
    ['be64 swaps the halves', 'be64 %r2', ALL, false],
    ['be32 zero-extends', 'be32 %r2', 0, true],
    ['le64 changes nothing', 'le64 %r2', R2, true],
  ];
  for (const [name, text, start, hz] of cases) {
    it(name, () => {
      expect(((afterLast(text, start) >> 2) & 1) === 1).toBe(hz);
    });
  }

  it('a call makes r0-r5 unknown and keeps r6-r10', () => {
    const m = afterLast('call 1', ALL);
    expect(m & 0x3f).toBe(0);
    expect(m & 0x7c0).toBe(0x7c0);
  });

  it('a block entered by a backward jump meets the loop body', () => {
    // r2 is zero-extended on entry, but the loop body makes it a 64-bit sum.
    const insns = assemble('mov %r2, 0\nloop:\nadd %r2, %r2\njlt %r2, 5, loop\nmov %r0, %r2\nexit');
    const a = analyze(insns);
    const blocks = blocksFrom(a, 0);
    const blockOf = new Map(blocks.map((b, i) => [b.start, i]));
    const masks = hiZeroMasks(insns, a, blocks, blockOf);
    const loop = blockOf.get(1) as number;
    expect((masks[loop] >> 2) & 1).toBe(0);
  });
});

describe('JavaScript back end with known-zero high halves agrees with interp', () => {
  const programs: [string, string][] = [
    // 0xffffffff + 1 carries into the high half: the wide compare must see 2^32 > 2^32 - 1.
    ['a carry out of a zero-extended value', 'mov32 %r2, -1\nmov32 %r3, -1\nadd %r2, 1\nmov %r0, 1\njgt %r2, %r3, out\nmov %r0, 2\nout:\nexit'],
    ['signed compare of zero-extended values', 'mov32 %r2, -1\nmov %r0, 1\njsgt %r2, 5, out\nmov %r0, 2\nout:\nexit'],
    ['a loop carried sum', 'mov32 %r2, 0x40000000\nmov %r1, 0\nloop:\nadd %r2, %r2\nadd %r1, 1\njlt %r1, 4, loop\nmov %r0, %r2\nrsh %r0, 32\nexit'],
  ];
  for (const [name, text] of programs) {
    it(name, () => {
      const insns = assemble(text);
      const spec = { name: 'hz', insns };
      const run = (engine: typeof interpEngine) => {
        const mem = new Memory();
        return engine.prepare(spec).run(createRunEnv(mem), 0);
      };
      expect(run(jitEngineWith('js'))).toEqual(run(interpEngine));
    });
  }
});
