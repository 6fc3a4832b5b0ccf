/**
 * Kernel parity of `--mode test-run` on the example programs: every XDP and TC program in
 * programs/*.o runs every frame of the parity captures (pcaps/parity/*.pcap, pcaps/sample.pcap)
 * through BPF_PROG_TEST_RUN and through xdpsim's emulation, with maps persisting from frame to
 * frame on both sides (xdpsim's maps start from the kernel's contents, which pinned maps carry over
 * from earlier loads). retval, err, data_out and data_size_out must agree on every frame, and the
 * maps must hold the same entries at the end (per-CPU values compared as sums over CPUs, since the
 * kernel runs each test on whichever CPU the process is on).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KernelMapDump, KernelObject, KernelTestRunner } from '../../src/kernel/testrun.js';
import { loadObject, type LoadedObject } from '../../src/object/instantiate.js';
import { createRunEnv } from '../../src/vm/run.js';
import { getEngine } from '../../src/vm/engines.js';
import { makeHelperTable } from '../../src/helpers/table.js';
import { deterministicServices } from '../../src/helpers/services.js';
import { makeTailCallResolver } from '../../src/helpers/tail-call.js';
import { packetHelperDefs } from '../../src/helpers/skb.js';
import { hookPacketBytes } from '../../src/hooks/state.js';
import { loopbackDatapath } from '../../src/hooks/datapath.js';
import { AttachType, TestRunner } from '../../src/hooks/testrun.js';
import { readCapture } from '../../src/io/capture.js';
import { PROGRAMS_DIR, hex, openKernel, dumpMismatches, type Mismatch } from '../hooks/parity-harness.js';

const PCAPS = join(PROGRAMS_DIR, '..', 'pcaps');
const kernel = await openKernel();
/** Programs whose results depend on clocks or randomness cannot match the kernel's bit for bit. */
const NONDETERMINISTIC = new Set(['xdp_maps.o']);
const PACKET_TYPES = new Set([3, 4, 6]);

async function frames(): Promise<Array<{ label: string; data: Uint8Array }>> {
  const files = [...readdirSync(join(PCAPS, 'parity')).filter((f) => f.endsWith('.pcap') && f !== 'all.pcap').map((f) => join(PCAPS, 'parity', f)), join(PCAPS, 'sample.pcap')];
  const out: Array<{ label: string; data: Uint8Array }> = [];
  for (const f of files) {
    for await (const fr of readCapture(f)) out.push({ label: `${f.split('/').pop()}#${fr.index}`, data: fr.data.slice() });
  }
  return out;
}

/** simLoad loads an object into xdpsim with every helper, tail calls wired, CPUs as the kernel's. */
function simLoad(path: string, cpus: number): { obj: LoadedObject; runner: (name: string) => TestRunner } {
  const obj = loadObject(path, { cpus });
  const services = { ...deterministicServices(), packetBytes: hookPacketBytes };
  const engine = getEngine('interp');
  const tailCall = makeTailCallResolver(obj.registry);
  const execs = new Map<string, ReturnType<typeof engine.prepare>>();
  for (const [name, spec] of obj.programs) {
    const exec = engine.prepare(spec);
    execs.set(name, exec);
    obj.registry.registerProgram(name, exec);
  }
  const datapath = loopbackDatapath((h) => obj.registry.byHandle(h));
  return {
    obj,
    runner: (name) => {
      const spec = obj.programs.get(name);
      if (spec === undefined) throw new Error(`${path}: no program ${name}`);
      const helpers = makeHelperTable(obj.registry, services, { license: spec.license, progType: spec.progType, extra: packetHelperDefs() });
      const env = createRunEnv(obj.mem, { helpers, tailCall });
      env.cpu = 0;
      // The attach type comes from the section name in the kernel's numbering.
      return new TestRunner({ exec: execs.get(name)!, progType: spec.progType, env, datapath, expectedAttachType: attachTypeOf(spec.section) });
    },
  };
}

