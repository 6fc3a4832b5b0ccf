/**
 * hostile — truncations at every byte offset, impossible lengths, garbage and mutated files: each
 * gives a CaptureError with the right code and byte offset after every good frame before it, and
 * nothing hangs or throws anything else.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureError } from '../../src/errors.js';
import { readCapture } from '../../src/io/capture.js';
import { PcapWriter, readPcap } from '../../src/io/pcap.js';
import { PcapngWriter, readPcapng } from '../../src/io/pcapng.js';
import { block, cat, chunked, collector, drain, epb, idb, PCAPS, seeded, shb, u32s, type Outcome } from './support.js';

/** pcapRecords walks a pcap's records: [start, end) of each. */
function pcapRecords(b: Uint8Array, le = true): [number, number][] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: [number, number][] = [];
  for (let o = 24; o < b.length; ) {
    const end = o + 16 + v.getUint32(o + 8, le);
    out.push([o, end]);
    o = end;
  }
  return out;
}

/** pcapngBlocks walks a single-byte-order pcapng's blocks: [start, end, type] of each. */
function pcapngBlocks(b: Uint8Array, le = true): [number, number, number][] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: [number, number, number][] = [];
  for (let o = 0; o < b.length; ) {
    const end = o + v.getUint32(o + 4, le);
    out.push([o, end, v.getUint32(o, le)]);
    o = end;
  }
  return out;
}

function expectCaptureError(o: Outcome, code: string, offset: number, frames: number): void {
  expect(o.error, `expected ${code}`).toBeInstanceOf(CaptureError);
  expect((o.error as CaptureError).code).toBe(code);
  expect((o.error as CaptureError).fields.offset).toBe(offset);
  expect(o.frames.length).toBe(frames);
}

describe('truncation at every byte offset', () => {
  async function smallFiles(): Promise<{ name: string; bytes: Uint8Array; le: boolean }[]> {
    const frames = await readPcap(join(PCAPS, 'parity/arp.pcap')).collect();
    const out: { name: string; bytes: Uint8Array; le: boolean }[] = [{ name: 'arp.pcap', bytes: readFileSync(join(PCAPS, 'parity/arp.pcap')), le: true }];
    const c = collector();
    const w = new PcapWriter(c.stream, { bigEndian: true, nanosecond: true });
    frames.slice(0, 3).forEach((f) => w.write(f));
    await w.close();
    out.push({ name: 'arp-be-ns.pcap', bytes: c.bytes(), le: false });
    return out;
  }

  it('pcap (both byte orders): frames up to the cut, then CAPTURE_TRUNCATED at the cut record', async () => {
    for (const { name, bytes, le } of await smallFiles()) {
      const recs = pcapRecords(bytes, le);
      for (let len = 0; len <= bytes.length; len++) {
        const o = await drain(readCapture(chunked(bytes.subarray(0, len), 29), { fileName: name, chunkSize: 32 }));
        const complete = recs.filter(([, e]) => e <= len).length;
        const cut = recs.find(([s, e]) => s < len && len < e);
        if (len < 24) expectCaptureError(o, 'CAPTURE_TRUNCATED', 0, 0);
        else if (cut !== undefined) expectCaptureError(o, 'CAPTURE_TRUNCATED', cut[0], complete);
        else {
          expect(o.error, `${name} cut at ${len}`).toBeUndefined();
          expect(o.frames.length).toBe(complete);
        }
        if (o.error !== undefined) expect((o.error as CaptureError).fields.file).toBe(name);
      }
    }
  });

  it('pcapng (both byte orders): frames up to the cut, then CAPTURE_TRUNCATED at the cut block', async () => {
    const frames = await readPcap(join(PCAPS, 'parity/icmp.pcap')).collect();
    const c = collector();
    const w = new PcapngWriter(c.stream, { bigEndian: true, interfaces: [{ name: 'x' }, { tsresol: { base: 2, exponent: 30 } }] });
    frames.slice(0, 4).forEach((f, i) => w.write(f, { interfaceId: i % 2, comment: `#${i}`, verdicts: [{ kind: 'xdp', value: i }] }));
    await w.close();
    const files = [
      { bytes: Uint8Array.from(readFileSync(join(PCAPS, 'formats/blocks.pcapng'))), le: true },
      { bytes: c.bytes(), le: false },
    ];
    const isPacket = (t: number): boolean => t === 2 || t === 3 || t === 6;
    for (const { bytes, le } of files) {
      const blocks = pcapngBlocks(bytes, le);
      for (let len = 0; len <= bytes.length; len++) {
        const o = await drain(readPcapng(chunked(bytes.subarray(0, len), 53), { chunkSize: 64 }));
        const complete = blocks.filter(([, e, t]) => e <= len && isPacket(t)).length;
        const cut = blocks.find(([s, e]) => s < len && len < e);
        if (len === 0) expectCaptureError(o, 'CAPTURE_TRUNCATED', 0, 0);
        else if (cut !== undefined) expectCaptureError(o, 'CAPTURE_TRUNCATED', cut[0], complete);
        else {
          expect(o.error, `cut at ${len}`).toBeUndefined();
          expect(o.frames.length).toBe(complete);
        }
      }
    }
  });
});

