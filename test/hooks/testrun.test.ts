/**
 * BPF_PROG_TEST_RUN emulation without a kernel: buffer limits, ctx_in rules and layout, checked
 * against the kernel's documented behaviour (net/bpf/test_run.c, measured on 6.18 by
 * test/parity/testrun-*.test.ts, which compares every case with the real syscall when root).
 */
import { describe, expect, it } from 'vitest';
import { asmRunner, le32 } from './support.js';
import { ProgType } from '../../src/hooks/tc.js';
import { SkBuffField } from '../../src/hooks/skb.js';
import { AttachType, Errno } from '../../src/hooks/testrun.js';

const PASS = `mov %r0, 2
exit`;

/** Returns data_end - data, ingress_ifindex and rx_queue_index packed, and writes nothing. */
const XDP_CTX = `ldxw %r2, [%r1+0]
ldxw %r3, [%r1+4]
sub %r3, %r2
ldxw %r4, [%r1+12]
lsh %r4, 24
or %r3, %r4
ldxw %r4, [%r1+16]
lsh %r4, 16
or %r3, %r4
mov %r0, %r3
exit`;

describe('XDP test run', () => {
  const pass = asmRunner(PASS, ProgType.XDP);

  it('refuses frames shorter than ETH_HLEN', () => {
    for (let n = 0; n < 14; n++) expect(pass.run({ data: new Uint8Array(n) }).err, `len ${n}`).toBe(-Errno.EINVAL);
    expect(pass.run({ data: new Uint8Array(14) }).err).toBe(0);
  });

  it('returns the frame, fragments included, up to 17 fragments', () => {
    for (const n of [14, 3520, 3521, 9000, 3520 + 17 * 4096]) {
      const data = new Uint8Array(n).map((_, i) => i * 13);
      const r = pass.run({ data });
      expect(r.err).toBe(0);
      expect(r.retval).toBe(2);
      expect(r.dataSizeOut).toBe(n);
      expect(r.dataOut).toEqual(data);
    }
    expect(pass.run({ data: new Uint8Array(3521 + 17 * 4096) }).err).toBe(-Errno.ENOMEM);
  });

  it('gives the program the linear part and lo\'s queue 0', () => {
    const r = asmRunner(XDP_CTX, ProgType.XDP);
    expect(r.run({ data: new Uint8Array(100) }).retval).toBe((1 << 24) | 100);
    expect(r.run({ data: new Uint8Array(5000) }).retval).toBe((1 << 24) | 3520);
    // ctx_in: 8 bytes of metadata, 60 bytes linear.
    const out = r.run({ data: new Uint8Array(200), ctxIn: le32(8, 68, 0, 1, 0, 0) });
    expect(out.err).toBe(0);
    expect(out.retval).toBe((1 << 24) | 60);
    expect(out.dataSizeOut).toBe(200);
    expect(out.ctxOut).toEqual(le32(8, 68, 0, 1, 0, 0));
  });

  it('applies the ctx_in rules', () => {
    const rows: Array<[string, Uint8Array, number]> = [
      ['data_meta set', le32(0, 100, 4, 1, 0, 0), -Errno.EINVAL],
      ['data_end past the frame', le32(0, 101, 0, 1, 0, 0), -Errno.EINVAL],
      ['data after data_end', le32(8, 4, 0, 1, 0, 0), -Errno.EINVAL],
      ['unaligned metadata', le32(6, 100, 0, 1, 0, 0), -Errno.EINVAL],
      ['metadata over 216 bytes', le32(220, 100, 0, 1, 0, 0), -Errno.EINVAL],
      ['egress_ifindex', le32(0, 100, 0, 1, 0, 1), -Errno.EINVAL],
      ['queue without device', le32(0, 100, 0, 0, 1, 0), -Errno.EINVAL],
      ['queue lo lacks', le32(0, 100, 0, 1, 1, 0), -Errno.EINVAL],
      ['unknown device', le32(0, 100, 0, 77, 0, 0), -Errno.ENODEV],
      ['non-zero tail', new Uint8Array([...le32(0, 100, 0, 1, 0, 0), 1]), -Errno.E2BIG],
      ['zero tail', new Uint8Array([...le32(0, 100, 0, 1, 0, 0), 0]), 0],
    ];
    for (const [name, ctx, err] of rows) expect(pass.run({ data: new Uint8Array(100), ctxIn: ctx }).err, name).toBe(err);
    expect(pass.run({ data: new Uint8Array(300), ctxIn: le32(216, 300, 0, 1, 0, 0) }).err, 'metadata 216').toBe(0);
    expect(pass.run({ data: new Uint8Array(20), ctxIn: le32(8, 20, 0, 1, 0, 0) }).err, 'runt after metadata').toBe(-Errno.EINVAL);
  });

  it('refuses devmap and cpumap programs and unknown flags', () => {
    expect(asmRunner(PASS, ProgType.XDP, AttachType.XDP_DEVMAP).run({ data: new Uint8Array(64) }).err).toBe(-Errno.EINVAL);
    expect(pass.run({ data: new Uint8Array(64), flags: 4 }).err).toBe(-Errno.EINVAL);
    expect(pass.run({ data: new Uint8Array(64), batchSize: 1 }).err).toBe(-Errno.EINVAL);
  });

  it('clamps data_out to data_size_out with -ENOSPC', () => {
    const r = pass.run({ data: new Uint8Array(64).fill(7), dataSizeOut: 10 });
    expect(r.err).toBe(-Errno.ENOSPC);
    expect(r.retval).toBe(2);
    expect(r.dataSizeOut).toBe(64);
    expect(r.dataOut.length).toBe(10);
  });

  it('adjust_meta output starts at data_meta (call 54)', () => {
    const prog = `mov %r6, %r1
mov %r2, -8
call 54
mov %r0, 2
exit`;
    const r = asmRunner(prog, ProgType.XDP).run({ data: new Uint8Array(64).fill(9) });
    expect(r.dataSizeOut).toBe(72);
    expect(Array.from(r.dataOut.slice(0, 9))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 9]);
  });
});

