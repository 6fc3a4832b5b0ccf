/** Checksum arithmetic against a direct RFC 1071 computation. */
import { describe, expect, it } from 'vitest';
import { csumFold, csumPartial, csumReplace2, csumReplace4, csumReplaceByDiff, csumSub, csumAdd } from '../../src/hooks/csum.js';

/** rfc1071 is the Internet checksum of `b` (big-endian words), as a host-order u16. */
function rfc1071(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (i + 1 < b.length ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** memOrder reads a big-endian u16 checksum as the kernel's little-endian __sum16. */
function memOrder(v: number): number {
  return ((v & 0xff) << 8) | (v >>> 8);
}

function seeded(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

describe('csum', () => {
  it('csum_fold(csum_partial) equals RFC 1071 for even and odd lengths', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 19, 20, 64, 1499]) {
      const b = seeded(n, n + 1);
      expect(csumFold(csumPartial(b, 0)), `len ${n}`).toBe(memOrder(rfc1071(b)));
    }
  });

  it('csum_replace4/2/by_diff give the checksum of the modified header', () => {
    for (let seed = 1; seed < 40; seed++) {
      const hdr = seeded(20, seed);
      hdr[10] = 0;
      hdr[11] = 0;
      const sum = csumFold(csumPartial(hdr, 0));
      const dv = new DataView(hdr.buffer);
      const from4 = dv.getUint32(12, true);
      const to4 = (seed * 0x9e3779b9) >>> 0;
      const from2 = dv.getUint16(8, true);
      const to2 = (seed * 7919) & 0xffff;
      const mod = hdr.slice();
      const mdv = new DataView(mod.buffer);
      mdv.setUint32(12, to4, true);
      mdv.setUint16(8, to2, true);
      const want = csumFold(csumPartial(mod, 0));
      expect(csumReplace2(csumReplace4(sum, from4, to4), from2, to2)).toBe(want);
      const diff = csumAdd(csumSub(to4, from4), csumSub(to2, from2));
      expect(csumReplaceByDiff(sum, diff)).toBe(want);
    }
  });
});
