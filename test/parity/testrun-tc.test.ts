/**
 * Kernel parity of the SCHED_CLS test run: every frame runs through programs/hooks/tc_pkt.o in the
 * kernel (BPF_PROG_TEST_RUN) and in xdpsim's emulation; retval, err, data_out, data_size_out and
 * ctx_out must be identical. Covers runts of 0-13 bytes, the 3712-byte limit, IPv4/IPv6/VLAN/QinQ
 * and ARP frames, ctx_in field rules and every TC packet helper's edge cases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { release } from 'node:os';
import type { KernelObject, KernelTestRunner } from '../../src/kernel/testrun.js';
import { PROGRAMS_DIR, compareOne, ipv4Udp, ipv6Udp, loadSim, openKernel, request, vlan, type Mismatch, type SimProgram, dumpMismatches, UPDATE_GOLDEN, compareGolden, goldenOf, readGolden, writeGolden, type GoldenRecord } from '../hooks/parity-harness.js';
import type { TestRunInput } from '../../src/hooks/testrun.js';
import { engineNames } from '../../src/vm/engines.js';
import { SkBuffField } from '../../src/hooks/skb.js';

const OBJ = join(PROGRAMS_DIR, 'hooks', 'tc_pkt.o');
const kernel = await openKernel();
/** Kernel results recorded for runs without root (test/parity/golden/). */
const GOLDEN = join(import.meta.dirname, 'golden', 'testrun-tc.jsonl.gz');

/** skbCtx builds a __sk_buff for ctx_in with the given fields set. */
function skbCtx(fields: Partial<Record<keyof typeof SkBuffField, number>>, extra?: Uint8Array): Uint8Array {
  const b = new Uint8Array(SkBuffField.SIZE + (extra?.length ?? 0));
  const dv = new DataView(b.buffer);
  for (const [k, v] of Object.entries(fields)) dv.setUint32(SkBuffField[k as keyof typeof SkBuffField], v, true);
  if (extra !== undefined) b.set(extra, SkBuffField.SIZE);
  return b;
}

/** tunnelKey builds a struct bpf_tunnel_key (plus padding) with distinct bytes in every field. */
function tunnelKey(ipv6: boolean, label: boolean): Uint8Array {
  const b = new Uint8Array(60);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x01020304, true);
  for (let i = 0; i < (ipv6 ? 16 : 4); i++) b[4 + i] = 0x10 + i;
  b[20] = 0x2e;
  b[21] = 0x40;
  dv.setUint32(24, label ? 0xabcde123 : 0, true);
  for (let i = 0; i < (ipv6 ? 16 : 4); i++) b[28 + i] = 0x30 + i;
  return b;
}

type Payload = [string, number, Uint8Array];

function payloads(): Payload[] {
  return [
    ['ipv4', 0x0800, ipv4Udp(30)],
    ['ipv4-ect0', 0x0800, ipv4Udp(30, 2)],
    ['ipv4-ect1', 0x0800, ipv4Udp(30, 1)],
    ['ipv4-ce', 0x0800, ipv4Udp(30, 3)],
    ['ipv6', 0x86dd, ipv6Udp(30)],
    ['ipv6-ect0', 0x86dd, ipv6Udp(30, 2)],
    ['vlan-ipv4', 0x8100, vlan(0x2005, 0x0800, ipv4Udp(30, 2))],
    ['qinq-ipv6', 0x88a8, vlan(0x0064, 0x8100, vlan(0x3007, 0x86dd, ipv6Udp(30, 1)))],
    ['arp', 0x0806, new Uint8Array(28).fill(1)],
    ['short-ipv4', 0x0800, ipv4Udp(0).slice(0, 12)],
    ['802.3', 0x0040, new Uint8Array(40).fill(0xff)],
  ];
}

