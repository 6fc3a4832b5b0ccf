/**
 * r0u32 — every engine leaves the r0 of a run that ends without a fault in the register file, so
 * hooks can read the verdict as a number (r0u32) instead of converting RunResult.r0 per packet.
 * Table-driven over every registered engine: small, 32-bit, negative and 64-bit values, set by an
 * instruction, a helper's return, a bpf-to-bpf call and a run repeated with another result.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/isa/asm/index.js';
import { engineNames, getEngine } from '../../src/vm/engines.js';
import { Memory } from '../../src/vm/memory.js';
import { r0u32, type HelperResult, type ProgramSpec } from '../../src/vm/program.js';
import { createRunEnv } from '../../src/vm/run.js';

const CASES: Array<[string, string, HelperResult?]> = [
  ['a small verdict', 'mov %r0, 2\nexit'],
  ['zero', 'mov %r0, 0\nexit'],
  ['u32 max', 'lddw %r0, 0xffffffff\nexit'],
  ['-1 (64-bit)', 'mov %r0, -1\nexit'],
  ['-1 as a 32-bit move', 'mov32 %r0, -1\nexit'],
  ['a 64-bit value with a low half above 2^31', 'lddw %r0, 0x1234567890abcdef\nexit'],
  ['a 64-bit value whose low half is small', 'lddw %r0, 0x500000003\nexit'],
  ['a helper result (number)', 'call 1\nexit', -22],
  ['a helper result (bigint)', 'call 1\nexit', 0xfedcba9876543210n],
  ['a bpf-to-bpf call result', 'call local f\nexit\nf:\nmov %r0, 4\nexit'],
];

describe.each(engineNames())('engine %s', (name) => {
  const engine = getEngine(name);
  it.each(CASES)('leaves r0 in the register file: %s', (_what, src, helperRet) => {
    const env = createRunEnv(new Memory(1 << 16), { helpers: new Map([[1, () => helperRet ?? 0]]) });
    const exec = engine.prepare({ name: 'r0', insns: assemble(src) } satisfies ProgramSpec);
    // Run twice with a different program in between, so a reused result cannot hide a stale register.
    const other = engine.prepare({ name: 'other', insns: assemble('mov %r0, 77\nexit') });
    for (let i = 0; i < 2; i++) {
      const res = exec.run(env, 0);
      if (!res.ok) throw new Error(`run faulted: ${res.fault.message}`);
      expect(r0u32(env)).toBe(Number(BigInt.asUintN(32, res.r0)));
      const o = other.run(env, 0);
      expect(o.ok && r0u32(env)).toBe(77);
    }
  });
});
