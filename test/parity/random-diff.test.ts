/**
 * Differential test: random valid programs (test/support/random-program.ts) through every xdpsim
 * engine (the reference interpreter, the jit, ...: src/vm/engines.ts) and through the Linux kernel
 * (BPF_PROG_TEST_RUN, each program wrapped as a subprogram that stores its full 64-bit r0 into an
 * array map, test/kernel/wrap.ts). Every program must be accepted by the verifier, and every
 * engine must give the kernel's r0 (which folds in r1..r9, the stack and, for odd seeds, a map
 * value the program reached through bpf_map_lookup_elem and worked on with loads, stores and
 * atomics).
 *
 * Two more runs use packet mode: each program is the XDP (then the SCHED_CLS) program itself,
 * reads and writes the frame (every size, any alignment), writes and reads context fields (every
 * size the kernel allows) and leaves its folded r0 in the first 8 bytes; xdpsim's
 * BPF_PROG_TEST_RUN emulation (src/hooks/testrun.ts) on every engine must return the kernel's err,
 * retval, data_out and ctx_out byte for byte, on random frames of 14..128 bytes and, for half the
 * runs, a random ctx_in (XDP: metadata length and ingress device; TC: mark, priority, cb)
 * (XDPSIM_DIFF_PKT_COUNT per hook, default 1000).
 *
 * Seeded and reproducible: XDPSIM_DIFF_SEED (default 0x5eed0000) is the first seed, program i uses
 * seed + i; XDPSIM_DIFF_COUNT (default 3000) programs. A mismatch prints the seed, the program
 * and both results; rerun one with XDPSIM_DIFF_SEED=<seed> XDPSIM_DIFF_COUNT=1.
 * Skips, saying why, where the kernel cannot be used (not Linux, not root, helper not built).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { KernelError, KernelTestRunner, hexOf, type KernelMap } from '../../src/kernel/testrun.js';
import { disasmProgram } from '../../src/isa/disasm.js';
import { validateProgram } from '../../src/isa/validate.js';
import { makeInsn, type Insn } from '../../src/isa/insn.js';
import { Memory } from '../../src/vm/memory.js';
import { createRunEnv } from '../../src/vm/run.js';
import { engineNames, getEngine } from '../../src/vm/engines.js';
import type { Engine, RunEnv } from '../../src/vm/program.js';
import { MapRegistry } from '../../src/maps/registry.js';
import { MapType } from '../../src/maps/spec.js';
import type { MapBase } from '../../src/maps/base.js';
import { makeHelperTable } from '../../src/helpers/table.js';
import { deterministicServices } from '../../src/helpers/services.js';
import { TestRunner } from '../../src/hooks/testrun.js';
import { ProgType } from '../../src/hooks/tc.js';
import { Rng, randomProgram, type RandomProgram, type RandomProgramOptions } from '../support/random-program.js';
import { RESULT_MAP_SPEC, u64OfLe, wrapForKernel } from '../kernel/wrap.js';

const BASE_SEED = Number(process.env.XDPSIM_DIFF_SEED ?? 0x5eed0000) >>> 0;
const COUNT = Number(process.env.XDPSIM_DIFF_COUNT ?? 3000);
/** Packet-mode programs per hook (run as the program itself; err, retval and data_out compared). */
const PKT_COUNT = Number(process.env.XDPSIM_DIFF_PKT_COUNT ?? 1000);
const PKT_BYTES = 64;
/** Size of the map value odd seeds work on. */
const VALUE_BYTES = 48;
/** Programs generated, then compared, per round. */
const BATCH = 100;
const SHOW = 5;
const KEY0 = new Uint8Array(4);

const avail = await KernelTestRunner.open();
const skipReason = avail.ok ? '' : ` (skipped: ${avail.reason})`;

function hex64(v: bigint): string {
  return `0x${v.toString(16).padStart(16, '0')}`;
}

/** listing renders a program in llvm-objdump syntax, one instruction per line. */
function listing(insns: readonly Insn[]): string {
  return disasmProgram(insns).join('\n');
}

/** usesMap: odd seeds get map-value mode. */
function usesMap(seed: number): boolean {
  return (seed & 1) === 1;
}

/** initialValue is the map value a program starts from (the same on both sides). */
function initialValue(seed: number): Uint8Array {
  const rng = new Rng(seed ^ 0x5a5a5a5a);
  return Uint8Array.from({ length: VALUE_BYTES }, () => rng.below(256));
}

