import { describe, expect, it } from 'vitest';
import { MapFlag, MapType, type MapSpec } from '../../src/maps/spec.js';
import { Errno } from '../../src/maps/errno.js';
import { FaultCode } from '../../src/vm/fault.js';
import { QueueStackMap } from '../../src/maps/queue-stack.js';
import { ProgArrayMap } from '../../src/maps/prog-array.js';
import { ArrayMap } from '../../src/maps/array.js';
import { assemble } from '../../src/isa/asm/index.js';
import { ENGINES, faultCode, r0, rig as baseRig } from './util.js';

const spec = (p: Partial<MapSpec> & Pick<MapSpec, 'name' | 'type'>): MapSpec => ({ keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, pinning: 0, ...p });
const u32 = (v: number) => Uint8Array.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24]);
const u64 = (b: Uint8Array | Uint8Array[] | undefined) => new DataView((b as Uint8Array).buffer, (b as Uint8Array).byteOffset).getBigUint64(0, true);

/** update(key, value, flags) then lookup(key) and add 1 through the pointer; r0 = update's result. */
const updateThenBump = (map: string, key: number, value: number, flags: number) => `
  stw [%r10-4], ${key}
  stdw [%r10-16], ${value}
  lddw %r1, {{${map}}}
  mov %r2, %r10
  add %r2, -4
  mov %r3, %r10
  add %r3, -16
  mov %r4, ${flags}
  call 2
  mov %r6, %r0
  lddw %r1, {{${map}}}
  mov %r2, %r10
  add %r2, -4
  call 1
  jeq %r0, 0, +3
  ldxdw %r1, [%r0]
  add %r1, 1
  stxdw [%r0], %r1
  mov %r0, %r6
  exit`;

