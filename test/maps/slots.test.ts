import { describe, expect, it } from 'vitest';
import { BPF_ANY, BPF_EXIST, BPF_NOEXIST, MapFlag, MapType } from '../../src/maps/spec.js';
import { Errno } from '../../src/maps/errno.js';
import { DevmapHashMap, DevmapMap } from '../../src/maps/devmap.js';
import { CpumapMap } from '../../src/maps/cpumap.js';
import { XskmapMap } from '../../src/maps/xskmap.js';
import { ProgArrayMap } from '../../src/maps/prog-array.js';
import { PerfEventArrayMap } from '../../src/maps/perf-event-array.js';
import { ArrayOfMapsMap } from '../../src/maps/array-of-maps.js';
import { HashOfMapsMap } from '../../src/maps/hash-of-maps.js';
import { MapRegistry } from '../../src/maps/registry.js';
import { Memory } from '../../src/vm/memory.js';
import { LoadError } from '../../src/errors.js';
import { bytes, newRegistry, readU32, spec, u32 } from './util.js';

const pair = (a: number, b: number) => Uint8Array.from([...u32(a), ...u32(b)]);

describe('DEVMAP / DEVMAP_HASH', () => {
  it('stores bpf_devmap_val, read-only to programs; ifindex 0 empties a slot', () => {
    const reg = new MapRegistry(new Memory(), { cpus: 2, ifindexExists: (i) => i === 3 || i === 4 });
    const m = reg.create(spec({ type: MapType.DEVMAP, valueSize: 8 })) as DevmapMap;
    expect(m.update(u32(0), pair(3, 0), BPF_ANY)).toBe(0);
    expect(m.update(u32(1), pair(9, 0), BPF_ANY)).toBe(-Errno.EINVAL);
    expect(m.update(u32(0), pair(4, 0), BPF_NOEXIST)).toBe(-Errno.EEXIST);
    expect(m.update(u32(4), pair(4, 0), BPF_ANY)).toBe(-Errno.E2BIG);
    expect(m.update(u32(1), pair(4, 77), BPF_ANY)).toBe(-Errno.EINVAL);
    const prog = reg.registerProgram('xdp_devmap_prog');
    expect(m.update(u32(1), pair(4, prog), BPF_EXIST)).toBe(0);
    expect(m.ifindex(0)).toBe(3);
    expect(m.lookup(u32(1))).toEqual(pair(4, prog));
    const addr = m.lookupAddr(u32(0), 0);
    expect(m.mem.isAccessible(addr, 8, false)).toBe(true);
    expect(m.mem.isAccessible(addr, 8, true)).toBe(false);
    expect(m.update(u32(0), pair(0, 0), BPF_ANY)).toBe(0);
    expect(m.lookupAddr(u32(0), 0)).toBe(0);
    expect(m.delete(u32(2))).toBe(0);
    expect(m.delete(u32(9))).toBe(-Errno.EINVAL);
    expect([...m.keys()].map((k) => readU32(k))).toEqual([1]);
  });

  it('refuses value sizes other than 4 and 8 and program-side flags', () => {
    const reg = newRegistry();
    expect(() => reg.create(spec({ type: MapType.DEVMAP, valueSize: 6 }))).toThrow(LoadError);
    expect(() => reg.create(spec({ type: MapType.DEVMAP, valueSize: 4, flags: MapFlag.NO_PREALLOC }))).toThrow(LoadError);
  });

  it('DEVMAP_HASH keys by any u32, with -E2BIG when full', () => {
    const m = newRegistry().create(spec({ type: MapType.DEVMAP_HASH, valueSize: 4, maxEntries: 2 })) as DevmapHashMap;
    expect(m.update(u32(100), u32(5), BPF_ANY)).toBe(0);
    expect(m.update(u32(200), u32(0), BPF_ANY)).toBe(-Errno.EINVAL);
    expect(m.update(u32(200), u32(6), BPF_EXIST)).toBe(0);
    expect(m.update(u32(300), u32(7), BPF_ANY)).toBe(-Errno.E2BIG);
    expect(m.update(u32(100), u32(8), BPF_NOEXIST)).toBe(-Errno.EEXIST);
    expect(m.ifindex(200)).toBe(6);
    expect(m.delete(u32(300))).toBe(-Errno.ENOENT);
    expect(readU32(m.getNextKey(u32(100)) as Uint8Array)).toBe(200);
  });
});