/** skbCtxIn is a __sk_buff ctx_in with the fields test-run accepts set at random: mark, priority, cb[]. */
function skbCtxIn(rng: Rng): Uint8Array {
  const ctx = new Uint8Array(192);
  const dv = new DataView(ctx.buffer);
  dv.setUint32(8, rng.u32(), true); // mark
  dv.setUint32(32, rng.u32(), true); // priority
  for (let i = 48; i < 68; i++) ctx[i] = rng.below(256); // cb[0..4]
  return ctx;
}

/**
 * xdpCtxIn is an xdp_md ctx_in the way test-run accepts it: data = metadata length (a multiple of
 * 4, at most 32: those first bytes of data_in become metadata), data_end = the frame length,
 * ingress_ifindex lo or none, rx_queue_index 0.
 */
function xdpCtxIn(rng: Rng, len: number): Uint8Array {
  const ctx = new Uint8Array(24);
  const dv = new DataView(ctx.buffer);
  dv.setUint32(0, 4 * rng.range(0, Math.min(8, Math.floor((len - 14) / 4))), true); // data
  dv.setUint32(4, len, true); // data_end
  if (rng.chance(0.5)) dv.setUint32(12, 1, true); // ingress_ifindex = lo
  return ctx;
}

/** SimEnv is one engine with a RunEnv whose helpers and map registry hold the value map. */
interface SimEnv {
  readonly name: string;
  readonly engine: Engine;
  readonly env: RunEnv;
  readonly valueMap: MapBase;
}

function makeSimEnv(name: string): SimEnv {
  const mem = new Memory();
  const registry = new MapRegistry(mem, { cpus: 1 });
  const valueMap = registry.create({ name: 'values', type: MapType.ARRAY, keySize: 4, valueSize: VALUE_BYTES, maxEntries: 1, flags: 0, pinning: 0 });
  const helpers = makeHelperTable(registry, deterministicServices(), { license: 'GPL' });
  return { name, engine: getEngine(name), env: createRunEnv(mem, { helpers }), valueMap };
}

/** forSim patches the program's map reference (lddw src=1, imm=index) to the value map's handle. */
function forSim(insns: readonly Insn[], handle: number): Insn[] {
  const out = insns.map((x) => ({ ...x }));
  for (let i = 0; i < out.length; i++) {
    if (out[i].opcode === 0x18) {
      if (out[i].src === 1) {
        out[i] = { ...out[i], src: 0, imm: handle | 0 };
        out[i + 1] = { ...out[i + 1], imm: 0 };
      }
      i++;
    }
  }
  return out;
}

/** simR0 runs a program on one engine after resetting the value map; a fault is reported as text. */
function simR0(s: SimEnv, p: RandomProgram): bigint | string {
  s.valueMap.update(KEY0, initialValue(p.seed), 0);
  const exe = s.engine.prepare({ name: `random-${p.seed}`, insns: forSim(p.insns, s.valueMap.handle) });
  const r = exe.run(s.env, 0);
  return r.ok ? r.r0 : `fault ${r.fault.code}: ${r.fault.message} (insn ${r.fault.insn})`;
}

/** kernelAcceptsV4 asks the verifier for one ISA v4 instruction (sdiv, off = 1; kernel ≥ 6.6). */
async function kernelAcceptsV4(k: KernelTestRunner): Promise<boolean> {
  try {
    const p = await k.loadRaw([makeInsn(0xb7, 0, 0, 0, 7), makeInsn(0x37, 0, 0, 1, -2), makeInsn(0x95)], { progType: 'xdp' });
    await k.closeHandle(p.handle);
    return true;
  } catch (e) {
    if (e instanceof KernelError) return false;
    throw e;
  }
}

function refused(e: unknown): string {
  if (e instanceof KernelError) return `verifier refused (errno ${e.errno}):\n${e.log.split('\n').slice(-12).join('\n')}`;
  throw e;
}

