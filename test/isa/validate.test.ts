/**
 * validate tests: one row per load-time rule (bad programs with the code and instruction index
 * they must be refused with), a table of well-formed programs that must pass, and the
 * bpf_conformance `negative/unused-*.data` files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NotSupportedError, VerifyError } from '../../src/errors.js';
import { decodeInsns } from '../../src/isa/decode.js';
import { makeInsn as I, type Insn } from '../../src/isa/insn.js';
import { OPCODE_TABLE } from '../../src/isa/mnemonic.js';
import { BAD, EXIT, GOOD, KERNEL_LOG, MOV0 } from './fixtures/validate-cases.js';
import { KernelError, KernelTestRunner, type KernelMap } from '../../src/kernel/testrun.js';
import { assemble } from '../../src/isa/asm/index.js';
import { validateProgram, VerifyCode, type ValidateOptions } from '../../src/isa/validate.js';

const CONFORMANCE = '/work/shared/conformance';

function refusal(insns: Insn[], opts: ValidateOptions = {}): VerifyError {
  try {
    validateProgram(insns, opts);
  } catch (e) {
    if (e instanceof VerifyError) return e;
    throw e;
  }
  throw new Error('program was accepted');
}

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
    expect(e.message).toContain('w0 += 0x1');
  });

  it('refuses a program above the kernel limit', () => {
    const prog = new Array<Insn>(1_000_001).fill(EXIT);
    expect(refusal(prog).code).toBe(VerifyCode.ProgramTooLarge);
  });
});

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

describe('bpf_conformance negative/unused-*.data (rfc9669: true)', () => {
  const dir = join(CONFORMANCE, 'negative');
  const files = readdirSync(dir).filter((f) => f.startsWith('unused-') && f.endsWith('.data'));

  it('finds the 45 files', () => {
    expect(files.length).toBe(45);
  });

  it('without rfc9669, only unused-exit-offset is accepted, as the kernel accepts it', () => {
    const accepted = files.filter((f) => {
      const lines = rawSection(readFileSync(join(dir, f), 'utf8'));
      const bytes = Uint8Array.from(lines.flatMap((l) => l.split(/\s+/).map((b) => parseInt(b, 16))));
      try {
        validateProgram(decodeInsns(bytes));
        return true;
      } catch {
        return false;
      }
    });
    expect(accepted).toEqual(['unused-exit-offset.data']);
  });

  it.each(files)('%s is refused for its reserved field', (file) => {
    // FORMAT.md §2.4: one instruction per line, 8 hex bytes in memory order.
    const lines = rawSection(readFileSync(join(dir, file), 'utf8'));
    const bytes = Uint8Array.from(lines.flatMap((l) => l.split(/\s+/).map((b) => parseInt(b, 16))));
    expect(bytes.length).toBe(lines.length * 8);
    const e = refusal(decodeInsns(bytes), { name: file, rfc9669: true });
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
      // The suite's entry registers: r1 = memory, r2 = its length (FORMAT.md).
      expect(() => validateProgram(insns, { name: f, regInit: true, entryRegs: [1, 2] }), f).not.toThrow();
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

const kernel = await KernelTestRunner.open();
const noKernel = kernel.ok ? '' : kernel.reason;
/** verifierLog loads `prog` into the kernel and returns the verifier's log of a refusal, '' when it loads. */
async function verifierLog(k: KernelTestRunner, prog: Insn[], progType: 'xdp' | 'sched_cls'): Promise<string> {
  return k.loadRaw(prog, { progType }).then(
    async (p) => {
      await k.closeHandle(p.handle);
      return '';
    },
    (e: unknown) => {
      if (e instanceof KernelError) return e.log;
      throw e;
    },
  );
}

/** insnText renders a program compactly for a disagreement message. */
function insnText(prog: readonly Insn[]): string {
  return prog.map((x) => `${x.opcode.toString(16)}:${x.dst}:${x.src}:${x.off}:${x.imm}`).join(' ');
}

// One runner serves every kernel describe below; it closes once, after all of them.
afterAll(async () => kernel.runner?.close());

