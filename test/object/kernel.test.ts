/**
 * The kernel as the reference for the loader:
 *  - every object in programs/ loads in the kernel (`bpftool prog loadall`, as the issue asks);
 *  - libbpf (through native xdpsim-ktest) sees the same maps — names, types, key/value sizes,
 *    max_entries — and the same programs as our ObjectSpec;
 *  - xdp_glob, run on identical frames here and through BPF_PROG_TEST_RUN, leaves identical
 *    .data/.bss contents and returns identical verdicts; xdp_kconfig gets the same .kconfig map;
 *    xdp_fw with programs/xdp_fw.rules.json gives the kernel's verdict on every frame of
 *    pcaps/sample.pcap and the same rule hit counters.
 * Each part skips with the reason when root, bpftool, a mounted bpffs or xdpsim-ktest is missing.
 * tc_legacy.o is skipped for libbpf and bpftool: iproute2 6.1 and bpftool here are built on
 * libbpf 1.x, which refuses legacy "maps" sections. Its programs still reach the kernel verifier
 * through the raw-bytecode check: our loader's output, maps created by hand.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelTestRunner, type KernelObject } from '../../src/kernel/testrun.js';
import { mapTypeName, MapType } from '../../src/maps/spec.js';
import { TestRunner } from '../../src/hooks/testrun.js';
import { loadObject, readHostKconfig } from '../../src/object/instantiate.js';
import { parseObject } from '../../src/object/loader.js';
import { AttachType } from '../../src/object/sections.js';
import { baseName, OBJECTS } from './objects.js';
import { createRunEnv } from '../../src/vm/run.js';
import { interpEngine } from '../../src/vm/interp.js';
import { makeHelperTable } from '../../src/helpers/table.js';
import { deterministicServices } from '../../src/helpers/services.js';
import { packetHelperDefs } from '../../src/helpers/skb.js';
import { hookPacketBytes } from '../../src/hooks/state.js';
import { readCapture } from '../../src/io/capture.js';
import { parseMapsJson, preloadMaps } from '../../src/maps/preload.js';

/** Objects with a legacy iproute2 "maps" section (see the module comment). */
const KERNEL_OBJECTS = OBJECTS.filter((f) => baseName(f) !== 'tc_legacy');
const BPF_FS_MAGIC = 0xcafe4a11;

function bpftoolReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (CAP_BPF, CAP_NET_ADMIN) to load programs';
  try {
    execFileSync('bpftool', ['version'], { stdio: 'ignore' });
  } catch {
    return 'bpftool is not installed';
  }
  try {
    if (statfsSync('/sys/fs/bpf').type !== BPF_FS_MAGIC) return 'bpffs is not mounted on /sys/fs/bpf';
  } catch {
    return '/sys/fs/bpf does not exist';
  }
  return undefined;
}
const BPFTOOL_SKIP = bpftoolReason();

/**
 * TC objects are loaded as SCHED_CLS: bpftool's libbpf 1.1 predates the tcx/* and tc/* names.
 * Objects with maps pinned by name (LIBBPF_PIN_BY_NAME) are not asked to `pinmaps` again: libbpf
 * has already pinned those under /sys/fs/bpf and refuses a second pin.
 */
function loadallArgs(obj: string, dir: string, pinsByName: boolean): string[] {
  const args = ['prog', 'loadall', `programs/${obj}`, dir, ...(pinsByName ? [] : ['pinmaps', `${dir}/maps`])];
  return baseName(obj).startsWith('tc_') ? [...args, 'type', 'classifier'] : args;
}

/**
 * takenPins names the /sys/fs/bpf/<map> pins that exist already for maps pinned by name (another
 * run of this suite, or someone else's map): the test then skips rather than touch them.
 */
function takenPins(names: readonly string[]): string | undefined {
  const taken = names.map((n) => `/sys/fs/bpf/${n}`).filter((p) => existsSync(p));
  return taken.length > 0 ? `${taken.join(', ')} is pinned already (a concurrent run?)` : undefined;
}

/** withByNamePins runs `fn` and then removes the pins libbpf created for maps pinned by name. */
async function withByNamePins<T>(names: readonly string[], fn: () => Promise<T> | T): Promise<T> {
  const paths = names.map((n) => `/sys/fs/bpf/${n}`);
  try {
    return await fn();
  } finally {
    for (const p of paths) rmSync(p, { force: true });
  }
}

function pinnedByName(obj: string): string[] {
  const spec = parseObject(new Uint8Array(readFileSync(`programs/${obj}`)), { file: obj });
  return spec.maps.filter((m) => m.pinning === 1).map((m) => m.name);
}