describe('impossible lengths and bad blocks', () => {
  const frame = new Uint8Array(60).fill(0xab);
  const pcapHeader = (snaplen: number): Uint8Array => cat(u32s(true, 0xa1b2c3d4), Uint8Array.of(2, 0, 4, 0), u32s(true, 0, 0, snaplen, 1));
  const rec = (caplen: number, data: Uint8Array): Uint8Array => cat(u32s(true, 1, 2, caplen, caplen), data);

  it('pcap: caplen above the snaplen or 256 KiB', async () => {
    const good = rec(60, frame);
    for (const [snaplen, caplen] of [[100, 101], [0, 262_145], [0xffffffff, 262_145], [65535, 0xffffffff]]) {
      const bytes = cat(pcapHeader(snaplen), good, rec(caplen, frame));
      const o = await drain(readPcap(chunked(bytes, 17)));
      expectCaptureError(o, 'CAPTURE_BAD_LENGTH', 24 + good.length, 1);
    }
    const ok = await drain(readPcap(chunked(cat(pcapHeader(0), rec(60, frame)), 17)));
    expect(ok.error).toBeUndefined();
  });

  it('pcap: bad magic, bad version, the modified format', async () => {
    const v3 = pcapHeader(0);
    v3[4] = 3;
    const kuz = cat(u32s(true, 0xa1b2cd34), pcapHeader(0).subarray(4));
    for (const [bytes, code] of [[v3, 'CAPTURE_BAD_HEADER'], [kuz, 'CAPTURE_BAD_MAGIC'], [cat(u32s(true, 0xdeadbeef), new Uint8Array(40)), 'CAPTURE_BAD_MAGIC']] as const) {
      expectCaptureError(await drain(readCapture(chunked(bytes, 8))), code, 0, 0);
      expectCaptureError(await drain(readPcap(chunked(bytes, 8))), code, 0, 0);
    }
  });

  it('pcapng: every kind of bad block after one good frame', async () => {
    const head = cat(shb(), idb(1, 1000), epb(0, 0, 0, frame));
    const at = head.length;
    const rawBlock = (type: number, len: number, trailer: number, bodyLen = Math.max(0, len - 12)): Uint8Array =>
      cat(u32s(true, type, len), new Uint8Array(bodyLen), u32s(true, trailer));
    const tooBig = epb(0, 0, 0, new Uint8Array(2000));
    const bigSnap = cat(idb(1, 0), epb(1, 0, 0, new Uint8Array(262_148), true, 262_148, 262_148));
    const overrun = cat(u32s(true, 6, 100), u32s(true, 0, 0, 0, 64, 64), new Uint8Array(64), u32s(true, (200 << 16) | 1), u32s(true, 100));
    const shbV2 = shb();
    shbV2[12] = 2;
    const badBom = shb();
    badBom[8] = 0x99;
    const cases: [string, Uint8Array, string, number][] = [
      ['length not a multiple of 4', rawBlock(6, 34, 34, 22), 'CAPTURE_BAD_LENGTH', at],
      ['length below 12', cat(u32s(true, 6, 8), new Uint8Array(8)), 'CAPTURE_BAD_LENGTH', at],
      ['EPB below its 32-byte minimum', rawBlock(6, 28, 28), 'CAPTURE_BAD_LENGTH', at],
      ['trailing length differs', rawBlock(5, 24, 28), 'CAPTURE_BAD_LENGTH', at],
      ['block above 16 MiB', rawBlock(4, 0x2000000, 0x2000000, 16), 'CAPTURE_BAD_LENGTH', at],
      ['caplen above the block', epb(0, 0, 0, frame, true, 60, 200), 'CAPTURE_BAD_LENGTH', at],
      ['caplen above the snaplen', tooBig, 'CAPTURE_BAD_LENGTH', at],
      ['caplen above 256 KiB', bigSnap, 'CAPTURE_BAD_LENGTH', at + 20],
      ['packet for an undeclared interface', epb(7, 0, 0, frame), 'CAPTURE_BAD_BLOCK', at],
      ['SPB with no interface 0 in a new section', cat(shb(), block(3, cat(u32s(true, 4), new Uint8Array(4)))), 'CAPTURE_BAD_BLOCK', at + 28],
      ['option overrunning its block', overrun, 'CAPTURE_BAD_BLOCK', at],
      ['SHB of version 2', shbV2, 'CAPTURE_BAD_BLOCK', at],
      ['SHB with a bad byte-order magic', badBom, 'CAPTURE_BAD_BLOCK', at],
    ];
    for (const [what, tail, code, offset] of cases) {
      const o = await drain(readPcapng(chunked(cat(head, tail), 41), { chunkSize: 64 }));
      expect(o.error, what).toBeInstanceOf(CaptureError);
      expect([what, (o.error as CaptureError).code, (o.error as CaptureError).fields.offset, o.frames.length]).toEqual([what, code, offset, 1]);
    }
  });

  it('pcapng: a file that does not start with an SHB', async () => {
    const o = await drain(readPcapng(chunked(cat(idb(1, 0), epb(0, 0, 0, frame)), 64)));
    expectCaptureError(o, 'CAPTURE_BAD_MAGIC', 0, 0);
  });

  it('the committed bad captures give the documented errors', async () => {
    const sample = await readPcap(join(PCAPS, 'sample.pcap')).collect();
    const expectations: [string, string, number, number][] = [
      ['bad/truncated.pcap', 'CAPTURE_TRUNCATED', sample[10].fileOffset, 10],
      ['bad/caplen-too-big.pcap', 'CAPTURE_BAD_LENGTH', sample[6].fileOffset, 6],
      ['bad/linktype-wifi.pcap', 'CAPTURE_LINKTYPE', 0, 0],
    ];
    for (const [rel, code, offset, n] of expectations) {
      const o = await drain(readCapture(join(PCAPS, rel)));
      expectCaptureError(o, code, offset, n);
      expect(o.frames.map((f) => Buffer.from(f.data).toString('hex'))).toEqual(sample.slice(0, n).map((f) => Buffer.from(f.data).toString('hex')));
    }
    const garbage = readFileSync(join(PCAPS, 'bad/garbage-block.pcapng'));
    expectCaptureError(await drain(readCapture(join(PCAPS, 'bad/garbage-block.pcapng'))), 'CAPTURE_BAD_LENGTH', garbage.length - 32, 5);
    const trunc = await drain(readCapture(join(PCAPS, 'bad/truncated.pcapng')));
    expect(trunc.frames.length).toBe(4);
    expect((trunc.error as CaptureError).code).toBe('CAPTURE_TRUNCATED');
    expect((trunc.error as CaptureError).fields.offset).toBe(trunc.frames[3].fileOffset + 12 + 20 + ((trunc.frames[3].data.length + 3) & ~3));
  });
});

