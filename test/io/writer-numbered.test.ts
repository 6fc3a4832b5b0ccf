/**
 * writer-numbered — PcapngWriter.writeNumbered (the `replay --out` fast path) writes exactly the
 * bytes `write` writes for the same frame and options; the write buffer's edges (frames larger
 * than the buffer, the flush at close, write-through) and a full disk naming the file.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureError, UsageError } from '../../src/errors.js';
import { readCapture } from '../../src/io/capture.js';
import type { EpbVerdict, FrameInput } from '../../src/io/frames.js';
import { PcapngWriter, type PcapngInterfaceOptions } from '../../src/io/pcapng.js';
import { drain, seeded } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'xdpsim-numbered-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Case {
  data: Uint8Array;
  origLen: number;
  tsSec: number;
  tsNsec: number;
  iface: number;
  n: number;
  tail: string;
  verdicts: EpbVerdict[];
  flags?: number;
}

/** cases are frames of every length mod 4 (0 to beyond the buffer), numbers of 1 to 16 digits, seconds that change or not. */
function cases(count: number, seed: number, maxLen: number): Case[] {
  const rnd = seeded(seed);
  const tails = [' on eth0: xdp parse: XDP_PASS → host', '', ' é → ü (two-byte and three-byte UTF-8)', 'x', 'yz', 'abc'];
  const numbers = [0, 7, 9, 10, 99, 100, 12345, 999_999, 2_147_483_647, 2_147_483_648, 4_294_967_296, Number.MAX_SAFE_INTEGER];
  const out: Case[] = [];
  for (let i = 0; i < count; i++) {
    const len = i % 7 === 0 ? Math.floor(rnd() * maxLen) : Math.floor(rnd() * 130);
    const vs: EpbVerdict[] = [];
    for (let k = Math.floor(rnd() * 3); k > 0; k--) vs.push({ kind: rnd() < 0.5 ? 'xdp' : 'tc', value: Math.floor(rnd() * 8) - 1 });
    out.push({
      data: Uint8Array.from({ length: len }, () => Math.floor(rnd() * 256)),
      origLen: rnd() < 0.2 ? len + Math.floor(rnd() * 100) : rnd() < 0.1 ? 0 : len,
      tsSec: 1_700_000_000 + Math.floor(i / 5) + (rnd() < 0.1 ? 3 : 0),
      tsNsec: Math.floor(rnd() * 1e9),
      iface: Math.floor(rnd() * 2),
      n: i < numbers.length ? numbers[i] : Math.floor(rnd() * 1e7),
      tail: tails[i % tails.length],
      verdicts: vs,
      ...(i % 11 === 3 ? { flags: 0x1234 } : {}),
    });
  }
  return out;
}

function writeBoth(name: string, list: Case[], ifaces: PcapngInterfaceOptions[], bigEndian: boolean, bufferSize: number): [Buffer, Buffer] {
  const a = join(dir, `${name}-write.pcapng`);
  const b = join(dir, `${name}-numbered.pcapng`);
  const wa = new PcapngWriter(a, { interfaces: ifaces, bigEndian, bufferSize });
  const wb = new PcapngWriter(b, { interfaces: ifaces, bigEndian, bufferSize });
  const head = 'frame ';
  for (const c of list) {
    const frame: FrameInput = { data: c.data, origLen: c.origLen, tsSec: c.tsSec, tsNsec: c.tsNsec };
    wa.write(frame, { interfaceId: c.iface, comment: `${head}${c.n}${c.tail}`, verdicts: c.verdicts, ...(c.flags !== undefined ? { flags: c.flags } : {}) });
    const opts = wb.numbered(head, c.tail, { verdicts: c.verdicts, ...(c.flags !== undefined ? { flags: c.flags } : {}) });
    wb.writeNumbered(c.data, c.origLen, c.tsSec, c.tsNsec, c.iface, opts, c.n);
  }
  wa.closeSync();
  wb.closeSync();
  return [readFileSync(a), readFileSync(b)];
}

