import { describe, expect, it } from 'vitest';
import { BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, MapFlag, MapType } from '../../src/maps/spec.js';
import { Errno } from '../../src/maps/errno.js';
import { ArrayMap } from '../../src/maps/array.js';
import { HashMap } from '../../src/maps/hash.js';
import { LoadError, NotSupportedError } from '../../src/errors.js';
import { newRegistry, readU32, spec, u32, u64 } from './util.js';

describe('map creation checks (map_alloc_check)', () => {
  const bad: Array<[string, Parameters<typeof spec>[0], number]> = [
    ['array key_size 8', { type: MapType.ARRAY, keySize: 8 }, Errno.EINVAL],
    ['array value 0', { type: MapType.ARRAY, valueSize: 0 }, Errno.EINVAL],
    ['array max 0', { type: MapType.ARRAY, maxEntries: 0 }, Errno.EINVAL],
    ['array NO_PREALLOC', { type: MapType.ARRAY, flags: MapFlag.NO_PREALLOC }, Errno.EINVAL],
    ['percpu array NUMA', { type: MapType.PERCPU_ARRAY, flags: MapFlag.NUMA_NODE }, Errno.EINVAL],
    ['percpu array mmapable', { type: MapType.PERCPU_ARRAY, flags: MapFlag.MMAPABLE }, Errno.EINVAL],
    ['percpu value 32K+8', { type: MapType.PERCPU_ARRAY, valueSize: 32768 + 8 }, Errno.E2BIG],
    ['hash key 0', { type: MapType.HASH, keySize: 0 }, Errno.EINVAL],
    ['hash key 513', { type: MapType.HASH, keySize: 513 }, Errno.E2BIG],
    ['hash NO_COMMON_LRU', { type: MapType.HASH, flags: MapFlag.NO_COMMON_LRU }, Errno.EINVAL],
    ['hash MMAPABLE', { type: MapType.HASH, flags: MapFlag.MMAPABLE }, Errno.EINVAL],
    ['hash rdonly+wronly prog', { type: MapType.HASH, flags: MapFlag.RDONLY_PROG | MapFlag.WRONLY_PROG }, Errno.EINVAL],
    ['percpu hash NUMA', { type: MapType.PERCPU_HASH, flags: MapFlag.NUMA_NODE }, Errno.EINVAL],
    ['prog array value 8', { type: MapType.PROG_ARRAY, valueSize: 8 }, Errno.EINVAL],
    ['prog array RDONLY_PROG', { type: MapType.PROG_ARRAY, valueSize: 4, flags: MapFlag.RDONLY_PROG }, Errno.EINVAL],
    ['array of maps without inner', { type: MapType.ARRAY_OF_MAPS, valueSize: 4 }, Errno.EBADF],
  ];
  it.each(bad)('%s is refused with the kernel errno', (_name, s, errno) => {
    const reg = newRegistry();
    try {
      reg.create(spec(s));
      expect.unreachable('create should throw');
    } catch (e) {
      expect(e).toBeInstanceOf(LoadError);
      expect((e as LoadError).code).toBe('E_MAP_CREATE');
      expect((e as LoadError).fields.errno).toBe(-errno);
      expect((e as LoadError).fields.symbol).toBe('m');
    }
  });

  it('refuses an unknown type with LoadError and an unimplemented one with NotSupportedError', () => {
    const reg = newRegistry();
    expect(() => reg.create(spec({ type: 999 }))).toThrow(LoadError);
    expect(() => reg.create(spec({ type: MapType.SOCKMAP }))).toThrow(NotSupportedError);
  });

  it('gives each map an inaccessible handle region and resolves it', () => {
    const reg = newRegistry();
    const a = reg.create(spec({ type: MapType.ARRAY, name: 'a' }));
    const h = reg.create(spec({ type: MapType.HASH, name: 'h' }));
    expect(a.handle).not.toBe(h.handle);
    expect(reg.byHandle(a.handle)).toBe(a);
    expect(reg.byName('h')).toBe(h);
    expect(reg.all()).toEqual([a, h]);
    expect(a.mem.isAccessible(a.handle, 1, false)).toBe(false);
    expect(() => reg.create(spec({ type: MapType.HASH, name: 'h' }))).toThrow(LoadError);
  });
});

