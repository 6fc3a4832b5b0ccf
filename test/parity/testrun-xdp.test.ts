/**
 * Kernel parity of the XDP test run: every frame runs through programs/hooks/xdp_pkt.o in the
 * kernel (BPF_PROG_TEST_RUN) and in xdpsim's emulation; retval, err, data_out, data_size_out and
 * ctx_out must be identical. Covers runts of 0-13 bytes, the linear limit (3520), jumbo frames in
 * fragments up to the 17-fragment limit, ctx_in with metadata and every helper's edge cases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { release } from 'node:os';
import type { KernelObject, KernelTestRunner } from '../../src/kernel/testrun.js';
import { PROGRAMS_DIR, compareOne, ipv4Udp, loadSim, openKernel, request, type Mismatch, type SimProgram, dumpMismatches, UPDATE_GOLDEN, compareGolden, goldenOf, readGolden, writeGolden, type GoldenRecord } from '../hooks/parity-harness.js';
import type { TestRunInput } from '../../src/hooks/testrun.js';
import { engineNames } from '../../src/vm/engines.js';

const OBJ = join(PROGRAMS_DIR, 'hooks', 'xdp_pkt.o');
const kernel = await openKernel();
/** Kernel results recorded for runs without root (test/parity/golden/). */
const GOLDEN = join(import.meta.dirname, 'golden', 'testrun-xdp.jsonl.gz');

function le32(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
}

function xdpMd(data: number, dataEnd: number, meta: number, ing: number, rxq: number, egress: number): Uint8Array {
  const b = new Uint8Array(24);
  const dv = new DataView(b.buffer);
  [data, dataEnd, meta, ing, rxq, egress].forEach((v, i) => dv.setUint32(i * 4, v, true));
  return b;
}

