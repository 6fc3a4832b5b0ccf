/**
 * Differential tests: the compiled engine (`jit`) against the reference interpreter (`interp`).
 * Same program, same fresh Memory layout, same inputs: r0, instruction count, faults (code,
 * program, instruction, message, access) and the bytes of every region must be identical.
 *
 * - the bpf_conformance suite (shared/conformance/tests and negative/);
 * - random valid programs (test/support/random-program.ts): plain, in packet mode over random
 *   frames, with random instruction budgets (the budget fault must land on the same instruction
 *   after the same side effects) and with the packet region cut short under the program's feet
 *   (memory faults at random instructions);
 * - hand-written fault cases, helpers, callbacks, tail calls and exit requests;
 * - every example object (programs/*.o) over every capture of pcaps/parity and pcaps/sample.pcap
 *   through `xdpsim replay` (the datapath and the test-run mode): the per-frame results and the
 *   final map dumps must be byte-identical.
 *
 * Every group runs on both back ends of the jit, forced (`jit-js`: JavaScript for every program
 * that back end takes, `jit-wasm`: WebAssembly only), whatever the size threshold of `jit`.
 *
 * Seeded: XDPSIM_JIT_DIFF_SEED (default 0x7e57) and XDPSIM_JIT_DIFF_COUNT (default 400 programs
 * per random group).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runReplay, type ReplayOptions } from '../../src/cli/commands/replay.js';
import { describe, expect, it } from 'vitest';
import { parseConformanceData } from '../../src/conformance/data.js';
import { runConformanceTest } from '../../src/conformance/runner.js';
import { assemble } from '../../src/isa/asm/index.js';
import { makeInsn, type Insn } from '../../src/isa/insn.js';
import { jitBackEndOf, jitEngine, jitEngineWith } from '../../src/vm/compile/jit.js';
import { FaultCode, GuestFault } from '../../src/vm/fault.js';
import { interpEngine } from '../../src/vm/interp.js';
import { Memory, RegionKind, type Region } from '../../src/vm/memory.js';
import { CODE_BASE, type Engine, type Executable, type HelperImpl, type RunEnv, type RunResult } from '../../src/vm/program.js';
import { createRunEnv } from '../../src/vm/run.js';
import { Rng, randomProgram } from '../support/random-program.js';

const CONFORMANCE = join(import.meta.dirname, '../../../shared/conformance');
const SEED = Number(process.env.XDPSIM_JIT_DIFF_SEED ?? 0x7e57) >>> 0;
const COUNT = Number(process.env.XDPSIM_JIT_DIFF_COUNT ?? 400);

/** BACK_ENDS are the jit's two code generators, each forced. */
const BACK_ENDS: readonly Engine[] = [jitEngineWith('js'), jitEngineWith('wasm')];

const XDP_MD_SIZE = 24;
const HEADROOM = 256;

/** World is one VM instance as a test sets it up: memory, env, ctx and packet regions. */
interface World {
  readonly mem: Memory;
  readonly env: RunEnv;
  readonly ctx: Region;
  readonly packet: Region;
  readonly regions: readonly Region[];
}

interface WorldOptions {
  frame?: Uint8Array;
  budget?: number;
  helpers?: Map<number, HelperImpl>;
  /** Accessible packet bytes, when fewer than the frame (data_end still says the full frame). */
  cut?: number;
  /** Extra map-value-like region (8 KiB, rw), its address written to ctx offset 12. */
  value?: boolean;
}