function cases(): Array<[string, TestRunInput]> {
  const out: Array<[string, TestRunInput]> = [];
  for (let n = 0; n < 14; n++) out.push([`runt ${n}`, { data: new Uint8Array(n).fill(0xab) }]);
  for (const n of [14, 15, 60, 1514, 3712, 3713, 9000]) {
    out.push([`pass ${n}`, { data: request(18, 0, 0, 0, 0, 0x0800, ipv4Udp(Math.max(0, n - 42))).slice(0, n) }]);
  }
  const dsts: Array<[string, number[]]> = [
    ['host', [0, 0, 0, 0, 0, 0]],
    ['bcast', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
    ['mcast', [0x01, 0x00, 0x5e, 0, 0, 1]],
    ['other', [0x02, 0, 0, 0, 0, 1]],
  ];
  for (const [name, mac] of dsts) {
    const f = request(18, 0, 0, 0, 0, 0x0800, ipv4Udp(10));
    f.set(mac, 0);
    out.push([`fields dst ${name}`, { data: f }]);
  }
  const offs = [-1, 0, 1, 10, 12, 14, 24, 26, 36, 40, 50, 56, 57, 58, 66, 100, 0x7fff];
  for (const [pname, et, pl] of payloads()) {
    const base = (op: number, a: number, p1 = 0, p2 = 0, p3 = 0): Uint8Array => request(op, a, p1, p2, p3, et, pl);
    out.push([`${pname} fields`, { data: base(18, 0) }]);
    for (const a of offs) {
      out.push([`${pname} store a=${a}`, { data: base(1, a) }]);
      out.push([`${pname} store+hash a=${a}`, { data: base(1, a, 3) }]);
      out.push([`${pname} load a=${a}`, { data: base(2, a) }]);
      for (const hdr of [0, 1, 2]) out.push([`${pname} load_rel a=${a} hdr=${hdr}`, { data: base(3, a, hdr) }]);
      for (const [fl, p2] of [[0, 0], [2, 1], [4, 1], [1, 0], [0x10, 1], [0x14, 1], [0x32, 1], [0x72, 0], [0x80, 1]]) {
        out.push([`${pname} l3 a=${a} fl=${fl}`, { data: base(4, a, fl, p2, 7) }]);
        out.push([`${pname} l4 a=${a} fl=${fl}`, { data: base(5, a, fl, p2, 7) }]);
      }
    }
    for (const [to, fl] of [[0, 0], [1, 0], [1, 1]]) out.push([`${pname} change_proto to=${to} fl=${fl}`, { data: base(6, 0, to, fl) }]);
    for (const t of [0, 1, 3, 4, 7]) out.push([`${pname} change_type ${t}`, { data: base(7, 0, t) }]);
    for (const l of [0, 13, 14, 33, 34, 60, 100, 3000, 16064, 16065, -1]) {
      out.push([`${pname} change_tail ${l}`, { data: base(8, l) }]);
      out.push([`${pname} change_tail+store ${l}`, { data: base(22, l) }]);
    }
    out.push([`${pname} change_tail flags`, { data: base(8, 100, 1) }]);
    for (const l of [0, 1, 14, 100, 16000, -1]) out.push([`${pname} change_head ${l}`, { data: base(9, l) }]);
    for (const l of [0, 1, 14, 60, 200]) out.push([`${pname} pull_data ${l}`, { data: base(10, l) }]);
    for (const a of [-100, -41, -40, -20, -8, -1, 0, 1, 8, 20, 40, 4095, 4096]) {
      for (const [mode, fl, l2] of [[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 0x20, 0], [1, 0x02, 0], [1, 0x04, 0], [1, 0x0a, 0], [1, 0x12, 0], [1, 0x06, 0], [1, 0x42, 14], [1, 0x42, 10], [1, 0x80, 0], [0, 0x80, 0], [1, 0x100, 0]]) {
        // p1 carries the mode in bit 0 and flag bits 8..? in bits 1..7 (see tc_pkt.c); p2 the low flag byte.
        const p1 = (mode & 1) | ((fl >> 8) << 1);
        out.push([`${pname} adjust_room a=${a} mode=${mode} fl=${fl} l2=${l2}`, { data: base(11, a, mode === 2 ? 2 : p1, fl & 0xff, l2) }]);
      }
    }
    for (const [p1, p2] of [[0, 0], [1, 0], [0, 1], [1, 1]]) out.push([`${pname} vlan_push ${p1}${p2}`, { data: base(12, 0x1234, p1, p2) }]);
    for (const p1 of [0, 1]) out.push([`${pname} vlan_pop ${p1}`, { data: base(13, 0, p1) }]);
    for (const a of [0, 1, 77]) out.push([`${pname} set_hash ${a}`, { data: base(14, a) }]);
    for (const lv of [0, 1, 2, 3, 4]) out.push([`${pname} csum_level ${lv}`, { data: base(15, 0, lv) }]);
    out.push([`${pname} ecn_set_ce`, { data: base(16, 0) }]);
    out.push([`${pname} ecn_set_ce csum_complete`, { data: base(16, 0), flags: 4 }]);
  }
  for (const [ifi, diff, flags, mtu] of [[0, 0, 0, 0], [1, 0, 0, 0], [0, 5, 0, 1500], [4242, 0, 0, 0], [0, 0, 1, 0], [0, 0, 1, 5], [0, 0, 2, 0], [0, -3, 0, 65600], [0, 0, 0, 65522], [0, 0, 0, 65523]]) {
    out.push([`check_mtu if=${ifi} diff=${diff} flags=${flags} mtu=${mtu}`, { data: request(17, mtu, ifi, diff & 0xff, flags, 0x0800, ipv4Udp(100)) }]);
  }
  for (const [a, fl] of [[5, 0], [5, 1], [5, 2], [1, 0]]) out.push([`redirect ${a} ${fl}`, { data: request(19, a, fl, 0, 0, 0x0800, ipv4Udp(10)) }]);
  for (const [a, fl] of [[1, 0], [1, 1], [1, 2], [0, 0], [4242, 0]]) {
    out.push([`clone_redirect ${a} ${fl}`, { data: request(25, a, fl, 0, 0, 0x0800, ipv4Udp(10)), ctxIn: skbCtx({}) }]);
  }
  for (const size of [44, 28, 24, 22, 8, 12, 0]) {
    for (const [setFl, full, getFl] of [[0, 1, 0], [0, 0, 0], [1, 1, 1], [1, 1, 0], [0, 1, 1], [2, 1, 0x10], [0x1c, 1, 0x10], [0x20, 1, 0], [0, 1, 2]]) {
      for (const [kname, key] of [['v4', tunnelKey(false, false)], ['v6', tunnelKey(true, false)], ['v6 label', tunnelKey(true, true)], ['v4 label', tunnelKey(false, true)], ['raw', ipv6Udp(30)]] as const) {
        out.push([`tunnel_key ${kname} size=${size} set=${setFl} full=${full} get=${getFl}`, { data: request(26, size, setFl, full, getFl, 0x88b5, key) }]);
      }
    }
  }
  for (const [withKey, mode, small] of [[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 2, 0], [1, 0, 1], [1, 1, 1]]) {
    out.push([`tunnel_opt key=${withKey} mode=${mode} small=${small}`, { data: request(27, 0, withKey, mode, small, 0x0800, ipv4Udp(40)) }]);
  }
  for (const [a, fl] of [[5, 0], [5, 1]]) out.push([`redirect_peer ${a} ${fl}`, { data: request(23, a, fl, 0, 0, 0x0800, ipv4Udp(10)) }]);
  for (const p1 of [0, 1]) out.push([`ctx writes ${p1}`, { data: request(20, 0x55, p1, 0, 0, 0x0800, ipv4Udp(10)) }]);
  for (const [pname, et, pl] of payloads()) out.push([`${pname} skb->sk`, { data: request(28, 0, 0, 0, 0, et, pl), ctxIn: skbCtx({}) }]);
  for (const p1 of [0, 1]) out.push([`ctx narrowed read-back ${p1}`, { data: request(24, 0, p1, 0, 0, 0x0800, ipv4Udp(10)), ctxIn: skbCtx({}) }]);
  // CHECKSUM_COMPLETE (BPF_F_TEST_SKB_CHECKSUM_COMPLETE): the test run refuses, with -EBADMSG, a
  // packet whose skb->csum no longer matches its bytes; each helper must keep csum as the kernel does.
  for (const [op, a, p1, p2, p3] of [[1, 30, 0, 0, 0], [1, 30, 1, 0, 0], [1, 40, 1, 0, 0], [4, 24, 2, 1, 7], [5, 40, 0x12, 1, 7], [5, 40, 0x14, 1, 7], [5, 40, 0x04, 1, 7], [6, 0, 1, 0, 0], [8, 100, 0, 0, 0], [8, 40, 0, 0, 0], [9, 14, 0, 0, 0], [11, 8, 0, 0, 0], [11, -8, 0, 0, 0], [11, 8, 1, 0, 0], [12, 0x1234, 0, 1, 0], [13, 0, 0, 0, 0], [15, 0, 1, 0, 0], [16, 0, 0, 0, 0], [22, 80, 0, 0, 0]]) {
    for (const [pname, et, pl] of payloads().slice(0, 8)) {
      out.push([`csum_complete ${pname} op${op} a=${a} p=${p1},${p2},${p3}`, { data: request(op, a, p1, p2, p3, et, pl), flags: 4 }]);
    }
  }
  for (const fl of [0, 4]) {
    for (const seed of [0, 9]) out.push([`csum_diff+update seed=${seed} flags=${fl}`, { data: request(21, 0, seed, 0, 0, 0x0800, ipv4Udp(10)), flags: fl }]);
  }
  for (const [op, a] of [[8, 100], [9, 4], [11, 8], [12, 5], [13, 0], [20, 1], [22, 80]]) {
    for (const rep of [2, 4]) out.push([`repeat ${rep} op${op}`, { data: request(op, a, 0, 1, 0, 0x8100, vlan(0x0005, 0x0800, ipv4Udp(40))), repeat: rep }]);
  }
  for (const fl of [0, 1, 2, 4, 8]) out.push([`test flags ${fl}`, { data: request(18, 0, 0, 0, 0, 0x0800, ipv4Udp(10)), flags: fl }]);
  out.push([`csum_complete store`, { data: request(1, 30, 0, 0, 0, 0x0800, ipv4Udp(10)), flags: 4 }]);
  out.push([`csum_complete store recompute`, { data: request(1, 30, 1, 0, 0, 0x0800, ipv4Udp(10)), flags: 4 }]);
  out.push([`csum_complete l4 pseudo`, { data: request(5, 40, 0x14, 1, 7, 0x0800, ipv4Udp(10)), flags: 4 }]);
  // ctx_in rules.
  const f = request(18, 0, 0, 0, 0, 0x0800, ipv4Udp(20));
  const ctxs: Array<[string, Uint8Array]> = [
    ['zero', skbCtx({})],
    ['allowed', skbCtx({ mark: 7, priority: 9, ingress_ifindex: 3, ifindex: 1, cb: 0x11, tstamp: 1234, wire_len: 1000, gso_segs: 4, gso_size: 100, hwtstamp: 99 })],
    ['len set', skbCtx({ len: 1 })],
    ['pkt_type set', skbCtx({ pkt_type: 1 })],
    ['tc_index set', skbCtx({ tc_index: 1 })],
    ['hash set', skbCtx({ hash: 1 })],
    ['data_meta set', skbCtx({ data_meta: 1 })],
    ['sk set', skbCtx({ sk: 1 })],
    ['tstamp_type set', skbCtx({ tstamp_type: 1 })],
    ['wire_len short', skbCtx({ wire_len: 10 })],
    ['wire_len huge', skbCtx({ wire_len: 65537 })],
    ['gso_segs huge', skbCtx({ gso_segs: 65536 })],
    ['ifindex unknown', skbCtx({ ifindex: 4242 })],
    ['short ctx', skbCtx({ mark: 5 }).slice(0, 12)],
    ['long ctx zero tail', skbCtx({ mark: 5 }, new Uint8Array(8))],
    ['long ctx dirty tail', skbCtx({ mark: 5 }, new Uint8Array([0, 0, 1, 0]))],
  ];
  for (const [name, ctx] of ctxs) out.push([`ctx ${name}`, { data: f, ctxIn: ctx }]);
  for (const op of [8, 11, 12, 20]) out.push([`ctx gso op${op}`, { data: request(op, 100, 1, 0, 0, 0x0800, ipv4Udp(200)), ctxIn: skbCtx({ gso_size: 100, gso_segs: 3 }) }]);
  for (const n of [20, 100, 5000]) out.push([`ctx_out without ctx_in ${n}`, { data: request(18, 0, 0, 0, 0, 0x0800, ipv4Udp(n)), ctxOut: true }]);
  return out;
}

describe.skipIf(kernel.k === undefined)(`testrun parity: SCHED_CLS ${kernel.reason ?? ''}`, () => {
  let k: KernelTestRunner;
  let kobj: KernelObject;
  beforeAll(async () => {
    k = kernel.k as KernelTestRunner;
    kobj = await k.loadObject(OBJ, { program: 'tc_pkt' });
  });
  afterAll(async () => {
    await k?.close();
  });

  it.each(engineNames())('matches BPF_PROG_TEST_RUN on every frame (engine %s)', async (engine) => {
    const sim: SimProgram = loadSim(OBJ, 'tc_pkt', engine);
    const all = cases();
    const mismatches: Mismatch[] = [];
    const recs: GoldenRecord[] = [];
    for (const [label, input] of all) mismatches.push(...(await compareOne(k, kobj, sim, label, input, recs)));
    if (UPDATE_GOLDEN && engine === 'interp') writeGolden(GOLDEN, release(), recs);
    dumpMismatches(mismatches);
    console.info(`testrun parity: ${all.length} frames compared with the kernel on ${engine}, ${mismatches.length} mismatches`);
    const shown = mismatches.slice(0, 60).map((m) => `${m.label}: ${m.field}: kernel ${m.kernel.slice(0, 140)} / xdpsim ${m.sim.slice(0, 140)}`);
    expect(shown, `${mismatches.length} mismatches over ${all.length} frames`).toEqual([]);
  });
});

describe('testrun golden: SCHED_CLS against recorded kernel results', () => {
  it.each(engineNames())('matches the recorded BPF_PROG_TEST_RUN results (engine %s)', (engine) => {
    const golden = readGolden(GOLDEN);
    expect(golden.size, `${GOLDEN} is missing or empty; regenerate it as root with XDPSIM_UPDATE_GOLDEN=1`).toBeGreaterThan(0);
    const sim: SimProgram = loadSim(OBJ, 'tc_pkt', engine);
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