/** cases builds the frames of the suite with a label each. */
function cases(): Array<[string, TestRunInput]> {
  const out: Array<[string, TestRunInput]> = [];
  for (let n = 0; n < 14; n++) out.push([`runt ${n}`, { data: new Uint8Array(n).fill(0xab) }]);
  const sizes = [14, 60, 64, 1514, 3520, 3521, 4000, 9000, 3520 + 17 * 4096, 3521 + 17 * 4096];
  for (const n of sizes) {
    const f = request(0, 0, 0, 0, 0, 0x0800, ipv4Udp(Math.max(0, n - 42))).slice(0, n);
    out.push([`pass ${n}`, { data: f }]);
    out.push([`buff_len ${n}`, { data: request(4, 0, 0, 0, 0, 0x0800, ipv4Udp(Math.max(0, n - 42))).slice(0, n) }]);
  }
  const deltas = [-300, -257, -256, -216, -215, -40, -14, -4, -1, 0, 1, 14, 46, 47, 48, 100, 3000, 3479, 3480, 3520];
  for (const len of [60, 1514, 9000]) {
    const pl = ipv4Udp(len - 42);
    for (const a of deltas) {
      for (const op of [1, 2, 3, 5, 6, 9, 11, 12]) out.push([`op${op} a=${a} len=${len}`, { data: request(op, a, 0, 0, 0, 0x0800, pl) }]);
    }
  }
  for (const a of [-4100, -4097, -4096, -4000, 4000, 4096, 5000, 8000, 8192, 12000, 12500]) {
    for (const op of [3, 5, 6, 12]) out.push([`frags op${op} a=${a}`, { data: request(op, a, 0, 0, 0, 0x0800, ipv4Udp(12000)) }]);
  }
  for (const [ifi, diff, flags, mtu] of [[0, 0, 0, 0], [1, 0, 0, 0], [0, 5, 0, 1500], [4242, 0, 0, 0], [0, 0, 1, 0], [0, -3, 0, 65600], [0, 0, 0, 65522], [0, 0, 0, 65523]]) {
    out.push([`check_mtu if=${ifi} diff=${diff} flags=${flags} mtu=${mtu}`, { data: request(7, mtu, ifi, diff & 0xff, flags, 0x0800, ipv4Udp(100)) }]);
  }
  for (const fl of [0, 1, 8]) out.push([`redirect flags=${fl}`, { data: request(8, 0, fl, 0, 0, 0x0800, ipv4Udp(10)) }]);
  for (const [slot, fl] of [[0, 0], [0, 2], [1, 0], [1, 2], [1, 3], [1, 4], [1, 8], [1, 0x18], [0, 8], [9, 1], [9, 8]]) {
    out.push([`redirect_map slot=${slot} flags=${fl}`, { data: request(13, slot, fl, 0, 0, 0x0800, ipv4Udp(10)) }]);
  }
  for (const op of [14, 31]) out.push([`unknown op ${op}`, { data: request(op, 0, 0, 0, 0, 0x0800, ipv4Udp(10)) }]);
  // ctx_in: metadata, receive queue, refused combinations.
  const f = request(10, 0, 0, 0, 0, 0x0800, ipv4Udp(60));
  const L = f.length;
  const ctxs: Array<[string, Uint8Array, Uint8Array?]> = [
    ['plain', xdpMd(0, L, 0, 0, 0, 0)],
    ['meta 4', xdpMd(4, L, 0, 1, 0, 0)],
    ['meta 32', xdpMd(32, L, 0, 1, 0, 0)],
    ['meta 36', xdpMd(36, L, 0, 1, 0, 0)],
    ['meta 216', new Uint8Array(0)],
    ['meta 220', new Uint8Array(0)],
    ['linear 20 of L', xdpMd(0, 20, 0, 1, 0, 0)],
    ['linear 5 of L', xdpMd(0, 5, 0, 1, 0, 0)],
    ['linear 0 of L', xdpMd(0, 0, 0, 1, 0, 0)],
    ['meta 8 linear 8', xdpMd(8, 8, 0, 1, 0, 0)],
    ['data_end long', xdpMd(0, L + 1, 0, 1, 0, 0)],
    ['meta 6', xdpMd(6, L, 0, 1, 0, 0)],
    ['data_meta set', xdpMd(0, L, 4, 1, 0, 0)],
    ['data_end short', xdpMd(0, L - 1, 0, 1, 0, 0)],
    ['rxq without ifindex', xdpMd(0, L, 0, 0, 1, 0)],
    ['rxq 1 on lo', xdpMd(0, L, 0, 1, 1, 0)],
    ['egress set', xdpMd(0, L, 0, 1, 0, 1)],
    ['unknown ifindex', xdpMd(0, L, 0, 4242, 0, 0)],
    ['long ctx, zero tail', new Uint8Array([...xdpMd(0, L, 0, 1, 0, 0), 0, 0, 0, 0])],
    ['long ctx, dirty tail', new Uint8Array([...xdpMd(0, L, 0, 1, 0, 0), 0, 0, 0, 1])],
  ];
  for (const [name, ctx] of ctxs) {
    if (name === 'meta 216' || name === 'meta 220') {
      const m = name === 'meta 216' ? 216 : 220;
      out.push([`ctx ${name}`, { data: request(10, 0, 0, 0, 0, 0x0800, ipv4Udp(300)).slice(0, 300), ctxIn: xdpMd(m, 300, 0, 1, 0, 0) }]);
      continue;
    }
    out.push([`ctx ${name}`, { data: f, ctxIn: ctx }]);
  }
  for (const [meta, size] of [[8, 20], [8, 22], [4, 17], [0, 13]]) {
    out.push([`ctx runt meta ${meta} size ${size}`, { data: new Uint8Array(size).fill(0x5a), ctxIn: xdpMd(meta, size, 0, 1, 0, 0) }]);
  }
  for (const lin of [0, 14, 100, 3520, 4000]) {
    for (const op of [3, 4, 5, 6, 12]) {
      out.push([`ctx linear ${lin} op${op}`, { data: request(op, op === 3 ? -100 : 50, 0, 0, 0, 0x0800, ipv4Udp(6000)), ctxIn: xdpMd(0, lin, 0, 1, 0, 0) }]);
    }
  }
  for (const a of [-8, -40, 0, 14]) {
    out.push([`ctx meta 8 + op11 a=${a}`, { data: request(11, a, 0, 0, 0, 0x0800, ipv4Udp(60)), ctxIn: xdpMd(8, 102, 0, 1, 0, 0) }]);
  }
  for (const op of [1, 2, 3, 9, 11, 12]) {
    for (const rep of [2, 5]) out.push([`repeat ${rep} op${op}`, { data: request(op, op === 3 ? -8 : 14, 0, 0, 0, 0x0800, ipv4Udp(200)), repeat: rep }]);
  }
  out.push([`ctx meta 8 jumbo`, { data: request(4, 0, 0, 0, 0, 0x0800, ipv4Udp(5000)), ctxIn: xdpMd(8, 5042, 0, 1, 0, 0) }]);
  for (const n of [20, 100, 5000]) out.push([`ctx_out without ctx_in ${n}`, { data: request(10, 0, 0, 0, 0, 0x0800, ipv4Udp(n)), ctxOut: true }]);
  return out;
}

