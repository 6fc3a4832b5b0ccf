/**
 * memory — the readers stream: a 3 GiB pcap and a 1 GiB pcapng, synthesised on the fly by a
 * Readable (nothing on disk), are read to the end while RSS stays flat. Chunks are not a multiple
 * of the record size, so records span chunk boundaries all the way through.
 *
 * Set XDPSIM_MEMTEST_GIB to change the pcap size (e.g. 0.25 on a slow machine).
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readPcap } from '../../src/io/pcap.js';
import { readPcapng } from '../../src/io/pcapng.js';
import { cat, epb, idb, shb, u32s } from './support.js';

const GIB = 1024 ** 3;
const CHUNK = 1_000_003; // prime-ish: records straddle every chunk boundary
const RSS_GROWTH_LIMIT = 200 * 1024 * 1024;

/**
 * repeating makes a Readable of `head` then `record` repeated `count` times, pushed as CHUNK-byte
 * views into one precomputed buffer (so the generator itself allocates nothing per chunk).
 */
function repeating(head: Uint8Array, record: Uint8Array, count: number): Readable {
  const reps = Math.ceil((CHUNK + record.length) / record.length) + 1;
  const pattern = new Uint8Array(reps * record.length);
  for (let i = 0; i < reps; i++) pattern.set(record, i * record.length);
  const total = count * record.length;
  let sentHead = false;
  let off = 0;
  return new Readable({
    highWaterMark: 4 * CHUNK,
    read() {
      if (!sentHead) {
        sentHead = true;
        this.push(head);
        return;
      }
      if (off >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(CHUNK, total - off);
      const start = off % record.length;
      this.push(pattern.subarray(start, start + n));
      off += n;
    },
  });
}

interface Watch {
  frames: number;
  bytes: number;
  baseline: number;
  peak: number;
}

async function stream(frames: AsyncIterable<{ data: Uint8Array }>, warmup: number): Promise<Watch> {
  const w: Watch = { frames: 0, bytes: 0, baseline: 0, peak: 0 };
  for await (const f of frames) {
    w.frames++;
    w.bytes += f.data.length;
    if ((w.frames & 0xffff) === 0) {
      const rss = process.memoryUsage.rss();
      if (w.frames <= warmup) w.baseline = rss;
      else w.peak = Math.max(w.peak, rss);
    }
  }
  return w;
}

describe('bounded memory', () => {
  it('streams a 3 GiB pcap with flat RSS', { timeout: 180_000 }, async () => {
    const gib = Number(process.env.XDPSIM_MEMTEST_GIB ?? '3');
    const frame = new Uint8Array(1500).map((_, i) => i & 0xff);
    const record = cat(u32s(true, 1_700_000_000, 5, frame.length, frame.length), frame);
    const count = Math.ceil((gib * GIB) / record.length);
    const head = cat(u32s(true, 0xa1b2c3d4), Uint8Array.of(2, 0, 4, 0), u32s(true, 0, 0, 65535, 1));
    const w = await stream(readPcap(repeating(head, record, count), { fileName: 'synthetic.pcap' }), 200_000);
    expect(w.frames).toBe(count);
    expect(w.bytes).toBe(count * frame.length);
    expect(w.baseline).toBeGreaterThan(0);
    expect(w.peak - w.baseline, `RSS grew from ${w.baseline >> 20} MiB to ${w.peak >> 20} MiB`).toBeLessThan(RSS_GROWTH_LIMIT);
  });

  it('streams a 1 GiB pcapng with flat RSS', { timeout: 120_000 }, async () => {
    const frame = new Uint8Array(1499).map((_, i) => (i * 7) & 0xff);
    const record = epb(0, 0x5f5e1, 0x1000, frame);
    const count = Math.ceil(GIB / record.length);
    const w = await stream(readPcapng(repeating(cat(shb(), idb(1, 0)), record, count), { fileName: 'synthetic.pcapng' }), 150_000);
    expect(w.frames).toBe(count);
    expect(w.bytes).toBe(count * frame.length);
    expect(w.peak - w.baseline, `RSS grew from ${w.baseline >> 20} MiB to ${w.peak >> 20} MiB`).toBeLessThan(RSS_GROWTH_LIMIT);
  });
});
