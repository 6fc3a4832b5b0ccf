/**
 * parity-harness — runs frames through a program twice, in the kernel (BPF_PROG_TEST_RUN over
 * src/kernel/testrun.ts) and in xdpsim's test-run emulation (src/hooks/testrun.ts), and reports
 * every field that differs. Used by test/parity/testrun-*.test.ts.
 */
import { dirname, join } from 'node:path';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { KernelTestRunner, type KernelObject } from '../../src/kernel/testrun.js';
import { loadObject } from '../../src/object/instantiate.js';
import { createRunEnv } from '../../src/vm/run.js';
import { DEFAULT_ENGINE, getEngine } from '../../src/vm/engines.js';
import { packetHelperMap } from '../../src/helpers/skb.js';
import { loopbackDatapath } from '../../src/hooks/datapath.js';
import { TestRunner, type TestRunInput, type TestRunOutput } from '../../src/hooks/testrun.js';
import type { BpfMap } from '../../src/maps/spec.js';

/** PROGRAMS_DIR is the repository's programs/ directory. */
export const PROGRAMS_DIR = join(import.meta.dirname, '..', '..', 'programs');

/** hex renders bytes as lowercase hex. */
export function hex(b: Uint8Array | undefined): string {
  return b === undefined ? '-' : Buffer.from(b).toString('hex');
}

/** SimProgram is one program of an object loaded in xdpsim and wrapped in a TestRunner. */
export interface SimProgram {
  readonly runner: TestRunner;
  /** The object's live maps by name. */
  readonly maps: ReadonlyMap<string, BpfMap>;
}

/** loadSim loads `program` of the object at `path` into xdpsim's test-run emulation on `engine`. */
export function loadSim(path: string, program: string, engine = DEFAULT_ENGINE): SimProgram {
  const obj = loadObject(path);
  const spec = obj.programs.get(program);
  if (spec === undefined) throw new Error(`${path}: no program ${program}`);
  const exec = getEngine(engine).prepare(spec);
  const env = createRunEnv(obj.mem, { helpers: packetHelperMap() });
  const datapath = loopbackDatapath((h) => obj.registry.byHandle(h));
  return { runner: new TestRunner({ exec, progType: spec.progType, env, datapath, expectedAttachType: spec.attachType }), maps: obj.maps };
}

/** Mismatch is one frame where the kernel and xdpsim disagree. */
export interface Mismatch {
  readonly label: string;
  readonly field: string;
  readonly kernel: string;
  readonly sim: string;
}

/** compareOne runs one input both ways and returns the fields that differ. */
export async function compareOne(
  k: KernelTestRunner,
  kobj: KernelObject,
  sim: SimProgram,
  label: string,
  input: TestRunInput,
  golden?: GoldenRecord[],
): Promise<Mismatch[]> {
  const kr = await k.run(kobj.prog, { dataIn: input.data, ctxIn: input.ctxIn, flags: input.flags, repeat: input.repeat, ctxSizeOut: input.ctxOut === true ? 4096 : undefined });
  const sr: TestRunOutput = sim.runner.run({ ...input, dataSizeOut: 256 << 10 });
  golden?.push(goldenOf(label, kr, input.ctxIn !== undefined || input.ctxOut === true));
  const out: Mismatch[] = [];
  const cmp = (field: string, a: string, b: string): void => {
    if (a !== b) out.push({ label, field, kernel: a, sim: b });
  };
  if (sr.fault !== undefined) cmp('fault', '-', sr.fault.message);
  cmp('err', String(kr.err), String(sr.err));
  cmp('retval', String(kr.retval >>> 0), String(sr.retval >>> 0));
  cmp('data_size_out', String(kr.dataSizeOut), String(sr.dataSizeOut));
  cmp('data_out', hex(kr.dataOut), hex(sr.dataOut));
  if (input.ctxIn !== undefined || input.ctxOut === true) cmp('ctx_out', hex(kr.ctxOut), hex(sr.ctxOut));
  return out;
}

/** openKernel opens the kernel runner or returns the reason it cannot run here. */
export async function openKernel(): Promise<{ k: KernelTestRunner; reason: undefined } | { k: undefined; reason: string }> {
  const a = await KernelTestRunner.open();
  return a.ok ? { k: a.runner, reason: undefined } : { k: undefined, reason: a.reason };
}

/** request builds an Ethernet frame whose source MAC carries an xdp_pkt/tc_pkt request. */
export function request(op: number, arg: number, p1: number, p2: number, p3: number, ethertype: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set([0x02, 0, 0, 0, 0, 0x01], 0);
  f[6] = op;
  f[7] = (arg >> 8) & 0xff;
  f[8] = arg & 0xff;
  f[9] = p1;
  f[10] = p2;
  f[11] = p3;
  f[12] = ethertype >> 8;
  f[13] = ethertype & 0xff;
  f.set(payload, 14);
  return f;
}