async function kernelR0(k: KernelTestRunner, result: KernelMap, values: KernelMap, p: RandomProgram): Promise<bigint | string> {
  let prog;
  try {
    prog = await k.loadRaw(wrapForKernel(p.insns), { progType: 'xdp', maps: [result, values], name: 'random' });
  } catch (e) {
    return refused(e);
  }
  try {
    await k.mapUpdate(result, KEY0, new Uint8Array(8).fill(0xa5));
    await k.mapUpdate(values, KEY0, initialValue(p.seed));
    const r = await k.run(prog, { dataIn: new Uint8Array(64) });
    if (r.err !== 0 || r.retval !== 2) return `test run failed: err ${r.err}, retval ${r.retval}`;
    const v = await k.mapLookup(result, KEY0);
    if (v?.value === undefined) return 'result map element missing';
    return u64OfLe(v.value);
  } finally {
    await k.closeHandle(prog.handle);
  }
}

interface Outcome {
  readonly prog: RandomProgram;
  readonly engine: string;
  readonly kernel: bigint | string;
  readonly xdpsim: bigint | string;
}

function report(bad: readonly Outcome[], total: number): string {
  const shown = bad.slice(0, SHOW).map((o) => {
    const fmt = (v: bigint | string): string => (typeof v === 'bigint' ? hex64(v) : v);
    return [
      `seed ${o.prog.seed} (0x${o.prog.seed.toString(16)}): rerun with XDPSIM_DIFF_SEED=${o.prog.seed} XDPSIM_DIFF_COUNT=1`,
      `  kernel: ${fmt(o.kernel)}`,
      `  xdpsim ${o.engine}: ${fmt(o.xdpsim)}`,
      listing(o.prog.insns),
    ].join('\n');
  });
  return `${bad.length} (program, engine) results of ${total} random programs differ between the kernel and xdpsim:\n\n${shown.join('\n\n')}`;
}

describe('random program generator', () => {
  it('is deterministic per seed', () => {
    expect(randomProgram(42).insns).toEqual(randomProgram(42).insns);
    expect(randomProgram(42).insns).not.toEqual(randomProgram(43).insns);
  });

  it("produces programs xdpsim's strict load-time validator (the kernel's structural checks) accepts", () => {
    const modes: RandomProgramOptions[] = [
      {},
      { mapValue: { index: 1, bytes: VALUE_BYTES } },
      { packetBytes: PKT_BYTES },
      { packetBytes: PKT_BYTES, packetCtx: 'skb', ctxFields: true, mapValue: { index: 0, bytes: VALUE_BYTES } },
      { packetBytes: PKT_BYTES, ctxFields: true },
    ];
    for (let i = 0; i < 400; i++) {
      for (const opts of modes) {
        const p = randomProgram(BASE_SEED + i, opts);
        expect(() => validateProgram(p.insns, { name: `random-${p.seed}`, strict: true })).not.toThrow();
      }
    }
  });
});