/** sumPerCpu adds the 8-byte (or 4-byte) little-endian words of per-CPU values. */
function sumPerCpu(values: readonly Uint8Array[]): string {
  const size = values[0]?.length ?? 0;
  const w = size % 8 === 0 ? 8 : 4;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  for (const v of values) {
    const vd = new DataView(v.buffer, v.byteOffset, v.byteLength);
    for (let o = 0; o + w <= size; o += w) {
      if (w === 8) dv.setBigUint64(o, BigInt.asUintN(64, dv.getBigUint64(o, true) + vd.getBigUint64(o, true)), true);
      else dv.setUint32(o, (dv.getUint32(o, true) + vd.getUint32(o, true)) >>> 0, true);
    }
  }
  return hex(out);
}

function kernelMaps(dumps: readonly KernelMapDump[]): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const d of dumps) {
    if (ID_VALUED.has(d.type)) continue;
    const m = new Map<string, string>();
    for (const e of d.entries ?? []) m.set(hex(e.key), e.values !== undefined ? sumPerCpu(e.values) : hex(e.value));
    out.set(d.name, m);
  }
  return out;
}

function simMaps(obj: LoadedObject): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const [name, map] of obj.maps) {
    const m = new Map<string, string>();
    for (const k of map.keys()) {
      const v = map.lookup(k);
      if (v === undefined) continue;
      m.set(hex(k), Array.isArray(v) ? sumPerCpu(v) : hex(v as Uint8Array));
    }
    out.set(name.slice(0, 15), m);
  }
  return out;
}

/** Objects whose maps hold the host kernel's configuration (.kconfig), which xdpsim is not given. */
const HOST_DEPENDENT = new Set(['xdp_kconfig.o']);
/** Map types whose values are kernel object ids (programs, maps, devices): not comparable. */
const ID_VALUED = new Set(['prog_array', 'array_of_maps', 'hash_of_maps', 'devmap', 'devmap_hash', 'cpumap', 'xskmap', 'sockmap', 'sockhash']);

/**
 * attachTypeOf gives the kernel's expected_attach_type for a section, in the kernel's numbering
 * (BPF_XDP_DEVMAP 33, BPF_XDP_CPUMAP 35).
 */
function attachTypeOf(section: string): number | undefined {
  if (section.endsWith('/devmap')) return AttachType.XDP_DEVMAP;
  if (section.endsWith('/cpumap')) return AttachType.XDP_CPUMAP;
  return undefined;
}

const objects = readdirSync(PROGRAMS_DIR).filter((f) => f.endsWith('.o') && !NONDETERMINISTIC.has(f) && !HOST_DEPENDENT.has(f));
/** Why the kernel side cannot load an object here (e.g. a map section this libbpf cannot open). */
const unloadable = new Map<string, string>();
/**
 * Objects of TC programs whose section names this libbpf does not know (tc/ingress, tcx/...):
 * loaded with the program type given explicitly, as `bpftool prog load ... type` would.
 */
const typeOverride = new Map<string, 'sched_cls'>();
if (kernel.k !== undefined) {
  for (const f of objects) {
    const path = join(PROGRAMS_DIR, f);
    try {
      const o = await kernel.k.loadObject(path);
      await kernel.k.closeHandle(o.handle);
    } catch (e) {
      const allTc = [...loadObject(path).programs.values()].every((p) => p.progType === 3 || p.progType === 4 || p.progType === 0);
      try {
        if (!allTc) throw e;
        const o = await kernel.k.loadObject(path, { progType: 'sched_cls' });
        await kernel.k.closeHandle(o.handle);
        typeOverride.set(f, 'sched_cls');
      } catch (e2) {
        unloadable.set(f, e2 instanceof Error ? e2.message : String(e2));
      }
    }
  }
}

