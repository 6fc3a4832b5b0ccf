/**
 * ptrtypes — the JavaScript back end's packet-pointer analysis (src/vm/compile/ptrtypes.ts):
 * which accesses it proves in bounds and, above all, which it must not; then programs whose proof
 * rests on a context that lies (data_end past the packet region, data outside it), run on the
 * interpreter and on the JavaScript back end, which must agree (same fault, same result).
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/isa/asm/index.js';
import { ProgType } from '../../src/object/sections.js';
import { analyze, blocksFrom } from '../../src/vm/compile/analyze.js';
import { jitEngineWith } from '../../src/vm/compile/jit.js';
import { Birth, ptrFacts } from '../../src/vm/compile/ptrtypes.js';
import { interpEngine } from '../../src/vm/interp.js';
import { Memory, RegionKind } from '../../src/vm/memory.js';
import type { Engine, ProgramSpec } from '../../src/vm/program.js';
import { createRunEnv } from '../../src/vm/run.js';

/** provenLines returns the indexes of proven accesses of `text` for a program type. */
function facts(text: string, progType: number | undefined = ProgType.XDP) {
  const insns = assemble(text);
  const a = analyze(insns);
  const blocks = blocksFrom(a, 0);
  const blockOf = new Map(blocks.map((b, i) => [b.start, i]));
  const f = ptrFacts(insns, a, blocks, blockOf, progType);
  const proven: number[] = [];
  for (let i = 0; i < insns.length; i++) if (f.proven[i] === 1) proven.push(i);
  return { proven, birth: f.birth };
}

/** XDP prologue: r2 = data, r3 = data_end, r4 = data + 14 (instructions 0-3). */
const PRO = 'ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 14\n';

describe('ptrFacts proves', () => {
  it('an access inside the range a compare established, and marks both births', () => {
    const f = facts(PRO + 'jgt %r4, %r3, out\nldxb %r0, [%r2+13]\nldxh %r0, [%r2+12]\nout:\nexit');
    expect(f.proven).toEqual([5, 6]);
    expect(f.birth[0]).toBe(Birth.Data);
    expect(f.birth[1]).toBe(Birth.End);
  });
  it('the taken edge of a compare in the other direction', () => {
    expect(facts(PRO + 'jle %r4, %r3, ok\nexit\nok:\nldxb %r0, [%r2+0]\nexit').proven).toEqual([6]);
    expect(facts(PRO + 'jgt %r3, %r4, ok\nexit\nok:\nldxb %r0, [%r2+0]\nexit').proven).toEqual([6]);
  });
  it('a variable offset bounded by (x << 2) & 60', () => {
    const text = PRO + 'jgt %r4, %r3, out\nldxb %r5, [%r2+0]\nlsh %r5, 2\nand %r5, 60\nadd %r5, %r2\nmov %r6, %r5\nadd %r6, 8\njgt %r6, %r3, out\nldxw %r0, [%r5+4]\nout:\nexit';
    expect(facts(text).proven).toEqual([5, 12]);
  });
  it('a join of two paths with different constant offsets', () => {
    const text =
      PRO + 'mov %r4, %r2\nadd %r4, 40\njgt %r4, %r3, out\nmov %r5, %r2\njeq %r0, 0, b\nadd %r5, 20\nja j\nb:\nadd %r5, 30\nj:\nldxw %r0, [%r5+6]\nldxw %r0, [%r5+7]\nout:\nexit';
    // r5 is data+20 or data+30; the range left is 40-30 = 10: [6, 10) fits, [7, 11) does not.
    expect(facts(text).proven).toEqual([12]);
  });
  it('__sk_buff offsets for SCHED_CLS and SCHED_ACT', () => {
    const text = 'ldxw %r2, [%r1+76]\nldxw %r3, [%r1+80]\nmov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, out\nldxb %r0, [%r2+13]\nout:\nexit';
    expect(facts(text, ProgType.SCHED_CLS).proven).toEqual([5]);
    expect(facts(text, ProgType.SCHED_ACT).proven).toEqual([5]);
    expect(facts(text, ProgType.XDP).proven).toEqual([]);
  });
});

