import { describe, expect, it } from 'vitest';
import { MapType, type MapSpec } from '../../src/maps/spec.js';
import { Errno } from '../../src/maps/errno.js';
import { FaultCode } from '../../src/vm/fault.js';
import { RingbufMap } from '../../src/maps/ringbuf.js';
import { PerfEventArrayMap } from '../../src/maps/perf-event-array.js';
import { bprintf, type FormatMemory } from '../../src/helpers/format.js';
import { csumDiff } from '../../src/helpers/csum.js';
import { releaseHeldLock } from '../../src/helpers/lock.js';
import { deterministicServices } from '../../src/helpers/services.js';
import { helperInfo, isGplCompatible, makeHelperTable, HELPER_DEFS } from '../../src/helpers/table.js';
import { MapRegistry } from '../../src/maps/registry.js';
import { Memory, RegionKind } from '../../src/vm/memory.js';
import { ENGINES, faultCode, r0, rig as baseRig } from './util.js';

const spec = (p: Partial<MapSpec> & Pick<MapSpec, 'name' | 'type'>): MapSpec => ({ keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, pinning: 0, ...p });
const u32 = (v: number) => Uint8Array.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24]);
const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe.each(ENGINES)('engine $name', (engine) => {
  const rig = (o: Parameters<typeof baseRig>[0] = {}) => baseRig({ ...o, engine });

  describe('clock and random helpers', () => {
    it('read the injected services: deterministic runs repeat exactly', () => {
      const prog = 'call 5\nmov %r6, %r0\ncall 5\nsub %r0, %r6\nexit';
      expect(r0(rig().run(prog))).toBe(1000n);
      const seq = () => {
        const t = rig({ services: deterministicServices({ seed: 42 }) });
        return [0, 1, 2].map(() => r0(t.run('call 7\nexit')));
      };
      const a = seq();
      expect(seq()).toEqual(a);
      expect(new Set(a).size).toBe(3);
      for (const v of a) expect(v >= 0n && v < 1n << 32n).toBe(true);
      const t = rig({ services: deterministicServices({ startNs: 10_000_000_000n, hz: 250 }) });
      expect(r0(t.run('call 160\nexit')) % 4_000_000n).toBe(0n);
      expect(r0(t.run('call 118\nexit'))).toBe(BigInt((-300 * 250) >>> 0) + 10_000_001_000n / 4_000_000n);
      expect(r0(t.run('call 8\nexit', { cpu: 1 }))).toBe(1n);
      expect(r0(t.run('call 42\nexit'))).toBe(0n);
    });
  });
  
  describe('printf formatting (bpf_bprintf_prepare + bstr_printf)', () => {
    const mem: FormatMemory = {
      cstring: (a) => (a === 0x1000n ? enc('eth0') : undefined),
      bytes: (a, len) => (a === 0x2000n ? Uint8Array.from({ length: len }, (_, i) => (len === 4 ? [10, 0, 0, 1][i] : i === 15 ? 1 : i === 0 ? 0x20 : i === 1 ? 1 : 0)) : undefined),
    };
    const cases: Array<[string, bigint[], string | number]> = [
      ['x=%d y=%u\n', [BigInt(-5 >>> 0), 7n], 'x=-5 y=7\n'],
      ['%ld %lld %lu', [0xffff_ffff_ffff_fffen, 3n, 0xffff_ffff_ffff_ffffn], '-2 3 18446744073709551615'],
      ['%x %X %lx %llX', [255n, 255n, 0x1_0000_0000n, 0xabn], 'ff FF 100000000 AB'],
      ['[%5d][%-5d][%05d][%+d][% d]', [42n, 42n, BigInt(-42 >>> 0), 3n, 3n], '[   42][42   ][-0042][+3][ 3]'],
      ['%c%c %%', [0x6fn, 0x6bn], 'ok %'],
      ['dev %s/%6s/%-6s|', [0x1000n, 0x1000n, 0x1000n], 'dev eth0/  eth0/eth0  |'],
      ['bad %s.', [0x5n], 'bad .'],
      ['%pI4 %pi4', [0x2000n, 0x2000n], '10.0.0.1 010.000.000.001'],
      ['%pI6', [0x2000n], '2001:0000:0000:0000:0000:0000:0000:0001'],
      ['%pI6c', [0x2000n], '2001:0000:0000:0000:0000:0000:0000:0001'],
      ['%pi6', [0x2000n], '20010000000000000000000000000001'],
      ['%p %px', [0x1234n, 0xabcdn], '0000000000001234 000000000000abcd'],
      ['%d %d %d %d', [1n, 2n, 3n], -Errno.EINVAL],
      ['%.2d', [1n], -Errno.EINVAL],
      ['%o', [1n], -Errno.EINVAL],
      ['%hd', [1n], -Errno.EINVAL],
      ['%pZ', [1n], -Errno.EINVAL],
      ['tab\tok', [], 'tab\tok'],
      ['bell\x07', [], -Errno.EINVAL],
      ['\xe9', [], -Errno.EINVAL],
    ];
    it.each(cases)('%j', (fmt, args, want) => {
      expect(bprintf(enc(fmt), args, mem)).toBe(want);
    });
  
    it('bpf_trace_printk sends the line to the trace sink and returns its length', () => {
      const t = rig();
      const prog = `
        stdw [%r10-16], 0
        stdw [%r10-8], 0
        stw [%r10-16], 0x64253d6e
        stw [%r10-12], 0x0000000a
        mov %r1, %r10
        add %r1, -16
        mov %r2, 6
        mov %r3, 12
        call 6
        exit`;
      expect(r0(t.run(prog))).toBe(5n);
      expect(t.traces.map((x) => x.message)).toEqual(['n=12']);
      expect(t.traces[0].program).toBe('prog');
      const noNul = prog.replace('mov %r2, 6', 'mov %r2, 5');
      expect(r0(t.run(noNul))).toBe(BigInt(-Errno.EINVAL));
    });
  
    it('bpf_snprintf truncates to str_size - 1 and returns the full length + 1; data_len must be a multiple of 8', () => {
      const t = rig();
      const fmtMap = t.reg.create(spec({ name: 'fmt.rodata', type: MapType.ARRAY, maxEntries: 1, valueSize: 8, readonlyForProgram: true, initialValue: enc('v=%d\0') }));
      const prog = (size: number, dataLen: number) => `
        stdw [%r10-8], 12345
        stdw [%r10-24], 0
        mov %r1, %r10
        add %r1, -24
        mov %r2, ${size}
        lddw %r3, 0x${(fmtMap as unknown as { valueAddress(i: number): number }).valueAddress(0).toString(16)}
        mov %r4, %r10
        add %r4, -8
        mov %r5, ${dataLen}
        call 165
        ldxdw %r1, [%r10-24]
        lsh %r0, 32
        or %r0, %r1
        exit`;
      const res = r0(t.run(prog(5, 8)));
      expect(res >> 32n).toBe(8n);
      expect(Buffer.from(new BigUint64Array([BigInt.asUintN(32, res)]).buffer).toString('latin1').replace(/\0+$/, '')).toBe('v=12');
      expect(r0(t.run(prog(5, 4))) >> 32n).toBe(BigInt(-Errno.EINVAL));
    });
  });
  
  describe('bpf_spin_lock / bpf_spin_unlock', () => {
    it('locks a word in a map value and faults on misuse', () => {
      const t = rig();
      const m = t.reg.create(spec({ name: 'l', type: MapType.ARRAY, spinLockOffset: 0 }));
      const lock = (ops: string) => `
        stw [%r10-4], 0
        lddw %r1, {{l}}
        mov %r2, %r10
        add %r2, -4
        call 1
        mov %r6, %r0
        ${ops}
        mov %r0, 0
        exit`;
      const L = 'mov %r1, %r6\ncall 93';
      const U = 'mov %r1, %r6\ncall 94';
      expect(r0(t.run(lock(`${L}\n${U}`)))).toBe(0n);
      expect(m.mem.dv.getUint32((m as unknown as { valueAddress(i: number): number }).valueAddress(0), true)).toBe(0);
      expect(faultCode(t.run(lock(U)))).toBe(FaultCode.HelperArgs);
      expect(faultCode(t.run(lock(`${L}\n${L}`)))).toBe(FaultCode.HelperArgs);
      expect(releaseHeldLock(t.env)).toBe((m as unknown as { valueAddress(i: number): number }).valueAddress(0));
      expect(faultCode(t.run(`mov %r1, %r10\nadd %r1, -8\ncall 93\nexit`))).toBe(FaultCode.HelperArgs);
      // A run that faults holding the lock leaves it set until releaseHeldLock.
      expect(faultCode(t.run(lock(`${L}\nmov %r1, 0\nldxw %r0, [%r1]`)))).toBe(FaultCode.MemoryAccess);
      expect(faultCode(t.run(lock(`${L}\n${U}`)))).toBe(FaultCode.HelperArgs);
      expect(releaseHeldLock(t.env)).toBe((m as unknown as { valueAddress(i: number): number }).valueAddress(0));
      expect(releaseHeldLock(t.env)).toBeUndefined();
      expect(r0(t.run(lock(`${L}\n${U}`)))).toBe(0n);
    });
  });
  
  describe('bpf_loop and bpf_for_each_map_elem', () => {
    it('bpf_loop calls back with the index and stops on a nonzero return', () => {
      const t = rig();
      // main: ctx at fp-8 holds a running sum; callback (insn 13) adds i and stops at i == stop.
      const prog = (n: number, stop: number, flags = 0) => `
        stdw [%r10-8], 0
        mov %r1, ${n}
        lddw %r2, {{cb_13}}
        mov %r3, %r10
        add %r3, -8
        mov %r4, ${flags}
        call 181
        ldxdw %r1, [%r10-8]
        lsh %r0, 32
        or %r0, %r1
        exit
        ja +0
        ja +0
        ldxdw %r3, [%r2]
        add %r3, %r1
        stxdw [%r2], %r3
        mov %r0, 0
        jne %r1, ${stop}, +1
        mov %r0, 1
        exit`;
      expect(r0(t.run(prog(5, 99)))).toBe((5n << 32n) | 10n);
      expect(r0(t.run(prog(5, 2)))).toBe((3n << 32n) | 3n);
      expect(r0(t.run(prog(5, 99, 1))) >> 32n).toBe(BigInt(-Errno.EINVAL));
      expect(r0(t.run(prog((1 << 23) + 1, 99))) >> 32n).toBe(BigInt(-Errno.E2BIG));
      expect(r0(t.run(prog(0, 99)))).toBe(0n);
    });
  
    it('bpf_for_each_map_elem visits elements with key and value pointers and counts the stopping one', () => {
      const t = rig();
      const h = t.reg.create(spec({ name: 'h', type: MapType.HASH, maxEntries: 8 }));
      for (const k of [3, 1, 2]) h.update(u32(k), new Uint8Array(8).fill(k), 0);
      // callback (insn 9): value += key; stop when key == stopAt.
      const prog = (stopAt: number) => `
        lddw %r1, {{h}}
        lddw %r2, {{cb_9}}
        mov %r3, 0
        mov %r4, 0
        call 164
        exit
        ja +0
        ja +0
        ja +0
        ldxw %r6, [%r2]
        ldxdw %r7, [%r3]
        add %r7, %r6
        stxdw [%r3], %r7
        mov %r0, 0
        jne %r6, ${stopAt}, +1
        mov %r0, 1
        exit`;
      expect(r0(t.run(prog(99)))).toBe(3n);
      expect(r0(t.run(prog(1)))).toBe(2n);
      const v = h.lookup(u32(3)) as Uint8Array;
      expect(v[0]).toBe(3 + 3 + 3);
      expect(faultCode(t.run(prog(99).replace('{{h}}', '0x1234')))).toBe(FaultCode.HelperArgs);
    });
  });
  
  describe('ring buffer and perf event helpers', () => {
    it('reserve, write, submit and discard; submit of a foreign pointer faults', () => {
      const t = rig();
      const rb = t.reg.create(spec({ name: 'rb', type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 })) as RingbufMap;
      const prog = (commitId: number) => `
        lddw %r1, {{rb}}
        mov %r2, 8
        mov %r3, 0
        call 131
        jeq %r0, 0, +5
        stdw [%r0], 0x55
        mov %r1, %r0
        mov %r2, 0
        call ${commitId}
        mov %r0, 1
        exit`;
      expect(r0(t.run(prog(132)))).toBe(1n);
      expect(r0(t.run(prog(133)))).toBe(1n);
      expect(rb.records(true).map((r) => [r.data[0], r.discarded])).toEqual([
        [0x55, false],
        [0x55, true],
      ]);
      expect(r0(t.run(`lddw %r1, {{rb}}\nmov %r2, 0\ncall 134\nexit`))).toBe(32n);
      expect(r0(t.run(`lddw %r1, {{rb}}\nmov %r2, 8\nmov %r3, 1\ncall 131\nexit`))).toBe(0n);
      expect(faultCode(t.run(`mov %r1, %r10\nadd %r1, -8\nmov %r2, 0\ncall 132\nexit`))).toBe(FaultCode.HelperArgs);
      const out = (flags: number) => `stdw [%r10-8], 7\nlddw %r1, {{rb}}\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 8\nmov %r4, ${flags}\ncall 130\nexit`;
      expect(r0(t.run(out(0)))).toBe(0n);
      expect(r0(t.run(out(4)))).toBe(BigInt(-Errno.EINVAL));
      expect(rb.consume().map((d) => d[0])).toEqual([0x55, 7]);
    });
  
    it('bpf_perf_event_output sends samples to the slot of the current CPU', () => {
      const t = rig({ cpus: 2 });
      const pe = t.reg.create(spec({ name: 'ev', type: MapType.PERF_EVENT_ARRAY, valueSize: 4 })) as PerfEventArrayMap;
      const prog = (flags: string) => `stdw [%r10-8], 9\nlddw %r2, {{ev}}\nlddw %r3, ${flags}\nmov %r4, %r10\nadd %r4, -8\nmov %r5, 8\ncall 25\nexit`;
      expect(r0(t.run(prog('0xffffffff'), { cpu: 1 }))).toBe(0n);
      expect(r0(t.run(prog('0'), { cpu: 1 }))).toBe(BigInt(-Errno.EOPNOTSUPP));
      expect(r0(t.run(prog('0x100000000000000')))).toBe(BigInt(-Errno.EINVAL));
      expect(pe.records.map((r) => [r.cpu, r.index, r.data[0]])).toEqual([[1, 1, 9]]);
    });
  });
  
  describe('bpf_probe_read_kernel and bpf_csum_diff', () => {
    it('copies from VM memory and fails with -EFAULT (dst zeroed) elsewhere', () => {
      const t = rig();
      const prog = (src: string) => `stdw [%r10-8], 0x1122\nstdw [%r10-16], -1\nmov %r1, %r10\nadd %r1, -16\nmov %r2, 8\n${src}\ncall 113\nldxdw %r1, [%r10-16]\nlsh %r0, 32\nadd %r0, %r1\nexit`;
      expect(r0(t.run(prog('mov %r3, %r10\nadd %r3, -8')))).toBe(0x1122n);
      expect(r0(t.run(prog('lddw %r3, 0xffff888000000000')))).toBe(BigInt(-Errno.EFAULT) << 32n);
    });
  
    it('computes csum_diff as the folded one-complement difference', () => {
      // RFC 1624 incremental update of an IPv4 header checksum (as a program does with
      // bpf_csum_diff on little-endian loads) must equal recomputing it from scratch.
      const hdr = Uint8Array.of(0x45, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 192, 168, 1, 10, 10, 0, 0, 1);
      const full = (h: Uint8Array) => {
        let sum = 0;
        for (let i = 0; i < h.length; i += 2) sum += h[i] | (h[i + 1] << 8);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
        return ~sum & 0xffff;
      };
      const f0 = full(hdr);
      hdr[10] = f0 & 0xff;
      hdr[11] = f0 >> 8;
      const old = hdr.slice(16, 20);
      const neu = Uint8Array.of(10, 0, 0, 2);
      const inc = ~csumDiff(old, neu, ~f0 & 0xffff) & 0xffff;
      hdr.set(neu, 16);
      hdr[10] = 0;
      hdr[11] = 0;
      expect(inc).toBe(full(hdr));
      const old2 = Uint8Array.of(10, 0, 0, 1);
      expect(csumDiff(old2, old2, 0)).toBe(0xffff);
      expect(csumDiff(new Uint8Array(0), new Uint8Array(0), 0)).toBe(0);
      expect(csumDiff(new Uint8Array(0), Uint8Array.of(1, 2), 0)).toBe(0x0201);
      expect(csumDiff(Uint8Array.of(1, 2), new Uint8Array(0), 0)).toBe(0xfdfe);
    });
  });
  
  describe('packet pointers', () => {
    it('only helpers with pkt_access may read the packet', () => {
      const t = rig();
      t.reg.create(spec({ name: 'h', type: MapType.HASH }));
      t.reg.create(spec({ name: 'rb', type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 }));
      const pkt = t.mem.map(RegionKind.Packet, 'packet', 64);
      const lookup = `lddw %r1, {{h}}\nlddw %r2, 0x${pkt.start.toString(16)}\ncall 1\nexit`;
      expect(r0(t.run(lookup))).toBe(0n);
      const output = `lddw %r1, {{rb}}\nlddw %r2, 0x${pkt.start.toString(16)}\nmov %r3, 8\nmov %r4, 0\ncall 130\nexit`;
      expect(faultCode(t.run(output))).toBe(FaultCode.HelperArgs);
    });
  });

  describe('the helper table', () => {
    it('leaves GPL-only helpers out for non-GPL programs; helperInfo exposes the rule', () => {
      const reg = new MapRegistry(new Memory(), { cpus: 1 });
      const gpl = makeHelperTable(reg, deterministicServices(), { license: 'Dual BSD/GPL' });
      const bsd = makeHelperTable(reg, deterministicServices(), { license: 'BSD' });
      expect(gpl.has(6)).toBe(true);
      expect(bsd.has(6)).toBe(false);
      expect(bsd.has(1)).toBe(true);
      expect(helperInfo(6)?.gplOnly).toBe(true);
      expect(helperInfo(1)?.name).toBe('map_lookup_elem');
      expect(isGplCompatible('GPL v2')).toBe(true);
      expect(isGplCompatible('MIT')).toBe(false);
      expect(makeHelperTable(reg, deterministicServices(), { license: 'GPL', progType: 2 }).has(28)).toBe(false);
      expect(HELPER_DEFS.length).toBeGreaterThanOrEqual(30);
    });
  
    it('a non-GPL program calling a GPL-only helper faults with E_UNKNOWN_HELPER', () => {
      const t = rig({ license: 'Proprietary' });
      expect(faultCode(t.run('mov %r1, 0\nmov %r2, 0\ncall 6\nexit'))).toBe(FaultCode.UnknownHelper);
    });
  });
});
