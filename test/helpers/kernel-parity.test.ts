/**
 * Kernel parity for helpers whose results are pure functions of their inputs: bpf_csum_diff and
 * bpf_snprintf. The C programs next to this file run in the kernel through BPF_PROG_TEST_RUN
 * (bpftool prog run) on seeded random packets; their results (read back from an array map) must
 * equal xdpsim's csumDiff and bprintf on the same bytes. Skipped with the reason when the kernel
 * cannot be asked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { csumDiff } from '../../src/helpers/csum.js';
import { bprintf, latin1, type FormatMemory } from '../../src/helpers/format.js';
import { KernelScratch, bpftool, kernelSkipReason, rng } from '../maps/kernel-util.js';

const SKIP = kernelSkipReason(true);

function dumpArray(path: string): Uint8Array[] {
  const r = bpftool(['map', 'dump', 'pinned', path, '-j']);
  if (r.errno !== 0) throw new Error(`bpftool map dump: ${r.err}`);
  return (JSON.parse(r.out) as Array<{ value: string[] }>).map((e) => Uint8Array.from(e.value, (x) => parseInt(x, 16)));
}

describe.skipIf(SKIP !== undefined)(`helpers against the running kernel${SKIP !== undefined ? ` (skipped: ${SKIP})` : ''}`, () => {
  let k: KernelScratch;
  beforeAll(() => {
    k = new KernelScratch();
  });
  afterAll(() => k?.close());

  function load(src: string, name: string): { prog: string; maps: string } {
    const obj = k.compile(resolve(__dirname, src));
    const prog = `${k.bpffs}/${name}`;
    const maps = `${k.bpffs}/${name}-maps`;
    const r = bpftool(['prog', 'load', obj, prog, 'pinmaps', maps]);
    if (r.errno !== 0) throw new Error(`bpftool prog load ${src}: ${r.err}`);
    return { prog, maps };
  }

  function run(prog: string, data: Uint8Array): void {
    const r = bpftool(['prog', 'run', 'pinned', prog, 'data_in', k.file('pkt.bin', data)]);
    if (r.errno !== 0) throw new Error(`bpftool prog run: ${r.err}`);
  }

  it('bpf_csum_diff: 8 size/seed combinations on 40 random packets', () => {
    const { prog, maps } = load('csum_diff.c', 'csum');
    const r = rng(11);
    for (let n = 0; n < 40; n++) {
      const d = Uint8Array.from({ length: 128 }, () => (n % 5 === 0 ? 0 : Math.floor(r() * 256)));
      run(prog, d);
      const got = dumpArray(`${maps}/out`).slice(0, 8).map((v) => new DataView(v.buffer).getUint32(0, true));
      const a = d.subarray(0, 64);
      const b = d.subarray(64);
      const e = new Uint8Array(0);
      const want = [
        csumDiff(a.subarray(0, 8), b.subarray(0, 8), 0),
        csumDiff(e, b.subarray(0, 12), 0x1234),
        csumDiff(a.subarray(0, 12), e, 0xabcdef),
        csumDiff(a.subarray(0, 6), b.subarray(0, 6), 0),
        csumDiff(a.subarray(0, 4), a.subarray(0, 4), 0),
        csumDiff(e, e, 0xdeadbeef),
        csumDiff(a, b, 0xffffffff),
        csumDiff(e, b.subarray(0, 5), 0),
      ];
      expect([n, got]).toEqual([n, want]);
    }
  });

  it('bpf_snprintf: integer, char, string, address conversions with widths, truncation (20 random packets)', () => {
    const { prog, maps } = load('snprintf.c', 'snprintf');
    const formats = [
      '%d|%5u|%-4x|%08lx|%+d|% d|%X|%llu|%i',
      '%c%c%% [%3c]',
      '%pI4 %pi4',
      '%pI6',
      '%pI6c',
      '<%s> <%8s> <%-8s>',
      '%ld %lx %lld',
      '%%%-6d%%|%6d|',
    ];
    const r = rng(12);
    for (let n = 0; n < 20; n++) {
      const d = Uint8Array.from({ length: 64 }, (_, i) => (i >= 40 && i < 47 ? 0x21 + Math.floor(r() * 90) : Math.floor(r() * 256)));
      if (n % 2 === 0) d[43] = 0;
      run(prog, d);
      const got = dumpArray(`${maps}/out`);
      const dv = new DataView(d.buffer);
      const a = Array.from({ length: 8 }, (_, i) => dv.getBigUint64(8 * i, true));
      a.push(a[0] ^ a[1]);
      const PKT = 0x1000n;
      const STR = 0x2000n;
      const str = d.slice(40, 47);
      const mem: FormatMemory = {
        cstring: (addr) => {
          if (addr !== STR) return undefined;
          const z = str.indexOf(0);
          return z < 0 ? str : str.subarray(0, z);
        },
        bytes: (addr, len) => (addr >= PKT && addr + BigInt(len) <= PKT + 64n ? d.slice(Number(addr - PKT), Number(addr - PKT) + len) : undefined),
      };
      const args = [a, a, [PKT + 16n, PKT + 16n], [PKT + 16n], [PKT + 16n], [STR, STR, STR], a, [a[0], a[1]]];
      formats.forEach((f, i) => {
        const full = bprintf(Uint8Array.from(f, (c) => c.charCodeAt(0)), args[i], mem);
        expect(typeof full).toBe('string');
        const size = 20 + 10 * i;
        const text = (full as string).slice(0, size - 1);
        const v = got[i];
        const ret = Number(new DataView(v.buffer).getBigInt64(0, true));
        const kText = latin1(v.subarray(8, 8 + text.length));
        expect([n, f, ret, kText, v[8 + text.length]]).toEqual([n, f, (full as string).length + 1, text, 0]);
      });
    }
  });
});