describe.each(ENGINES)('engine $name', (engine) => {
  const rig = (o: Parameters<typeof baseRig>[0] = {}) => baseRig({ ...o, engine });

  describe('bpf_map_lookup_elem / update / delete', () => {
    it('update, lookup and a write through the returned pointer, with the kernel errnos', () => {
      const t = rig();
      const h = t.reg.create(spec({ name: 'h', type: MapType.HASH, maxEntries: 1 }));
      expect(r0(t.run(updateThenBump('h', 5, 40, 0)))).toBe(0n);
      expect(u64(h.lookup(u32(5)))).toBe(41n);
      expect(r0(t.run(updateThenBump('h', 5, 1, 1)))).toBe(BigInt(-Errno.EEXIST));
      expect(r0(t.run(updateThenBump('h', 6, 1, 0)))).toBe(BigInt(-Errno.E2BIG));
      expect(r0(t.run(updateThenBump('h', 5, 1, 9)))).toBe(BigInt(-Errno.EINVAL));
      expect(u64(h.lookup(u32(5)))).toBe(43n);
      const del = `stw [%r10-4], 5\nlddw %r1, {{h}}\nmov %r2, %r10\nadd %r2, -4\ncall 3\nexit`;
      expect(r0(t.run(del))).toBe(0n);
      expect(r0(t.run(del))).toBe(BigInt(-Errno.ENOENT));
    });
  
    it('uses the run CPU for per-CPU maps', () => {
      const t = rig({ cpus: 2 });
      const m = t.reg.create(spec({ name: 'pc', type: MapType.PERCPU_ARRAY }));
      expect(r0(t.run(updateThenBump('pc', 1, 10, 0), { cpu: 1 }))).toBe(0n);
      expect((m.lookup(u32(1)) as Uint8Array[]).map((v) => u64(v))).toEqual([0n, 11n]);
    });
  
    it('looks ARRAY and PERCPU_ARRAY values up by address: every index and CPU, NULL from max_entries on, keys off the stack', () => {
      const t = rig({ cpus: 3 });
      const a = t.reg.create(spec({ name: 'a', type: MapType.ARRAY, valueSize: 12, maxEntries: 5 }));
      const pc = t.reg.create(spec({ name: 'pc', type: MapType.PERCPU_ARRAY, valueSize: 4, maxEntries: 3 }));
      if (!(a instanceof ArrayMap) || !(pc instanceof ArrayMap)) throw new Error('arrays expected');
      const onStack = (m: string, key: number) => `stw [%r10-4], ${key}\nlddw %r1, {{${m}}}\nmov %r2, %r10\nadd %r2, -4\ncall 1\nexit`;
      // The key in the context region (not the stack) takes the checked path.
      const inCtx = (m: string, key: number) => `stw [%r1+8], ${key}\nmov %r2, %r1\nadd %r2, 8\nlddw %r1, {{${m}}}\ncall 1\nexit`;
      for (const prog of [onStack, inCtx]) {
        for (const key of [0, 1, 4, 5, 6, -1]) {
          expect(r0(t.run(prog('a', key))), `a[${key}]`).toBe(key >= 0 && key < 5 ? BigInt(a.valueAddress(key)) : 0n);
        }
        for (let cpu = 0; cpu < 3; cpu++) {
          for (const key of [0, 2, 3, 0x7fffffff]) {
            expect(r0(t.run(prog('pc', key), { cpu })), `pc[${key}] cpu ${cpu}`).toBe(key < 3 ? BigInt(pc.valueAddress(key, cpu)) : 0n);
          }
        }
      }
      // Two maps in one program: the helper's cache of the last map follows the map argument.
      const both = `stw [%r10-4], 2\nlddw %r1, {{a}}\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r6, %r0\nlddw %r1, {{pc}}\nmov %r2, %r10\nadd %r2, -4\ncall 1\nsub %r0, %r6\nexit`;
      expect(r0(t.run(both, { cpu: 1 }))).toBe(BigInt(pc.valueAddress(2, 1) - a.valueAddress(2)));
      // A key that runs past the top of the stack frame is refused like an unreadable one.
      expect(faultCode(t.run(`lddw %r1, {{a}}\nmov %r2, %r10\nadd %r2, -2\ncall 1\nexit`))).toBe(FaultCode.HelperArgs);
    });

    it('faults like the verifier: bad key pointer, non-map, wrong map type, write into a read-only map', () => {
      const t = rig();
      t.reg.create(spec({ name: 'h', type: MapType.HASH }));
      t.reg.create(spec({ name: 'ro', type: MapType.HASH, flags: MapFlag.RDONLY_PROG }));
      t.reg.create(spec({ name: 'pa', type: MapType.PROG_ARRAY, valueSize: 4 }));
      expect(faultCode(t.run(`lddw %r1, {{h}}\nmov %r2, 16\ncall 1\nexit`))).toBe(FaultCode.HelperArgs);
      expect(faultCode(t.run(`mov %r1, %r10\nmov %r2, %r10\ncall 1\nexit`))).toBe(FaultCode.HelperArgs);
      expect(faultCode(t.run(`stw [%r10-4], 0\nlddw %r1, {{pa}}\nmov %r2, %r10\nadd %r2, -4\ncall 1\nexit`))).toBe(FaultCode.HelperArgs);
      expect(faultCode(t.run(updateThenBump('ro', 1, 1, 0)))).toBe(FaultCode.HelperArgs);
      const res = t.run(`lddw %r1, {{h}}\nmov %r2, 16\ncall 1\nexit`);
      expect(res.ok ? undefined : res.fault.insn).toBe(3);
    });
  
    it('returns the inner map of a map-in-map, usable with further lookups', () => {
      const t = rig();
      const inner = spec({ name: 'inner', type: MapType.ARRAY });
      const a = t.reg.create(inner);
      a.update(u32(2), Uint8Array.of(9, 0, 0, 0, 0, 0, 0, 0), 0);
      t.reg.create(spec({ name: 'outer', type: MapType.ARRAY_OF_MAPS, valueSize: 4, inner, initialSlots: [{ index: 0, ref: 'inner' }] }));
      const prog = `
        stw [%r10-4], 0
        lddw %r1, {{outer}}
        mov %r2, %r10
        add %r2, -4
        call 1
        jeq %r0, 0, +6
        stw [%r10-8], 2
        mov %r1, %r0
        mov %r2, %r10
        add %r2, -8
        call 1
        ldxdw %r0, [%r0]
        exit`;
      expect(r0(t.run(prog))).toBe(9n);
    });
  });
  
  describe('bpf_map_push_elem / pop / peek', () => {
    it('moves values between the stack and a queue', () => {
      const t = rig();
      const q = t.reg.create(spec({ name: 'q', type: MapType.QUEUE, keySize: 0, maxEntries: 2 })) as QueueStackMap;
      const push = (v: number, flags = 0) => `stdw [%r10-8], ${v}\nlddw %r1, {{q}}\nmov %r2, %r10\nadd %r2, -8\nmov %r3, ${flags}\ncall 87\nexit`;
      expect(r0(t.run(push(1)))).toBe(0n);
      expect(r0(t.run(push(2)))).toBe(0n);
      expect(r0(t.run(push(3)))).toBe(BigInt(-Errno.E2BIG));
      expect(r0(t.run(push(3, 2)))).toBe(0n);
      const take = (id: number) => `lddw %r1, {{q}}\nmov %r2, %r10\nadd %r2, -8\ncall ${id}\njne %r0, 0, +1\nldxdw %r0, [%r10-8]\nexit`;
      expect(r0(t.run(take(89)))).toBe(2n);
      expect(r0(t.run(take(88)))).toBe(2n);
      expect(r0(t.run(take(88)))).toBe(3n);
      expect(r0(t.run(take(88)))).toBe(BigInt(-Errno.ENOENT));
      expect(q.count).toBe(0);
    });
  });
  
  describe('bpf_tail_call through makeTailCallResolver', () => {
    it('continues in the program of the PROG_ARRAY slot, and goes on after an empty one', () => {
      const t = rig();
      const pa = t.reg.create(spec({ name: 'jmp', type: MapType.PROG_ARRAY, valueSize: 4 })) as ProgArrayMap;
      const target = engine.prepare({ name: 'target', insns: assemble('mov %r0, 77\nexit') });
      pa.setProgram(1, target);
      const caller = (i: number) => `lddw %r2, {{jmp}}\nmov %r3, ${i}\ncall 12\nmov %r0, 5\nexit`;
      expect(r0(t.run(caller(1)))).toBe(77n);
      expect(r0(t.run(caller(2)))).toBe(5n);
      expect(r0(t.run(caller(9)))).toBe(5n);
      pa.setProgram(3, 'never_prepared');
      expect(() => t.run(caller(3))).toThrow();
    });

    it('sees every change of a slot or program between runs (the resolver caches per slot)', () => {
      const t = rig();
      const pa = t.reg.create(spec({ name: 'jmp', type: MapType.PROG_ARRAY, valueSize: 4 })) as ProgArrayMap;
      const prog = (name: string, v: number) => engine.prepare({ name, insns: assemble(`mov %r0, ${v}\nexit`) });
      const caller = (i: number) => `lddw %r2, {{jmp}}\nmov %r3, ${i}\ncall 12\nmov %r0, 5\nexit`;
      pa.setProgram(1, prog('a', 11));
      expect(r0(t.run(caller(1)))).toBe(11n);
      expect(r0(t.run(caller(0)))).toBe(5n);
      // user-space update to another registered program
      const idB = t.reg.registerProgram('b', prog('b', 22));
      expect(pa.update(u32(1), u32(idB), 0)).toBe(0);
      expect(pa.update(u32(0), u32(idB), 0)).toBe(0);
      expect(r0(t.run(caller(1)))).toBe(22n);
      expect(r0(t.run(caller(0)))).toBe(22n);
      // the same program name given a new executable
      t.reg.registerProgram('b', prog('b', 33));
      expect(r0(t.run(caller(1)))).toBe(33n);
      // delete, and a slot set by name whose executable comes later
      expect(pa.delete(u32(1))).toBe(0);
      expect(r0(t.run(caller(1)))).toBe(5n);
      pa.setProgram(1, 'c');
      expect(() => t.run(caller(1))).toThrow();
      t.reg.registerProgram('c', prog('c', 44));
      expect(r0(t.run(caller(1)))).toBe(44n);
      pa.setSlot(1, undefined);
      expect(r0(t.run(caller(1)))).toBe(5n);
    });
  });
});