describe('CPUMAP and XSKMAP', () => {
  it('CPUMAP follows cpu_map_update_elem', () => {
    const m = newRegistry(2).create(spec({ type: MapType.CPUMAP, valueSize: 4, maxEntries: 4 })) as CpumapMap;
    expect(m.update(u32(1), u32(192), BPF_ANY)).toBe(0);
    expect(m.entry(1)).toEqual({ qsize: 192, prog: 0 });
    expect(m.update(u32(1), u32(192), BPF_NOEXIST)).toBe(-Errno.EEXIST);
    expect(m.update(u32(4), u32(192), BPF_ANY)).toBe(-Errno.E2BIG);
    expect(m.update(u32(3), u32(192), BPF_ANY)).toBe(-Errno.ENODEV);
    expect(m.update(u32(0), u32(16385), BPF_ANY)).toBe(-Errno.EOVERFLOW);
    expect(m.update(u32(1), u32(0), BPF_ANY)).toBe(0);
    expect(m.entry(1)).toBeUndefined();
  });

  it('XSKMAP follows xsk_map_update_elem and refuses syscall lookups', () => {
    const m = newRegistry().create(spec({ type: MapType.XSKMAP, valueSize: 4 })) as XskmapMap;
    expect(m.update(u32(0), u32(5), BPF_EXIST)).toBe(-Errno.ENOENT);
    expect(m.update(u32(0), u32(5), BPF_NOEXIST)).toBe(0);
    expect(m.update(u32(0), u32(6), BPF_NOEXIST)).toBe(-Errno.EEXIST);
    expect(m.lookupErrno(u32(0))).toBe(-Errno.EOPNOTSUPP);
    expect(m.socketAt(0)).toBe(5);
    expect(m.mem.dv.getUint32(m.lookupAddr(u32(0), 0), true)).toBe(5);
  });
});

describe('PROG_ARRAY, PERF_EVENT_ARRAY, map-in-map', () => {
  it('PROG_ARRAY slots hold registered programs; only BPF_ANY; delete of empty -ENOENT', () => {
    const reg = newRegistry();
    const m = reg.create(spec({ type: MapType.PROG_ARRAY, valueSize: 4, initialSlots: [{ index: 2, ref: 'tail_b' }] })) as ProgArrayMap;
    expect(m.programName(2)).toBe('tail_b');
    expect(m.executable(2)).toBeUndefined();
    const id = reg.registerProgram('tail_a');
    expect(m.update(u32(0), u32(id), BPF_ANY)).toBe(0);
    expect(m.update(u32(0), u32(id), BPF_NOEXIST)).toBe(-Errno.EINVAL);
    expect(m.update(u32(1), u32(999), BPF_ANY)).toBe(-Errno.EBADF);
    expect(m.update(u32(4), u32(id), BPF_ANY)).toBe(-Errno.E2BIG);
    expect(readU32(m.lookup(u32(0)) as Uint8Array)).toBe(id);
    expect(m.delete(u32(1))).toBe(-Errno.ENOENT);
    expect(m.delete(u32(0))).toBe(0);
    expect([...m.keys()].map((k) => readU32(k))).toEqual([2]);
  });

  it('PERF_EVENT_ARRAY starts with a reader per CPU and checks the CPU on output', () => {
    const m = newRegistry(2).create(spec({ type: MapType.PERF_EVENT_ARRAY, valueSize: 4, maxEntries: 4 })) as PerfEventArrayMap;
    expect(m.output(0, 0, bytes(1))).toBe(0);
    expect(m.output(1, 0, bytes(2))).toBe(-Errno.EOPNOTSUPP);
    expect(m.output(2, 0, bytes(3))).toBe(-Errno.ENOENT);
    expect(m.output(4, 0, bytes(3))).toBe(-Errno.E2BIG);
    expect(m.records).toEqual([{ cpu: 0, index: 0, data: bytes(1) }]);
    expect(m.lookupErrno(u32(0))).toBe(-Errno.ENOTSUPP);
  });

  it('ARRAY_OF_MAPS / HASH_OF_MAPS hold matching inner maps and give programs their handles', () => {
    const reg = newRegistry();
    const inner = spec({ type: MapType.ARRAY, name: 'inner_t', maxEntries: 2 });
    const a = reg.create(spec({ ...inner, name: 'a1' }));
    const b = reg.create(spec({ ...inner, name: 'a2', maxEntries: 3 }));
    const outer = reg.create(spec({ type: MapType.ARRAY_OF_MAPS, name: 'outer', valueSize: 4, inner, initialSlots: [{ index: 1, ref: 'a1' }] })) as ArrayOfMapsMap;
    expect(outer.lookupAddr(u32(1), 0)).toBe(a.handle);
    expect(outer.update(u32(0), u32(b.id), BPF_ANY)).toBe(-Errno.EINVAL);
    expect(outer.update(u32(0), u32(a.id), BPF_ANY)).toBe(0);
    expect(readU32(outer.lookup(u32(0)) as Uint8Array)).toBe(a.id);
    const hom = reg.create(spec({ type: MapType.HASH_OF_MAPS, name: 'hom', valueSize: 4, maxEntries: 1, inner })) as HashOfMapsMap;
    expect(hom.setInner(u32(7), 'a1')).toBe(0);
    expect(hom.setInner(u32(8), 'a1')).toBe(-Errno.E2BIG);
    expect(hom.setInner(u32(7), 'a2')).toBe(-Errno.EINVAL);
    expect(hom.setInner(u32(7), 'a1', BPF_NOEXIST)).toBe(-Errno.EEXIST);
    expect(hom.lookupAddr(u32(7), 0)).toBe(a.handle);
    expect(() => reg.create(spec({ type: MapType.ARRAY_OF_MAPS, name: 'o2', valueSize: 4, inner, initialSlots: [{ index: 0, ref: 'nope' }] }))).toThrow(LoadError);
  });
});