describe('ARRAY', () => {
  it('follows array_map_update_elem flags and bounds', () => {
    const m = newRegistry().create(spec({ type: MapType.ARRAY, valueSize: 4 })) as ArrayMap;
    expect(m.update(u32(1), u32(7), BPF_ANY)).toBe(0);
    expect(m.update(u32(1), u32(8), BPF_EXIST)).toBe(0);
    expect(m.update(u32(1), u32(9), BPF_NOEXIST)).toBe(-Errno.EEXIST);
    expect(m.update(u32(4), u32(9), BPF_ANY)).toBe(-Errno.E2BIG);
    expect(m.update(u32(1), u32(9), 3)).toBe(-Errno.EINVAL);
    expect(m.update(u32(1), u32(9), BPF_F_LOCK)).toBe(-Errno.EINVAL);
    expect(m.delete(u32(1))).toBe(-Errno.EINVAL);
    expect(readU32(m.lookup(u32(1)) as Uint8Array)).toBe(8);
    expect(m.lookup(u32(4))).toBeUndefined();
    expect(readU32(m.lookup(u32(0)) as Uint8Array)).toBe(0);
  });

  it('stores values in VM memory a program can write through', () => {
    const m = newRegistry().create(spec({ type: MapType.ARRAY, valueSize: 4 })) as ArrayMap;
    const addr = m.lookupAddr(u32(2), 0);
    expect(m.mem.isAccessible(addr, 4, true)).toBe(true);
    m.mem.dv.setUint32(addr, 0xdeadbeef, true);
    expect(readU32(m.lookup(u32(2)) as Uint8Array)).toBe(0xdeadbeef);
    expect(m.lookupAddr(u32(4), 0)).toBe(0);
    expect(m.lookupAddr(u32(3), 0) - m.lookupAddr(u32(2), 0)).toBe(8);
  });

  it('walks get_next_key like array_map_get_next_key', () => {
    const m = newRegistry().create(spec({ type: MapType.ARRAY, maxEntries: 3 }));
    expect(m.getNextKey(undefined)).toEqual(u32(0));
    expect(m.getNextKey(u32(0))).toEqual(u32(1));
    expect(m.getNextKey(u32(2))).toBe(-Errno.ENOENT);
    expect(m.getNextKey(u32(77))).toEqual(u32(0));
    expect([...m.keys()]).toEqual([u32(0), u32(1), u32(2)]);
  });

  it('makes read-only global data unwritable by programs but writable by the user API', () => {
    const reg = newRegistry();
    const m = reg.create(
      spec({ type: MapType.ARRAY, name: 'obj.rodata', maxEntries: 1, valueSize: 6, readonlyForProgram: true, initialValue: Uint8Array.from([1, 2, 3]) }),
    ) as ArrayMap;
    const addr = m.valueAddress(0);
    expect(m.mem.regionAt(addr).kind).toBe('global_data');
    expect(m.mem.isAccessible(addr, 4, false)).toBe(true);
    expect(m.mem.isAccessible(addr, 4, true)).toBe(false);
    expect(m.lookup(u32(0))).toEqual(Uint8Array.from([1, 2, 3, 0, 0, 0]));
    expect(m.update(u32(0), Uint8Array.from([9, 9, 9, 9, 9, 9]), BPF_ANY)).toBe(0);
    expect(m.lookup(u32(0))).toEqual(Uint8Array.from([9, 9, 9, 9, 9, 9]));
  });

  it('never overwrites a bpf_spin_lock word on update', () => {
    const m = newRegistry().create(spec({ type: MapType.ARRAY, valueSize: 8, spinLockOffset: 0 })) as ArrayMap;
    m.mem.dv.setUint32(m.valueAddress(0), 1, true);
    expect(m.update(u32(0), u64(0x1234_5678_0000_0000 / 1), BPF_F_LOCK)).toBe(0);
    const v = m.lookup(u32(0)) as Uint8Array;
    expect(readU32(v, 0)).toBe(1);
  });
});

