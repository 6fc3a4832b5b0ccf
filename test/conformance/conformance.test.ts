/**
 * conformance — the whole bpf_conformance corpus (shared/conformance/tests) on every engine,
 * one vitest case per file, and the negative corpus: what must be refused is refused, at the
 * stage and with the code that says why.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { conformanceValidator } from '../../src/cli/commands/conformance.js';
import { parseConformanceData } from '../../src/conformance/data.js';
import { runConformanceDir, runConformanceFile, summaryLine } from '../../src/conformance/runner.js';
import { engineNames, getEngine } from '../../src/vm/engines.js';
import { AsmCode } from '../../src/isa/asm/index.js';
import { VerifyCode } from '../../src/isa/validate.js';

const ROOT = resolve(import.meta.dirname, '../../../shared/conformance');
const TESTS = join(ROOT, 'tests');
const NEGATIVE = join(ROOT, 'negative');
const have = existsSync(TESTS);
const files = have ? readdirSync(TESTS).filter((f) => f.endsWith('.data')).sort() : [];

describe.skipIf(!have)('bpf_conformance tests/ (needs ../shared/conformance)', () => {
  it('has the 313 files FORMAT.md describes', () => {
    expect(files.length).toBe(313);
  });

  describe.each(engineNames())('engine %s', (name) => {
    const engine = getEngine(name);
    it.each(files)('%s', (file) => {
      const o = runConformanceFile(join(TESTS, file), engine, { validate: conformanceValidator });
      expect(`${o.status}: ${o.detail}`).toMatch(/^pass: /);
    });
  });
});

describe.skipIf(!existsSync(NEGATIVE))('bpf_conformance negative/', () => {
  const engine = getEngine('interp');
  const run = (f: string) => runConformanceFile(join(NEGATIVE, f), engine, { validate: conformanceValidator });

  it.each([
    ['invalid_imm32_dec_range.data', AsmCode.Immediate, 'fail'],
    ['invalid_imm32_hex_range.data', AsmCode.Immediate, 'fail'],
    ['invalid_label.data', AsmCode.Label, 'fail'],
    ['invalid_lock.data', AsmCode.OperandCount, 'pass'],
    ['invalid_lock2.data', AsmCode.OperandCount, 'pass'],
    ['invalid_mnemonic.data', AsmCode.Mnemonic, 'fail'],
    ['invalid_offset.data', AsmCode.Offset, 'fail'],
    ['invalid_offset_range.data', AsmCode.Offset, 'fail'],
    ['invalid_operand_count.data', AsmCode.OperandCount, 'fail'],
    ['invalid_register.data', AsmCode.Register, 'pass'],
  ])('%s is refused by the assembler (%s), counted as %s', (file, code, status) => {
    const o = run(file);
    expect(o.refused?.stage).toBe('assemble');
    expect(o.refused?.code).toBe(code);
    // A file with an -- error section counts the refusal as a pass; one with -- result fails.
    expect(o.status).toBe(status);
  });

  it('every unused-* file (non-zero reserved field) is refused by the validator and counts as passed', () => {
    const unused = readdirSync(NEGATIVE).filter((f) => f.startsWith('unused-'));
    expect(unused.length).toBe(45);
    for (const f of unused) {
      const o = run(f);
      expect(`${f}: ${o.refused?.stage} ${o.status}`).toBe(`${f}: validate pass`);
    }
  });

  it('error.data (reads r0 before any write) is refused by the validator and counts as passed', () => {
    const o = run('error.data');
    expect(o.refused?.stage).toBe('validate');
    expect(o.refused?.code).toBe(VerifyCode.UninitRegister);
    expect(o.status).toBe('pass');
  });

  it('skips the files the reference runner skips', () => {
    expect(run('empty.data').status).toBe('skip');
    expect(run('empty_instructions.data').status).toBe('skip');
    expect(run('invalid_unknown_directive.data').status).toBe('skip');
  });

  it('reports a wrong r0 as a failure (incorrect_return_value_high_bits)', () => {
    const o = run('incorrect_return_value_high_bits.data');
    expect(o.status).toBe('fail');
    expect(o.r0).toBe(0x8877665544332211n);
  });

  it('summarises a directory as "N passed, M failed, K skipped"', () => {
    const s = runConformanceDir(NEGATIVE, engine, { validate: conformanceValidator });
    expect(s.passed + s.failed + s.skipped).toBe(60);
    expect(summaryLine(s)).toBe(`${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`);
  });
});

describe('parseConformanceData', () => {
  it('follows FORMAT.md §2: comments, raw over asm, last result line, mem bytes, unknown directive', () => {
    const t = parseConformanceData(
      'x.data',
      '# licence\n-- asm\nmov %r0, 1 # one\nexit\r\n-- raw\n0x0000000000000095\n-- mem\naa BB\n01\n-- result\n0x1\n0x2\n',
    );
    expect(t.raw?.map((i) => i.opcode)).toEqual([0x95]);
    expect(t.asm?.split('\n')[2]).toBe('mov %r0, 1 ');
    expect(Array.from(t.mem ?? [])).toEqual([0xaa, 0xbb, 0x01]);
    expect(t.result).toBe(2n);
    expect(parseConformanceData('y.data', '-- asm\nexit\n-- surprise\n-- result\n1').skip).toMatch(/unknown directive/);
    expect(parseConformanceData('z.data', '-- asm\nexit\n-- error\n').error).toBe('');
    expect(parseConformanceData('w.data', '-- result\n-1').result).toBe(0xffff_ffff_ffff_ffffn);
  });

  it('reads byte-per-token raw rows (negative/unused-*) in memory order', () => {
    const t = parseConformanceData('u.data', '-- raw\n07 00 01 00 01 00 00 00\n95 00 00 00 00 00 00 00\n-- error\n');
    expect(t.raw).toEqual([
      { opcode: 0x07, dst: 0, src: 0, off: 1, imm: 1 },
      { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ]);
  });
});