describe('ptrFacts does not prove', () => {
  const cases: [string, string][] = [
    ['one byte past the range', PRO + 'jgt %r4, %r3, out\nldxb %r0, [%r2+14]\nout:\nexit'],
    ['a wide access ending past the range', PRO + 'jgt %r4, %r3, out\nldxw %r0, [%r2+12]\nout:\nexit'],
    ['the wrong edge of a compare', PRO + 'jlt %r4, %r3, out\nldxb %r0, [%r2+0]\nout:\nexit'],
    ['a signed compare', PRO + 'jsgt %r4, %r3, out\nldxb %r0, [%r2+0]\nout:\nexit'],
    ['a 32-bit compare', PRO + 'jgt32 %r4, %r3, out\nldxb %r0, [%r2+0]\nout:\nexit'],
    ['a negative offset below data', PRO + 'jgt %r4, %r3, out\nldxb %r0, [%r2-1]\nout:\nexit'],
    ['an unbounded variable offset', PRO + 'jgt %r4, %r3, out\nldxw %r5, [%r2+0]\nadd %r2, %r5\nmov %r6, %r2\nadd %r6, 8\njgt %r6, %r3, out\nldxb %r0, [%r2+0]\nout:\nexit'],
    ['a pointer after a helper call', 'mov %r6, %r1\n' + PRO.replaceAll('%r1', '%r6').replaceAll('%r2', '%r7').replaceAll('%r3', '%r8').replaceAll('%r4', '%r9') + 'jgt %r9, %r8, out\ncall 1\nldxb %r0, [%r7+0]\nout:\nexit'],
    ['data_end-relative arithmetic', PRO + 'mov %r4, %r3\nsub %r4, 14\njgt %r2, %r4, out\nldxb %r0, [%r2+0]\nout:\nexit'],
    ['a subtraction from a packet pointer', PRO + 'jgt %r4, %r3, out\nsub %r4, 1\nldxb %r0, [%r4+0]\nout:\nexit'],
    ['data reloaded after the program wrote the context', PRO + 'jgt %r4, %r3, out\nstxw [%r1+0], %r3\nldxw %r2, [%r1+0]\nldxb %r0, [%r2+0]\nout:\nexit'],
    ['a context that is not r1 at entry', 'mov %r1, %r10\nadd %r1, -8\n' + PRO + 'jgt %r4, %r3, out\nldxb %r0, [%r2+0]\nout:\nexit'],
    ['a load of data through a moved context pointer', 'add %r1, 4\nldxw %r2, [%r1-4]\nldxw %r3, [%r1+0]\nmov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, out\nldxb %r0, [%r2+0]\nout:\nexit'],
    ['a pointer advanced round a loop, before its check', PRO + 'mov %r5, %r2\nloop:\nmov %r6, %r5\nadd %r6, 1\njgt %r6, %r3, out\nldxb %r0, [%r5+0]\nadd %r5, %r0\nldxb %r0, [%r5+0]\nja loop\nout:\nexit'],
  ];
  for (const [name, text] of cases) {
    it(name, () => {
      const f = facts(text);
      // Earlier loads may be proven (the first 14 bytes); each case is about its last load.
      const insns = assemble(text);
      let last = -1;
      insns.forEach((x, i) => {
        if ((x.opcode & 7) === 1) last = i;
      });
      expect(last).toBeGreaterThan(0);
      expect(f.proven).not.toContain(last);
    });
  }
  it('anything for an unknown program type', () => {
    expect(facts(PRO + 'jgt %r4, %r3, out\nldxb %r0, [%r2+0]\nout:\nexit', ProgType.UNSPEC).proven).toEqual([]);
  });
});

/**
 * lyingContext runs `text` twice (the second run with warm slots and caches) with r1 pointing at
 * a scratch "context" whose data and data_end are given relative to a 64-byte packet region.
 */
function lyingContext(engine: Engine, text: string, dataOff: number, endOff: number) {
  const mem = new Memory(1 << 17);
  const pkt = mem.map(RegionKind.Packet, 'packet', 64, { writable: true });
  const ctx = mem.map(RegionKind.Scratch, 'ctx', 16, { writable: true });
  const other = mem.map(RegionKind.Scratch, 'after', 4096, { writable: true });
  const dv = new DataView(new ArrayBuffer(8));
  const base = dataOff === -1 ? other.start : pkt.start + dataOff;
  dv.setUint32(0, base, true);
  dv.setUint32(4, endOff === -1 ? other.start + 4096 : pkt.start + endOff, true);
  mem.write(ctx.start, new Uint8Array(dv.buffer));
  const spec = { name: 'lying', insns: assemble(text), progType: ProgType.XDP } as ProgramSpec;
  const prog = engine.prepare(spec);
  const out = [];
  for (let k = 0; k < 2; k++) out.push(prog.run(createRunEnv(mem), ctx.start, 0));
  return out;
}

describe('a proof over a lying context still faults like the interpreter', () => {
  // Proven for an honest context: data + 200 <= data_end, then a read at data + 150.
  const text = 'ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 200\nmov %r0, 0\njgt %r4, %r3, out\nldxb %r0, [%r2+150]\nstb [%r2+150], 1\nout:\nexit';
  it('is proven', () => {
    expect(facts(text).proven).toEqual([6, 7]);
  });
  const setups: [string, number, number][] = [
    ['data_end past the packet region', 0, 400],
    ['data and data_end outside the packet region', -1, -1],
    ['data_end inside, data outside', -1, 40],
    ['an honest context (no access reached)', 0, 64],
  ];
  for (const [name, d, e] of setups) {
    it(name, () => {
      const js = lyingContext(jitEngineWith('js'), text, d, e);
      const ref = lyingContext(interpEngine, text, d, e);
      expect(js).toEqual(ref);
    });
  }
  it('faults in the first setup', () => {
    const ref = lyingContext(interpEngine, text, 0, 400);
    expect(ref[1].ok).toBe(false);
  });
});