describe('PERCPU_ARRAY', () => {
  it('keeps one value per CPU; program updates touch one CPU', () => {
    const m = newRegistry(3).create(spec({ type: MapType.PERCPU_ARRAY, valueSize: 4 })) as ArrayMap;
    expect(m.update(u32(0), u32(5), BPF_ANY)).toBe(0);
    expect((m.lookup(u32(0)) as Uint8Array[]).map((v) => readU32(v))).toEqual([5, 5, 5]);
    expect(m.update(u32(0), u32(9), BPF_ANY, 1)).toBe(0);
    expect((m.lookup(u32(0)) as Uint8Array[]).map((v) => readU32(v))).toEqual([5, 9, 5]);
    const kernelLayout = new Uint8Array(24);
    kernelLayout.set(u32(1), 0);
    kernelLayout.set(u32(2), 8);
    kernelLayout.set(u32(3), 16);
    expect(m.update(u32(3), kernelLayout, BPF_ANY)).toBe(0);
    expect((m.lookup(u32(3)) as Uint8Array[]).map((v) => readU32(v))).toEqual([1, 2, 3]);
    expect(m.lookupAddr(u32(3), 2)).not.toBe(m.lookupAddr(u32(3), 0));
    expect(m.mem.dv.getUint32(m.lookupAddr(u32(3), 2), true)).toBe(3);
  });
});

