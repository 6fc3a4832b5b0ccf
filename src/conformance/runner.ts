/**
 * runner — runs bpf_conformance tests on an engine (FORMAT.md §4): r1 = pointer to a private,
 * writable copy of `-- mem` (NULL when there is none), r2 = its length, r10 = top of the stack;
 * the full 64-bit r0 is compared with `-- result`. Every program is validated before it runs
 * (a pluggable step; the CLI and tests use isa/validate.ts).
 *
 * Outcomes: a file with `-- result` passes iff it assembles, validates, runs without fault and
 * r0 matches. A file with `-- error` passes iff it is refused — by the assembler, the validator
 * or a run-time fault; the refusal text is reported but not compared with the expected text,
 * whose wording is the reference C++ runner's. A file with neither, with an unknown directive or
 * with no instructions is skipped, as the reference runner does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isXdpsimError } from '../errors.js';
import { assemble } from '../isa/asm/index.js';
import type { Insn } from '../isa/insn.js';
import { formatFault } from '../vm/fault.js';
import { Memory, RegionKind } from '../vm/memory.js';
import type { Engine } from '../vm/program.js';
import { createRunEnv } from '../vm/run.js';
import { parseConformanceData, type ConformanceTest } from './data.js';
import { CONFORMANCE_HELPERS } from './helpers.js';

/** Validator checks a program before it runs; it throws to refuse it. */
export type Validator = (insns: readonly Insn[], name: string) => void;

/** RefusalStage names where a program was refused. */
export type RefusalStage = 'parse' | 'assemble' | 'validate' | 'run';

/** Outcome is the result of one test file. */
export interface Outcome {
  readonly name: string;
  readonly status: 'pass' | 'fail' | 'skip';
  /** One line: for a failure, expected vs got; for a refusal, the stage and message; for a skip, why. */
  readonly detail: string;
  /** Set when the program was refused (at any stage). */
  readonly refused?: { stage: RefusalStage; message: string; code?: string };
  /** r0 when the program ran to completion. */
  readonly r0?: bigint;
}

/** RunnerOptions configure a conformance run. */
export interface RunnerOptions {
  /** Load-time validation; omitted means none. */
  validate?: Validator;
  /** Per-test instruction budget (default 1,000,000, the kernel's verifier complexity limit). */
  insnBudget?: number;
}

const hex64 = (v: bigint): string => `0x${v.toString(16)}`;

function describe(e: unknown): { message: string; code?: string } {
  if (isXdpsimError(e)) return { message: `${e.message} [${e.code}]`, code: e.code };
  if (e instanceof Error) return { message: e.message };
  return { message: String(e) };
}

/** runConformanceTest runs one parsed test on `engine`. */
export function runConformanceTest(test: ConformanceTest, engine: Engine, opts: RunnerOptions = {}): Outcome {
  const name = test.name;
  if (test.skip !== undefined) return { name, status: 'skip', detail: test.skip };
  const expectsError = test.error !== undefined;
  if (test.result === undefined && !expectsError) return { name, status: 'skip', detail: 'no expected result or error' };
  const expected = test.result === undefined ? 'a refusal' : `r0 = ${hex64(test.result)}`;
  const refused = (stage: RefusalStage, message: string, code?: string): Outcome => ({
    name,
    status: expectsError ? 'pass' : 'fail',
    detail: `expected ${expected}, refused by the ${stage === 'run' ? 'run (fault)' : stage === 'assemble' ? 'assembler' : stage === 'validate' ? 'validator' : 'parser'}: ${message}`,
    refused: { stage, message, code },
  });

  let insns: readonly Insn[];
  if (test.raw !== undefined) insns = test.raw;
  else if (test.asm !== undefined) {
    try {
      insns = assemble(test.asm);
    } catch (e) {
      const d = describe(e);
      return refused('assemble', d.message, d.code);
    }
  } else insns = [];
  if (insns.length === 0) return { name, status: 'skip', detail: 'no instructions' };

  if (opts.validate !== undefined) {
    try {
      opts.validate(insns, name);
    } catch (e) {
      const d = describe(e);
      return refused('validate', d.message, d.code);
    }
  }

  const mem = new Memory(1 << 17);
  let r1 = 0;
  let r2 = 0;
  if (test.mem !== undefined && test.mem.length > 0) {
    const region = mem.map(RegionKind.Scratch, 'mem', test.mem.length);
    mem.write(region.start, test.mem);
    r1 = region.start;
    r2 = test.mem.length;
  }
  const env = createRunEnv(mem, { helpers: CONFORMANCE_HELPERS, insnBudget: opts.insnBudget ?? 1_000_000 });
  const exe = engine.prepare({ name: basename(name, '.data'), insns });
  const res = exe.run(env, r1, r2);
  if (!res.ok) return refused('run', formatFault(res.fault), res.fault.code);
  if (expectsError) return { name, status: 'fail', detail: `expected a refusal, got r0 = ${hex64(res.r0)}`, r0: res.r0 };
  if (res.r0 === test.result) return { name, status: 'pass', detail: `r0 = ${hex64(res.r0)}`, r0: res.r0 };
  return { name, status: 'fail', detail: `expected ${expected}, got r0 = ${hex64(res.r0)}`, r0: res.r0 };
}

/** runConformanceFile reads, parses and runs one `.data` file. */
export function runConformanceFile(path: string, engine: Engine, opts: RunnerOptions = {}): Outcome {
  const name = basename(path);
  let test: ConformanceTest;
  try {
    test = parseConformanceData(name, readFileSync(path, 'utf8'));
  } catch (e) {
    const d = describe(e);
    return { name, status: 'fail', detail: `cannot parse: ${d.message}`, refused: { stage: 'parse', message: d.message, code: d.code } };
  }
  return runConformanceTest(test, engine, opts);
}

/** Summary counts outcomes. */
export interface Summary {
  readonly outcomes: readonly Outcome[];
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

/** runConformanceDir runs every `*.data` file of `dir`, in name order. */
export function runConformanceDir(dir: string, engine: Engine, opts: RunnerOptions = {}): Summary {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.data'))
    .sort();
  const outcomes = files.map((f) => runConformanceFile(join(dir, f), engine, opts));
  return {
    outcomes,
    passed: outcomes.filter((o) => o.status === 'pass').length,
    failed: outcomes.filter((o) => o.status === 'fail').length,
    skipped: outcomes.filter((o) => o.status === 'skip').length,
  };
}

/** summaryLine is the closing line of a run: "N passed, M failed, K skipped". */
export function summaryLine(s: Summary): string {
  return `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`;
}
