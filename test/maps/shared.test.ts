/**
 * Shared-mode maps (replay --workers): a shared-mode Memory places map regions in the shared heap
 * at the same addresses for every thread's Memory and everything else in the thread's own slot;
 * SharedHashMap behaves as HashMap on every operation (a random sequence of updates with every
 * flag, deletes, lookups, lookup-and-delete, get_next_key and per-CPU values, run on both and
 * compared step by step); a second registry over the same memory sees the first one's entries;
 * the map types --workers cannot share are refused by name.
 */
import { describe, expect, it } from 'vitest';
import { Memory, RegionKind, SHARED_HEAP_END, SHARED_SLOT_SIZE, createSharedBacking } from '../../src/vm/memory.js';
import { MapRegistry } from '../../src/maps/registry.js';
import { MapType, BPF_ANY, BPF_EXIST, BPF_NOEXIST } from '../../src/maps/spec.js';
import { HashMap } from '../../src/maps/hash.js';
import { SharedHashMap } from '../../src/maps/shared-hash.js';
import { NotSupportedError } from '../../src/errors.js';
import { spec, u32, u64 } from './util.js';

const backing = createSharedBacking();

describe('shared-mode memory', () => {
  it('puts map regions at the same addresses in every thread and the rest in the thread slot', () => {
    const a = new Memory(undefined, { memory: backing, slot: 1 });
    const b = new Memory(undefined, { memory: backing, slot: 2 });
    const ma = a.map(RegionKind.MapValue, 'v', 100);
    const sa = a.map(RegionKind.Stack, 's', 512);
    const mb = b.map(RegionKind.MapValue, 'v', 100);
    const sb = b.map(RegionKind.Stack, 's', 512);
    expect(mb.start).toBe(ma.start);
    expect(ma.start).toBeLessThan(SHARED_HEAP_END);
    expect(sa.start).toBe(SHARED_HEAP_END + SHARED_SLOT_SIZE);
    expect(sb.start).toBe(SHARED_HEAP_END + 2 * SHARED_SLOT_SIZE);
    // Another thread's private region is unmapped here; shared bytes are the same bytes.
    expect(a.isAccessible(sb.start, 4, false)).toBe(false);
    a.u8[ma.start] = 0x5a;
    expect(b.u8[mb.start]).toBe(0x5a);
    expect(() => a.map(RegionKind.Packet, 'big', SHARED_SLOT_SIZE)).toThrow(RangeError);
  });
});

/** rng is a small deterministic generator (xorshift32). */
function rng(seed: number): () => number {
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

describe('SharedHashMap', () => {
  for (const perCpu of [false, true]) {
    it(`does what HashMap does, operation by operation (${perCpu ? 'PERCPU_HASH' : 'HASH'})`, () => {
      const type = perCpu ? MapType.PERCPU_HASH : MapType.HASH;
      const s = spec({ type, name: 'h', keySize: 6, valueSize: 12, maxEntries: 40 });
      const plain = new MapRegistry(new Memory(), { cpus: 2 }).create(s);
      const shared = new MapRegistry(new Memory(undefined, { memory: createSharedBacking(), slot: 0 }), { cpus: 2 }).create(s);
      expect(plain).toBeInstanceOf(HashMap);
      expect(shared).toBeInstanceOf(SharedHashMap);
      const next = rng(perCpu ? 7 : 3);
      const key = (): Uint8Array => Uint8Array.from([next() % 60, 0, 0, 0, 0, 1]);
      const value = (): Uint8Array => Uint8Array.from({ length: 12 }, () => next() & 0xff);
      for (let step = 0; step < 3000; step++) {
        const op = next() % 7;
        const k = key();
        if (op <= 2) {
          const flags = [BPF_ANY, BPF_NOEXIST, BPF_EXIST][next() % 3];
          const v = value();
          const cpu = perCpu && next() % 2 === 0 ? next() % 2 : undefined;
          expect(shared.update(k, v, flags, cpu)).toBe(plain.update(k, v, flags, cpu));
        } else if (op === 3) {
          expect(shared.delete(k)).toBe(plain.delete(k));
        } else if (op === 4) {
          expect(shared.lookupAndDelete(k)).toEqual(plain.lookupAndDelete(k));
        } else if (op === 5) {
          expect(shared.lookup(k)).toEqual(plain.lookup(k));
          const cpu = next() % 2;
          const pa = plain.lookupAddr(k, cpu);
          const sa = shared.lookupAddr(k, cpu);
          expect(sa === 0).toBe(pa === 0);
          if (pa !== 0) expect(shared.mem.copy(sa, 12)).toEqual(plain.mem.copy(pa, 12));
        } else {
          const from = next() % 2 === 0 ? undefined : k;
          expect(shared.getNextKey(from)).toEqual(plain.getNextKey(from));
        }
        expect(shared.count).toBe(plain.count);
      }
      expect([...shared.keys()]).toEqual([...plain.keys()]);
      expect(plain.count).toBeGreaterThan(10);
    });
  }

  it('is one map for every registry built over the same memory', () => {
    const mem = createSharedBacking();
    const s = spec({ type: MapType.HASH, name: 'h', maxEntries: 16 });
    const a = new MapRegistry(new Memory(undefined, { memory: mem, slot: 1 }), { cpus: 2 }).create(s);
    const b = new MapRegistry(new Memory(undefined, { memory: mem, slot: 2 }), { cpus: 2 }).create(s);
    expect(a.update(u32(7), u64(70), BPF_NOEXIST)).toBe(0);
    expect(b.update(u32(7), u64(71), BPF_NOEXIST)).toBeLessThan(0);
    expect(b.lookup(u32(7))).toEqual(u64(70));
    expect(b.lookupAddr(u32(7), 0)).toBe(a.lookupAddr(u32(7), 0));
    expect(b.delete(u32(7))).toBe(0);
    expect(a.count).toBe(0);
  });

  it('refuses the map types --workers cannot share, naming the map', () => {
    const reg = new MapRegistry(new Memory(undefined, { memory: createSharedBacking(), slot: 0 }), { cpus: 2 });
    for (const type of [MapType.LRU_HASH, MapType.QUEUE, MapType.RINGBUF, MapType.CPUMAP, MapType.PERF_EVENT_ARRAY]) {
      const s = type === MapType.QUEUE ? spec({ type, name: `m${type}`, keySize: 0 }) : type === MapType.RINGBUF ? spec({ type, name: `m${type}`, keySize: 0, valueSize: 0, maxEntries: 4096 }) : spec({ type, name: `m${type}`, keySize: 4, valueSize: 4 });
      let err: unknown;
      try {
        reg.create(s);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NotSupportedError);
      expect((err as NotSupportedError).code).toBe('E_WORKERS_MAP');
      expect((err as NotSupportedError).fields.symbol).toBe(`m${type}`);
    }
    const locked = spec({ type: MapType.ARRAY, name: 'locked', valueSize: 8, spinLockOffset: 0 });
    expect(() => reg.create(locked)).toThrow(NotSupportedError);
  });
});
