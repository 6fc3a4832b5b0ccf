/**
 * replay-prespawn — the `replay --workers N` threads main.ts starts before the command's modules
 * load: which command lines start them (workersOption), that a run adopts them (in process: the
 * same maps and counts as the single-threaded replay, none left over) and that the command line
 * itself, run as a child through main.ts, gives the single-threaded maps.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runReplay, type ReplayOptions } from '../../src/cli/commands/replay.js';
import { prespawnWorkers, takePrespawned, workersOption } from '../../src/cli/commands/replay-prespawn.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SAMPLE = join(ROOT, 'pcaps', 'sample.pcap');
const FW = join(ROOT, 'programs', 'xdp_fw.o');
const RULES = join(ROOT, 'programs', 'xdp_fw.rules.json');
const tmp = mkdtempSync(join(tmpdir(), 'xdpsim-prespawn-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** counts keeps the summary lines that count frames (not the rate, the engine or the notes). */
function counts(summary: string): string[] {
  return summary.split('\n').filter((l) => !/^\s*(rate|note|engine)\s/.test(l) && !l.startsWith('xdpsim replay'));
}

interface MapDump {
  name: string;
  entries: Array<{ key: string; value?: string; values?: string[] }>;
}

/** summedMaps reads a --maps file with per-CPU values summed per u64 word (one CPU without workers, N with). */
function summedMaps(file: string): Array<[string, Array<[string, string]>]> {
  const maps = JSON.parse(readFileSync(file, 'utf8')) as MapDump[];
  const sum = (values: string[]): string => {
    const words = values.map((v) => Array.from({ length: v.length / 16 }, (_, i) => Buffer.from(v, 'hex').readBigUInt64LE(8 * i)));
    return words.reduce((a, w) => a.map((x, i) => x + w[i])).join(',');
  };
  return maps.map((m) => [m.name, m.entries.map((e): [string, string] => [e.key, e.values !== undefined ? sum(e.values) : (e.value ?? '')])]);
}

async function inProcess(workers: string | undefined, maps: string): Promise<string> {
  let out = '';
  const opts: ReplayOptions = { xdp: [FW], tcIngress: [], tcEgress: [], iface: [], mode: 'pipeline', engine: 'jit', preload: RULES, maps, ...(workers !== undefined ? { workers } : {}) };
  await runReplay([SAMPLE], opts, { stdout: (s) => (out += s), stderr: process.stderr });
  return out;
}

describe('replay --workers prespawn', () => {
  it.each([
    [['replay', 'a.pcap', '--xdp', 'p.o', '--workers', '2'], 2],
    [['replay', 'a.pcap', '--workers=3', '--xdp', 'p.o'], 3],
    [['replay', 'a.pcap', '--xdp', 'p.o'], undefined],
    [['replay', 'a.pcap', '--workers', 'x'], undefined],
    [['replay', 'a.pcap', '--workers', '2', '--help'], undefined],
    [['replay', '--', '--workers', '2'], undefined],
    [['inspect', 'p.o', '--workers', '2'], undefined],
  ])('reads %j as %s workers', (args, want) => {
    expect(workersOption(['node', 'xdpsim', ...args])).toBe(want);
  });

  it('adopts the prespawned threads: the single-threaded maps and counts, none left over', async () => {
    const single = await inProcess(undefined, join(tmp, 'single.json'));
    prespawnWorkers(['node', 'xdpsim', 'replay', SAMPLE, '--workers', '2']);
    const two = await inProcess('2', join(tmp, 'two.json'));
    expect(takePrespawned()).toEqual([]);
    expect(counts(two)).toEqual(counts(single));
    expect(two).toMatch(/workers: 2 .*frames per queue \d+, \d+/);
    expect(summedMaps(join(tmp, 'two.json'))).toEqual(summedMaps(join(tmp, 'single.json')));
  }, 120_000);

  it('runs the command line through main.ts with its threads started early', () => {
    const cli = (extra: string[], maps: string): string => {
      const r = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'src/cli/main.ts'), 'replay', SAMPLE, '--xdp', FW, '--preload', RULES, '--maps', maps, ...extra], { encoding: 'utf8', cwd: ROOT });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    const single = cli([], join(tmp, 'cli-single.json'));
    const two = cli(['--workers', '2'], join(tmp, 'cli-two.json'));
    expect(counts(two)).toEqual(counts(single));
    expect(two).toMatch(/workers: 2 .*frames per queue \d+, \d+/);
    expect(summedMaps(join(tmp, 'cli-two.json'))).toEqual(summedMaps(join(tmp, 'cli-single.json')));
  }, 120_000);
});
