/**
 * pcaps — the committed captures: identical to a fresh `npm run pcaps`, read by xdpsim with the
 * same frame counts tcpdump reports (tcpdump also stops where xdpsim reports the bad captures'
 * errors), and the sample capture's documented blocked-traffic counts true.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCapture } from '../../src/io/capture.js';
import { drain, PCAPS, ROOT, tcpdumpAvailable, tcpdumpCount, tsharkAvailable, tsharkRows } from './support.js';

function walk(d: string): string[] {
  return readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const committed = walk(PCAPS).map((p) => relative(PCAPS, p)).sort();
const captures = committed.filter((p) => /\.pcap(ng)?$/.test(p));
const tmp = mkdtempSync(join(tmpdir(), 'xdpsim-pcaps-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('committed captures', () => {
  it('match a fresh run of scripts/make-pcaps.ts byte for byte', () => {
    const r = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'scripts/make-pcaps.ts'), tmp], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const fresh = walk(tmp).map((p) => relative(tmp, p)).sort();
    expect(fresh).toEqual(committed);
    for (const rel of committed) expect(readFileSync(join(tmp, rel)).equals(readFileSync(join(PCAPS, rel))), rel).toBe(true);
  });

  it('are all read by xdpsim (the bad ones up to their error)', async () => {
    for (const rel of captures) {
      const o = await drain(readCapture(join(PCAPS, rel)));
      if (rel.startsWith('bad/')) expect(o.error, rel).toBeDefined();
      else expect(o.error, rel).toBeUndefined();
    }
  });

  it('sample.pcap holds what README.md says about the blocked range and port', async () => {
    const frames = await readCapture(join(PCAPS, 'sample.pcap')).collect();
    const readme = readFileSync(join(PCAPS, 'README.md'), 'utf8');
    const ipv4 = frames.filter((f) => f.data.length >= 34 && f.data[12] === 0x08 && f.data[13] === 0x00);
    const fromBlocked = ipv4.filter((f) => f.data[26] === 192 && f.data[27] === 0 && f.data[28] === 2).length;
    const telnet = ipv4.filter((f) => {
      const ihl = (f.data[14] & 0xf) * 4;
      return f.data[23] === 6 && ((f.data[14 + ihl + 2] << 8) | f.data[14 + ihl + 3]) === 23 && f.data[26] !== 192;
    }).length;
    expect(frames.length).toBeGreaterThanOrEqual(180);
    expect(readme).toContain(`frames from 192.0.2.0/24: **${fromBlocked}**`);
    expect(readme).toContain(`frames to TCP port 23 from other sources: **${telnet}**`);
    const bad6 = Buffer.from('20010db80bad00000000000000000066', 'hex');
    const fromBad6 = frames.filter((f) => f.data[12] === 0x86 && f.data[13] === 0xdd && Buffer.from(f.data.subarray(22, 38)).equals(bad6)).length;
    expect(readme).toContain(`frames from 2001:db8:bad::66: **${fromBad6}**`);
    expect(fromBad6).toBeGreaterThan(0);
    expect(fromBlocked).toBeGreaterThan(10);
    expect(telnet).toBeGreaterThan(5);
  });
});

const why = tcpdumpAvailable ? '' : ' [skipped: tcpdump not on PATH]';
describe.skipIf(!tcpdumpAvailable)(`tcpdump agrees${why}`, () => {
  it('on the frame count of every capture libpcap can read', async () => {
    for (const rel of captures) {
      // libpcap refuses sections of different byte orders, and reads 802.11 where xdpsim refuses it.
      if (rel === 'formats/mixed-endian.pcapng' || rel === 'bad/linktype-wifi.pcap') continue;
      const o = await drain(readCapture(join(PCAPS, rel)));
      const t = tcpdumpCount(join(PCAPS, rel));
      expect([rel, t.count], t.stderr).toEqual([rel, o.frames.length]);
      expect(t.status === 0, rel).toBe(o.error === undefined);
    }
  });
});

const whyTshark = tsharkAvailable ? '' : ' [skipped: tshark not on PATH]';
describe.skipIf(!tsharkAvailable)(`Wireshark agrees${whyTshark}`, () => {
  it('on every frame\'s lengths, timestamp, comment and XDP verdict', async () => {
    for (const rel of captures) {
      if (rel.startsWith('bad/')) continue;
      const converted = /sll|raw/.test(rel);
      const ours = await readCapture(join(PCAPS, rel)).collect();
      const theirs = tsharkRows(join(PCAPS, rel));
      expect([rel, theirs.length]).toEqual([rel, ours.length]);
      ours.forEach((f, i) => {
        const t = theirs[i];
        const what = `${rel} #${i}`;
        if (t.time !== '') expect(`${f.tsSec}.${String(f.tsNsec).padStart(9, '0')}`, what).toBe(t.time);
        if (!converted) expect([f.data.length, f.origLen], what).toEqual([t.capLen, t.len]);
        const xdp = f.verdicts?.find((v) => v.kind === 'xdp');
        expect(xdp === undefined ? '' : String(xdp.value), what).toBe(t.xdpVerdict);
        expect(f.comment ?? '', what).toBe(t.comment);
      });
    }
  });
});