describe('garbage and mutations', () => {
  function checkOutcome(o: Outcome, len: number, what: string): void {
    if (o.error === undefined) return;
    expect(o.error, `${what}: ${String(o.error)}`).toBeInstanceOf(CaptureError);
    const off = (o.error as CaptureError).fields.offset;
    expect(typeof off).toBe('number');
    expect(off as number).toBeLessThanOrEqual(len);
    for (const f of o.frames) expect(f.fileOffset).toBeLessThan(off as number);
  }

  it('random bytes, alone or after a valid header, give frames or a CaptureError', async () => {
    const rnd = seeded(42);
    const rand = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
    const heads = [new Uint8Array(0), cat(u32s(true, 0xa1b2c3d4), Uint8Array.of(2, 0, 4, 0), u32s(true, 0, 0, 0, 1)), cat(shb(), idb(1, 0))];
    for (let i = 0; i < 300; i++) {
      const head = heads[i % 3];
      const bytes = cat(head, rand(Math.floor(rnd() * 3000)));
      const o = await drain(readCapture(chunked(bytes, 1 + Math.floor(rnd() * 500)), { chunkSize: 128 }));
      checkOutcome(o, bytes.length, `garbage #${i}`);
    }
  });

  it('mutated valid files give frames or a CaptureError', async () => {
    const rnd = seeded(7);
    for (const rel of ['formats/blocks.pcapng', 'parity/vlan.pcap', 'formats/all-be.pcap']) {
      const base = readFileSync(join(PCAPS, rel));
      for (let i = 0; i < 150; i++) {
        const b = Uint8Array.from(base);
        const flips = 1 + Math.floor(rnd() * 8);
        for (let k = 0; k < flips; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        const o = await drain(readCapture(chunked(b, 1 + Math.floor(rnd() * 2000)), { chunkSize: 256 }));
        checkOutcome(o, b.length, `${rel} mutation #${i}`);
      }
    }
  });
});
