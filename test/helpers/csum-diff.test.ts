/**
 * bpf_csum_diff through the helper table on every engine: the helper sums guest memory in place,
 * which must give csumDiff's result on the same bytes (csumDiff is checked against the kernel in
 * test/helpers/kernel-parity.test.ts) for every size (odd ones included), alignment and seed,
 * from stack, scratch and packet memory; an unreadable pointer faults.
 */
import { describe, expect, it } from 'vitest';
import { csumDiff } from '../../src/helpers/csum.js';
import { RegionKind } from '../../src/vm/memory.js';
import { ENGINES, faultCode, r0, rig } from './util.js';
import { FaultCode } from '../../src/vm/fault.js';

function callDiff(from: number, fromSize: number, to: number, toSize: number, seed: number): string {
  return `lddw %r1, 0x${from.toString(16)}
mov %r2, ${fromSize}
lddw %r3, 0x${to.toString(16)}
mov %r4, ${toSize}
lddw %r5, 0x${(seed >>> 0).toString(16)}
call 28
exit`;
}

describe.each(ENGINES.map((e) => [e.name, e] as const))('bpf_csum_diff on guest memory (%s)', (_name, engine) => {
  it('equals csumDiff of the same bytes for every size, alignment and seed', () => {
    const t = rig({ engine });
    const scratch = t.mem.map(RegionKind.Scratch, 'bytes', 256);
    const pkt = t.mem.map(RegionKind.Packet, 'packet', 256);
    let x = 12345;
    for (let i = 0; i < 256; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      t.mem.u8[scratch.start + i] = x >>> 24;
      t.mem.u8[pkt.start + i] = (x >>> 16) & 0xff;
    }
    const view = (a: number, n: number): Uint8Array => t.mem.u8.slice(a, a + n);
    const rows: Array<[number, number, number, number, number]> = [];
    for (const [fs, ts] of [[0, 0], [4, 4], [8, 8], [0, 12], [12, 0], [6, 6], [5, 0], [0, 5], [3, 7], [40, 40], [1, 1], [64, 20]]) {
      for (const [fo, to] of [[0, 64], [1, 66], [3, 131]]) {
        for (const seed of [0, 0x1234, 0xffffffff, 0xdeadbeef]) {
          rows.push([scratch.start + fo, fs, pkt.start + to, ts, seed]);
          rows.push([pkt.start + to, fs, scratch.start + fo, ts, seed]);
        }
      }
    }
    for (const [from, fs, to, ts, seed] of rows) {
      const want = csumDiff(view(from, fs), view(to, ts), seed);
      expect([from, fs, to, ts, seed, r0(t.run(callDiff(from, fs, to, ts, seed)))]).toEqual([from, fs, to, ts, seed, BigInt(want)]);
    }
  });

  it('faults on an unreadable pointer and allows NULL with size 0', () => {
    const t = rig({ engine });
    const scratch = t.mem.map(RegionKind.Scratch, 'bytes', 64);
    expect(faultCode(t.run(callDiff(0, 4, scratch.start, 4, 0)))).toBe(FaultCode.HelperArgs);
    expect(faultCode(t.run(callDiff(scratch.start, 4, scratch.start + 62, 4, 0)))).toBe(FaultCode.HelperArgs);
    expect(r0(t.run(callDiff(0, 0, scratch.start, 4, 7)))).toBe(7n);
  });
});