/** makeWorld lays out an xdp_md-like context (u32 reads only) and a packet, like the XDP hook. */
function makeWorld(opts: WorldOptions = {}): World {
  const mem = new Memory(1 << 20);
  const frame = opts.frame ?? new Uint8Array(64);
  const ctx = mem.map(RegionKind.Context, 'xdp_md', XDP_MD_SIZE, {
    ctxPolicy: (off, size, write) => !write && size === 4 && off % 4 === 0 && off + size <= XDP_MD_SIZE,
  });
  const packet = mem.map(RegionKind.Packet, 'packet', HEADROOM + frame.length + 320);
  const data = packet.start + HEADROOM;
  mem.write(data, frame);
  packet.lo = data;
  packet.hi = data + (opts.cut ?? frame.length);
  const value = opts.value === true ? mem.map(RegionKind.MapValue, 'values', 8192) : undefined;
  mem.dv.setUint32(ctx.start, data, true);
  mem.dv.setUint32(ctx.start + 4, data + frame.length, true);
  mem.dv.setUint32(ctx.start + 8, data, true);
  mem.dv.setUint32(ctx.start + 12, value?.start ?? 0, true);
  const env = createRunEnv(mem, { insnBudget: opts.budget ?? 1_000_000, helpers: opts.helpers });
  const regions = [ctx, packet, env.stack, ...(value !== undefined ? [value] : [])];
  return { mem, env, ctx, packet, regions };
}

/** snapshot copies every region's allocated bytes. */
function snapshot(w: World): string[] {
  return w.regions.map((r) => Buffer.from(w.mem.copy(r.start, r.end - r.start)).toString('hex'));
}

interface Observed {
  readonly result: RunResult;
  readonly memory: string[];
}

function observe(engine: Engine, insns: readonly Insn[], opts: WorldOptions, arg1?: (w: World) => number): Observed {
  const w = makeWorld(opts);
  const exe = engine.prepare({ name: 'prog', insns });
  const result = exe.run(w.env, arg1 === undefined ? w.ctx.start : arg1(w));
  return { result, memory: snapshot(w) };
}

/** same runs `insns` on the interpreter and `jit` and expects identical observations; returns the interpreter's. */
function same(jit: Engine, insns: readonly Insn[], opts: WorldOptions = {}, arg1?: (w: World) => number): RunResult {
  const a = observe(interpEngine, insns, opts, arg1);
  const b = observe(jit, insns, opts, arg1);
  expect(b.result).toEqual(a.result);
  expect(b.memory).toEqual(a.memory);
  return a.result;
}

