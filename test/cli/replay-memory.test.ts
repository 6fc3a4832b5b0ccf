/**
 * Memory stays flat in the capture's size: replay streams (frame by frame through a cursor) and
 * keeps no per-frame state. A child process replays a small and a 30x larger generated capture
 * (full-size frames, with --results and --out writing as it goes), as classic pcap and as pcapng,
 * and reports its peak RSS; the peak may not grow with the capture.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapWriter } from '../../src/io/pcap.js';
import { PcapngWriter } from '../../src/io/pcapng.js';

const ROOT = join(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'xdpsim-rss-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function capture(path: string, frames: number): Promise<void> {
  const w = path.endsWith('.pcapng') ? new PcapngWriter(path) : new PcapWriter(path);
  const f = new Uint8Array(1514);
  f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0x99, 0x08, 0x00, 0x45, 0, 0x05, 0xdc, 0, 1, 0x40, 0, 64, 17, 0, 0, 198, 51, 100, 7, 10, 0, 0, 1]);
  for (let i = 0; i < frames; i++) {
    f[1500] = i & 0xff;
    w.write({ data: f, tsSec: 1_700_000_000 + Math.floor(i / 1000), tsNsec: (i % 1000) * 1000 });
  }
  await w.close();
}

function peakRss(cap: string, tag: string): number {
  const script = join(tmp, `run-${tag}.mts`);
  writeFileSync(
    script,
    `import { runReplay } from ${JSON.stringify(join(ROOT, 'src/cli/commands/replay.ts'))};
await runReplay([${JSON.stringify(cap)}], { xdp: [${JSON.stringify(join(ROOT, 'programs/xdp_fw.o'))}], tcIngress: [], tcEgress: [], iface: [], mode: 'pipeline', engine: 'interp',
  results: ${JSON.stringify(join(tmp, `${tag}.jsonl`))}, out: ${JSON.stringify(join(tmp, `out-${tag}`))}, quiet: true }, { stdout: () => undefined, stderr: process.stderr });
process.stdout.write(String(process.resourceUsage().maxRSS));
`,
  );
  const r = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), [script], { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return Number(r.stdout) * 1024;
}

describe('replay memory', () => {
  it.each(['pcap', 'pcapng'])('does not grow with the capture (%s)', async (ext) => {
    const small = join(tmp, `small.${ext}`);
    const big = join(tmp, `big.${ext}`);
    await capture(small, 4_000);
    await capture(big, 120_000);
    expect(statSync(big).size).toBeGreaterThan(170 * 2 ** 20);
    const a = peakRss(small, `small-${ext}`);
    const b = peakRss(big, `big-${ext}`);
    // 175 MiB more capture (and as much again written out) may cost at most 48 MiB more peak RSS.
    expect(b - a, `peak RSS ${(a / 2 ** 20).toFixed(0)} MiB → ${(b / 2 ** 20).toFixed(0)} MiB`).toBeLessThan(48 * 2 ** 20);
  }, 300_000);
});