describe.skipIf(kernel.k === undefined)(`testrun parity: programs/*.o on the parity captures ${kernel.reason ?? ''}`, () => {
  const k = kernel.k as KernelTestRunner;
  afterAll(async () => {
    await k?.close();
  });

  for (const [file, why] of unloadable) it.skip(`${file}: the kernel side cannot load it here (${why})`, () => {});

  it.each(objects.filter((f) => !unloadable.has(f)))('%s', async (file) => {
    const path = join(PROGRAMS_DIR, file);
    const all = await frames();
    const progType = typeOverride.get(file);
    const probe = await k.loadObject(path, { progType });
    const names = probe.programs.filter((p) => p.type === undefined || ['xdp', 'sched_cls', 'sched_act'].includes(p.type)).map((p) => p.name);
    await k.closeHandle(probe.handle);
    const mismatches: Mismatch[] = [];
    let compared = 0;
    for (const name of names) {
      const kobj: KernelObject = await k.loadObject(path, { program: name, progType });
      const sim = simLoad(path, k.ncpus);
      const spec = sim.obj.programs.get(name);
      if (spec === undefined || !PACKET_TYPES.has(spec.progType)) {
        await k.closeHandle(kobj.handle);
        continue;
      }
      const runner = sim.runner(name);
      // Start from the kernel's map contents (pinned maps keep theirs from earlier loads).
      for (const d of await k.dumpMaps(kobj)) {
        if (ID_VALUED.has(d.type)) continue;
        const m = [...sim.obj.maps.entries()].find(([n]) => n.slice(0, 15) === d.name)?.[1];
        for (const e of d.entries ?? []) {
          if (m === undefined) break;
          if (e.values !== undefined) e.values.forEach((v, cpu) => m.update(e.key, v, 0, cpu));
          else if (e.value !== undefined) m.update(e.key, e.value, 0);
        }
      }
      for (const fr of all) {
        const kr = await k.run(kobj.prog, { dataIn: fr.data });
        const sr = runner.run({ data: fr.data, dataSizeOut: 256 << 10 });
        compared++;
        const label = `${file}:${name} ${fr.label}`;
        const cmp = (field: string, a: string, b: string): void => {
          if (a !== b) mismatches.push({ label, field, kernel: a, sim: b });
        };
        if (sr.fault !== undefined) cmp('fault', '-', sr.fault.message);
        cmp('err', String(kr.err), String(sr.err));
        cmp('retval', String(kr.retval >>> 0), String(sr.retval >>> 0));
        cmp('data_size_out', String(kr.dataSizeOut), String(sr.dataSizeOut));
        cmp('data_out', hex(kr.dataOut), hex(sr.dataOut));
      }
      const km = kernelMaps(await k.dumpMaps(kobj));
      const sm = simMaps(sim.obj);
      for (const [mname, kentries] of km) {
        const sentries = sm.get(mname.slice(0, 15));
        if (sentries === undefined) {
          mismatches.push({ label: `${file}:${name} map ${mname}`, field: 'map', kernel: 'present', sim: 'missing' });
          continue;
        }
        const keys = new Set([...kentries.keys(), ...sentries.keys()]);
        for (const key of keys) {
          const a = kentries.get(key) ?? '-';
          const b = sentries.get(key) ?? '-';
          if (a !== b) mismatches.push({ label: `${file}:${name} map ${mname}[${key}]`, field: 'value', kernel: a, sim: b });
        }
      }
      await k.closeHandle(kobj.handle);
    }
    dumpMismatches(mismatches);
    console.info(`testrun parity: ${file}: ${compared} frames compared with the kernel, ${mismatches.length} mismatches`);
    const shown = mismatches.slice(0, 30).map((m) => `${m.label}: ${m.field}: kernel ${m.kernel.slice(0, 100)} / xdpsim ${m.sim.slice(0, 100)}`);
    expect(shown, `${mismatches.length} mismatches over ${compared} frames`).toEqual([]);
  });
});
