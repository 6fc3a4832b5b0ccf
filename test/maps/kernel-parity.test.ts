/**
 * Kernel parity for maps: the same sequence of operations on a map in the running kernel (via
 * bpftool, pinned to CPU 0) and in xdpsim must give the same errno for every operation and the
 * same contents at the end — in the same get_next_key order where the kernel's order is
 * deterministic (LPM trie, arrays). Skipped with the reason when the kernel cannot be asked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { BPF_ANY, BPF_EXIST, BPF_NOEXIST, MapFlag, MapType } from '../../src/maps/spec.js';
import type { MapBase } from '../../src/maps/base.js';
import { LruHashMap } from '../../src/maps/lru-hash.js';
import { QueueStackMap } from '../../src/maps/queue-stack.js';
import { RingbufMap } from '../../src/maps/ringbuf.js';
import { spawnSync } from 'node:child_process';
import { bpftoolDump, toHex } from '../../src/maps/dump.js';
import { MapRegistry } from '../../src/maps/registry.js';
import { Memory } from '../../src/vm/memory.js';
import { readdirSync, readFileSync } from 'node:fs';
import { KernelMap, KernelScratch, bpftool, kernelSkipReason, rng, which } from './kernel-util.js';
import { newRegistry, spec, u32 } from './util.js';

const SKIP = kernelSkipReason(true);
const CPUS = Number(process.env.XDPSIM_PARITY_CPUS ?? 0) || (await import('node:fs')).readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim().split(',').reduce((n, r) => {
  const [a, b] = r.split('-').map(Number);
  return n + (b === undefined ? 1 : b - a + 1);
}, 0);

/** KernelMapView reads value 0 of a pinned array map. */
class KernelMapView {
  constructor(readonly path: string) {}
  value(): Uint8Array {
    const r = bpftool(['map', 'lookup', 'pinned', this.path, 'key', '0', '0', '0', '0', '-j']);
    if (r.errno !== 0) throw new Error(`bpftool map lookup: ${r.err}`);
    return Uint8Array.from((JSON.parse(r.out) as { value: string[] }).value, (x) => parseInt(x, 16));
  }
}

const simDump = (m: MapBase): Array<[string, string]> => [...m.keys()].map((k) => [toHex(k), toHex(m.lookup(k) as Uint8Array)]);
const sorted = (d: Array<[string, string]>) => [...d].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

