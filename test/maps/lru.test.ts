import { describe, expect, it } from 'vitest';
import { BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, MapFlag, MapType } from '../../src/maps/spec.js';
import { Errno } from '../../src/maps/errno.js';
import { LruHashMap } from '../../src/maps/lru-hash.js';
import { LoadError } from '../../src/errors.js';
import { newRegistry, readU32, spec, u32, u64 } from './util.js';

const keysOf = (m: LruHashMap) => [...m.keys()].map((k) => readU32(k)).sort((a, b) => a - b);

describe('LRU_HASH', () => {
  it('evicts the oldest unreferenced key first; a program lookup gives a key a second chance', () => {
    const m = newRegistry(2).create(spec({ type: MapType.LRU_HASH, maxEntries: 4 })) as LruHashMap;
    for (const k of [1, 2, 3, 4]) expect(m.update(u32(k), u64(k), BPF_ANY)).toBe(0);
    expect(m.lookupAddr(u32(1), 0)).not.toBe(0);
    expect(m.update(u32(5), u64(5), BPF_ANY)).toBe(0);
    expect(keysOf(m)).toEqual([1, 3, 4, 5]);
    expect(m.update(u32(6), u64(6), BPF_ANY)).toBe(0);
    expect(keysOf(m)).toEqual([1, 4, 5, 6]);
  });

  it('keeps a replaced element (reference bit set) while newer unreferenced ones are evicted, as Linux 6.18 does', () => {
    // Observed on the kernel: insert 1..6, update 4 with BPF_EXIST, insert 7..16 → {4, 14, 15, 16}.
    const m = newRegistry(2).create(spec({ type: MapType.LRU_HASH, maxEntries: 4 })) as LruHashMap;
    for (let k = 1; k <= 6; k++) m.update(u32(k), u64(k), BPF_ANY);
    expect(keysOf(m)).toEqual([3, 4, 5, 6]);
    expect(m.update(u32(4), u64(9), BPF_EXIST)).toBe(0);
    expect(keysOf(m)).toEqual([4, 5, 6]);
    for (let k = 7; k <= 16; k++) m.update(u32(k), u64(k), BPF_ANY);
    expect(keysOf(m)).toEqual([4, 14, 15, 16]);
  });

  it('does not count syscall lookups as use', () => {
    const m = newRegistry().create(spec({ type: MapType.LRU_HASH, maxEntries: 2 })) as LruHashMap;
    m.update(u32(1), u64(1), BPF_ANY);
    m.update(u32(2), u64(2), BPF_ANY);
    expect(m.lookup(u32(1))).toBeDefined();
    m.update(u32(3), u64(3), BPF_ANY);
    expect(keysOf(m)).toEqual([2, 3]);
  });

  it('allocates before looking the key up: updating a key of a full map evicts, possibly that key', () => {
    const m = newRegistry().create(spec({ type: MapType.LRU_HASH, maxEntries: 2 })) as LruHashMap;
    m.update(u32(1), u64(1), BPF_ANY);
    m.update(u32(2), u64(2), BPF_ANY);
    expect(m.update(u32(2), u64(22), BPF_EXIST)).toBe(0);
    expect(keysOf(m)).toEqual([2]);
    m.update(u32(3), u64(3), BPF_ANY);
    expect(m.update(u32(2), u64(9), BPF_EXIST)).toBe(-Errno.ENOENT);
    expect(keysOf(m)).toEqual([3]);
    expect(m.update(u32(3), u64(9), BPF_NOEXIST)).toBe(-Errno.EEXIST);
  });

  it('never fails with E2BIG and refuses BPF_F_LOCK and NO_PREALLOC', () => {
    const reg = newRegistry();
    const m = reg.create(spec({ type: MapType.LRU_HASH, maxEntries: 4 }));
    for (let i = 0; i < 100; i++) expect(m.update(u32(i), u64(i), BPF_ANY)).toBe(0);
    expect(m.count).toBe(4);
    expect(m.update(u32(1), u64(1), BPF_F_LOCK)).toBe(-Errno.EINVAL);
    try {
      reg.create(spec({ type: MapType.LRU_HASH, name: 'np', flags: MapFlag.NO_PREALLOC }));
      expect.unreachable();
    } catch (e) {
      expect((e as LoadError).fields.errno).toBe(-Errno.ENOTSUPP);
    }
  });

  it('with BPF_F_NO_COMMON_LRU rounds max_entries to the CPU count and evicts within the CPU\'s own list', () => {
    const m = newRegistry(2).create(spec({ type: MapType.LRU_HASH, maxEntries: 3, flags: MapFlag.NO_COMMON_LRU })) as LruHashMap;
    expect(m.spec.maxEntries).toBe(4);
    m.update(u32(1), u64(1), BPF_ANY, 0);
    m.update(u32(2), u64(2), BPF_ANY, 0);
    m.update(u32(3), u64(3), BPF_ANY, 0);
    // CPU 0 owns 2 nodes; refilling shrinks up to PERCPU_FREE_TARGET (4) unreferenced nodes at once.
    expect(keysOf(m)).toEqual([3]);
    m.update(u32(10), u64(10), BPF_ANY, 1);
    m.update(u32(11), u64(11), BPF_ANY, 1);
    expect(keysOf(m)).toEqual([3, 10, 11]);
  });
});

describe('LRU_PERCPU_HASH', () => {
  it('keeps per-CPU values and evicts like LRU_HASH', () => {
    const m = newRegistry(2).create(spec({ type: MapType.LRU_PERCPU_HASH, maxEntries: 2, valueSize: 4 })) as LruHashMap;
    m.update(u32(1), u32(7), BPF_ANY, 1);
    expect((m.lookup(u32(1)) as Uint8Array[]).map((v) => readU32(v))).toEqual([0, 7]);
    m.update(u32(2), u32(8), BPF_ANY);
    m.lookupAddr(u32(1), 0);
    m.update(u32(3), u32(9), BPF_ANY);
    expect(keysOf(m)).toEqual([1, 3]);
    expect(m.update(u32(1), u32(5), BPF_EXIST)).toBe(0);
    expect(keysOf(m)).toEqual([1, 3]);
  });
});
