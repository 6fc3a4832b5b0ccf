/**
 * writers — pcap and pcapng writers: round trips through the readers, the epb_verdict layout
 * xdpdump uses, stream targets, files valid up to the last frame when the writer stops early,
 * and tcpdump reading what we write.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Readable, Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureError, UsageError } from '../../src/errors.js';
import { readCapture } from '../../src/io/capture.js';
import type { EpbVerdict, FrameInput } from '../../src/io/frames.js';
import { PcapWriter, readPcap } from '../../src/io/pcap.js';
import { PcapngWriter, readPcapng } from '../../src/io/pcapng.js';
import { collector, drain, seeded, tcpdumpAvailable, tcpdumpCount } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'xdpsim-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function randomFrames(n: number, seed: number): FrameInput[] {
  const rnd = seeded(seed);
  return Array.from({ length: n }, (_, i) => {
    const len = i === 0 ? 0 : Math.floor(rnd() * 1600);
    return {
      data: Uint8Array.from({ length: len }, () => Math.floor(rnd() * 256)),
      tsSec: 1_700_000_000 + i * 3 + Math.floor(rnd() * 2),
      tsNsec: Math.floor(rnd() * 1e9),
    };
  });
}

describe('PcapWriter', () => {
  it('round-trips in both byte orders and resolutions', async () => {
    const frames = randomFrames(300, 1);
    for (const bigEndian of [false, true]) {
      for (const nanosecond of [false, true]) {
        const path = join(dir, `rt-${bigEndian}-${nanosecond}.pcap`);
        const w = new PcapWriter(path, { bigEndian, nanosecond, bufferSize: 4096 });
        for (const f of frames) w.write(f);
        await w.close();
        const r = readPcap(path);
        const got = await r.collect();
        expect(r.interfaces[0].tsresol.exponent).toBe(nanosecond ? 9 : 6);
        expect(got.length).toBe(frames.length);
        got.forEach((g, i) => {
          expect(hex(g.data)).toBe(hex(frames[i].data));
          expect(g.origLen).toBe(frames[i].data.length);
          expect(g.tsSec).toBe(frames[i].tsSec);
          expect(g.tsNsec).toBe(nanosecond ? frames[i].tsNsec : Math.floor(frames[i].tsNsec / 1000) * 1000);
        });
      }
    }
  });

  it('cuts frames to the snaplen and keeps origLen', async () => {
    const c = collector();
    const w = new PcapWriter(c.stream, { snaplen: 100 });
    w.write({ data: new Uint8Array(250).fill(7), tsSec: 1, tsNsec: 0 });
    w.write({ data: new Uint8Array(50), origLen: 1500, tsSec: 2, tsNsec: 0 });
    await w.close();
    const got = await readPcap(Readable.from([c.bytes()])).collect();
    expect(got.map((f) => [f.data.length, f.origLen])).toEqual([[100, 250], [50, 1500]]);
  });

  it('leaves a valid file up to the last frame when the producer fails', async () => {
    const path = join(dir, 'crash.pcap');
    const frames = randomFrames(50, 2);
    const w = new PcapWriter(path);
    const run = (): void => {
      try {
        frames.forEach((f, i) => {
          if (i === 37) throw new Error('program failed');
          w.write(f);
        });
      } finally {
        w.closeSync();
      }
    };
    expect(run).toThrow('program failed');
    const o = await drain(readPcap(path));
    expect(o.error).toBeUndefined();
    expect(o.frames.length).toBe(37);
    expect(() => w.write(frames[0])).toThrow(CaptureError);
  });

  it('writes through with bufferSize 0, so the file is valid while open', async () => {
    const path = join(dir, 'live.pcap');
    const w = new PcapWriter(path, { bufferSize: 0 });
    const frames = randomFrames(10, 3);
    for (const [i, f] of frames.entries()) {
      w.write(f);
      const o = await drain(readPcap(path));
      expect([o.error, o.frames.length]).toEqual([undefined, i + 1]);
    }
    await w.close();
  });
});

describe('stream targets', () => {
  it('respect backpressure through drain() and deliver every byte', async () => {
    const parts: Uint8Array[] = [];
    let pending = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Uint8Array, _enc, cb) {
        pending++;
        setTimeout(() => {
          parts.push(Uint8Array.from(chunk));
          pending--;
          cb();
        }, 1);
      },
    });
    const frames = randomFrames(400, 9);
    const w = new PcapngWriter(slow, { bufferSize: 2048 });
    let waits = 0;
    for (const f of frames) {
      w.write(f);
      if (slow.writableNeedDrain) waits++;
      await w.drain();
      expect(slow.writableNeedDrain).toBe(false);
    }
    await w.close();
    expect(pending).toBe(0);
    expect(waits).toBeGreaterThan(0);
    const got = await readPcapng(Readable.from(parts)).collect();
    expect(got.map((g) => hex(g.data))).toEqual(frames.map((f) => hex(f.data)));
  });
});

describe('PcapngWriter', () => {
  it('round-trips interfaces, sections, byte orders, tsresol, tsoffset and options', async () => {
    const frames = randomFrames(200, 4);
    const path = join(dir, 'rt.pcapng');
    const w = new PcapngWriter(path, {
      comment: 'round trip',
      interfaces: [{ name: 'a' }, { name: 'b', tsresol: { base: 2, exponent: 24 }, tsOffsetSec: 1_600_000_000 }],
    });
    const verdicts: EpbVerdict[][] = [];
    frames.forEach((f, i) => {
      if (i === 120) w.newSection({ bigEndian: true, interfaces: [{ tsresol: { base: 10, exponent: 6 } }] });
      const v: EpbVerdict[] = i % 3 === 0 ? [{ kind: 'xdp', value: i % 5 }] : i % 3 === 1 ? [{ kind: 'tc', value: (i % 9) - 1 }] : [{ kind: 'hardware', bytes: Uint8Array.of(i & 0xff, 1, 2) }];
      verdicts.push(v);
      w.write(f, { interfaceId: i < 120 ? i % 2 : 0, comment: `frame ${i} ✓`, flags: i % 4, verdicts: v });
    });
    await w.close();
    const r = readPcapng(path);
    const got = await r.collect();
    expect(r.interfaces.map((x) => [x.section, x.name, x.tsOffsetSec])).toEqual([[0, 'a', 0], [0, 'b', 1_600_000_000], [1, undefined, 0]]);
    expect(got.length).toBe(200);
    got.forEach((g, i) => {
      const f = frames[i];
      expect(hex(g.data)).toBe(hex(f.data));
      expect(g.comment).toBe(`frame ${i} ✓`);
      expect(g.flags).toBe(i % 4);
      expect(g.verdicts).toEqual(verdicts[i]);
      expect(g.tsSec).toBe(f.tsSec);
      const iface = i < 120 ? i % 2 : 2;
      const want = iface === 0 ? f.tsNsec : iface === 2 ? Math.floor(f.tsNsec / 1000) * 1000 : Number((BigInt(Math.floor((f.tsNsec * 2 ** 24) / 1e9)) * 1_000_000_000n) >> 24n);
      expect(g.tsNsec, `frame ${i}`).toBe(want);
    });
  });

  it('writes epb_verdict as xdpdump does: code 7, length 9, type 2, the value as a 64-bit integer', async () => {
    for (const bigEndian of [false, true]) {
      const c = collector();
      const w = new PcapngWriter(c.stream, { bigEndian });
      w.write({ data: new Uint8Array(60), tsSec: 1, tsNsec: 0 }, { verdicts: [{ kind: 'xdp', value: 1 }] });
      await w.close();
      const b = c.bytes();
      const v = new DataView(b.buffer);
      const shbLen = v.getUint32(4, !bigEndian);
      const idbLen = v.getUint32(shbLen + 4, !bigEndian);
      const epb = shbLen + idbLen;
      expect(v.getUint32(epb, !bigEndian)).toBe(6);
      const opt = epb + 28 + 60;
      const be = bigEndian ? '0007000902' + '0000000000000001' : '0700090002' + '0100000000000000';
      expect(hex(b.subarray(opt, opt + 13))).toBe(be);
      expect(hex(b.subarray(opt + 13, opt + 20))).toBe('00000000000000'); // padding, opt_endofopt
    }
  });

  it('refuses an undeclared interface, a timestamp before its offset and an oversized comment', () => {
    const c = collector();
    const w = new PcapngWriter(c.stream, { interfaces: [{ tsOffsetSec: 100 }] });
    expect(() => w.write({ data: new Uint8Array(1), tsSec: 200, tsNsec: 0 }, { interfaceId: 1 })).toThrow(UsageError);
    expect(() => w.write({ data: new Uint8Array(1), tsSec: 50, tsNsec: 0 })).toThrow(expect.objectContaining({ code: 'CAPTURE_BAD_TIMESTAMP' }));
    expect(() => w.write({ data: new Uint8Array(1), tsSec: 200, tsNsec: 0 }, { comment: 'x'.repeat(70000) })).toThrow(expect.objectContaining({ code: 'CAPTURE_OPTION_TOO_LONG' }));
    w.closeSync();
  });

  it('leaves a valid file up to the last frame when the producer fails', async () => {
    const path = join(dir, 'crash.pcapng');
    const w = new PcapngWriter(path);
    const frames = randomFrames(30, 5);
    try {
      for (const [i, f] of frames.entries()) {
        if (i === 21) throw new Error('stop');
        w.write(f, { verdicts: [{ kind: 'xdp', value: 2 }] });
      }
    } catch {
      // the producer stopped; the writer is closed below as a caller's finally would
    } finally {
      await w.close();
    }
    const o = await drain(readCapture(path));
    expect([o.error, o.frames.length]).toEqual([undefined, 21]);
  });
});

const why = tcpdumpAvailable ? '' : ' [skipped: tcpdump not on PATH]';
describe.skipIf(!tcpdumpAvailable)(`tcpdump reads what the writers write${why}`, () => {
  it('pcap (micro and nano) and pcapng with comments and verdicts', async () => {
    const frames = randomFrames(40, 6).map((f, i) => ({ ...f, data: f.data.length < 14 ? new Uint8Array(60).fill(i) : f.data }));
    const paths: string[] = [];
    for (const nanosecond of [false, true]) {
      const path = join(dir, `td-${nanosecond}.pcap`);
      const w = new PcapWriter(path, { nanosecond });
      for (const f of frames) w.write(f);
      await w.close();
      paths.push(path);
    }
    const path = join(dir, 'td.pcapng');
    const w = new PcapngWriter(path, { interfaces: [{ name: 'eth0' }, { name: 'eth1' }] });
    frames.forEach((f, i) => w.write(f, { interfaceId: i % 2, comment: `xdp verdict ${i % 5}`, verdicts: [{ kind: 'xdp', value: i % 5 }] }));
    w.newSection({ interfaces: [{ name: 'eth0' }] });
    frames.forEach((f) => w.write(f));
    await w.close();
    paths.push(path);
    for (const p of paths) {
      const t = tcpdumpCount(p);
      expect([p, t.status, t.count]).toEqual([p, 0, (await readCapture(p).collect()).length]);
    }
    expect(readFileSync(path).length).toBeGreaterThan(0);
  });
});
