/**
 * SkBuff.reset and the __sk_buff sync: a reset skb must look as if its whole region had been
 * zeroed, whatever earlier frames, metadata, pushes and pulls left there (reset clears only what
 * may be dirty), and pushCtx / pullCtx must carry every field, u64 halves included.
 */
import { describe, expect, it } from 'vitest';
import { Memory } from '../../src/vm/memory.js';
import { LOOPBACK } from '../../src/hooks/datapath.js';
import { SKB_REGION_SIZE, SkBuff, SkBuffField as F } from '../../src/hooks/skb.js';

function filled(n: number, v: number): Uint8Array {
  return new Uint8Array(n).fill(v);
}

/** outsideIsZero tells whether every byte of the skb region outside [data - metaLen, data + len) is 0. */
function outsideIsZero(skb: SkBuff): boolean {
  const u8 = skb.mem.u8;
  const lo = skb.data - skb.metaLen;
  const hi = skb.data + skb.len;
  for (let a = skb.head; a < skb.head + SKB_REGION_SIZE; a++) if ((a < lo || a >= hi) && u8[a] !== 0) return false;
  return true;
}

describe('SkBuff.reset', () => {
  const steps: Array<[string, (skb: SkBuff) => void]> = [
    ['large frame', (s) => s.reset(filled(1500, 0xff), { dev: LOOPBACK })],
    ['small frame', (s) => s.reset(filled(64, 0xee), { dev: LOOPBACK })],
    ['small frame with metadata', (s) => s.reset(filled(60, 0xdd), { dev: LOOPBACK, meta: filled(32, 0xcc) })],
    ['frame without metadata after metadata', (s) => s.reset(filled(80, 0xbb), { dev: LOOPBACK })],
    ['large frame, pushed and written through the ctx window', (s) => {
      s.reset(filled(1500, 0xaa), { dev: LOOPBACK, meta: filled(8, 0x99) });
      s.push(100);
      s.pushCtx();
      s.mem.u8.fill(0x77, s.data - s.metaLen, s.data + s.len);
      s.pull(100);
    }],
    ['empty frame', (s) => s.reset(new Uint8Array(0), { dev: LOOPBACK })],
    ['tiny frame', (s) => s.reset(filled(14, 0x55), { dev: LOOPBACK })],
  ];

  it('leaves every byte outside the frame and metadata zero after any history', () => {
    const skb = new SkBuff(new Memory(), LOOPBACK);
    // Garbage over the whole region before the first reset.
    skb.mem.u8.fill(0x11, skb.head, skb.head + SKB_REGION_SIZE);
    for (const [name, step] of steps) {
      step(skb);
      skb.reset(filled(64 + name.length, 0x42), { dev: LOOPBACK, meta: name.length % 2 === 0 ? filled(4, 0x43) : undefined });
      expect(outsideIsZero(skb), name).toBe(true);
      expect([...skb.bytes()].every((b) => b === 0x42), name).toBe(true);
    }
  });

  it('clears the ctx, cb[] included', () => {
    const skb = new SkBuff(new Memory(), LOOPBACK);
    skb.reset(filled(64, 1), { dev: LOOPBACK });
    skb.mem.u8.fill(0xff, skb.ctxAddr, skb.ctxAddr + F.SIZE);
    skb.reset(filled(64, 1), { dev: LOOPBACK });
    expect([...skb.mem.u8.subarray(skb.ctxAddr, skb.ctxAddr + F.SIZE)].every((b) => b === 0)).toBe(true);
    expect([...skb.cb()].every((b) => b === 0)).toBe(true);
  });
});

describe('SkBuff ctx sync', () => {
  it('pushCtx writes and pullCtx reads the u64 fields as whole values', () => {
    const skb = new SkBuff(new Memory(), LOOPBACK);
    skb.reset(filled(64, 1), { dev: LOOPBACK });
    skb.tstamp = 0xfedcba9876543210n;
    skb.hwtstamp = 0x0123456789abcdefn;
    skb.pushCtx();
    const dv = skb.mem.dv;
    expect(dv.getBigUint64(skb.ctxAddr + F.tstamp, true)).toBe(0xfedcba9876543210n);
    expect(dv.getBigUint64(skb.ctxAddr + F.hwtstamp, true)).toBe(0x0123456789abcdefn);
    dv.setBigUint64(skb.ctxAddr + F.tstamp, 0x8000000100000002n, true);
    skb.pullCtx();
    expect(skb.tstamp).toBe(0x8000000100000002n);
    expect(skb.hwtstamp).toBe(0x0123456789abcdefn);
  });

  it('pushCtx writes u32 fields modulo 2^32 and the packet pointers', () => {
    const skb = new SkBuff(new Memory(), LOOPBACK);
    skb.reset(filled(64, 1), { dev: LOOPBACK, meta: filled(8, 2) });
    skb.mark = -1;
    skb.hash = 0x1_0000_0005;
    skb.protocol = 0x86dd;
    skb.pushCtx();
    const dv = skb.mem.dv;
    const c = skb.ctxAddr;
    expect(dv.getUint32(c + F.mark, true)).toBe(0xffffffff);
    expect(dv.getUint32(c + F.hash, true)).toBe(5);
    expect(dv.getUint32(c + F.protocol, true)).toBe(0xdd86);
    expect(dv.getUint32(c + F.data_end, true) - dv.getUint32(c + F.data, true)).toBe(64);
    expect(dv.getUint32(c + F.data, true) - dv.getUint32(c + F.data_meta, true)).toBe(8);
  });

  it('pushCtx still works after the memory grew', () => {
    const mem = new Memory();
    const skb = new SkBuff(mem, LOOPBACK);
    skb.reset(filled(64, 1), { dev: LOOPBACK });
    skb.pushCtx();
    mem.map('scratch', 'big', 8 << 20);
    skb.mark = 1234;
    skb.pushCtx();
    expect(mem.dv.getUint32(skb.ctxAddr + F.mark, true)).toBe(1234);
    mem.dv.setUint32(skb.ctxAddr + F.priority, 77, true);
    skb.pullCtx();
    expect(skb.priority).toBe(77);
  });
});