/** Stores len, pkt_type, protocol, ifindex and wire_len in cb[0..4] and returns 0. */
const TC_FIELDS = `ldxw %r2, [%r1+0]
stxw [%r1+48], %r2
ldxw %r2, [%r1+4]
stxw [%r1+52], %r2
ldxw %r2, [%r1+16]
stxw [%r1+56], %r2
ldxw %r2, [%r1+40]
stxw [%r1+60], %r2
ldxw %r2, [%r1+160]
stxw [%r1+64], %r2
mov %r0, 0
exit`;

function frame(dst: number[], type: number, n: number): Uint8Array {
  const f = new Uint8Array(n);
  f.set(dst, 0);
  f.set([0x02, 0, 0, 0, 0, 2], 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  if (type === 0x0800) f[14] = 0x45;
  return f;
}

describe('SCHED_CLS test run', () => {
  const fields = asmRunner(TC_FIELDS, ProgType.SCHED_CLS);

  it('refuses runts, oversize frames and short IP headers', () => {
    for (let n = 0; n < 14; n++) expect(fields.run({ data: new Uint8Array(n) }).err).toBe(-Errno.EINVAL);
    expect(fields.run({ data: frame([0, 0, 0, 0, 0, 0], 0x0806, 3712) }).err).toBe(0);
    expect(fields.run({ data: frame([0, 0, 0, 0, 0, 0], 0x0806, 3713) }).err).toBe(-Errno.EINVAL);
    expect(fields.run({ data: frame([0, 0, 0, 0, 0, 0], 0x0800, 33) }).err).toBe(-Errno.EINVAL);
    expect(fields.run({ data: frame([0, 0, 0, 0, 0, 0], 0x0800, 34) }).err).toBe(0);
    expect(fields.run({ data: frame([0, 0, 0, 0, 0, 0], 0x86dd, 53) }).err).toBe(-Errno.EINVAL);
  });

  it('runs eth_type_trans against lo', () => {
    const rows: Array<[number[], number, number, number]> = [
      [[0, 0, 0, 0, 0, 0], 0x0800, 0, 0x0008],
      // lo's broadcast address is 00:00:00:00:00:00, so ff:ff:ff:ff:ff:ff is only multicast.
      [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0x86dd, 2, 0xdd86],
      [[0x01, 0, 0x5e, 0, 0, 1], 0x0806, 2, 0x0608],
      [[0x02, 0, 0, 0, 0, 1], 0x8100, 3, 0x0081],
      [[0, 0, 0, 0, 0, 0], 0x0040, 0, 0x0400],
    ];
    for (const [dst, type, pktType, proto] of rows) {
      const r = fields.run({ data: frame(dst, type, 80), ctxIn: new Uint8Array(SkBuffField.SIZE) });
      expect(r.err).toBe(0);
      const cb = new DataView(r.ctxOut!.buffer, SkBuffField.cb, 20);
      expect([cb.getUint32(0, true), cb.getUint32(4, true), cb.getUint32(8, true), cb.getUint32(12, true), cb.getUint32(16, true)]).toEqual([
        80,
        pktType,
        proto,
        1,
        80,
      ]);
    }
  });

  it('applies the ctx_in rules', () => {
    const ctx = (off: number, v: number): Uint8Array => {
      const b = new Uint8Array(SkBuffField.SIZE);
      new DataView(b.buffer).setUint32(off, v, true);
      return b;
    };
    const F = SkBuffField;
    const rows: Array<[string, Uint8Array, number]> = [
      ['mark', ctx(F.mark, 5), 0],
      ['priority', ctx(F.priority, 5), 0],
      ['cb', ctx(F.cb + 4, 5), 0],
      ['len', ctx(F.len, 5), -Errno.EINVAL],
      ['tc_index', ctx(F.tc_index, 5), -Errno.EINVAL],
      ['hash', ctx(F.hash, 5), -Errno.EINVAL],
      ['wire_len below len', ctx(F.wire_len, 20), -Errno.EINVAL],
      ['wire_len', ctx(F.wire_len, 200), 0],
      ['gso_segs over GSO_MAX_SEGS', ctx(F.gso_segs, 65536), -Errno.EINVAL],
      ['unknown ifindex', ctx(F.ifindex, 9), -Errno.ENODEV],
    ];
    for (const [name, c, err] of rows) expect(fields.run({ data: frame([0, 0, 0, 0, 0, 0], 0x0806, 80), ctxIn: c }).err, name).toBe(err);
  });
});
