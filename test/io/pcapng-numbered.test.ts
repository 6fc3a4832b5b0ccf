/**
 * pcapng-numbered — PcapngWriter.writeNumbered (the per-frame path of `--out`) writes exactly
 * the bytes write() writes for the same frame, comment, interface and verdicts, whatever the
 * frame number, timestamp, resolution, offset, byte order or snaplen.
 */
import { describe, expect, it } from 'vitest';
import type { EpbVerdict } from '../../src/io/frames.js';
import { PcapngWriter, type PcapngWriterOptions } from '../../src/io/pcapng.js';
import { collector, seeded } from './support.js';

const enc = new TextEncoder();

interface Case {
  index: number;
  iface: number;
  tsSec: number;
  tsNsec: number;
  len: number;
  origLen: number;
  tail: string;
  verdicts: EpbVerdict[];
}

async function both(opts: PcapngWriterOptions, cases: readonly Case[], section?: PcapngWriterOptions): Promise<[string, string]> {
  const a = collector();
  const b = collector();
  const wa = new PcapngWriter(a.stream, opts);
  const wb = new PcapngWriter(b.stream, opts);
  const head = enc.encode('frame ');
  cases.forEach((c, i) => {
    if (section !== undefined && i === cases.length >> 1) {
      wa.newSection(section);
      wb.newSection(section);
    }
    const frame = { data: Uint8Array.from({ length: c.len }, (_, k) => (k * 7 + i) & 0xff), origLen: c.origLen, tsSec: c.tsSec, tsNsec: c.tsNsec };
    wa.write(frame, { interfaceId: c.iface, comment: `frame ${c.index}${c.tail}`, verdicts: c.verdicts });
    wb.writeNumbered(c.iface, frame, head, c.index, enc.encode(c.tail), c.verdicts);
  });
  await wa.close();
  await wb.close();
  return [Buffer.from(a.bytes()).toString('hex'), Buffer.from(b.bytes()).toString('hex')];
}

function randomCases(n: number, seed: number, ifaces: number, epochZero = true): Case[] {
  const rnd = seeded(seed);
  const indexes = [0, 9, 10, 99, 100, 12345, 0x7fffffff, 0x80000000, 2 ** 40 + 17, Number.MAX_SAFE_INTEGER];
  const tails = [' on eth0: xdp p: XDP_PASS → host via eth0', '', ' (xdp: XDP_DROP) ✓', 'x'.repeat(301)];
  const verdicts: EpbVerdict[][] = [[], [{ kind: 'xdp', value: 2 }], [{ kind: 'xdp', value: 3 }, { kind: 'tc', value: -1 }], [{ kind: 'tc', value: 7 }]];
  let sec = 1_700_000_000;
  return Array.from({ length: n }, (_, i) => {
    if (rnd() < 0.3) sec += Math.floor(rnd() * 3);
    const len = Math.floor(rnd() * 1600);
    return {
      index: i < indexes.length ? indexes[i] : Math.floor(rnd() * 2 ** 33),
      iface: Math.floor(rnd() * ifaces),
      tsSec: epochZero && rnd() < 0.05 ? 0 : sec,
      tsNsec: rnd() < 0.1 ? 999_999_999 : Math.floor(rnd() * 1e9),
      len,
      origLen: len + (rnd() < 0.2 ? Math.floor(rnd() * 100) : 0),
      tail: tails[i % tails.length],
      verdicts: verdicts[Math.floor(rnd() * verdicts.length)],
    };
  });
}

describe('PcapngWriter.writeNumbered', () => {
  it('matches write() byte for byte: nanosecond interfaces, every number width, second changes', async () => {
    const [want, got] = await both({ interfaces: [{ name: 'eth0' }, { name: 'eth1' }] }, randomCases(400, 1, 2));
    expect(got).toBe(want);
  });

  it('matches write() with microsecond, binary and offset resolutions, snaplen cuts and a big-endian section', async () => {
    const opts: PcapngWriterOptions = {
      interfaces: [{ tsresol: { base: 10, exponent: 6 } }, { tsresol: { base: 2, exponent: 20 }, snaplen: 100 }, { tsOffsetSec: 1_600_000_000 }],
    };
    const [want, got] = await both(opts, randomCases(300, 2, 3, false), { bigEndian: true, interfaces: [{ snaplen: 64 }, { tsresol: { base: 10, exponent: 3 } }, {}] });
    expect(got).toBe(want);
  });

  it('refuses what write() refuses, with the same error', async () => {
    const w = new PcapngWriter(collector().stream);
    const frame = { data: new Uint8Array(4), origLen: 4, tsSec: 1, tsNsec: 0 };
    expect(() => w.writeNumbered(3, frame, enc.encode('f '), 1, new Uint8Array(0), [])).toThrow(/interface 3 is not declared/);
    expect(() => w.writeNumbered(0, { ...frame, tsSec: 2 ** 60 }, enc.encode('f '), 1, new Uint8Array(0), [])).toThrow(/does not fit/);
    expect(() => w.writeNumbered(0, frame, enc.encode('f '), 1, new Uint8Array(70_000), [])).toThrow(/65535-byte option limit/);
  });
});