describe.skipIf(!kernel.ok)(`kernel parity: the running kernel refuses every BAD program for the same reason${noKernel === '' ? '' : ` (skipped: ${noKernel})`}`, () => {
  const k = kernel.runner as KernelTestRunner;

  it.each(BAD.filter((c) => c.kernel?.skip === undefined && c.code !== VerifyCode.ProgramTooLarge))('$name', async (c) => {
    const maps: KernelMap[] = [];
    for (let m = 0; m < (c.kernel?.maps ?? 0); m++) {
      maps.push(await k.createMap({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 }));
    }
    try {
      const err = await k.loadRaw(c.prog, { progType: c.kernel?.progType ?? 'xdp', maps }).then(
        async (p) => {
          await k.closeHandle(p.handle);
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(err, 'the kernel loaded it').toBeInstanceOf(KernelError);
      const log = (err as KernelError).log;
      const want = c.kernel?.log !== undefined ? [c.kernel.log] : KERNEL_LOG[c.code];
      expect(want.some((w) => log.includes(w)), `kernel log:\n${log.split('\n').slice(-4).join('\n')}`).toBe(true);
    } finally {
      for (const m of maps) await k.closeHandle(m.handle);
    }
  });

  // The other direction: what the validator accepts, the kernel does not refuse for a reason the
  // validator covers. The programs are not meant to run (uninitialised pointers, endless loops), so
  // the kernel may still refuse them, but only for semantic reasons; registers start as 0.
  const STRICT_ONLY = [VerifyCode.DivByZeroImm, VerifyCode.ShiftOutOfRange, VerifyCode.Unreachable].flatMap((c) => KERNEL_LOG[c]);
  const STRUCTURAL = Object.values(KERNEL_LOG)
    .flat()
    .filter((m) => !STRICT_ONLY.includes(m));
  const INIT = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((r) => I(0xb7, r, 0, 0, 0));
  it.each(GOOD)('$name: no structural refusal', async (c) => {
    const callx = c.prog.some((x) => x.opcode === 0x8d);
    for (const progType of ['xdp', 'sched_cls'] as const) {
      const log = await verifierLog(k, [...INIT, ...c.prog], progType);
      const hit = STRUCTURAL.filter((m) => log.includes(m) && !(callx && m === 'unknown opcode'));
      expect(hit, `${progType}: ${log.split('\n').slice(-3).join(' | ')}`).toEqual([]);
      if (c.opts?.strict === true) {
        expect(STRICT_ONLY.filter((m) => log.includes(m)), progType).toEqual([]);
      }
    }
  });
});

/** xorshift32, seeded so a disagreement reproduces. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

describe.skipIf(!kernel.ok)(`kernel parity fuzz: strict validation and the kernel agree on refusal${noKernel === '' ? '' : ` (skipped: ${noKernel})`}`, () => {
  const k = kernel.runner as KernelTestRunner;
  // Every message of a load-time rule, strict ones included: with strict: true the validator
  // should refuse exactly the programs the kernel refuses with one of these.
  const RULES = [...Object.values(KERNEL_LOG).flat(), 'addr_space_cast'];
  /** uninitConfirmed counts validator E_UNINIT_REGISTER refusals the kernel refused with "!read_ok". */
  let uninitConfirmed = 0;

  /** disagreement loads a program and describes how the kernel and the validator disagree, if they do. */
  async function disagreement(prog: Insn[], progType: 'xdp' | 'sched_cls'): Promise<string | undefined> {
    let ours: string | undefined;
    try {
      validateProgram(prog, { strict: true, regInit: true });
    } catch (e) {
      if (e instanceof NotSupportedError) return undefined;
      if (!(e instanceof VerifyError)) throw e;
      ours = e.code;
    }
    const log = await verifierLog(k, prog, progType);
    const theirs = log.split('\n').find((l) => RULES.some((m) => l.includes(m)));
    // The register-init check keeps what *some* path writes (src/isa/reg-init.ts), the kernel what
    // the path it walks writes: the kernel may refuse more ("!read_ok" where the validator
    // accepts), and a validator refusal is wrong only where the kernel loads the program.
    if (ours === VerifyCode.UninitRegister) {
      if (log.includes('!read_ok')) uninitConfirmed++;
      if (log !== '') return undefined;
    } else if (ours === undefined && theirs?.includes('!read_ok') === true) return undefined;
    if ((ours === undefined) === (theirs === undefined)) return undefined;
    const text = insnText(prog);
    return `${text} — validator ${ours ?? 'accepts'}, kernel ${theirs ?? 'no load-time refusal'}`;
  }

  it('one random instruction among initialised registers (600 programs, TC)', async () => {
    const next = xorshift(0x1d1);
    const pick = <T>(xs: readonly T[]): T => xs[next() % xs.length];
    // callx is refused by the kernel by design (see src/isa/validate.ts).
    const opcodes = [...OPCODE_TABLE.keys()].filter((op) => op !== 0x8d);
    const INIT = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((r) => I(0xb7, r, 0, 0, 0));
    const found: string[] = [];
    for (let n = 0; n < 600; n++) {
      const op = next() % 10 === 0 ? next() & 0xff : pick(opcodes);
      if (op === 0x8d) continue;
      const reg = (): number => (next() % 8 === 0 ? next() & 15 : next() % 11);
      const isJump = (op & 7) === 5 || (op & 7) === 6;
      const off = isJump ? pick([0, 1, -1, 2, -20]) : pick([0, 0, 0, 1, -1, 2, 8, 16, 32, ((next() & 0xffff) << 16) >> 16]);
      const imm = pick([0, 0, 0, 1, -1, 2, 5, 16, 32, 64, 0x01, 0x41, 0xe1, 0xf1, 0x100, 0x110, next() | 0]);
      let src = next() % 3 === 0 ? reg() : 0;
      // lddw pseudo forms 1..6 need maps, BTF or an fd_array at load: keep 0 and the undefined 7..15.
      if (op === 0x18 && src >= 1 && src <= 6) src = 0;
      // A kfunc call (src 2) is resolved against kernel BTF before any field check.
      if (op === 0x85 && src === 2) src = 0;
      const prog = [...INIT, I(op, reg(), src, off, imm)];
      if (op === 0x18) prog.push(I(0));
      prog.push(I(0xb7, 0, 0, 0, 0), EXIT);
      const d = await disagreement(prog, 'sched_cls');
      if (d !== undefined) found.push(d);
    }
    expect(found.slice(0, 20)).toEqual([]);
  }, 300_000);

  it('random control flow: jumps, gotol, local calls, lddw, exits (600 programs, XDP)', async () => {
    const next = xorshift(0xcf6);
    const found: string[] = [];
    for (let n = 0; n < 600; n++) {
      const len = 3 + (next() % 10);
      const prog: Insn[] = [MOV0];
      while (prog.length < len) {
        const rel = (next() % 9) - 4;
        switch (next() % 8) {
          case 0:
            prog.push(I(0x05, 0, 0, rel));
            break;
          case 1:
            prog.push(I(0x15, 0, 0, rel, 1));
            break;
          case 2:
            prog.push(I(0x85, 0, 1, 0, rel));
            break;
          case 3:
            prog.push(EXIT);
            break;
          case 4:
            prog.push(I(0x18, 1, 0, 0, 5), I(0));
            break;
          case 5:
            prog.push(I(0x06, 0, 0, 0, rel));
            break;
          default:
            prog.push(I(0xb7, 0, 0, 0, rel));
        }
      }
      if (next() % 3 !== 0) prog.push(EXIT);
      const d = await disagreement(prog, 'xdp');
      if (d !== undefined) found.push(d);
    }
    expect(found.slice(0, 20)).toEqual([]);
  }, 300_000);

  it('registers read before a write: every refusal is the kernel\'s "!read_ok" (600 programs, XDP)', async () => {
    const next = xorshift(0x4e6);
    const found: string[] = [];
    const before = uninitConfirmed;
    let kernelStricter = 0;
    for (let n = 0; n < 600; n++) {
      const len = 2 + (next() % 8);
      const prog: Insn[] = [];
      const reg = (): number => next() % 10;
      while (prog.length < len) {
        const left = len - prog.length; // forward jumps land on a later instruction or the final exit
        switch (next() % 6) {
          case 0:
            prog.push(I(0xbf, reg(), reg()));
            break;
          case 1:
            prog.push(I(0xb7, reg(), 0, 0, next() % 5));
            break;
          case 2:
            prog.push(I(0x0f, reg(), reg()));
            break;
          case 3:
            prog.push(I(0x15, reg(), 0, next() % left, next() % 3));
            break;
          case 4:
            prog.push(I(0x85, 0, 0, 0, 7)); // bpf_get_prandom_u32
            break;
          default:
            prog.push(I(0x7b, 10, reg(), -8)); // *(u64 *)(r10 - 8) = rX
        }
      }
      prog.push(EXIT);
      let ours: string | undefined;
      try {
        validateProgram(prog, { regInit: true });
      } catch (e) {
        if (!(e instanceof VerifyError)) throw e;
        ours = e.code;
      }
      const log = await verifierLog(k, prog, 'xdp');
      const text = insnText(prog);
      if (ours === VerifyCode.UninitRegister) {
        // The kernel may stop earlier for another reason (pointer arithmetic on r1, say); it must not load it.
        if (log.includes('!read_ok')) uninitConfirmed++;
        else if (log === '') found.push(`${text} — validator E_UNINIT_REGISTER, kernel loads it`);
      } else if (ours !== undefined) found.push(`${text} — validator ${ours}`);
      else if (log.includes('!read_ok')) kernelStricter++; // a path-sensitive refusal (see reg-init.ts)
    }
    expect(found.slice(0, 20)).toEqual([]);
    // The fuzz must exercise both outcomes for the agreement to mean anything.
    expect(uninitConfirmed - before, `kernel refused ${kernelStricter} more`).toBeGreaterThan(100);
    expect(kernelStricter).toBeLessThan(300);
  }, 300_000);
});