describe.skipIf(kernel.k === undefined)(`testrun parity: XDP ${kernel.reason ?? ''}`, () => {
  let k: KernelTestRunner;
  let kobj: KernelObject;
  beforeAll(async () => {
    k = kernel.k as KernelTestRunner;
    kobj = await k.loadObject(OBJ, { program: 'xdp_pkt' });
    const txPort = kobj.maps.find((m) => m.name === 'tx_port');
    if (txPort === undefined) throw new Error('xdp_pkt.o: no tx_port map in the kernel object');
    await k.mapUpdate(txPort, le32(0), le32(1));
  });
  afterAll(async () => {
    await k?.close();
  });

  it.each(engineNames())('matches BPF_PROG_TEST_RUN on every frame (engine %s)', async (engine) => {
    const sim: SimProgram = loadSim(OBJ, 'xdp_pkt', engine);
    // Slot 0 of tx_port is lo, on both sides.
    expect(sim.maps.get('tx_port')?.update(le32(0), le32(1), 0)).toBe(0);
    const all = cases();
    const mismatches: Mismatch[] = [];
    const recs: GoldenRecord[] = [];
    for (const [label, input] of all) mismatches.push(...(await compareOne(k, kobj, sim, label, input, recs)));
    if (UPDATE_GOLDEN && engine === 'interp') writeGolden(GOLDEN, release(), recs);
    dumpMismatches(mismatches);
    console.info(`testrun parity: ${all.length} frames compared with the kernel on ${engine}, ${mismatches.length} mismatches`);
    const shown = mismatches.slice(0, 40).map((m) => `${m.label}: ${m.field}: kernel ${m.kernel.slice(0, 120)} / xdpsim ${m.sim.slice(0, 120)}`);
    expect(shown, `${mismatches.length} mismatches over ${all.length} frames`).toEqual([]);
  });
});

describe('testrun golden: XDP against recorded kernel results', () => {
  it.each(engineNames())('matches the recorded BPF_PROG_TEST_RUN results (engine %s)', (engine) => {
    const golden = readGolden(GOLDEN);
    expect(golden.size, `${GOLDEN} is missing or empty; regenerate it as root with XDPSIM_UPDATE_GOLDEN=1`).toBeGreaterThan(0);
    const sim: SimProgram = loadSim(OBJ, 'xdp_pkt', engine);
    // Slot 0 of tx_port is lo, on both sides.
    expect(sim.maps.get('tx_port')?.update(le32(0), le32(1), 0)).toBe(0);
    const all = cases();
    const mismatches: Mismatch[] = [];
    for (const [label, input] of all) {
      const r = sim.runner.run({ ...input, dataSizeOut: 256 << 10 });
      mismatches.push(...compareGolden(golden.get(label), goldenOf(label, r, input.ctxIn !== undefined || input.ctxOut === true)));
    }
    const shown = mismatches.slice(0, 40).map((m) => `${m.label}: ${m.field}: kernel ${m.kernel} / xdpsim ${m.sim}`);
    expect(shown, `${mismatches.length} mismatches over ${all.length} frames`).toEqual([]);
  });
});
