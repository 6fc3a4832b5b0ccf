/**
 * The benchmark's programs (programs/bench/, bench/programs.ts) give the kernel's answer on
 * xdpsim before anyone times them: each program, each of its frames, one BPF_PROG_TEST_RUN in the
 * kernel and one run of xdpsim's test-run emulation on every engine — retval, err and data_out
 * identical, and the maps identical afterwards (per-CPU values summed over CPUs: the kernel runs
 * on whichever CPU the process is on). Skips, saying why, where the kernel cannot be used.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { KernelTestRunner, hexOf, type KernelMapDump } from '../../src/kernel/testrun.js';
import { loadObject } from '../../src/object/instantiate.js';
import { createRunEnv } from '../../src/vm/run.js';
import { engineNames, getEngine } from '../../src/vm/engines.js';
import type { Executable } from '../../src/vm/program.js';
import { makeHelperTable } from '../../src/helpers/table.js';
import { deterministicServices } from '../../src/helpers/services.js';
import { makeTailCallResolver } from '../../src/helpers/tail-call.js';
import { packetHelperDefs } from '../../src/helpers/skb.js';
import { hookPacketBytes } from '../../src/hooks/state.js';
import { loopbackDatapath } from '../../src/hooks/datapath.js';
import { TestRunner } from '../../src/hooks/testrun.js';
import { PROGRAMS } from '../../bench/programs.js';

const DIR = resolve(import.meta.dirname, '../../programs/bench');
const avail = await KernelTestRunner.open();
const skipReason = avail.ok ? '' : ` (skipped: ${avail.reason})`;

/** simRun loads the object on one engine and runs `func` once per frame; returns results and map contents. */
function simRun(path: string, func: string, engineName: string, frames: readonly Uint8Array[], cpus: number): { results: string[]; maps: Map<string, string> } {
  const obj = loadObject(path, { cpus });
  const engine = getEngine(engineName);
  const execs = new Map<string, Executable>();
  for (const [name, spec] of obj.programs) {
    const e = engine.prepare(spec);
    execs.set(name, e);
    obj.registry.registerProgram(name, e);
  }
  const spec = obj.programs.get(func);
  const exec = execs.get(func);
  if (spec === undefined || exec === undefined) throw new Error(`${path}: no program ${func}`);
  const services = { ...deterministicServices(), packetBytes: hookPacketBytes };
  const helpers = makeHelperTable(obj.registry, services, { license: spec.license, progType: spec.progType, extra: packetHelperDefs() });
  const env = createRunEnv(obj.mem, { helpers, tailCall: makeTailCallResolver(obj.registry) });
  env.cpu = 0;
  const runner = new TestRunner({ exec, progType: spec.progType, env, datapath: loopbackDatapath((h) => obj.registry.byHandle(h)) });
  const results = frames.map((data) => {
    const r = runner.run({ data });
    return r.fault !== undefined ? `fault ${r.fault.code}: ${r.fault.message}` : `err ${r.err} retval ${r.retval} data_out ${hexOf(r.dataOut)}`;
  });
  const maps = new Map<string, string>();
  for (const [name, m] of obj.maps) {
    if (m.spec.type === 3) continue; // PROG_ARRAY: the kernel reports program ids, not comparable
    const entries: string[] = [];
    for (const key of m.keys()) {
      const value = m.lookup(key);
      if (value === undefined) continue;
      entries.push(`${hexOf(key)}=${Array.isArray(value) ? sumWords(value) : hexOf(value)}`);
    }
    maps.set(name, entries.sort().join(' '));
  }
  return { results, maps };
}

/** sumWords adds per-CPU values as little-endian u64s (the bench programs' counters). */
function sumWords(values: readonly Uint8Array[]): string {
  let sum = 0n;
  for (const v of values) sum += Buffer.from(v).readBigUInt64LE();
  return `sum:${sum}`;
}

function kernelMaps(dumps: readonly KernelMapDump[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of dumps) {
    if (d.type === 'prog_array') continue;
    const entries = (d.entries ?? []).map((e) => `${hexOf(e.key)}=${e.values !== undefined ? sumWords(e.values) : hexOf(e.value ?? new Uint8Array())}`);
    out.set(d.name, entries.sort().join(' '));
  }
  return out;
}

describe.skipIf(!avail.ok)(`bench programs: xdpsim test-run vs the kernel${skipReason}`, () => {
  const k = avail.runner as KernelTestRunner;
  afterAll(async () => k.close());

  for (const p of PROGRAMS) {
    it(`${p.name} (${p.func}) on ${p.frames.map((f) => `${f.name}/${f.bytes.length}`).join(', ')}`, async () => {
      const path = `${DIR}/${p.name}.o`;
      const kobj = await k.loadObject(path, { program: p.func });
      const frames = p.frames.map((f) => f.bytes);
      const kernel: string[] = [];
      for (const data of frames) {
        const r = await k.run(kobj.prog, { dataIn: data });
        kernel.push(`err ${r.err} retval ${r.retval} data_out ${hexOf(r.dataOut)}`);
      }
      const kmaps = kernelMaps(await k.dumpMaps(kobj));
      await k.closeHandle(kobj.handle);
      for (const engine of engineNames()) {
        const sim = simRun(path, p.func, engine, frames, k.ncpus);
        expect(sim.results, `${p.name} on ${engine}`).toEqual(kernel);
        expect(sim.maps, `${p.name} maps on ${engine}`).toEqual(kmaps);
      }
    });
  }
});