/** ipv4Udp builds an IPv4/UDP packet (valid checksum, ECN bits `ecn`) with `n` payload bytes. */
export function ipv4Udp(n: number, ecn = 0): Uint8Array {
  const p = new Uint8Array(28 + n);
  p.set([0x45, ecn & 3, (28 + n) >> 8, (28 + n) & 0xff, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (p[i] << 8) | p[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  p[10] = c >> 8;
  p[11] = c & 0xff;
  p.set([0x30, 0x39, 0x00, 0x35, (8 + n) >> 8, (8 + n) & 0xff, 0x00, 0x00], 20);
  for (let i = 0; i < n; i++) p[28 + i] = (i * 7 + 3) & 0xff;
  return p;
}

/** ipv6Udp builds an IPv6/UDP packet with traffic class ECN bits `ecn` and `n` payload bytes. */
export function ipv6Udp(n: number, ecn = 0): Uint8Array {
  const p = new Uint8Array(48 + n);
  p.set([0x60 | 0, (ecn & 3) << 4, 0, 0, (8 + n) >> 8, (8 + n) & 0xff, 17, 64]);
  for (let i = 0; i < 16; i++) p[8 + i] = i === 15 ? 1 : i === 0 ? 0xfd : 0;
  for (let i = 0; i < 16; i++) p[24 + i] = i === 15 ? 2 : i === 0 ? 0xfd : 0;
  p.set([0x30, 0x39, 0x00, 0x35, (8 + n) >> 8, (8 + n) & 0xff, 0x12, 0x34], 40);
  for (let i = 0; i < n; i++) p[48 + i] = (i * 5 + 1) & 0xff;
  return p;
}

/** vlan wraps `inner` (with its ethertype) in an 802.1Q/802.1ad tag. */
export function vlan(tci: number, innerType: number, inner: Uint8Array): Uint8Array {
  const p = new Uint8Array(4 + inner.length);
  p.set([tci >> 8, tci & 0xff, innerType >> 8, innerType & 0xff]);
  p.set(inner, 4);
  return p;
}

/** dumpMismatches appends every mismatch as JSON Lines to $XDPSIM_PARITY_DUMP when it is set. */
export function dumpMismatches(ms: readonly Mismatch[]): void {
  const file = process.env.XDPSIM_PARITY_DUMP;
  if (file === undefined || file === '') return;
  for (const m of ms) appendFileSync(file, `${JSON.stringify(m)}\n`);
}

/** GoldenRecord is a kernel test-run result in compact form: data and ctx as short SHA-256 digests. */
export interface GoldenRecord {
  readonly label: string;
  readonly err: number;
  readonly retval: number;
  readonly size: number;
  readonly data: string;
  readonly ctx: string;
}

function digest(b: Uint8Array | undefined): string {
  return b === undefined ? '-' : createHash('sha256').update(b).digest('hex').slice(0, 20);
}

/** goldenOf condenses a run result (kernel or xdpsim) to a GoldenRecord. */
export function goldenOf(label: string, r: { err: number; retval: number; dataSizeOut: number; dataOut: Uint8Array; ctxOut?: Uint8Array }, withCtx: boolean): GoldenRecord {
  return { label, err: r.err, retval: r.retval >>> 0, size: r.dataSizeOut, data: digest(r.dataOut), ctx: withCtx ? digest(r.ctxOut) : '-' };
}

/** readGolden loads a golden file (gzipped JSON Lines of GoldenRecord) by label; empty when absent. */
export function readGolden(file: string): Map<string, GoldenRecord> {
  const m = new Map<string, GoldenRecord>();
  if (!existsSync(file)) return m;
  for (const line of gunzipSync(readFileSync(file)).toString('utf8').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const r = JSON.parse(line) as GoldenRecord;
    m.set(r.label, r);
  }
  return m;
}

/** writeGolden writes records, gzipped, with a header naming the kernel they came from. */
export function writeGolden(file: string, kernelRelease: string, recs: readonly GoldenRecord[]): void {
  mkdirSync(dirname(file), { recursive: true });
  const text = `# BPF_PROG_TEST_RUN results from Linux ${kernelRelease}; regenerate as root with XDPSIM_UPDATE_GOLDEN=1\n${recs.map((r) => JSON.stringify(r)).join('\n')}\n`;
  writeFileSync(file, gzipSync(text, { level: 9 }));
}

/** UPDATE_GOLDEN is set when the kernel parity tests should rewrite the golden files. */
export const UPDATE_GOLDEN = process.env.XDPSIM_UPDATE_GOLDEN === '1';

/** compareGolden returns the fields where `got` differs from the recorded kernel result. */
export function compareGolden(want: GoldenRecord | undefined, got: GoldenRecord): Mismatch[] {
  if (want === undefined) return [{ label: got.label, field: 'golden', kernel: 'no record', sim: JSON.stringify(got) }];
  const out: Mismatch[] = [];
  for (const f of ['err', 'retval', 'size', 'data', 'ctx'] as const) {
    if (String(want[f]) !== String(got[f])) out.push({ label: got.label, field: f, kernel: String(want[f]), sim: String(got[f]) });
  }
  return out;
}