for (const jit of BACK_ENDS) {
describe(`conformance suite: ${jit.name} agrees with interp`, () => {
  for (const sub of ['tests', 'negative']) {
    const dir = join(CONFORMANCE, sub);
    const files = readdirSync(dir).filter((f) => f.endsWith('.data')).sort();
    it(`${sub}: ${files.length} files, same status and r0`, () => {
      let passed = 0;
      for (const f of files) {
        const test = parseConformanceData(f, readFileSync(join(dir, f), 'utf8'));
        const a = runConformanceTest(test, interpEngine);
        const b = runConformanceTest(test, jit);
        expect({ f, status: b.status, r0: b.r0, detail: b.detail }).toEqual({ f, status: a.status, r0: a.r0, detail: a.detail });
        if (b.status === 'pass') passed++;
      }
      if (sub === 'tests') expect(passed).toBe(files.length);
    });
  }
});

describe(`random valid programs: ${jit.name} agrees with interp`, () => {
  it(`${COUNT} programs: r0, count, stack`, () => {
    for (let i = 0; i < COUNT; i++) {
      const p = randomProgram(SEED + i);
      const r = same(jit, p.insns);
      expect(r.ok).toBe(true);
    }
  });

  it(`${COUNT} programs in packet mode on random frames`, () => {
    const rng = new Rng(SEED ^ 0xa5a5);
    for (let i = 0; i < COUNT; i++) {
      const p = randomProgram(SEED + 10_000 + i, { packetBytes: 64 });
      const frame = new Uint8Array(rng.range(14, 128));
      for (let k = 0; k < frame.length; k++) frame[k] = rng.range(0, 255);
      same(jit, p.insns, { frame });
    }
  });

  it(`${COUNT} programs with random budgets: the same instruction runs out, after the same stores`, () => {
    const rng = new Rng(SEED ^ 0x5a5a);
    let faults = 0;
    for (let i = 0; i < COUNT; i++) {
      const p = randomProgram(SEED + 20_000 + i);
      const full = observe(interpEngine, p.insns, {}).result;
      const budget = rng.range(1, full.insnCount);
      const r = same(jit, p.insns, { budget });
      if (!r.ok) {
        expect(r.fault.code).toBe(FaultCode.Budget);
        faults++;
      }
    }
    expect(faults).toBeGreaterThan(COUNT / 2);
  });

  it(`${COUNT} packet programs with the packet cut short: memory faults at the same instruction`, () => {
    const rng = new Rng(SEED ^ 0x3c3c);
    let faults = 0;
    for (let i = 0; i < COUNT; i++) {
      const p = randomProgram(SEED + 30_000 + i, { packetBytes: 64 });
      const frame = new Uint8Array(96);
      for (let k = 0; k < frame.length; k++) frame[k] = rng.range(0, 255);
      const r = same(jit, p.insns, { frame, cut: rng.range(0, 64) });
      if (!r.ok) {
        expect(r.fault.code).toBe(FaultCode.MemoryAccess);
        faults++;
      }
    }
    expect(faults).toBeGreaterThan(COUNT / 2);
  });

  it('packet-mode programs keep agreeing when frames of different sizes alternate on one executable', () => {
    const p = randomProgram(SEED + 40_000, { packetBytes: 64 });
    const rng = new Rng(SEED);
    const worlds = [interpEngine, jit].map((engine) => ({ w: makeWorld({ frame: new Uint8Array(128) }), exe: engine.prepare({ name: 'p', insns: p.insns }) }));
    for (let k = 0; k < 200; k++) {
      const len = rng.range(0, 128);
      const fill = rng.range(0, 255);
      const results = worlds.map(({ w, exe }) => {
        w.packet.hi = w.packet.lo + len;
        w.mem.u8.fill(fill, w.packet.lo, w.packet.lo + 128);
        w.mem.dv.setUint32(w.ctx.start + 4, w.packet.lo + (k % 3 === 0 ? 128 : len), true);
        return { r: exe.run(w.env, w.ctx.start), bytes: Buffer.from(w.mem.copy(w.packet.lo, 128)).toString('hex') };
      });
      expect(results[1]).toEqual(results[0]);
    }
  });
});

/** asm assembles conformance-dialect text. */
const asm = (text: string): Insn[] => assemble(text);

describe(`faults (${jit.name}): same code, instruction, message and count`, () => {
  const cases: Array<[string, string, WorldOptions?, ((w: World) => number)?]> = [
    ['NULL dereference', 'mov %r1, 0\nldxw %r0, [%r1+0]\nexit'],
    ['NULL + offset store', 'mov %r2, 0\nstw [%r2+16], 1\nexit'],
    ['packet read past data_end', 'ldxw %r2, [%r1+0]\nldxdw %r0, [%r2+60]\nexit'],
    ['packet write before data', 'ldxw %r2, [%r1+0]\nstxb [%r2-1], %r2\nexit'],
    ['context write (read-only fields)', 'stw [%r1+0], 7\nexit'],
    ['context read of a wrong size', 'ldxh %r0, [%r1+2]\nexit'],
    ['context read past its end', 'ldxw %r0, [%r1+24]\nexit'],
    ['pointer with upper bits', 'lddw %r2, 0x100010000\nldxb %r0, [%r2+0]\nexit'],
    ['negative address', 'mov %r2, 16\nldxb %r0, [%r2-32]\nexit'],
    ['stack below the frame', 'ldxdw %r0, [%r10-520]\nexit'],
    ['stack above the top', 'mov %r2, %r10\nldxb %r0, [%r2+0]\nexit'],
    ['runaway loop (budget)', 'mov %r0, 0\nloop:\nadd %r0, 1\nja loop\nexit', { budget: 1000 }],
    ['unknown helper', 'call 77\nexit'],
    ['fall off the end', 'mov %r0, 1'],
    ['division by zero is not a fault', 'mov %r0, 5\nmov %r1, 0\ndiv %r0, %r1\nmod32 %r0, %r1\nsdiv %r0, %r1\nexit'],
  ];
  for (const [name, text, opts, arg1] of cases) {
    it(name, () => {
      same(jit, asm(text), opts ?? {}, arg1);
    });
  }

  it('refused encodings fault when reached, not before', () => {
    const programs: Insn[][] = [
      [makeInsn(0xb7, 0, 0, 0, 1), makeInsn(0x8f, 0, 0, 0, 0), makeInsn(0x95)], // unknown opcode (neg with X)
      [makeInsn(0x05, 0, 0, 5, 0), makeInsn(0x95)], // jump out of the program
      [makeInsn(0x05, 0, 0, 1, 0), makeInsn(0x18, 0, 0, 0, 1), makeInsn(0, 0, 0, 0, 2), makeInsn(0x95)], // into lddw's 2nd slot
      [makeInsn(0x18, 0, 1, 0, 3), makeInsn(0, 0, 0, 0, 0), makeInsn(0x95)], // unresolved pseudo lddw
      [makeInsn(0x85, 0, 2, 0, 7), makeInsn(0x95)], // kfunc call
      [makeInsn(0xb7, 0, 0, 0, 1), makeInsn(0x37, 0, 0, 3, 2), makeInsn(0x95)], // div with offset 3
      [makeInsn(0xb7, 0, 0, 0, 1), makeInsn(0xd4, 0, 0, 0, 8), makeInsn(0x95)], // le8
      [makeInsn(0xb7, 0, 0, 0, 1), makeInsn(0xdb, 1, 0, 0, 0x31), makeInsn(0x95)], // bad atomic op
      [makeInsn(0xb7, 0, 0, 0, 1), makeInsn(0xbf, 0, 11, 0, 0), makeInsn(0x95)], // r11
      [makeInsn(0x85, 0, 1, 0, 40), makeInsn(0x95)], // local call outside
      [makeInsn(0x15, 0, 0, 1, 0), makeInsn(0x95), makeInsn(0x18, 0, 0, 0, 9)], // lddw in the last slot
    ];
    for (const insns of programs) same(jit, insns);
  });

  it('recursion deeper than 8 frames', () => {
    same(jit, asm('mov %r0, 0\ncall local f\nexit\nf:\nadd %r0, 1\nstxdw [%r10-8], %r0\ncall local f\nexit'));
  });

  it('writes to r10 (refused by the validator) behave as in the interpreter', () => {
    same(jit, [makeInsn(0xbf, 2, 10, 0, 0), makeInsn(0x07, 10, 0, 0, -16), makeInsn(0x7a, 10, 0, 0, 5), makeInsn(0x79, 0, 10, 0, 0), makeInsn(0x95)]);
  });
});

describe(`helpers, callbacks, tail calls (${jit.name})`, () => {
  /** A helper table exercising every way back from a helper. */
  function helpers(): Map<number, HelperImpl> {
    const m = new Map<number, HelperImpl>();
    // 1: r1 + 2*r2 + 3*r3 + 4*r4 + 5*r5 (mod 2^64), as a bigint
    m.set(1, (env) => {
      let s = 0n;
      for (let i = 1; i <= 5; i++) s += BigInt(i) * ((BigInt(env.regs[2 * i + 1] >>> 0) << 32n) | BigInt(env.regs[2 * i] >>> 0));
      return s;
    });
    m.set(2, (env) => env.regs[2] * 3); // a number, maybe beyond int32
    m.set(3, () => {
      throw new GuestFault(FaultCode.HelperArgs, 'refused');
    });
    // 4: bpf_loop-like: call the callback at r1 (CODE_BASE address) r2 times with (i, r3)
    m.set(4, (env) => {
      const insn = ((env.regs[2] >>> 0) - CODE_BASE) / 8;
      let acc = 0n;
      for (let i = 0; i < env.regs[4]; i++) {
        const r = (env.callSubprog as NonNullable<RunEnv['callSubprog']>)(insn, [BigInt(i), BigInt(env.regs[6])]);
        acc = BigInt.asUintN(64, acc * 31n + r);
        if (r === 1n) break;
      }
      return acc;
    });
    m.set(5, (env) => {
      env.exitRequested = true;
      return 0x55;
    });
    m.set(6, () => 2 ** 40 + 0.5);
    return m;
  }

  const programs: Array<[string, string]> = [
    ['helper arguments and a bigint result', 'mov %r1, -1\nmov %r2, 2\nlddw %r3, 0x123456789\nmov %r4, 4\nmov %r5, 5\ncall 1\nexit'],
    ['number results beyond int32', 'mov %r1, 0x7fffffff\ncall 2\nmov %r6, %r0\nmov %r1, -5\ncall 2\nadd %r0, %r6\nexit'],
    ['helper refusing its arguments', 'mov %r1, 1\ncall 3\nexit'],
    ['exit requested by a helper', 'mov %r0, 7\ncall 5\nmov %r0, 9\nexit'],
    ['non-integer number result', 'call 6\nexit'],
    ['callx', 'mov %r8, 2\nmov %r1, 21\ncall %r8\nexit'],
  ];
  for (const [name, text] of programs) {
    it(name, () => {
      same(jit, asm(text), { helpers: helpers() });
    });
  }

  /** callbackProgram: main calls helper 4 with a callback at instruction `cb`. */
  function callbackProgram(body: string, count: number): Insn[] {
    const main = asm(`mov %r6, 100\nstxdw [%r10-8], %r6\nlddw %r1, 0\nmov %r2, ${count}\nmov %r3, 7\ncall 4\nldxdw %r1, [%r10-8]\nadd %r0, %r1\nexit`);
    const cb = asm(body);
    const insns = [...main, ...cb];
    const at = main.length;
    insns[2] = makeInsn(0x18, 1, 0, 0, (CODE_BASE + 8 * at) | 0);
    return insns;
  }

  it('callbacks through env.callSubprog', () => {
    same(jit, callbackProgram('mov %r0, %r1\nmul %r0, %r2\nstxdw [%r10-8], %r0\nldxdw %r0, [%r10-8]\nexit', 5), { helpers: helpers() });
  });
  it('a callback that stops the loop, and one that faults', () => {
    same(jit, callbackProgram('mov %r0, 0\njne %r1, 2, out\nmov %r0, 1\nout:\nexit', 5), { helpers: helpers() });
    same(jit, callbackProgram('mov %r0, 0\njne %r1, 3, out\nldxdw %r0, [%r0+0]\nout:\nexit', 5), { helpers: helpers() });
  });
  it('a callback running out of budget, and one requesting exit', () => {
    same(jit, callbackProgram('mov %r0, 0\nl:\nja l\nexit', 3), { helpers: helpers(), budget: 500 });
    same(jit, callbackProgram('call 5\nexit', 3), { helpers: helpers() });
  });

  it('tail calls: chain, limit of 33, empty slot, out of range', () => {
    const run = (engine: Engine): Array<RunResult | string[]> => {
      const w = makeWorld({ value: true });
      const out: Array<RunResult | string[]> = [];
      // Program 0 counts in the value region and tail-calls slot (counter % 3).
      const counter = asm(
        [
          'ldxw %r6, [%r1+12]',
          'ldxdw %r2, [%r6+0]',
          'add %r2, 1',
          'stxdw [%r6+0], %r2',
          'mov %r3, %r2',
          'mod %r3, 3',
          'mov %r2, 1000',
          'call 12',
          'ldxdw %r0, [%r6+0]',
          'exit',
        ].join('\n'),
      );
      const slots: Array<Executable | null> = [];
      slots.push(engine.prepare({ name: 'a', insns: counter }));
      slots.push(engine.prepare({ name: 'b', insns: counter }));
      slots.push(null);
      const envT = { ...w.env, tailCall: (map: number, idx: number): Executable | null | undefined => (map === 1000 && idx < slots.length ? slots[idx] : undefined) };
      for (let k = 0; k < 4; k++) {
        w.mem.dv.setBigUint64((w.regions[3] as Region).start, BigInt(k), true);
        out.push((slots[0] as Executable).run(envT, w.ctx.start));
        out.push(snapshot(w));
      }
      return out;
    };
    expect(run(jit)).toEqual(run(interpEngine));
  });

  it('tail calls between the two back ends', () => {
    const other = BACK_ENDS.find((e) => e !== jit) as Engine;
    const w = makeWorld({ value: true });
    const wi = makeWorld({ value: true });
    const prog = asm('ldxw %r6, [%r1+12]\nldxdw %r2, [%r6+0]\nadd %r2, 1\nstxdw [%r6+0], %r2\nmov %r3, %r2\nand %r3, 1\nmov %r2, 1000\ncall 12\nldxdw %r0, [%r6+0]\nexit');
    const slots = [jit.prepare({ name: 'a', insns: prog }), other.prepare({ name: 'b', insns: prog })];
    const islots = [interpEngine.prepare({ name: 'a', insns: prog }), interpEngine.prepare({ name: 'b', insns: prog })];
    const env = { ...w.env, tailCall: (map: number, idx: number): Executable | undefined => (map === 1000 ? slots[idx] : undefined) };
    const ienv = { ...wi.env, tailCall: (map: number, idx: number): Executable | undefined => (map === 1000 ? islots[idx] : undefined) };
    expect(slots[0].run(env, w.ctx.start)).toEqual(islots[0].run(ienv, wi.ctx.start));
    expect(snapshot(w)).toEqual(snapshot(wi));
  });
});
}