describe.skipIf(SKIP !== undefined)(`map semantics against the running kernel${SKIP !== undefined ? ` (skipped: ${SKIP})` : ''}`, () => {
  let k: KernelScratch;
  beforeAll(() => {
    k = new KernelScratch();
  });
  afterAll(() => k?.close());

  it('HASH: update flags, -E2BIG when full, delete, lookup (200 random operations)', () => {
    const kmap = new KernelMap(k.bpffs, 'hash', 4, 4, 5);
    const sim = newRegistry(CPUS).create(spec({ type: MapType.HASH, valueSize: 4, maxEntries: 5 }));
    const r = rng(1);
    for (let i = 0; i < 200; i++) {
      const key = u32(Math.floor(r() * 9));
      const op = r();
      if (op < 0.6) {
        const flags = [BPF_ANY, BPF_NOEXIST, BPF_EXIST][Math.floor(r() * 3)];
        const value = u32(i);
        expect([i, 'update', flags, sim.update(key, value, flags)]).toEqual([i, 'update', flags, kmap.update(key, value, flags)]);
      } else if (op < 0.85) {
        expect([i, 'delete', sim.delete(key)]).toEqual([i, 'delete', kmap.delete(key)]);
      } else {
        const want = kmap.lookup(key);
        const got = sim.lookup(key) ?? -2;
        expect([i, 'lookup', got]).toEqual([i, 'lookup', want]);
      }
    }
    expect(sorted(simDump(sim))).toEqual(sorted(kmap.dump()));
  });

  it('ARRAY: flags, bounds, delete refused, dump order', () => {
    const kmap = new KernelMap(k.bpffs, 'array', 4, 4, 3);
    const sim = newRegistry(CPUS).create(spec({ type: MapType.ARRAY, valueSize: 4, maxEntries: 3 }));
    for (const [key, flags] of [
      [0, BPF_ANY],
      [1, BPF_EXIST],
      [2, BPF_NOEXIST],
      [3, BPF_ANY],
      [7, BPF_EXIST],
    ]) {
      expect(sim.update(u32(key), u32(key + 100), flags)).toBe(kmap.update(u32(key), u32(key + 100), flags));
    }
    expect(sim.delete(u32(0))).toBe(kmap.delete(u32(0)));
    expect(simDump(sim)).toEqual(kmap.dump());
  });

  it('LPM_TRIE: flags, -ENOSPC, longest-prefix lookups and the post-order dump (300 random operations)', () => {
    const kmap = new KernelMap(k.bpffs, 'lpm_trie', 8, 4, 12, MapFlag.NO_PREALLOC);
    const sim = newRegistry(CPUS).create(spec({ type: MapType.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 12, flags: MapFlag.NO_PREALLOC }));
    const r = rng(7);
    const randKey = () => {
      const len = [0, 1, 7, 8, 9, 16, 20, 24, 31, 32, 33][Math.floor(r() * 11)];
      const b = Uint8Array.of(len, 0, 0, 0, 10, Math.floor(r() * 4), Math.floor(r() * 256) & 0xc3, Math.floor(r() * 256));
      return b;
    };
    for (let i = 0; i < 300; i++) {
      const key = randKey();
      const op = r();
      if (op < 0.55) {
        const flags = [BPF_ANY, BPF_NOEXIST, BPF_EXIST][Math.floor(r() * 3)];
        expect([i, 'update', toHex(key), flags, sim.update(key, u32(i), flags)]).toEqual([i, 'update', toHex(key), flags, kmap.update(key, u32(i), flags)]);
      } else if (op < 0.75) {
        expect([i, 'delete', toHex(key), sim.delete(key)]).toEqual([i, 'delete', toHex(key), kmap.delete(key)]);
      } else {
        const want = kmap.lookup(key);
        const got = sim.lookup(key) ?? -2;
        expect([i, 'lookup', toHex(key), got]).toEqual([i, 'lookup', toHex(key), want]);
      }
    }
    expect(simDump(sim)).toEqual(kmap.dump());
  });

  it('QUEUE and STACK: push with -E2BIG, pop order', () => {
    for (const [type, t] of [
      ['queue', MapType.QUEUE],
      ['stack', MapType.STACK],
    ] as const) {
      const kmap = new KernelMap(k.bpffs, type, 0, 4, 3);
      const sim = newRegistry(CPUS).create(spec({ type: t, keySize: 0, valueSize: 4, maxEntries: 3 })) as QueueStackMap;
      for (let i = 0; i < 5; i++) expect(sim.push(u32(i), BPF_ANY)).toBe(kmap.push(u32(i)));
      for (let i = 0; i < 4; i++) expect(sim.pop()).toEqual(kmap.pop());
    }
  });

  it('PERCPU_HASH and LPM_TRIE dumps have the exact JSON shape of bpftool map dump -j', () => {
    const kp = new KernelMap(k.bpffs, 'percpu_hash', 4, 4, 4);
    const sp = newRegistry(CPUS).create(spec({ type: MapType.PERCPU_HASH, valueSize: 4 }));
    const kl = new KernelMap(k.bpffs, 'lpm_trie', 8, 4, 4, MapFlag.NO_PREALLOC);
    const sl = newRegistry(CPUS).create(spec({ type: MapType.LPM_TRIE, keySize: 8, valueSize: 4, flags: MapFlag.NO_PREALLOC }));
    expect(sp.update(u32(3), u32(0x1234), BPF_ANY)).toBe(kp.update(u32(3), u32(0x1234), BPF_ANY));
    for (const key of [Uint8Array.of(16, 0, 0, 0, 10, 1, 0, 0), Uint8Array.of(24, 0, 0, 0, 10, 1, 2, 0), Uint8Array.of(8, 0, 0, 0, 10, 0, 0, 0)]) {
      expect(sl.update(key, u32(key[0]), BPF_ANY)).toBe(kl.update(key, u32(key[0]), BPF_ANY));
    }
    for (const [km, sm] of [
      [kp, sp],
      [kl, sl],
    ] as const) {
      const raw = bpftool(['map', 'dump', 'pinned', km.path, '-j']);
      expect(JSON.stringify(bpftoolDump(sm))).toBe(raw.out.trim());
    }
  });

  it('DEVMAP, DEVMAP_HASH and CPUMAP: update errnos and contents', () => {
    const ifindexes = new Set(readdirSync('/sys/class/net').map((d) => Number(readFileSync(`/sys/class/net/${d}/ifindex`, 'utf8'))));
    const reg = new MapRegistry(new Memory(), { cpus: CPUS, ifindexExists: (i) => ifindexes.has(i) });
    const missing = Math.max(...ifindexes) + 100;
    const pair = (a: number, b: number) => Uint8Array.from([...u32(a), ...u32(b)]);
    const cases: Array<[string, number, number, number, Array<[number, Uint8Array, number]>]> = [
      ['devmap', MapType.DEVMAP, 8, 4, [[0, pair(1, 0), BPF_ANY], [0, pair(1, 0), BPF_NOEXIST], [4, pair(1, 0), BPF_ANY], [1, pair(0, 0), BPF_ANY], [1, pair(0, 5), BPF_ANY], [1, pair(missing, 0), BPF_ANY], [2, pair(1, 0), BPF_EXIST]]],
      ['devmap_hash', MapType.DEVMAP_HASH, 4, 2, [[5, u32(1), BPF_ANY], [6, u32(0), BPF_ANY], [6, u32(1), BPF_EXIST], [7, u32(1), BPF_ANY], [5, u32(1), BPF_NOEXIST], [8, u32(missing), BPF_ANY]]],
      ['cpumap', MapType.CPUMAP, 4, 4, [[0, u32(192), BPF_ANY], [0, u32(192), BPF_NOEXIST], [4, u32(192), BPF_ANY], [CPUS, u32(192), BPF_ANY], [1, u32(16385), BPF_ANY], [1, u32(64), BPF_ANY], [1, u32(0), BPF_ANY]]],
    ];
    for (const [type, t, valueSize, entries, ops] of cases) {
      const km = new KernelMap(k.bpffs, type, 4, valueSize, entries);
      const sm = reg.create(spec({ type: t, name: type, valueSize, maxEntries: entries }));
      for (const [key, value, flags] of ops) {
        expect([type, key, toHex(value), flags, sm.update(u32(key), value, flags)]).toEqual([type, key, toHex(value), flags, km.update(u32(key), value, flags)]);
      }
      const kd = (JSON.parse(bpftool(['map', 'dump', 'pinned', km.path, '-j']).out) as Array<{ key: string[]; value: unknown }>).filter((e) => Array.isArray(e.value));
      // DEVMAP_HASH iterates its hash buckets; compare as sets.
      const order = (a: Array<{ key: string[] }>) => (t === MapType.DEVMAP_HASH ? [...a].sort((x, y) => (x.key.join() < y.key.join() ? -1 : 1)) : a);
      expect(JSON.stringify(order(bpftoolDump(sm) as Array<{ key: string[] }>))).toBe(JSON.stringify(order(kd)));
      if (t !== MapType.DEVMAP_HASH) {
        expect(sm.delete(u32(2))).toBe(km.delete(u32(2)));
        expect(sm.delete(u32(9))).toBe(km.delete(u32(9)));
      }
    }
  });

  it.skipIf(process.arch !== 'x64' || !which('python3'))('RINGBUF: record headers, payloads, discards and wraparound byte for byte (skipped unless x86_64 with python3: raw bpf syscall + mmap)', () => {
    const obj = k.compile(resolve(__dirname, 'kernel/ringbuf.c'));
    const prog = `${k.bpffs}/ringbuf`;
    const maps = `${k.bpffs}/ringbuf-maps`;
    const load = bpftool(['prog', 'load', obj, prog, 'pinmaps', maps]);
    if (load.errno !== 0) throw new Error(`bpftool prog load: ${load.err}`);
    const peek = (consume: boolean) => {
      const r = spawnSync('python3', [resolve(__dirname, 'kernel/ringbuf_peek.py'), `${maps}/rb`, '4096', ...(consume ? ['consume'] : [])]);
      if (r.status !== 0) throw new Error(`ringbuf_peek: ${r.stderr.toString()}`);
      return JSON.parse(r.stdout.toString()) as { consumer: number; producer: number; data: string };
    };
    const sim = newRegistry(CPUS).create(spec({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 })) as RingbufMap;
    const simOp = (op: number, payload: Uint8Array): number => {
      if (op === 0) return sim.output(payload.subarray(0, 5));
      if (op === 1) return sim.output(payload.subarray(0, 40));
      const [size, n, discard] = op === 2 ? [12, 12, false] : op === 3 ? [20, 20, true] : [1000, 56, false];
      const p = sim.reserve(size);
      if (p === 0) return -1;
      sim.mem.write(p, payload.subarray(0, n));
      sim.commit(p, discard);
      return 0;
    };
    const r = rng(21);
    for (let i = 0; i < 110; i++) {
      const op = Math.floor(r() * 5);
      const pkt = Uint8Array.from({ length: 72 }, () => Math.floor(r() * 256));
      pkt[0] = op;
      const run = bpftool(['prog', 'run', 'pinned', prog, 'data_in', k.file('rb.bin', pkt)]);
      if (run.errno !== 0) throw new Error(`bpftool prog run: ${run.err}`);
      const kret = Number(new DataView((new KernelMapView(`${maps}/ret`)).value().buffer).getBigInt64(0, true));
      expect([i, op, simOp(op, pkt.subarray(8))]).toEqual([i, op, kret]);
      if (r() < 0.2) {
        peek(true);
        sim.consume();
      }
    }
    const kern = peek(false);
    expect([sim.consumerPos, sim.producerPos]).toEqual([kern.consumer, kern.producer]);
    expect(kern.producer).toBeGreaterThan(2 * 4096);
    expect(toHex(sim.mem.view(sim.region.start, 4096))).toBe(kern.data);
  });

  it.skipIf(CPUS < 2)('per-CPU maps updated by programs on different CPUs (pcpu_init_value zeroes the other CPUs)', () => {
    const obj = k.compile(resolve(__dirname, 'kernel/percpu_update.c'));
    for (const [type, t] of [
      ['percpu_hash', MapType.PERCPU_HASH],
      ['lru_percpu_hash', MapType.LRU_PERCPU_HASH],
      ['percpu_array', MapType.PERCPU_ARRAY],
    ] as const) {
      const km = new KernelMap(k.bpffs, type, 4, 4, 4);
      const prog = `${km.path}-prog`;
      const retMaps = `${km.path}-maps`;
      const load = bpftool(['prog', 'load', obj, prog, 'map', 'name', 'pcpu', 'pinned', km.path, 'pinmaps', retMaps]);
      if (load.errno !== 0) throw new Error(`bpftool prog load: ${load.err}`);
      const sim = newRegistry(CPUS).create(spec({ type: t, valueSize: 4, maxEntries: 4 }));
      const r = rng(31);
      for (let i = 0; i < 40; i++) {
        const key = Math.floor(r() * 6);
        const flags = [BPF_ANY, BPF_NOEXIST, BPF_EXIST][Math.floor(r() * 3)];
        const cpu = Math.floor(r() * CPUS);
        if (r() < 0.2) {
          expect([type, i, 'user', sim.update(u32(key), u32(1000 + i), flags)]).toEqual([type, i, 'user', km.update(u32(key), u32(1000 + i), flags)]);
          continue;
        }
        const pkt = new Uint8Array(64);
        pkt.set(u32(key), 0);
        pkt.set(u32(i), 4);
        pkt.set(u32(flags), 8);
        const run = bpftool(['prog', 'run', 'pinned', prog, 'data_in', k.file('pc.bin', pkt)], cpu);
        if (run.errno !== 0) throw new Error(`bpftool prog run: ${run.err}`);
        const kret = Number(new DataView(new KernelMapView(`${retMaps}/ret`).value().buffer).getBigInt64(0, true));
        expect([type, i, cpu, sim.update(u32(key), u32(i), flags, cpu)]).toEqual([type, i, cpu, kret]);
      }
      const raw = JSON.parse(bpftool(['map', 'dump', 'pinned', km.path, '-j']).out) as Array<{ key: string[] }>;
      const order = (a: Array<{ key: string[] }>) => [...a].sort((x, y) => (x.key.join() < y.key.join() ? -1 : 1));
      expect(JSON.stringify(order(bpftoolDump(sim) as Array<{ key: string[] }>))).toBe(JSON.stringify(order(raw)));
    }
  });

  describe('LRU_HASH eviction', () => {
    let prog: string;
    beforeAll(() => {
      prog = k.compile(resolve(__dirname, 'kernel/lru_lookup.c'));
    });

    /** run a sequence: u = update(key, flags), d = delete, l = program lookup (sets the reference bit). */
    function compare(maxEntries: number, ops: Array<['u', number, number, number?] | ['d', number, number?] | ['l', number, number?]>, flags = 0) {
      const kmap = new KernelMap(k.bpffs, 'lru_hash', 4, 4, maxEntries, flags);
      const pinnedProg = `${kmap.path}-prog`;
      const load = bpftool(['prog', 'load', prog, pinnedProg, 'map', 'name', 'lru', 'pinned', kmap.path]);
      if (load.errno !== 0) throw new Error(`bpftool prog load: ${load.err}`);
      const sim = newRegistry(CPUS).create(spec({ type: MapType.LRU_HASH, valueSize: 4, maxEntries, flags })) as LruHashMap;
      ops.forEach((op, i) => {
        if (op[0] === 'u') {
          const cpu = op[3] ?? 0;
          expect([i, op, sim.update(u32(op[1]), u32(i), op[2], cpu)]).toEqual([i, op, kmap.update(u32(op[1]), u32(i), op[2], cpu)]);
        } else if (op[0] === 'd') {
          expect([i, op, sim.delete(u32(op[1]))]).toEqual([i, op, kmap.delete(u32(op[1]), op[2] ?? 0)]);
        } else {
          const data = new Uint8Array(64);
          data.set(u32(op[1]));
          const run = bpftool(['prog', 'run', 'pinned', pinnedProg, 'data_in', k.file('pkt.bin', data)], op[2] ?? 0);
          if (run.errno !== 0) throw new Error(`bpftool prog run: ${run.err}`);
          sim.lookupAddr(u32(op[1]), op[2] ?? 0);
        }
      });
      expect(sorted(simDump(sim))).toEqual(sorted(kmap.dump()));
    }

    it('inserts beyond max_entries evict in the kernel order; updating a key of a full map evicts', () => {
      const ops: Array<['u', number, number]> = [];
      for (let i = 1; i <= 6; i++) ops.push(['u', i, BPF_ANY]);
      ops.push(['u', 4, BPF_EXIST]);
      for (let i = 7; i <= 16; i++) ops.push(['u', i, BPF_ANY]);
      ops.push(['u', 3, BPF_EXIST], ['u', 15, BPF_NOEXIST]);
      compare(4, ops);
    });

    it('program lookups give referenced elements a second chance (random sequences)', () => {
      for (const [seed, max] of [
        [3, 4],
        [4, 8],
        [5, 16],
      ]) {
        const r = rng(seed);
        const ops: Array<['u', number, number] | ['d', number] | ['l', number]> = [];
        for (let i = 0; i < 120; i++) {
          const key = Math.floor(r() * max * 2);
          const x = r();
          if (x < 0.55) ops.push(['u', key, [BPF_ANY, BPF_ANY, BPF_NOEXIST, BPF_EXIST][Math.floor(r() * 4)]]);
          else if (x < 0.65) ops.push(['d', key]);
          else ops.push(['l', key]);
        }
        compare(max, ops);
      }
    });

    it.skipIf(CPUS < 2)('updates, deletes and lookups spread over CPUs (per-CPU free/pending lists, stealing)', () => {
      for (const [seed, max, flags] of [
        [8, 8, 0],
        [9, 16, 0],
        [10, 8, MapFlag.NO_COMMON_LRU],
      ]) {
        const r = rng(seed);
        const ops: Array<['u', number, number, number] | ['d', number, number] | ['l', number, number]> = [];
        for (let i = 0; i < 100; i++) {
          const key = Math.floor(r() * max * 2);
          const cpu = Math.floor(r() * CPUS);
          const x = r();
          if (x < 0.6) ops.push(['u', key, [BPF_ANY, BPF_ANY, BPF_NOEXIST, BPF_EXIST][Math.floor(r() * 4)], cpu]);
          else if (x < 0.7) ops.push(['d', key, cpu]);
          else ops.push(['l', key, cpu]);
        }
        compare(max, ops, flags);
      }
    });

    it('BPF_F_NO_COMMON_LRU: per-CPU lists', () => {
      const ops: Array<['u', number, number] | ['l', number]> = [];
      for (let i = 0; i < 12; i++) ops.push(['u', i, BPF_ANY], ['l', i % 3]);
      compare(8, ops, MapFlag.NO_COMMON_LRU);
    });
  });
});