describe('PcapngWriter.writeNumbered', () => {
  it('writes the bytes write writes: lengths mod 4, numbers of 1 to 16 digits, UTF-8 tails, verdicts, flags, both byte orders', () => {
    const ifaces: PcapngInterfaceOptions[] = [{ name: 'eth0' }, { name: 'eth1', tsresol: { base: 10, exponent: 6 }, snaplen: 96 }];
    for (const bigEndian of [false, true]) {
      const [a, b] = writeBoth(`orders-${bigEndian}`, cases(400, 3, 3000), ifaces, bigEndian, 4096);
      expect(b.length).toBe(a.length);
      expect(b.equals(a)).toBe(true);
    }
  });

  it('handles frames larger than the write buffer and the flush at close (and a write-through buffer)', async () => {
    for (const bufferSize of [0, 256, 4096]) {
      const list = cases(60, 9, 70_000);
      const [a, b] = writeBoth(`big-${bufferSize}`, list, [{ name: 'eth0' }, { name: 'eth1' }], false, bufferSize);
      expect(b.equals(a)).toBe(true);
      const o = await drain(readCapture(join(dir, `big-${bufferSize}-numbered.pcapng`)));
      expect(o.error).toBeUndefined();
      expect(o.frames.map((f) => f.data.length)).toEqual(list.map((c) => c.data.length));
      expect(o.frames.map((f) => f.comment)).toEqual(list.map((c) => `frame ${c.n}${c.tail}`));
    }
  });

  it('keeps what is buffered until close, then the file has every frame', async () => {
    const path = join(dir, 'buffered.pcapng');
    const w = new PcapngWriter(path, { bufferSize: 1 << 20 });
    const opts = w.numbered('frame ', ' on eth0', { verdicts: [{ kind: 'xdp', value: 2 }] });
    for (let i = 0; i < 100; i++) w.writeNumbered(new Uint8Array(60).fill(i), 60, 1_700_000_000, i, 0, opts, i);
    expect(readFileSync(path).length).toBe(0);
    await w.close();
    const o = await drain(readCapture(path));
    expect(o.frames.length).toBe(100);
    expect(o.frames[99].comment).toBe('frame 99 on eth0');
    expect(o.frames[99].verdicts).toEqual([{ kind: 'xdp', value: 2 }]);
  });

  it('refuses an undeclared interface, a bad timestamp, an oversized comment and options of another byte order', () => {
    const path = join(dir, 'refuse.pcapng');
    const w = new PcapngWriter(path, { interfaces: [{ tsOffsetSec: 100 }] });
    const opts = w.numbered('frame ', '');
    expect(() => w.writeNumbered(new Uint8Array(1), 1, 200, 0, 1, opts, 0)).toThrow(UsageError);
    expect(() => w.writeNumbered(new Uint8Array(1), 1, 50, 0, 0, opts, 0)).toThrow(expect.objectContaining({ code: 'CAPTURE_BAD_TIMESTAMP' }));
    expect(() => w.writeNumbered(new Uint8Array(1), 1, 200, 1e9, 0, opts, 0)).toThrow(expect.objectContaining({ code: 'CAPTURE_BAD_TIMESTAMP' }));
    const long = w.numbered('frame ', 'x'.repeat(70_000));
    expect(() => w.writeNumbered(new Uint8Array(1), 1, 200, 0, 0, long, 0)).toThrow(expect.objectContaining({ code: 'CAPTURE_OPTION_TOO_LONG' }));
    const w2 = new PcapngWriter(join(dir, 'refuse-be.pcapng'), { bigEndian: true });
    expect(() => w2.writeNumbered(new Uint8Array(1), 1, 200, 0, 0, opts, 0)).toThrow(UsageError);
    w.closeSync();
    w2.closeSync();
  });
});

describe.skipIf(!existsSync('/dev/full'))('write errors name the file', () => {
  it('a full disk fails the flush with CAPTURE_IO naming the file', () => {
    const w = new PcapngWriter('/dev/full', { bufferSize: 1024, fileName: 'full.pcapng' });
    const opts = w.numbered('frame ', '');
    let err: unknown;
    try {
      for (let i = 0; i < 100; i++) w.writeNumbered(new Uint8Array(64), 64, 1_700_000_000, 0, 0, opts, i);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CaptureError);
    expect(err).toMatchObject({ code: 'CAPTURE_IO', fields: { file: 'full.pcapng' } });
  });
});
