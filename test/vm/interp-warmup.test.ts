/**
 * interp-warmup — the interpreter's warm-up program (interp.ts warmUpProgram) must give every
 * data-dependent branch of the dispatch loop type feedback before any user program runs: a
 * branch first reached after V8 optimised the loop deopts it ("Insufficient type feedback"),
 * and a process caught re-optimising it while an OSR compile is in flight can stay on the slow
 * OSR entry path for good (parse measured 800-900 ns instead of ~200 in such processes).
 */
import { describe, expect, it } from 'vitest';
import { warmUpProgram } from '../../src/vm/interp.js';

describe('interpreter warm-up program', () => {
  const insns = warmUpProgram();

  // Shifts by a constant branch on the masked count: >= 32, 1..31 and 0 (interp.ts hot()).
  for (const [name, opcode, width] of [
    ['lsh64 K', 0x67, 64], ['rsh64 K', 0x77, 64], ['arsh64 K', 0xc7, 64],
    ['lsh32 K', 0x64, 32], ['rsh32 K', 0x74, 32], ['arsh32 K', 0xc4, 32],
  ] as const) {
    it(`runs ${name} with a zero, a small and (64-bit) a large count`, () => {
      const counts = new Set(insns.filter((i) => i.opcode === opcode).map((i) => i.imm & (width - 1)));
      expect([...counts].some((n) => n === 0)).toBe(true);
      expect([...counts].some((n) => n > 0 && n < 32)).toBe(true);
      if (width === 64) expect([...counts].some((n) => n >= 32)).toBe(true);
    });
  }
});

describe('run environments', () => {
  it('have every field from creation, so hooks setting hook/cpu/current later keep one hidden class', async () => {
    const { createRunEnv } = await import('../../src/vm/run.js');
    const { Memory } = await import('../../src/vm/memory.js');
    const env = createRunEnv(new Memory(1 << 17));
    expect(Object.keys(env)).toEqual(['mem', 'regs', 'stack', 'helpers', 'insnBudget', 'tailCall', 'hook', 'current', 'cpu', 'callSubprog', 'exitRequested']);
  });
});