describe('HASH', () => {
  it('follows check_flags and reports -E2BIG when full', () => {
    const m = newRegistry().create(spec({ type: MapType.HASH, maxEntries: 2, valueSize: 4 })) as HashMap;
    expect(m.update(u32(1), u32(10), BPF_EXIST)).toBe(-Errno.ENOENT);
    expect(m.update(u32(1), u32(10), BPF_NOEXIST)).toBe(0);
    expect(m.update(u32(1), u32(11), BPF_NOEXIST)).toBe(-Errno.EEXIST);
    expect(m.update(u32(1), u32(12), BPF_EXIST)).toBe(0);
    expect(m.update(u32(2), u32(20), BPF_ANY)).toBe(0);
    expect(m.update(u32(3), u32(30), BPF_ANY)).toBe(-Errno.E2BIG);
    expect(m.update(u32(2), u32(21), BPF_ANY)).toBe(0);
    expect(m.update(u32(2), u32(21), 3)).toBe(-Errno.EINVAL);
    expect(m.update(u32(2), u32(21), BPF_F_LOCK)).toBe(-Errno.EINVAL);
    expect(readU32(m.lookup(u32(1)) as Uint8Array)).toBe(12);
    expect(m.delete(u32(1))).toBe(0);
    expect(m.delete(u32(1))).toBe(-Errno.ENOENT);
    expect(m.update(u32(3), u32(30), BPF_ANY)).toBe(0);
    expect(m.count).toBe(2);
  });

  it('supports BPF_MAP_LOOKUP_AND_DELETE_ELEM; arrays do not', () => {
    const reg = newRegistry();
    const m = reg.create(spec({ type: MapType.HASH, name: 'h' }));
    m.update(u32(1), u64(5), BPF_ANY);
    expect(m.lookupAndDelete(u32(1))).toEqual(u64(5));
    expect(m.lookupAndDelete(u32(1))).toBe(-Errno.ENOENT);
    expect(reg.create(spec({ type: MapType.ARRAY, name: 'a' })).lookupAndDelete(u32(0))).toBe(-Errno.ENOTSUPP);
  });

  it('iterates in insertion order; get_next_key restarts from the first key for an absent key', () => {
    const m = newRegistry().create(spec({ type: MapType.HASH, maxEntries: 8 }));
    for (const k of [5, 3, 9]) m.update(u32(k), u64(k), BPF_ANY);
    expect([...m.keys()].map((k) => readU32(k))).toEqual([5, 3, 9]);
    expect(m.getNextKey(undefined)).toEqual(u32(5));
    expect(m.getNextKey(u32(3))).toEqual(u32(9));
    expect(m.getNextKey(u32(9))).toBe(-Errno.ENOENT);
    expect(m.getNextKey(u32(4))).toEqual(u32(5));
    m.delete(u32(3));
    expect(m.getNextKey(u32(5))).toEqual(u32(9));
  });

  it('returns a value pointer programs write through', () => {
    const m = newRegistry().create(spec({ type: MapType.HASH, valueSize: 8 }));
    m.update(u32(1), u64(1), BPF_ANY);
    const addr = m.lookupAddr(u32(1), 0);
    expect(m.mem.check(addr, 8, true).ok).toBe(true);
    m.mem.dv.setUint32(addr, 42, true);
    expect(readU32(m.lookup(u32(1)) as Uint8Array)).toBe(42);
    expect(m.lookupAddr(u32(2), 0)).toBe(0);
  });

  it('makes BPF_F_RDONLY_PROG values unwritable and BPF_F_WRONLY_PROG values unreadable by programs', () => {
    const reg = newRegistry();
    const ro = reg.create(spec({ type: MapType.HASH, name: 'ro', flags: MapFlag.RDONLY_PROG }));
    const wo = reg.create(spec({ type: MapType.HASH, name: 'wo', flags: MapFlag.WRONLY_PROG }));
    ro.update(u32(1), u64(1), BPF_ANY);
    wo.update(u32(1), u64(1), BPF_ANY);
    expect(ro.mem.isAccessible(ro.lookupAddr(u32(1), 0), 8, true)).toBe(false);
    expect(ro.mem.isAccessible(ro.lookupAddr(u32(1), 0), 8, false)).toBe(true);
    expect(wo.mem.isAccessible(wo.lookupAddr(u32(1), 0), 8, false)).toBe(false);
    expect(wo.mem.isAccessible(wo.lookupAddr(u32(1), 0), 8, true)).toBe(true);
  });

  it('grows its value arena past the first chunk and reuses freed slots', () => {
    const m = newRegistry().create(spec({ type: MapType.HASH, maxEntries: 20000, valueSize: 8 }));
    for (let i = 0; i < 20000; i++) expect(m.update(u32(i), u64(i), BPF_NOEXIST)).toBe(0);
    expect(m.update(u32(20000), u64(0), BPF_ANY)).toBe(-Errno.E2BIG);
    for (let i = 0; i < 20000; i += 997) {
      expect(readU32(m.lookup(u32(i)) as Uint8Array)).toBe(i);
    }
    const freed = m.lookupAddr(u32(7), 0);
    m.delete(u32(7));
    m.update(u32(99999), u64(5), BPF_ANY);
    expect(m.lookupAddr(u32(99999), 0)).toBe(freed);
  });
});

describe('PERCPU_HASH', () => {
  it('zeroes other CPUs for a new element created by a program (pcpu_init_value)', () => {
    const m = newRegistry(2).create(spec({ type: MapType.PERCPU_HASH, valueSize: 4 }));
    expect(m.update(u32(1), u32(7), BPF_ANY, 1)).toBe(0);
    expect((m.lookup(u32(1)) as Uint8Array[]).map((v) => readU32(v))).toEqual([0, 7]);
    expect(m.update(u32(1), u32(3), BPF_ANY)).toBe(0);
    expect((m.lookup(u32(1)) as Uint8Array[]).map((v) => readU32(v))).toEqual([3, 3]);
    expect(m.update(u32(1), u32(3), BPF_F_LOCK)).toBe(-Errno.EINVAL);
    expect(m.mem.dv.getUint32(m.lookupAddr(u32(1), 1), true)).toBe(3);
  });
});