describe.skipIf(!avail.ok)(`random programs: every engine vs kernel${skipReason}`, () => {
  const k = avail.runner as KernelTestRunner;
  afterAll(async () => k.close());

  it(`${COUNT} random programs give the same 64-bit r0 on ${engineNames().join(', ')} and the kernel (seeds ${BASE_SEED}..${BASE_SEED + COUNT - 1})`, async () => {
    // ISA v4 (sdiv/smod, movsx, ldsx, bswap, gotol) is generated only if this kernel accepts it.
    const v4 = await kernelAcceptsV4(k);
    if (!v4) console.warn('random-diff: this kernel refuses ISA v4 instructions; generating v1-v3 programs only');
    const result = await k.createMap(RESULT_MAP_SPEC);
    const values = await k.createMap({ type: 'array', keySize: 4, valueSize: VALUE_BYTES, maxEntries: 1 });
    const sims = engineNames().map(makeSimEnv);
    const bad: Outcome[] = [];
    for (let start = 0; start < COUNT; start += BATCH) {
      const progs: RandomProgram[] = [];
      for (let i = start; i < Math.min(COUNT, start + BATCH); i++) {
        const seed = (BASE_SEED + i) >>> 0;
        progs.push(randomProgram(seed, { v4, ...(usesMap(seed) ? { mapValue: { index: 1, bytes: VALUE_BYTES } } : {}) }));
      }
      // Sequential on purpose: every program shares the result and value maps (~1 ms each).
      const kernel: Array<bigint | string> = [];
      for (const p of progs) kernel.push(await kernelR0(k, result, values, p));
      progs.forEach((p, i) => {
        for (const s of sims) {
          const x = simR0(s, p);
          if (x !== kernel[i]) bad.push({ prog: p, engine: s.name, kernel: kernel[i], xdpsim: x });
        }
      });
    }
    await k.closeHandle(result.handle);
    await k.closeHandle(values.handle);
    if (bad.length > 0) console.error(report(bad, COUNT));
    expect(bad.length, bad.length > 0 ? report(bad, COUNT) : '').toBe(0);
  }, 600_000); // the jit compiles every program to WebAssembly: ~10 ms each

  for (const hook of ['xdp', 'sched_cls'] as const) {
    it(`${PKT_COUNT} random ${hook} packet programs give the kernel's err, retval and data_out on ${engineNames().join(', ')} (seeds ${BASE_SEED}..${BASE_SEED + PKT_COUNT - 1})`, async () => {
      const v4 = await kernelAcceptsV4(k);
      const values = await k.createMap({ type: 'array', keySize: 4, valueSize: VALUE_BYTES, maxEntries: 1 });
      const sims = engineNames().map(makeSimEnv);
      const progType = hook === 'xdp' ? ProgType.XDP : ProgType.SCHED_CLS;
      const bad: string[] = [];
      for (let i = 0; i < PKT_COUNT; i++) {
        const seed = (BASE_SEED + i) >>> 0;
        const p = randomProgram(seed, {
          v4,
          packetBytes: PKT_BYTES,
          packetCtx: hook === 'xdp' ? 'xdp' : 'skb',
          ctxFields: true,
          ...(usesMap(seed) ? { mapValue: { index: 0, bytes: VALUE_BYTES } } : {}),
        });
        const frameRng = new Rng(seed ^ 0xf00df00d);
        const len = frameRng.chance(0.1) ? frameRng.range(14, PKT_BYTES - 1) : frameRng.range(PKT_BYTES, 128);
        const frame = Uint8Array.from({ length: len }, () => frameRng.below(256));
        const ctxIn = frameRng.chance(0.5) ? (hook === 'sched_cls' ? skbCtxIn(frameRng) : xdpCtxIn(frameRng, len)) : undefined;
        let kernel: string;
        try {
          const prog = await k.loadRaw(p.insns, { progType: hook, name: 'random_pkt', maps: [values] });
          await k.mapUpdate(values, KEY0, initialValue(seed));
          const r = await k.run(prog, { dataIn: frame, ...(ctxIn !== undefined ? { ctxIn } : {}) });
          const v = await k.mapLookup(values, KEY0);
          await k.closeHandle(prog.handle);
          kernel = `err ${r.err} retval ${r.retval} data_out ${hexOf(r.dataOut)} ctx_out ${r.ctxOut === undefined ? '-' : hexOf(r.ctxOut)} value ${hexOf(v?.value ?? new Uint8Array())}`;
        } catch (e) {
          kernel = refused(e);
        }
        for (const s of sims) {
          s.valueMap.update(KEY0, initialValue(seed), 0);
          const exec = s.engine.prepare({ name: `random-pkt-${seed}`, insns: forSim(p.insns, s.valueMap.handle) });
          const r = new TestRunner({ exec, progType, env: s.env }).run({ data: frame, ...(ctxIn !== undefined ? { ctxIn } : {}) });
          const value = s.valueMap.lookup(KEY0);
          const got =
            r.fault !== undefined
              ? `fault ${r.fault.code}: ${r.fault.message} (insn ${r.fault.insn})`
              : `err ${r.err} retval ${r.retval} data_out ${hexOf(r.dataOut)} ctx_out ${r.ctxOut === undefined ? '-' : hexOf(r.ctxOut)} value ${value instanceof Uint8Array ? hexOf(value) : '?'}`;
          if (got !== kernel) {
            bad.push(
              [
                `seed ${seed} (${hook} packet mode, frame ${hexOf(frame)}${ctxIn !== undefined ? `, ctx_in ${hexOf(ctxIn)}` : ''}): rerun with XDPSIM_DIFF_SEED=${seed} XDPSIM_DIFF_PKT_COUNT=1`,
                `  kernel: ${kernel}`,
                `  xdpsim ${s.name}: ${got}`,
                bad.length < SHOW ? listing(p.insns) : '',
              ].join('\n'),
            );
          }
        }
      }
      await k.closeHandle(values.handle);
      const msg = `${bad.length} (program, engine) results of ${PKT_COUNT} random ${hook} packet programs differ from the kernel:\n\n${bad.slice(0, SHOW).join('\n\n')}`;
      if (bad.length > 0) console.error(msg);
      expect(bad.length, bad.length > 0 ? msg : '').toBe(0);
    }, 600_000);
  }
});
