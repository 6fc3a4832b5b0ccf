/**
 * `xdpsim replay --workers N` end to end (runReplay in process; the workers are real threads):
 * the same per-frame results, captures and final maps as one worker and as the single-threaded
 * path for programs whose outcome is per flow (xdp_fw with its rules, parse_count's per-CPU
 * counters summed, a tail-call chain); concurrent inserts and deletes on a shared HASH, per-flow
 * ARRAY counters and PERCPU_ARRAY counters from two workers add up exactly (xdp_workers); map
 * types that cannot be shared are refused with NotSupportedError naming the map; a truncated
 * capture fails with the same CaptureError after the same frames.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runReplay, type ReplayOptions } from '../../src/cli/commands/replay.js';
import { CaptureError, NotSupportedError, UsageError } from '../../src/errors.js';
import { PcapWriter } from '../../src/io/pcap.js';
import { readCapture } from '../../src/io/capture.js';
import { flowQueue } from '../../src/datapath/pipeline.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SAMPLE = join(ROOT, 'pcaps', 'sample.pcap');
const FW = join(ROOT, 'programs', 'xdp_fw.o');
const RULES = join(ROOT, 'programs', 'xdp_fw.rules.json');
const tmp = mkdtempSync(join(tmpdir(), 'xdpsim-workers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface MapDump {
  name: string;
  type: string;
  entries: Array<{ key: string; value?: string; values?: string[] }>;
}

interface Run {
  lines: Array<Record<string, unknown>>;
  maps: MapDump[];
  out: string;
}

let runs = 0;

/** replay runs the command with `workers` (undefined: the single-threaded path) and reads what it wrote. */
async function replay(captures: string[], xdp: string, workers: number | undefined, extra: Partial<ReplayOptions> = {}): Promise<Run> {
  const tag = `r${runs++}`;
  const results = join(tmp, `${tag}.jsonl`);
  const maps = join(tmp, `${tag}.maps.json`);
  let out = '';
  const opts: ReplayOptions = {
    xdp: [xdp],
    tcIngress: [],
    tcEgress: [],
    iface: [],
    mode: 'pipeline',
    engine: 'interp',
    results,
    maps,
    ...(workers !== undefined ? { workers: String(workers) } : {}),
    ...extra,
  };
  await runReplay(captures, opts, { stdout: (s) => (out += s), stderr: process.stderr });
  const lines = readFileSync(results, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { lines, maps: JSON.parse(readFileSync(maps, 'utf8')) as MapDump[], out };
}

/** replayOwn runs the command without per-frame output (each worker reads the captures itself) and reads the maps and the summary. */
async function replayOwn(captures: string[], xdp: string, workers: number | undefined, extra: Partial<ReplayOptions> = {}): Promise<{ maps: MapDump[]; out: string; error: unknown }> {
  const maps = join(tmp, `r${runs++}.maps.json`);
  let out = '';
  const opts: ReplayOptions = { xdp: [xdp], tcIngress: [], tcEgress: [], iface: [], mode: 'pipeline', engine: 'interp', maps, ...(workers !== undefined ? { workers: String(workers) } : {}), ...extra };
  const error = await runReplay(captures, opts, { stdout: (s) => (out += s), stderr: process.stderr }).then(() => undefined, (e: unknown) => e);
  return { maps: JSON.parse(readFileSync(maps, 'utf8')) as MapDump[], out, error };
}

/** counts keeps the summary lines that count frames (not the rate, the engine or the notes). */
function counts(summary: string): string[] {
  return summary.split('\n').filter((l) => !/^\s*(rate|note|engine)\s/.test(l) && !l.startsWith('xdpsim replay'));
}

/** withoutQueue drops the rx queue a frame came in on (1 queue without --workers, N with). */
function withoutQueue(lines: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return lines.map(({ queue: _q, ...rest }) => rest);
}

/** u64s reads a hex value as little-endian u64 words (as numbers; the tests' values stay below 2^53). */
function u64s(hex: string): number[] {
  const b = Buffer.from(hex, 'hex');
  const out: number[] = [];
  for (let o = 0; o + 8 <= b.length; o += 8) out.push(Number(b.readBigUInt64LE(o)));
  return out;
}

/** summed turns per-CPU values into their sum per key and u64 word; other entries stay as they are. */
function summed(maps: MapDump[]): Array<{ name: string; entries: Array<[string, string]> }> {
  return maps.map((m) => ({
    name: m.name,
    entries: m.entries
      .map((e): [string, string] => {
        if (e.values === undefined) return [e.key, e.value ?? ''];
        const sums = e.values.map(u64s).reduce((a, v) => a.map((x, i) => x + v[i]));
        return [e.key, sums.join(',')];
      })
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
  }));
}

/** udpFrame is Ethernet/IPv4/UDP from 10.0.0.(1+src%200) port `sport` with IPv4 id `id` and TOS `tos`. */
function udpFrame(sport: number, id: number, tos: number): Uint8Array {
  const f = new Uint8Array(64);
  f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
  f.set([0x45, tos, 0, 50, id >> 8, id & 0xff, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1 + (sport % 200), 10, 0, 1, 1], 14);
  f.set([sport >> 8, sport & 0xff, 0, 53, 0, 30, 0, 0], 34);
  return f;
}

const FLOWS = 64;
const FRAMES = 6000;

/** churnCapture writes FRAMES frames over FLOWS flows (round robin), every key (port, id) different, every 3rd TOS 1. */
async function churnCapture(path: string): Promise<void> {
  const w = new PcapWriter(path);
  for (let i = 0; i < FRAMES; i++) {
    w.write({ data: udpFrame(1000 + (i % FLOWS), i, i % 3 === 0 ? 1 : 0), tsSec: 1_700_000_000, tsNsec: i * 1000 });
  }
  await w.close();
}

describe('replay --workers', () => {
  it('gives xdp_fw the same results, captures and maps on 2 workers as on 1 and without workers', async () => {
    const outs = [join(tmp, 'fw0'), join(tmp, 'fw1'), join(tmp, 'fw2')];
    const none = await replay([SAMPLE], FW, undefined, { preload: RULES, out: outs[0] });
    const one = await replay([SAMPLE], FW, 1, { preload: RULES, out: outs[1] });
    const two = await replay([SAMPLE], FW, 2, { preload: RULES, out: outs[2] });
    expect(none.lines.length).toBe(196);
    expect(withoutQueue(two.lines)).toEqual(withoutQueue(none.lines));
    expect(withoutQueue(one.lines)).toEqual(withoutQueue(none.lines));
    // Worker i is rx queue i: the queue in every line is the frame's flow hash over 2 queues.
    const frames = await readCapture(SAMPLE).collect();
    expect(two.lines.map((l) => l.queue)).toEqual(frames.map((f) => flowQueue(f.data, 2)));
    expect(new Set(two.lines.map((l) => l.queue))).toEqual(new Set([0, 1]));
    expect(summed(two.maps)).toEqual(summed(none.maps));
    expect(summed(one.maps)).toEqual(summed(none.maps));
    // Hash maps keep insertion order; the preload inserted in the same order everywhere.
    expect(two.maps.map((m) => m.entries.map((e) => e.key))).toEqual(none.maps.map((m) => m.entries.map((e) => e.key)));
    for (const kind of ['host', 'drop']) {
      const a = await readCapture(join(outs[0], `${kind}.pcapng`)).collect();
      const b = await readCapture(join(outs[2], `${kind}.pcapng`)).collect();
      expect(b.map((f) => [Buffer.from(f.data).toString('hex'), f.comment])).toEqual(a.map((f) => [Buffer.from(f.data).toString('hex'), f.comment]));
      expect(a.length).toBeGreaterThan(0);
    }
    expect(two.out).toMatch(/workers: 2 .*frames per queue \d+, \d+/);
  }, 120_000);

  it('splits per-CPU counters by worker with the same sums (parse_count)', async () => {
    const prog = join(ROOT, 'programs', 'bench', 'parse_count.o');
    const none = await replay([SAMPLE], prog, undefined);
    const two = await replay([SAMPLE], prog, 2);
    expect(withoutQueue(two.lines)).toEqual(withoutQueue(none.lines));
    expect(summed(two.maps)).toEqual(summed(none.maps));
    const counts = two.maps.find((m) => m.name === 'proto_count');
    // Two CPUs, and both counted frames: both workers ran.
    const perCpu = (counts?.entries ?? []).flatMap((e) => e.values ?? []).length;
    expect(perCpu).toBe(2 * 256);
    const cpuTotals = [0, 1].map((c) => (counts?.entries ?? []).reduce((s, e) => s + u64s(e.values?.[c] ?? '')[0], 0));
    expect(cpuTotals[0]).toBeGreaterThan(0);
    expect(cpuTotals[1]).toBeGreaterThan(0);
  }, 120_000);

  it('runs tail calls through a replicated PROG_ARRAY the same way', async () => {
    const prog = join(ROOT, 'programs', 'xdp_tailcall.o');
    const none = await replay([SAMPLE], prog, undefined);
    const two = await replay([SAMPLE], prog, 2);
    expect(withoutQueue(two.lines)).toEqual(withoutQueue(none.lines));
    expect(summed(two.maps)).toEqual(summed(none.maps));
  }, 120_000);

  it('loses no entry of a shared HASH and no count of shared ARRAY and PERCPU_ARRAY values under two workers', async () => {
    const cap = join(tmp, 'churn.pcap');
    await churnCapture(cap);
    const prog = `${join(ROOT, 'programs', 'xdp_workers.o')}:xdp_workers`;
    const two = await replay([cap], prog, 2, { quiet: true });
    expect(two.lines.every((l) => (l.hooks as Array<{ verdict: string }>)[0].verdict === 'XDP_PASS')).toBe(true);
    const seen = two.maps.find((m) => m.name === 'seen');
    const kept = Array.from({ length: FRAMES }, (_, i) => i).filter((i) => i % 3 !== 0);
    expect(seen?.entries.length).toBe(kept.length);
    const want = new Map(kept.map((i) => {
      const key = ((1000 + (i % FLOWS)) << 16 | i) >>> 0;
      const k = Buffer.alloc(4);
      k.writeUInt32LE(key);
      const v = Buffer.alloc(8);
      v.writeUInt32LE((key ^ 0x5a5a5a5a) >>> 0, 0);
      v.writeUInt32LE(key, 4);
      return [k.toString('hex'), v.toString('hex')];
    }));
    for (const e of seen?.entries ?? []) expect(e.value).toBe(want.get(e.key));
    const perFlow = two.maps.find((m) => m.name === 'per_flow');
    for (let f = 0; f < 256; f++) {
      const frames = Array.from({ length: FRAMES }, (_, i) => 1000 + (i % FLOWS)).filter((p) => (p & 0xff) === f).length;
      expect(u64s(perFlow?.entries[f].value ?? '')[0]).toBe(frames);
    }
    const total = two.maps.find((m) => m.name === 'frames')?.entries[0].values ?? [];
    expect(total).toHaveLength(2);
    const byCpu = total.map((v) => u64s(v)[0]);
    expect(byCpu[0] + byCpu[1]).toBe(FRAMES);
    // Worker i counted exactly the frames RSS gave queue i.
    const frames = await readCapture(cap).collect();
    expect(byCpu[1]).toBe(frames.filter((f) => flowQueue(f.data, 2) === 1).length);
    expect(byCpu[0]).toBeGreaterThan(0);
    expect(byCpu[1]).toBeGreaterThan(0);
  }, 120_000);

  it('refuses map types it cannot share, naming the map and its type', async () => {
    const err = await replay([SAMPLE], join(ROOT, 'programs', 'xdp_maps.o'), 2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotSupportedError);
    expect((err as NotSupportedError).code).toBe('E_WORKERS_MAP');
    // The first map of xdp_maps.o that cannot be shared: an LRU_HASH (9).
    expect((err as NotSupportedError).fields.symbol).toBe('lru_flows');
    expect((err as NotSupportedError).fields.mapType).toBe(9);
  });

  it('fails with NotSupportedError when a program updates a replicated LPM_TRIE while frames run', async () => {
    const prog = `${join(ROOT, 'programs', 'xdp_workers.o')}:xdp_lpm_update`;
    const none = await replay([SAMPLE], prog, undefined, { quiet: true });
    expect(none.maps.find((m) => m.name === 'sources')?.entries.length).toBeGreaterThan(0);
    const err = await replay([SAMPLE], prog, 2, { quiet: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotSupportedError);
    expect((err as NotSupportedError).code).toBe('E_WORKERS_MAP');
    expect((err as NotSupportedError).fields.symbol).toBe('sources');
  }, 120_000);

  it('runs the compiled engine over the shared memory: the same results, captures and maps as the interpreter', async () => {
    const outs = [join(tmp, 'fwi'), join(tmp, 'fwj')];
    const interp = await replay([SAMPLE], FW, 2, { preload: RULES, out: outs[0] });
    const jit = await replay([SAMPLE], FW, 2, { preload: RULES, out: outs[1], engine: 'jit' });
    expect(jit.lines).toEqual(interp.lines);
    expect(summed(jit.maps)).toEqual(summed(interp.maps));
    for (const kind of ['host', 'drop']) {
      const a = await readCapture(join(outs[0], `${kind}.pcapng`)).collect();
      const b = await readCapture(join(outs[1], `${kind}.pcapng`)).collect();
      expect(b.map((f) => [Buffer.from(f.data).toString('hex'), f.comment])).toEqual(a.map((f) => [Buffer.from(f.data).toString('hex'), f.comment]));
    }
    // The churn program's shared HASH and counters under the jit on both workers.
    const cap = join(tmp, 'churn-jit.pcap');
    await churnCapture(cap);
    const prog = `${join(ROOT, 'programs', 'xdp_workers.o')}:xdp_workers`;
    const ci = await replay([cap], prog, 2, { quiet: true });
    const cj = await replay([cap], prog, 2, { quiet: true, engine: 'jit' });
    expect(cj.lines).toEqual(ci.lines);
    expect(cj.lines.every((l) => (l.hooks as Array<{ verdict: string }>)[0].verdict === 'XDP_PASS')).toBe(true);
    const seen = (r: Run): number | undefined => r.maps.find((m) => m.name === 'seen')?.entries.length;
    expect(seen(cj)).toBe(seen(ci));
    expect(seen(cj)).toBe(FRAMES - Math.ceil(FRAMES / 3));
  }, 120_000);

  it.each([
    ['interp', 'xdp_atomics'],
    ['jit', 'xdp_atomics'],
    ['interp', 'xdp_atomics_call'],
    ['jit', 'xdp_atomics_call'],
  ])('%s: BPF atomic adds on one shared value from two workers add up exactly (%s)', async (engine, func) => {
    const cap = join(tmp, `atomics-${engine}-${func}.pcap`);
    await churnCapture(cap);
    const two = await replay([cap], `${join(ROOT, 'programs', 'xdp_atomics.o')}:${func}`, 2, { quiet: true, engine });
    expect(two.lines.every((l) => (l.hooks as Array<{ verdict: string }>)[0].verdict === 'XDP_PASS')).toBe(true);
    expect(new Set(two.lines.map((l) => l.queue))).toEqual(new Set([0, 1]));
    const v = Buffer.from(two.maps.find((m) => m.name === 'totals')?.entries[0].value ?? '', 'hex');
    const want = FRAMES * 32; // programs/xdp_atomics.c ROUNDS
    expect([Number(v.readBigUInt64LE(0)), v.readUInt32LE(8), Number(v.readBigUInt64LE(16))]).toEqual([want, want, want]);
  }, 120_000);

  it('refuses test-run mode and a queue count other than N', async () => {
    const testRun = await replay([SAMPLE], FW, 2, { mode: 'test-run' }).catch((e: unknown) => e);
    expect(testRun).toBeInstanceOf(UsageError);
    const queues = await replay([SAMPLE], FW, 2, { iface: ['eth0,queues=4'] }).catch((e: unknown) => e);
    expect(queues).toBeInstanceOf(UsageError);
  });

  it('processes a truncated capture up to the bad record and fails with the same CaptureError', async () => {
    const bad = join(ROOT, 'pcaps', 'bad', 'truncated.pcap');
    const single = await replay([bad], FW, undefined).catch((e: unknown) => e);
    const results = join(tmp, 'trunc-w.jsonl');
    const two = await runReplay([bad], { xdp: [FW], tcIngress: [], tcEgress: [], iface: [], mode: 'pipeline', engine: 'interp', results, workers: '2', quiet: true }, { stdout: () => undefined, stderr: process.stderr }).catch((e: unknown) => e);
    expect(single).toBeInstanceOf(CaptureError);
    expect(two).toBeInstanceOf(CaptureError);
    expect((two as CaptureError).code).toBe((single as CaptureError).code);
    expect((two as CaptureError).fields).toEqual((single as CaptureError).fields);
    expect(readFileSync(results, 'utf8').split('\n').filter((l) => l !== '')).toHaveLength(10);
  }, 120_000);

  describe('without per-frame output (every thread reads the captures itself)', () => {
    it('gives xdp_fw the same summary counts and maps as without workers and as the batch mode', async () => {
      const none = await replayOwn([SAMPLE], FW, undefined, { preload: RULES });
      const one = await replayOwn([SAMPLE], FW, 1, { preload: RULES });
      const two = await replayOwn([SAMPLE], FW, 2, { preload: RULES });
      const batch = await replay([SAMPLE], FW, 2, { preload: RULES });
      for (const r of [none, one, two]) expect(r.error).toBeUndefined();
      expect(counts(two.out)).toEqual(counts(none.out));
      expect(counts(one.out)).toEqual(counts(none.out));
      expect(counts(two.out).join('\n')).toMatch(/frames in\s+196 /);
      expect(summed(two.maps)).toEqual(summed(none.maps));
      expect(summed(one.maps)).toEqual(summed(none.maps));
      expect(summed(two.maps)).toEqual(summed(batch.maps));
      const frames = await readCapture(SAMPLE).collect();
      const q1 = frames.filter((f) => flowQueue(f.data, 2) === 1).length;
      expect(two.out).toMatch(new RegExp(`each reading the captures itself; frames per queue ${frames.length - q1}, ${q1}\\)`));
      expect(q1).toBeGreaterThan(0);
      expect(q1).toBeLessThan(frames.length);
    }, 120_000);

    it('stops at --limit across several captures like the single-threaded replay', async () => {
      for (const limit of ['1', '150', '300', '1000']) {
        const none = await replayOwn([SAMPLE, SAMPLE], FW, undefined, { preload: RULES, limit });
        const two = await replayOwn([SAMPLE, SAMPLE], FW, 2, { preload: RULES, limit });
        expect(counts(two.out)).toEqual(counts(none.out));
        expect(summed(two.maps)).toEqual(summed(none.maps));
      }
    }, 120_000);

    it('processes a truncated capture up to the bad record and fails with the same CaptureError', async () => {
      const bad = join(ROOT, 'pcaps', 'bad', 'truncated.pcap');
      const none = await replayOwn([bad], FW, undefined);
      const two = await replayOwn([bad], FW, 2);
      expect(none.error).toBeInstanceOf(CaptureError);
      expect(two.error).toBeInstanceOf(CaptureError);
      expect((two.error as CaptureError).code).toBe((none.error as CaptureError).code);
      expect((two.error as CaptureError).fields).toEqual((none.error as CaptureError).fields);
      expect(counts(two.out)).toEqual(counts(none.out));
      expect(counts(two.out).join('\n')).toMatch(/frames in\s+10 /);
    }, 120_000);

    it.each(['interp', 'jit'])('%s: shared HASH, ARRAY and PERCPU_ARRAY updates and BPF atomics from two workers add up exactly', async (engine) => {
      const cap = join(tmp, `churn-own-${engine}.pcap`);
      await churnCapture(cap);
      const two = await replayOwn([cap], `${join(ROOT, 'programs', 'xdp_workers.o')}:xdp_workers`, 2, { engine });
      expect(two.error).toBeUndefined();
      expect(two.maps.find((m) => m.name === 'seen')?.entries.length).toBe(FRAMES - Math.ceil(FRAMES / 3));
      const byCpu = (two.maps.find((m) => m.name === 'frames')?.entries[0].values ?? []).map((v) => u64s(v)[0]);
      const frames = await readCapture(cap).collect();
      expect(byCpu).toEqual([0, 1].map((q) => frames.filter((f) => flowQueue(f.data, 2) === q).length));
      const atomics = await replayOwn([cap], `${join(ROOT, 'programs', 'xdp_atomics.o')}:xdp_atomics`, 2, { engine });
      const v = Buffer.from(atomics.maps.find((m) => m.name === 'totals')?.entries[0].value ?? '', 'hex');
      const want = FRAMES * 32; // programs/xdp_atomics.c ROUNDS
      expect([Number(v.readBigUInt64LE(0)), v.readUInt32LE(8), Number(v.readBigUInt64LE(16))]).toEqual([want, want, want]);
    }, 120_000);
  });
});
