/**
 * The kernel bridge itself: xdpsim-ktest loads raw bytecode and ELF objects, runs
 * BPF_PROG_TEST_RUN, reads and writes maps, and reports refusals with the verifier log.
 * Skips (with the reason) where the kernel cannot be used.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { KernelError, KernelTestRunner } from '../../src/kernel/testrun.js';
import { makeInsn } from '../../src/isa/insn.js';
import { inetChecksum, ipv4TcpFrame, ipv4UdpFrame } from '../../bench/frames.js';

const avail = await KernelTestRunner.open();
const reason = avail.ok ? '' : avail.reason;
const PARSE_O = resolve(import.meta.dirname, '../../programs/bench/parse.o');
const PARSE_COUNT_O = resolve(import.meta.dirname, '../../programs/bench/parse_count.o');
const TC_DNAT_O = resolve(import.meta.dirname, '../../programs/bench/tc_dnat.o');

describe.skipIf(!avail.ok)(`kernel test-run bridge${reason !== '' ? ` (skipped: ${reason})` : ''}`, () => {
  const k = avail.runner as KernelTestRunner;
  afterAll(async () => k.close());

  it('runs a raw XDP program and returns its retval and the packet', async () => {
    // r0 = 3 (XDP_TX); exit
    const prog = await k.loadRaw([makeInsn(0xb7, 0, 0, 0, 3), makeInsn(0x95)], { progType: 'xdp' });
    const data = Uint8Array.from({ length: 60 }, (_, i) => i * 7);
    const r = await k.run(prog, { dataIn: data });
    expect(r.err).toBe(0);
    expect(r.retval).toBe(3);
    expect(r.dataOut).toEqual(data);
    expect(r.dataSizeOut).toBe(60);
    await k.closeHandle(prog.handle);
  });

  it('reports the errno of a refused run (XDP frame shorter than ETH_HLEN)', async () => {
    const prog = await k.loadRaw([makeInsn(0xb7, 0, 0, 0, 2), makeInsn(0x95)], { progType: 'xdp' });
    const r = await k.run(prog, { dataIn: new Uint8Array(5) });
    expect(r.err).toBe(-22);
    await k.closeHandle(prog.handle);
  });

  it('returns -ENOSPC with the bytes that fit when data_out is too small', async () => {
    const prog = await k.loadRaw([makeInsn(0xb7, 0, 0, 0, 2), makeInsn(0x95)], { progType: 'xdp' });
    const data = Uint8Array.from({ length: 60 }, (_, i) => i);
    const r = await k.run(prog, { dataIn: data, dataSizeOut: 10 });
    expect(r.err).toBe(-28);
    expect(r.dataSizeOut).toBe(60);
    expect(r.dataOut).toEqual(data.subarray(0, 10));
    await k.closeHandle(prog.handle);
  });

  it('repeats a run and reports the average duration per repetition', async () => {
    const prog = await k.loadRaw([makeInsn(0xb7, 0, 0, 0, 2), makeInsn(0x95)], { progType: 'xdp' });
    const r = await k.run(prog, { dataIn: new Uint8Array(64), repeat: 1000 });
    expect(r.err).toBe(0);
    expect(r.retval).toBe(2);
    expect(Number.isInteger(r.duration) && r.duration >= 0).toBe(true);
    await k.closeHandle(prog.handle);
  });

  it('refuses an invalid program with the errno and the verifier log', async () => {
    const err = await k.loadRaw([makeInsn(0x95)], { progType: 'xdp' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).errno).toBe(-13);
    expect((err as KernelError).log.length).toBeGreaterThan(0);
  });

  it('stores through a created map and reads it back (lddw map index -> fd)', async () => {
    const map = await k.createMap({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
    // *(u32*)(r10-4) = 0; r1 = map; r2 = r10 - 4; call map_lookup_elem; if r0 == 0 goto out;
    // *(u64*)(r0+0) = 0x1122334455667788 via lddw r1; out: r0 = 2; exit
    const insns = [
      makeInsn(0x62, 10, 0, -4, 0),
      makeInsn(0x18, 1, 1, 0, 0),
      makeInsn(0, 0, 0, 0, 0),
      makeInsn(0xbf, 2, 10),
      makeInsn(0x07, 2, 0, 0, -4),
      makeInsn(0x85, 0, 0, 0, 1),
      makeInsn(0x15, 0, 0, 3, 0),
      makeInsn(0x18, 1, 0, 0, 0x55667788),
      makeInsn(0, 0, 0, 0, 0x11223344),
      makeInsn(0x7b, 0, 1, 0, 0),
      makeInsn(0xb7, 0, 0, 0, 2),
      makeInsn(0x95),
    ];
    const prog = await k.loadRaw(insns, { progType: 'xdp', maps: [map] });
    const r = await k.run(prog, { dataIn: new Uint8Array(64) });
    expect(r.err).toBe(0);
    expect(r.retval).toBe(2);
    const got = await k.mapLookup(map, new Uint8Array(4));
    expect(Buffer.from(got?.value ?? []).readBigUInt64LE()).toBe(0x1122334455667788n);
    await k.mapUpdate(map, new Uint8Array(4), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    const [dump] = await k.dumpMaps([map]);
    expect(dump.entries).toEqual([{ key: new Uint8Array(4), value: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) }]);
    await k.closeHandle(prog.handle);
    await k.closeHandle(map.handle);
  });

  it('keeps one value per possible CPU for per-CPU maps', async () => {
    const map = await k.createMap({ type: 'percpu_array', keySize: 4, valueSize: 4, maxEntries: 2 });
    const values = Array.from({ length: k.ncpus }, (_, c) => Uint8Array.of(c, 0, 0, 0x80));
    await k.mapUpdate(map, Uint8Array.of(1, 0, 0, 0), values);
    const got = await k.mapLookup(map, Uint8Array.of(1, 0, 0, 0));
    expect(got?.values).toEqual(values);
    await k.closeHandle(map.handle);
  });

  it('loads an ELF object with libbpf and picks a program by section', async () => {
    const obj = await k.loadObject(PARSE_O, { program: 'xdp' });
    expect(obj.prog.name).toBe('xdp_parse');
    expect(obj.prog.type).toBe('xdp');
    // Ethernet + IPv4 + UDP to port 23: the parser drops it (XDP_DROP = 1).
    const frame = new Uint8Array(64);
    frame.set([0x08, 0x00], 12);
    frame[14] = 0x45;
    frame[23] = 17;
    frame.set([0x00, 0x17], 36);
    expect((await k.run(obj.prog, { dataIn: frame })).retval).toBe(1);
    frame[37] = 0x18; // port 24: passed
    expect((await k.run(obj.prog, { dataIn: frame })).retval).toBe(2);
    await k.closeHandle(obj.handle);
  });

  it('names the file when an object cannot be opened', async () => {
    const err = await k.loadObject('/nonexistent/x.o').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).errno).toBe(-2);
  });

  it('runs a SCHED_CLS object with skb helpers and returns the rewritten frame', async () => {
    const obj = await k.loadObject(TC_DNAT_O);
    expect(obj.prog.type).toBe('sched_cls');
    const frame = ipv4TcpFrame(64, 80);
    const r = await k.run(obj.prog, { dataIn: frame });
    expect(r.err).toBe(0);
    expect(r.retval).toBe(0); // TC_ACT_OK
    const out = r.dataOut;
    expect([...out.subarray(30, 34)]).toEqual([10, 0, 0, 3]);
    expect((out[36] << 8) | out[37]).toBe(8080);
    expect(inetChecksum(out, 14, 34)).toBe(0); // IPv4 header checksum still valid
    const seg = out.length - 34;
    const pseudo = new Uint8Array(12 + seg);
    pseudo.set(out.subarray(26, 34), 0);
    pseudo[9] = 6;
    pseudo[10] = seg >> 8;
    pseudo[11] = seg & 0xff;
    pseudo.set(out.subarray(34), 12);
    expect(inetChecksum(pseudo, 0, pseudo.length)).toBe(0); // TCP checksum still valid
    await k.closeHandle(obj.handle);
  });

  it("dumps an object's per-CPU map with one value per possible CPU", async () => {
    const obj = await k.loadObject(PARSE_COUNT_O);
    for (let i = 0; i < 3; i++) expect((await k.run(obj.prog, { dataIn: ipv4UdpFrame(64) })).retval).toBe(2);
    const [dump] = await k.dumpMaps(obj);
    expect(dump.name).toBe('proto_count');
    expect(dump.type).toBe('percpu_array');
    expect(dump.entries).toHaveLength(256);
    const udp = dump.entries?.[17];
    expect(udp?.values).toHaveLength(k.ncpus);
    const total = (udp?.values ?? []).reduce((sum, v) => sum + Buffer.from(v).readBigUInt64LE(), 0n);
    expect(total).toBe(3n);
    await k.closeHandle(obj.handle);
  });
});
