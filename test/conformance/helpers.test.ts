/**
 * helpers — the conformance-only uBPF helper table (src/conformance/helpers.ts).
 */
import { describe, expect, it } from 'vitest';
import { CONFORMANCE_HELPERS } from '../../src/conformance/helpers.js';
import { FaultCode } from '../../src/vm/fault.js';
import { getEngine } from '../../src/vm/engines.js';
import { r0Of, runAsm } from '../vm/util.js';

const engine = getEngine('interp');
const run = (asm: string, mem?: number[]) =>
  runAsm(engine, asm, { helpers: CONFORMANCE_HELPERS, mem: mem === undefined ? undefined : Uint8Array.from(mem) });

describe('conformance helpers', () => {
  it('0 gather_bytes packs the low bytes of r1..r5', () => {
    expect(r0Of(run('mov %r1, 0x101\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 0x305\ncall 0\nexit').res)).toBe(0x01_0203_0405n);
  });

  it('1 memfrob XORs each byte with 42', () => {
    const ran = run('mov %r6, %r1\nmov %r2, 3\ncall 1\nldxw %r0, [%r6]\nexit', [0, 42, 1, 7]);
    expect(r0Of(ran.res)).toBe(BigInt(0x07_2b_00_2a));
  });

  it('1 memfrob outside memory faults at the call', () => {
    const f = run('mov %r2, 8\ncall 1\nexit', [0, 0]).res;
    expect(f.ok).toBe(false);
    if (!f.ok) {
      expect(f.fault.code).toBe(FaultCode.MemoryAccess);
      expect(f.fault.insn).toBe(1);
    }
  });

  it('2 no_op returns 0', () => {
    expect(r0Of(run('mov %r0, 5\ncall 2\nexit').res)).toBe(0n);
  });

  it('3 sqrti is the integer square root', () => {
    expect(r0Of(run('mov %r1, 17\ncall 3\nexit').res)).toBe(4n);
  });

  it('4 strcmp_ext compares NUL-terminated strings', () => {
    const mem = [0x61, 0x62, 0, 0x61, 0x63, 0];
    expect(r0Of(run('mov %r2, %r1\nadd %r2, 3\ncall 4\nexit', mem).res)).toBe(BigInt.asUintN(64, -1n));
    expect(r0Of(run('mov %r2, %r1\ncall 4\nexit', mem).res)).toBe(0n);
  });

  it('5 unwind returns its argument and, for 0, ends the program with r0 = 0', () => {
    expect(r0Of(run('mov %r1, 7\ncall 5\nadd %r0, 1\nexit').res)).toBe(8n);
    expect(r0Of(run('mov %r1, 0\ncall 5\nmov %r0, 99\nexit').res)).toBe(0n);
  });
});