describe('back-end choice', () => {
  it('jit-js takes single-function programs, jit-wasm never, jit takes small ones', () => {
    const small = assemble('mov %r0, 1\nexit');
    const twoFns = assemble('call local f\nexit\nf:\nmov %r0, 2\nexit');
    expect(jitBackEndOf(jitEngineWith('js').prepare({ name: 's', insns: small }))).toBe('js');
    expect(jitBackEndOf(jitEngineWith('wasm').prepare({ name: 's', insns: small }))).toBe('wasm');
    expect(jitBackEndOf(jitEngine.prepare({ name: 's', insns: small }))).toBe('js');
    expect(jitBackEndOf(jitEngineWith('js').prepare({ name: 't', insns: twoFns }))).toBe('wasm');
    expect(jitBackEndOf(interpEngine.prepare({ name: 's', insns: small }))).toBeUndefined();
  });
});

describe('example objects over the captures: replay results and maps identical', () => {
  const root = join(import.meta.dirname, '../..');
  const objects = readdirSync(join(root, 'programs')).filter((f) => f.endsWith('.o')).sort();
  const captures = [
    join(root, 'pcaps/sample.pcap'),
    ...readdirSync(join(root, 'pcaps/parity'))
      .filter((f) => f.endsWith('.pcap') || f.endsWith('.pcapng'))
      .sort()
      .map((f) => join(root, 'pcaps/parity', f)),
  ];
  const quiet: ReplayOptions = { xdp: [], tcIngress: [], tcEgress: [], iface: [], mode: 'pipeline', engine: 'interp', quiet: true };
  for (const obj of objects) {
    for (const mode of ['pipeline', 'test-run']) {
      it(`${obj} (${mode}) over ${captures.length} captures`, async () => {
        const hook = obj.startsWith('tc_') ? 'tcIngress' : 'xdp';
        const dir = mkdtempSync(join(tmpdir(), 'xdpsim-jit-diff-'));
        try {
          const outputs: string[][] = [];
          for (const engine of ['interp', 'jit']) {
            const results = join(dir, `${engine}.jsonl`);
            const maps = join(dir, `${engine}.json`);
            const opts: ReplayOptions = { ...quiet, [hook]: [join(root, 'programs', obj)], mode, engine, results, maps };
            await runReplay(captures, opts, { stdout: () => undefined, stderr: process.stderr });
            outputs.push([readFileSync(results, 'utf8'), readFileSync(maps, 'utf8')]);
          }
          expect(outputs[0][0].length).toBeGreaterThan(0);
          expect(outputs[1]).toEqual(outputs[0]);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  }
});
