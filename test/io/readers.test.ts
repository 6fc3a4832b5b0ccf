/**
 * readers — every reader path over the committed captures and hand-made files: classic pcap in
 * both byte orders and both resolutions, pcapng sections/interfaces/byte orders/tsresol/blocks,
 * link-type conversion, stream sources with chunks of any size.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureError } from '../../src/errors.js';
import { readCapture } from '../../src/io/capture.js';
import { frameTimeNs, type Frame } from '../../src/io/frames.js';
import { LINKTYPE, SYNTHETIC_HOST_MAC } from '../../src/io/linktype.js';
import { readPcap } from '../../src/io/pcap.js';
import { readPcapng } from '../../src/io/pcapng.js';
import { block, cat, chunked, drain, epb, idb, PCAPS, shb, u32s } from './support.js';

const p = (rel: string): string => join(PCAPS, rel);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

async function frames(rel: string): Promise<Frame[]> {
  return readCapture(p(rel)).collect();
}

describe('classic pcap', () => {
  it('reads the nanosecond reference and its first timestamp exactly', async () => {
    const r = readPcap(p('parity/all.pcap'));
    const fs = await r.collect();
    expect(fs.length).toBe(95);
    expect(r.interfaces[0].tsresol).toEqual({ base: 10, exponent: 9 });
    expect(fs[0].tsSec).toBe(1_704_067_200 + 3600);
    expect(fs[0].tsNsec).toBe(123_457);
    expect(fs.map((f) => f.index)).toEqual(fs.map((_, i) => i));
    expect(fs[0].fileOffset).toBe(24);
    expect(fs[1].fileOffset).toBe(24 + 16 + fs[0].data.length);
  });

  it('gives the same frames in every byte order and resolution', async () => {
    const ref = await frames('parity/all.pcap');
    for (const rel of ['formats/all-be.pcap', 'formats/all-us.pcap', 'formats/all-ns-be.pcap']) {
      const fs = await frames(rel);
      expect(fs.length, rel).toBe(ref.length);
      fs.forEach((f, i) => {
        expect(hex(f.data), `${rel} #${i}`).toBe(hex(ref[i].data));
        expect(f.origLen).toBe(ref[i].origLen);
        expect(f.tsSec).toBe(ref[i].tsSec);
        const micro = rel.includes('-ns') ? ref[i].tsNsec : Math.floor(ref[i].tsNsec / 1000) * 1000;
        expect(f.tsNsec, `${rel} #${i}`).toBe(micro);
      });
    }
  });

  it('reads identically from a path and from streams cut into chunks of any size', async () => {
    const bytes = readFileSync(p('parity/icmp.pcap'));
    const ref = await frames('parity/icmp.pcap');
    for (const size of [1, 3, 7, 16, 61, 4096]) {
      const fs = await readPcap(chunked(bytes, size), { fileName: 'icmp.pcap', chunkSize: 64 }).collect();
      expect(fs.map((f) => hex(f.data)), `chunk ${size}`).toEqual(ref.map((f) => hex(f.data)));
    }
    const jumbo = await readPcap(p('parity/jumbo.pcap'), { chunkSize: 256 }).collect();
    expect(jumbo.map((f) => f.data.length)).toEqual([9014, 9014, 9014, 9000, 1514, 1518]);
  });

  it('hands out frames the caller owns', async () => {
    const fs = await readPcap(p('parity/arp.pcap'), { chunkSize: 16 }).collect();
    const before = hex(fs[1].data);
    fs[0].data.fill(0xee);
    expect(hex(fs[1].data)).toBe(before);
  });

  it('refuses a second iteration of a stream source but rereads a path', async () => {
    const r = readPcap(chunked(readFileSync(p('parity/arp.pcap')), 100));
    expect((await r.collect()).length).toBe(5);
    await expect(r.collect()).rejects.toMatchObject({ code: 'CAPTURE_REUSED' });
    const rp = readPcap(p('parity/arp.pcap'));
    expect((await rp.collect()).length).toBe(5);
    expect((await rp.collect()).length).toBe(5);
  });
});

describe('pcapng', () => {
  it('reads two sections of two interfaces each, like the pcap', async () => {
    const ref = await frames('parity/all.pcap');
    for (const rel of ['parity/all.pcapng', 'formats/mixed-endian.pcapng']) {
      const r = readPcapng(p(rel));
      const fs = await r.collect();
      expect(r.format).toBe('pcapng');
      expect(fs.length).toBe(ref.length);
      expect(r.interfaces.map((i) => [i.section, i.idInSection, i.name])).toEqual([
        [0, 0, 'eth0'], [0, 1, 'eth1'], [1, 0, 'eth0'], [1, 1, 'eth1'],
      ]);
      expect(r.interfaces[2].tsresol).toEqual({ base: 10, exponent: 6 });
      const half = Math.ceil(ref.length / 2);
      fs.forEach((f, i) => {
        expect(hex(f.data), `${rel} #${i}`).toBe(hex(ref[i].data));
        expect(f.interfaceIndex).toBe((i < half ? 0 : 2) + (i % 2));
        expect(f.comment).toBeTypeOf('string');
        expect(f.tsSec).toBe(ref[i].tsSec);
        const microIface = i >= half && i % 2 === 0;
        expect(f.tsNsec).toBe(microIface ? Math.floor(ref[i].tsNsec / 1000) * 1000 : ref[i].tsNsec);
      });
    }
  });

  it('reads SPB, obsolete PB, verdicts, flags, tsresol 2^-k and 10^-3, if_tsoffset, and skips the rest with notes', async () => {
    const ref = (await frames('parity/all.pcap')).slice(0, 12);
    const r = readPcapng(p('formats/blocks.pcapng'));
    const fs = await r.collect();
    expect(fs.map((f) => hex(f.data))).toEqual(ref.map((f) => hex(f.data)));
    expect(r.interfaces.map((i) => i.tsresol)).toEqual([{ base: 2, exponent: 20 }, { base: 10, exponent: 3 }, { base: 2, exponent: 30 }]);
    expect(r.interfaces[1].tsOffsetSec).toBe(1_700_000_000);
    // 2^-20 s units: the timestamp truncated to the unit.
    const trunc = (f: Frame, k: number): bigint => {
      const ns = frameTimeNs(f);
      const unit = (ns * (1n << BigInt(k))) / 1_000_000_000n;
      return (unit * 1_000_000_000n) / (1n << BigInt(k));
    };
    expect(frameTimeNs(fs[0])).toBe(trunc(ref[0], 20));
    expect(fs[0].verdicts).toEqual([{ kind: 'xdp', value: 2 }]);
    expect(fs[0].comment).toBe('XDP_PASS');
    expect(fs[1].verdicts).toEqual([{ kind: 'tc', value: -1 }]);
    expect(fs[1].flags).toBe(1);
    expect(frameTimeNs(fs[1])).toBe((frameTimeNs(ref[1]) / 1_000_000n) * 1_000_000n);
    expect([fs[2].tsSec, fs[2].tsNsec]).toEqual([0, 0]); // SPB has no timestamp
    expect([fs[3].tsSec, fs[3].tsNsec, fs[3].interfaceIndex]).toEqual([1_704_067_200, 123_000_000, 1]);
    for (let i = 8; i < 12; i++) expect(frameTimeNs(fs[i])).toBe(trunc(ref[i], 30));
    const skipped = r.notes.filter((n) => n.code === 'BLOCK_SKIPPED').map((n) => n.message);
    expect(skipped.length).toBe(3);
    expect(skipped.join()).toMatch(/Name Resolution/);
  });

  it('converts every if_tsresol exactly (BigInt reference)', async () => {
    const cases = [0, 1, 3, 6, 9, 11, 12, 15, 0x80, 0x80 | 10, 0x80 | 20, 0x80 | 21, 0x80 | 30, 0x80 | 40];
    const unit = (b: number): bigint => ((b & 0x80) !== 0 ? 1n << BigInt(b & 0x7f) : 10n ** BigInt(b));
    // 2024-01-01 plus a fraction, in each unit, wrapped to 64 bits like a writer would.
    const unitsOf = (b: number): bigint => (1_704_067_200n * unit(b) + (unit(b) * 123_456_789n) / 1_000_000_000n + 7n) & ((1n << 64n) - 1n);
    const parts: Uint8Array[] = [shb()];
    cases.forEach((b) => parts.push(idb(1, 0, true, cat(u32s(true, (1 << 16) | 9), Uint8Array.of(b, 0, 0, 0)))));
    cases.forEach((b, i) => parts.push(epb(i, Number(unitsOf(b) >> 32n), Number(unitsOf(b) & 0xffffffffn), new Uint8Array(20))));
    const fs = await readPcapng(chunked(cat(...parts), 50)).collect();
    cases.forEach((b, i) => {
      const d = unit(b);
      const units = unitsOf(b);
      const ns = (units / d) * 1_000_000_000n + ((units % d) * 1_000_000_000n) / d;
      expect(frameTimeNs(fs[i]), `tsresol 0x${b.toString(16)}`).toBe(ns);
      expect(fs[i].tsNsec).toBeLessThan(1e9);
    });
  });

  it('reads a big-endian file with a negative if_tsoffset', async () => {
    const le = false;
    const off = cat(u32s(le, (14 << 16) | 8), u32s(le, 0xffffffff, 0xfffffff6)); // -10 s
    const bytes = cat(shb(le), idb(1, 65535, le, off), epb(0, 0, 20_000_000, new Uint8Array(60).fill(1), le));
    const fs = await readPcapng(chunked(bytes, 9)).collect();
    expect([fs[0].tsSec, fs[0].tsNsec]).toEqual([10, 0]);
  });
});

describe('link types', () => {
  it('converts SLL, SLL2 and raw IP to the Ethernet frames they came from, with one note each', async () => {
    const ref = await frames('parity/all.pcap');
    const byPayload = new Map(ref.filter((f) => f.data.length >= 14).map((f) => [hex(f.data.subarray(12)), f]));
    const byL3 = new Map(ref.filter((f) => f.data.length >= 14).map((f) => [hex(f.data.subarray(14)), f]));
    for (const rel of ['formats/sll.pcap', 'formats/sll2.pcap', 'formats/raw-ip.pcap']) {
      const r = readPcap(p(rel));
      const fs = await r.collect();
      expect(fs.length).toBeGreaterThan(60);
      for (const f of fs) {
        expect(f.linkType).toBe(LINKTYPE.ETHERNET);
        const isRaw = rel.includes('raw');
        const orig = isRaw ? byL3.get(hex(f.data.subarray(14))) : byPayload.get(hex(f.data.subarray(12)));
        expect(orig, `${rel} #${f.index}`).toBeDefined();
        expect(hex(f.data.subarray(0, 6))).toBe(hex(SYNTHETIC_HOST_MAC));
        if (isRaw) expect((f.data[12] << 8) | f.data[13]).toBe(f.data[14] >> 4 === 6 ? 0x86dd : 0x0800);
        else expect(hex(f.data.subarray(6, 12))).toBe(hex(orig!.data.subarray(6, 12)));
        expect(f.origLen).toBe(orig!.origLen);
      }
      expect(r.notes.filter((n) => n.code === 'LINKTYPE_CONVERTED').length).toBe(1);
      expect(r.interfaces[0].convertedFrom).toBe(r.interfaces[0].linkType);
    }
  });

  it('converts raw IPv4/IPv6 link types 12, 228, 229 and notes an odd version', async () => {
    const v4 = Uint8Array.of(0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2);
    const v6 = cat(Uint8Array.of(0x60), new Uint8Array(39));
    for (const [lt, data, type] of [[12, v4, 0x0800], [12, v6, 0x86dd], [228, v4, 0x0800], [229, v6, 0x86dd], [101, Uint8Array.of(0x10, 1), 0x0800]] as const) {
      const bytes = cat(shb(), idb(lt, 0), epb(0, 0, 0, data));
      const r = readPcapng(chunked(bytes, 1000));
      const [f] = await r.collect();
      expect(f.data.length).toBe(14 + data.length);
      expect((f.data[12] << 8) | f.data[13]).toBe(type);
      expect(hex(f.data.subarray(14))).toBe(hex(data));
      if (data[0] >> 4 === 1) expect(r.notes.map((n) => n.code)).toContain('RAW_IP_VERSION');
    }
  });

  it('refuses other link types naming the file and type, after the frames before, unless conversion is off', async () => {
    const last = epb(1, 0, 0, new Uint8Array(30));
    const bytes = cat(shb(), idb(1, 0), idb(105, 0), epb(0, 0, 0, new Uint8Array(60)), last);
    const bad = bytes.length - last.length;
    const r = readPcapng(chunked(bytes, 1000), { fileName: 'wifi.pcapng' });
    const got: Frame[] = [];
    const err = await (async () => {
      try {
        for await (const f of r) got.push(f);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(got.length).toBe(1);
    expect(err).toBeInstanceOf(CaptureError);
    expect(err).toMatchObject({ code: 'CAPTURE_LINKTYPE', fields: { file: 'wifi.pcapng', offset: bad, linkType: 105 } });
    expect((err as Error).message).toMatch(/wifi\.pcapng.*IEEE802_11 \(105\)/);
    const raw = await readPcapng(chunked(bytes, 1000), { convertLinkTypes: false }).collect();
    expect(raw.map((f) => f.linkType)).toEqual([1, 105]);
    const pcap = await drain(readPcap(p('bad/linktype-wifi.pcap')));
    expect(pcap.frames.length).toBe(0);
    expect(pcap.error).toMatchObject({ code: 'CAPTURE_LINKTYPE', fields: { offset: 0 } });
  });

  it('maps SLL packet types to destinations, 802.2 LLC to an 802.3 length, and notes non-EtherType protocols', async () => {
    const sll = (pkttype: number, proto: number, payload: Uint8Array): Uint8Array =>
      cat(Uint8Array.of(0, pkttype, 0, 1, 0, 6, 2, 0xaa, 0, 0, 0, 9, 0, 0, proto >> 8, proto & 0xff), payload);
    const body = new Uint8Array(30).fill(0x42);
    const bytes = cat(shb(), idb(113, 0), ...[[0, 0x0800], [1, 0x0806], [2, 0x86dd], [3, 0x0800], [4, 0x0800], [0, 0x0004], [0, 0x0001]].map(([t, pr]) => epb(0, 0, 0, sll(t, pr, body))));
    const r = readPcapng(chunked(bytes, 100));
    const fs = await r.collect();
    expect(fs.map((f) => hex(f.data.subarray(0, 6)))).toEqual(['020000000001', 'ffffffffffff', '333300000001', '020000000003', '020000000002', '020000000001', '020000000001']);
    expect(fs.every((f) => hex(f.data.subarray(6, 12)) === '02aa00000009')).toBe(true);
    expect(fs.map((f) => (f.data[12] << 8) | f.data[13])).toEqual([0x0800, 0x0806, 0x86dd, 0x0800, 0x0800, 30, 0x0001]);
    expect(fs.map((f) => f.origLen)).toEqual(fs.map(() => 44));
    expect(r.notes.map((n) => n.code)).toEqual(['LINKTYPE_CONVERTED', 'SLL_PROTOCOL']);
  });

  it('yields an empty frame with a note for an SLL frame shorter than its header', async () => {
    const bytes = cat(shb(), idb(113, 0), epb(0, 0, 0, new Uint8Array(10)));
    const r = readPcapng(chunked(bytes, 1000));
    const fs = await r.collect();
    expect(fs[0].data.length).toBe(0);
    expect(r.notes.map((n) => n.code)).toContain('LINKTYPE_SHORT_FRAME');
  });
});

describe('readCapture', () => {
  it('detects the format from the magic number', async () => {
    const a = readCapture(p('parity/vlan.pcap'));
    await a.collect();
    expect(a.format).toBe('pcap');
    const b = readCapture(p('parity/all.pcapng'));
    await b.collect();
    expect(b.format).toBe('pcapng');
    const c = await drain(readCapture(chunked(new TextEncoder().encode('hello world, not a capture'), 5)));
    expect(c.error).toMatchObject({ code: 'CAPTURE_BAD_MAGIC', fields: { offset: 0 } });
  });

  it('skips unknown block types but not bad framing', async () => {
    const bytes = cat(shb(), idb(1, 0), block(0x1234, new Uint8Array(8)), epb(0, 0, 0, new Uint8Array(60)));
    const r = readPcapng(chunked(bytes, 13));
    expect((await r.collect()).length).toBe(1);
    expect(r.notes[0]).toMatchObject({ code: 'BLOCK_SKIPPED', offset: 28 + 20 });
  });
});

describe('iteration', () => {
  it('batches() yields the same frames in bounded, non-empty arrays, and the error after them', async () => {
    const ref = await frames('parity/all.pcap');
    const sizes: number[] = [];
    const got: Frame[] = [];
    for await (const b of readPcap(p('parity/all.pcap'), { chunkSize: 4096 }).batches()) {
      sizes.push(b.length);
      got.push(...b);
    }
    expect(got.map((f) => hex(f.data))).toEqual(ref.map((f) => hex(f.data)));
    expect(Math.min(...sizes)).toBeGreaterThan(0);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(256);
    const bad: Frame[] = [];
    let err: unknown;
    try {
      for await (const b of readPcap(p('bad/truncated.pcap')).batches()) bad.push(...b);
    } catch (e) {
      err = e;
    }
    expect([bad.length, (err as CaptureError).code]).toEqual([10, 'CAPTURE_TRUNCATED']);
  });

  it('stops reading a stream when the consumer breaks out early', async () => {
    const stream = chunked(readFileSync(p('parity/all.pcap')), 512);
    let n = 0;
    for await (const f of readPcap(stream, { chunkSize: 1024 })) {
      void f;
      if (++n === 3) break;
    }
    expect(n).toBe(3);
    expect(stream.destroyed).toBe(true);
  });

  it('reports notes through onNote as they are made', async () => {
    const seen: string[] = [];
    const r = readPcap(p('formats/sll.pcap'), { onNote: (n) => seen.push(n.code) });
    await r.collect();
    expect(seen).toEqual(r.notes.map((n) => n.code));
    expect(seen).toContain('LINKTYPE_CONVERTED');
  });
});

describe('I/O failures', () => {
  it('a missing file is a CAPTURE_IO error naming it', async () => {
    const o = await drain(readCapture('/nonexistent/dir/missing.pcap'));
    expect(o.error).toBeInstanceOf(CaptureError);
    expect(o.error).toMatchObject({ code: 'CAPTURE_IO', fields: { file: 'missing.pcap', offset: 0 } });
  });
});