describe.skipIf(BPFTOOL_SKIP !== undefined)(`bpftool prog loadall ${BPFTOOL_SKIP !== undefined ? `(skipped: ${BPFTOOL_SKIP})` : ''}`, () => {
  it.for(KERNEL_OBJECTS)('%s loads in the kernel with every program we find', async (obj, ctx) => {
    const byName = pinnedByName(obj);
    const taken = takenPins(byName);
    if (taken !== undefined) return ctx.skip(taken);
    await withByNamePins(byName, () => {
      const dir = mkdtempSync('/sys/fs/bpf/xdpsim_test_');
      try {
        execFileSync('bpftool', loadallArgs(obj, dir, byName.length > 0), { stdio: ['ignore', 'ignore', 'pipe'] });
        const pinned = readdirSync(dir).filter((f) => f !== 'maps').sort();
        const spec = parseObject(new Uint8Array(readFileSync(`programs/${obj}`)), { file: obj });
        expect(pinned).toEqual(spec.programs.map((p) => p.name).sort());
        if (byName.length === 0) {
          // libbpf pins a map under its name with every "." turned into "_" (bpf_map__pin path sanitising).
          const maps = existsSync(`${dir}/maps`) ? readdirSync(`${dir}/maps`).sort() : [];
          expect(maps).toEqual(spec.maps.map((m) => m.name.replace(/\./g, '_')).sort());
        } else {
          for (const n of byName) expect(existsSync(`/sys/fs/bpf/${n}`)).toBe(true);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

describe('libbpf and BPF_PROG_TEST_RUN agree with the loader', () => {
  let k: KernelTestRunner | undefined;
  let reason = '';
  beforeAll(async () => {
    const a = await KernelTestRunner.open();
    if (a.ok) k = a.runner;
    else reason = a.reason;
  });
  afterAll(async () => {
    await k?.close();
  });

  it.for(KERNEL_OBJECTS)('%s: same maps and programs as libbpf', async (obj, ctx) => {
    if (k === undefined) return ctx.skip(`kernel unavailable: ${reason}`);
    const opts = baseName(obj).startsWith('tc_') ? { progType: 'sched_cls' as const } : {};
    const runner = k;
    const taken = takenPins(pinnedByName(obj));
    if (taken !== undefined) return ctx.skip(taken);
    await withByNamePins(pinnedByName(obj), async () => {
      let ko: KernelObject;
      try {
        ko = await runner.loadObject(`programs/${obj}`, opts);
      } catch (e) {
        throw new Error(`${obj}: the kernel refused it: ${e instanceof Error ? e.message : String(e)}`);
      }
      try {
        const spec = parseObject(new Uint8Array(readFileSync(`programs/${obj}`)), { file: `programs/${obj}` });
        const ours = spec.maps
          .map((m) => ({
            name: m.name,
            type: mapTypeName(m.type),
            keySize: m.keySize,
            valueSize: m.valueSize,
            maxEntries: m.type === MapType.PERF_EVENT_ARRAY && m.maxEntries === 0 ? runner.ncpus : m.maxEntries,
          }))
          .sort((a, b) => a.name.localeCompare(b.name));
        const theirs = ko.maps
          .map((m) => ({ name: m.name, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries }))
          .sort((a, b) => a.name.localeCompare(b.name));
        expect(ours).toEqual(theirs);
        expect(spec.programs.map((p) => `${p.name}@${p.section}`).sort()).toEqual(ko.programs.map((p) => `${p.name}@${p.section ?? ''}`).sort());
      } finally {
        await runner.closeHandle(ko.handle);
      }
    });
  });

  it('our linked programs (subprograms appended, calls and callbacks re-targeted) pass the kernel verifier as raw bytecode', async (ctx) => {
    if (k === undefined) return ctx.skip(`kernel unavailable: ${reason}`);
    const runner = k;
    const loaded: string[] = [];
    const skipped: string[] = [];
    for (const obj of OBJECTS) {
      // Sections named by the user, as `tc filter ... sec S` would load them.
      const sectionKinds = { ingress_drop_big: 'tc', my_custom_section: 'tc' } as const;
      const spec = parseObject(new Uint8Array(readFileSync(`programs/${obj}`)), { file: obj, sectionKinds });
      const maps = new Map(spec.maps.map((m) => [m.name, m]));
      for (const p of spec.programs) {
        // Raw loads name maps by fd only (no BTF, no fd_array): global data (BPF_PSEUDO_MAP_VALUE),
        // maps of maps (inner template) and BTF-typed values (bpf_spin_lock) need more than that.
        const refs = [...new Set(p.mapRefs.map((r) => r.map))];
        const why =
          p.mapRefs.some((r) => r.kind === 'value') ? 'global data' :
          refs.some((n) => maps.get(n)?.inner !== undefined) ? 'map of maps' :
          refs.some((n) => n === 'totals') ? 'bpf_spin_lock needs BTF' :
          p.insns.some((x) => x.opcode === 0x18 && x.src === 4) ? 'callbacks need BTF func_info' :
          p.progType === 0 ? 'no program type' : undefined;
        if (why !== undefined) {
          skipped.push(`${obj}:${p.name} (${why})`);
          continue;
        }
        const kmaps = [];
        for (const n of refs) {
          const m = maps.get(n)!;
          kmaps.push(await runner.createMap({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.type === MapType.PERF_EVENT_ARRAY && m.maxEntries === 0 ? runner.ncpus : m.maxEntries, flags: m.flags, name: n.slice(0, 15) }));
        }
        const insns = p.insns.map((x) => ({ ...x }));
        for (const r of p.mapRefs) insns[r.insn] = { ...insns[r.insn], src: 1, imm: refs.indexOf(r.map) };
        const progType = p.progType === 6 ? 'xdp' : p.progType === 4 ? 'sched_act' : 'sched_cls';
        try {
          const kp = await runner.loadRaw(insns, {
            progType,
            name: p.name.slice(0, 15),
            maps: kmaps,
            ...(p.frags ? { progFlags: 1 << 5 } : {}),
            ...(p.attachType === AttachType.XDP_DEVMAP || p.attachType === AttachType.XDP_CPUMAP ? { expectedAttachType: p.attachType } : {}),
          });
          await runner.closeHandle(kp.handle);
          loaded.push(`${obj}:${p.name}`);
        } catch (e) {
          throw new Error(`${obj}:${p.name}: ${e instanceof Error ? e.message : String(e)} ${JSON.stringify((e as { fields?: unknown }).fields ?? {}).slice(-1500)}`);
        } finally {
          for (const m of kmaps) await runner.closeHandle(m.handle);
        }
      }
    }
    // Most programs qualify; the skipped ones are covered by the libbpf loads above.
    expect(loaded.length, `skipped: ${skipped.join(', ')}`).toBeGreaterThanOrEqual(25);
    for (const must of ['xdp_calls.o:xdp_sum', 'xdp_tailcall.o:xdp_dispatch', 'tc_legacy.o:tail_small', 'tc_legacy.o:cls_drop_big', 'nobtf/tc_legacy.o:act_mark', 'xdp_fw.o:xdp_fw']) {
      expect(loaded).toContain(must);
    }
  });

  it('xdp_kconfig: the .kconfig map built from the host config equals libbpf\'s, and so does what the program copied', async (ctx) => {
    if (k === undefined) return ctx.skip(`kernel unavailable: ${reason}`);
    if (readHostKconfig() === undefined) return ctx.skip('this kernel exposes no config (/proc/config.gz or /boot/config-*)');
    const ko = await k.loadObject('programs/xdp_kconfig.o');
    try {
      const o = loadObject('programs/xdp_kconfig.o', { hostKconfig: true, cpus: k.ncpus });
      const p = o.programs.get('xdp_kconfig')!;
      const runner = new TestRunner({ exec: interpEngine.prepare(p), progType: p.progType, env: createRunEnv(o.mem, { helpers: new Map() }) });
      const frame = new Uint8Array(64);
      const kr = await k.run(ko.prog, { dataIn: frame });
      const sr = runner.run({ data: frame });
      expect(sr.fault).toBeUndefined();
      expect(sr.retval >>> 0).toBe(kr.retval >>> 0);
      const dumps = await k.dumpMaps(ko);
      for (const name of ['xdp_kco.kconfig', 'xdp_kcon.bss']) {
        const kd = dumps.find((d) => d.name === name);
        expect(kd?.entries?.length, name).toBe(1);
        const ours = o.maps.get(name)?.lookup(new Uint8Array(4)) as Uint8Array;
        expect(Buffer.from(ours).toString('hex'), name).toBe(Buffer.from(kd!.entries![0].value!).toString('hex'));
      }
    } finally {
      await k.closeHandle(ko.handle);
    }
  });

  it('xdp_fw with its rules on sample.pcap: same verdict per frame and same rule counters as the kernel', async (ctx) => {
    if (k === undefined) return ctx.skip(`kernel unavailable: ${reason}`);
    if (!existsSync('pcaps/sample.pcap')) return ctx.skip('pcaps/sample.pcap is missing');
    const rules = parseMapsJson(readFileSync('programs/xdp_fw.rules.json', 'utf8'));
    const ko = await k.loadObject('programs/xdp_fw.o');
    try {
      for (const d of rules) {
        const km = ko.maps.find((m) => m.name === d.name)!;
        for (const e of d.entries) await k.mapUpdate(km, Buffer.from(e.key!, 'hex'), Buffer.from(e.value!, 'hex'));
      }
      const o = loadObject('programs/xdp_fw.o', { cpus: k.ncpus });
      preloadMaps(o.registry, rules);
      const p = o.programs.get('xdp_fw')!;
      const helpers = makeHelperTable(o.registry, { ...deterministicServices(), packetBytes: hookPacketBytes }, { license: p.license, progType: p.progType, extra: packetHelperDefs() });
      const runner = new TestRunner({ exec: interpEngine.prepare(p), progType: p.progType, env: createRunEnv(o.mem, { helpers }) });
      const mismatches: string[] = [];
      for await (const fr of readCapture('pcaps/sample.pcap')) {
        const data = fr.data.slice();
        const kr = await k.run(ko.prog, { dataIn: data });
        const sr = runner.run({ data });
        if ((kr.retval >>> 0) !== (sr.retval >>> 0) || sr.fault !== undefined) mismatches.push(`frame ${fr.index}: kernel ${kr.retval}, xdpsim ${sr.retval}${sr.fault !== undefined ? ` (${sr.fault.message})` : ''}`);
      }
      expect(mismatches).toEqual([]);
      const dumps = await k.dumpMaps(ko);
      for (const d of rules) {
        const kd = dumps.find((x) => x.name === d.name)!;
        for (const e of kd.entries ?? []) {
          const ours = o.maps.get(d.name)!.lookup(e.key) as Uint8Array;
          expect(Buffer.from(ours).toString('hex'), `${d.name} ${Buffer.from(e.key).toString('hex')}`).toBe(Buffer.from(e.value!).toString('hex'));
        }
      }
    } finally {
      await k.closeHandle(ko.handle);
    }
  });

  it('xdp_glob: same verdicts and same .data/.bss after the same frames', async (ctx) => {
    if (k === undefined) return ctx.skip(`kernel unavailable: ${reason}`);
    const frames: Uint8Array[] = [];
    const eth = (type: number, len: number): Uint8Array => {
      const f = new Uint8Array(len);
      for (let i = 0; i < len; i++) f[i] = (i * 13 + len) & 0xff;
      f[12] = type >> 8;
      f[13] = type & 0xff;
      return f;
    };
    for (const [type, len] of [[0x0800, 60], [0x86dd, 98], [0x0806, 42], [0x1234, 64], [0x0800, 1600], [0x8100, 70], [0x8100, 16], [0x0800, 1514], [0x0800, 1515]] as const) {
      frames.push(eth(type, len));
    }
    // A VLAN frame whose inner EtherType is IPv6 (parsed through one tag).
    const vlan = eth(0x8100, 80);
    vlan[16] = 0x86;
    vlan[17] = 0xdd;
    frames.push(vlan);

    const ko = await k.loadObject('programs/xdp_glob.o');
    try {
      const o = loadObject('programs/xdp_glob.o', { cpus: k.ncpus });
      const p = o.programs.get('xdp_glob');
      expect(p).toBeDefined();
      const runner = new TestRunner({ exec: interpEngine.prepare(p!), progType: p!.progType, env: createRunEnv(o.mem, { helpers: new Map() }) });
      for (const f of frames) {
        const kr = await k.run(ko.prog, { dataIn: f });
        const sr = runner.run({ data: f });
        expect(sr.fault).toBeUndefined();
        expect({ len: f.length, retval: sr.retval >>> 0 }).toEqual({ len: f.length, retval: kr.retval >>> 0 });
      }
      const dumps = await k.dumpMaps(ko);
      for (const name of ['xdp_glob.data', 'xdp_glob.bss', 'xdp_glob.rodata']) {
        const kd = dumps.find((d) => d.name === name);
        expect(kd?.entries?.length).toBe(1);
        const ours = o.maps.get(name)?.lookup(new Uint8Array(4));
        expect(ours).toBeInstanceOf(Uint8Array);
        expect(Buffer.from(ours as Uint8Array).toString('hex')).toBe(Buffer.from(kd!.entries![0].value!).toString('hex'));
      }
    } finally {
      await k.closeHandle(ko.handle);
    }
  });
});
