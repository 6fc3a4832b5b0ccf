/**
 * replay — end-to-end throughput (issue 5): `xdpsim replay` on a generated capture through the
 * parse program, capture to capture (--out: the frames written back as one pcapng per
 * disposition), next to `tcpdump -r FILE -w /dev/null` on the same file (the cost of just
 * reading and writing the capture); the replay without output is reported beside it. All are
 * timed as whole commands on the wall clock, process start included (amortised over FRAMES frames). The xdpsim figure is null until the replay
 * command exists (it is detected, not assumed); tcpdump's is null where tcpdump is not installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, writeSync, closeSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReplayBench, WorkersBench } from './format.js';
import { ipv4UdpFrame } from './frames.js';

/** writeCapture writes a classic pcap (microsecond, Ethernet) of `frames` 64-byte UDP frames. */
export function writeCapture(path: string, frames: number): void {
  const kinds = [ipv4UdpFrame(64, 40000, 53), ipv4UdpFrame(64, 40001, 23), ipv4UdpFrame(64, 19, 9999), ipv4UdpFrame(64, 40002, 443)];
  const fd = openSync(path, 'w');
  try {
    const hdr = Buffer.alloc(24);
    hdr.writeUInt32LE(0xa1b2c3d4, 0);
    hdr.writeUInt16LE(2, 4);
    hdr.writeUInt16LE(4, 6);
    hdr.writeUInt32LE(65535, 16); // snaplen
    hdr.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
    writeSync(fd, hdr);
    const recLen = 16 + 64;
    const perChunk = 8192;
    const chunk = Buffer.alloc(recLen * perChunk);
    for (let done = 0; done < frames; ) {
      const n = Math.min(perChunk, frames - done);
      for (let i = 0; i < n; i++) {
        const idx = done + i;
        const o = i * recLen;
        chunk.writeUInt32LE(1_700_000_000 + Math.floor(idx / 1_000_000), o);
        chunk.writeUInt32LE(idx % 1_000_000, o + 4);
        chunk.writeUInt32LE(64, o + 8);
        chunk.writeUInt32LE(64, o + 12);
        chunk.set(kinds[idx % kinds.length], o + 16);
      }
      writeSync(fd, chunk, 0, n * recLen);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}

function timeCommand(cmd: string, args: string[]): { seconds: number; ok: boolean; stderr: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds, ok: r.status === 0, stderr: `${r.error?.message ?? ''}${r.stderr ?? ''}`.trim() };
}

/** hasReplayCommand asks the CLI whether it has `replay` (its --help exits 0 only if it does). */
function hasReplayCommand(cli: string): boolean {
  const r = spawnSync(process.execPath, [cli, 'replay', '--help'], { encoding: 'utf8' });
  return r.status === 0 && /replay/.test(r.stdout);
}

/** median of a non-empty list. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * benchWorkers times `replay --workers 1` and `--workers 2` on the same capture, alternating for
 * WORKERS_ROUNDS rounds so both see the same machine load, and reports the medians.
 */
function benchWorkers(cli: string, capture: string, program: string, frames: number, notes: Record<string, string>): WorkersBench | null {
  const WORKERS_ROUNDS = 3;
  const loadavg = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  const times: [number[], number[]] = [[], []];
  for (let r = 0; r < WORKERS_ROUNDS; r++) {
    for (const w of [1, 2] as const) {
      const t = timeCommand(process.execPath, [cli, 'replay', capture, '--xdp', program, '-q', '--workers', String(w)]);
      if (!t.ok) {
        notes.workers = `xdpsim replay --workers ${w} failed: ${t.stderr.slice(0, 300)}`;
        return null;
      }
      times[w - 1].push(t.seconds);
    }
  }
  const p1 = frames / median(times[0]);
  const p2 = frames / median(times[1]);
  return { workers1_pps: p1, workers2_pps: p2, speedup: p2 / p1, loadavg };
}

/** benchReplay measures both commands on a capture of `frames` frames; notes say what was skipped. */
export function benchReplay(root: string, frames: number, notes: Record<string, string>): ReplayBench {
  const dir = mkdtempSync(join(tmpdir(), 'xdpsim-bench-'));
  const capture = join(dir, 'bench.pcap');
  try {
    writeCapture(capture, frames);
    const program = join(root, 'programs', 'bench', 'parse.o');
    const cli = join(root, 'dist', 'src', 'cli', 'main.js');
    // Capture to capture, as issue 5 sets the target: xdpsim writes its output captures (one
    // pcapng per disposition, --out, into the temporary directory), tcpdump writes its copy to
    // /dev/null. The figure without any output (summary only) is kept as pps_no_output.
    // ROUNDS alternating rounds, medians, so both commands see the same machine load.
    const ROUNDS = 3;
    const outDir = join(dir, 'out');
    const runs: Record<'out' | 'plain' | 'tcpdump', number[]> = { out: [], plain: [], tcpdump: [] };
    const haveReplay = hasReplayCommand(cli);
    if (!haveReplay) notes.replay = 'the xdpsim CLI has no replay command yet';
    for (let round = 0; round < ROUNDS; round++) {
      if (haveReplay && notes.replay === undefined) {
        rmSync(outDir, { recursive: true, force: true });
        const o = timeCommand(process.execPath, [cli, 'replay', capture, '--xdp', program, '--out', outDir]);
        if (o.ok) runs.out.push(o.seconds);
        else notes.replay = `xdpsim replay --out failed: ${o.stderr.slice(0, 300)}`;
        rmSync(outDir, { recursive: true, force: true });
        const r = timeCommand(process.execPath, [cli, 'replay', capture, '--xdp', program]);
        if (r.ok) runs.plain.push(r.seconds);
        else notes.replay = `xdpsim replay failed: ${r.stderr.slice(0, 300)}`;
      }
      if (notes.tcpdump === undefined) {
        const t = timeCommand('tcpdump', ['-r', capture, '-w', '/dev/null']);
        if (t.ok) runs.tcpdump.push(t.seconds);
        else notes.tcpdump = `tcpdump did not run: ${t.stderr.slice(0, 200)}`;
      }
    }
    const rate = (xs: number[], failed: boolean): number | null => (xs.length === 0 || failed ? null : frames / median(xs));
    const pps = rate(runs.out, notes.replay !== undefined);
    const ppsNoOutput = rate(runs.plain, notes.replay !== undefined);
    const tcpdumpPps = rate(runs.tcpdump, notes.tcpdump !== undefined);
    const workers = pps !== null ? benchWorkers(cli, capture, program, frames, notes) : null;
    return {
      capture: `generated: ${frames} Ethernet/IPv4/UDP frames of 64 bytes, classic pcap`,
      frames,
      program: 'parse',
      engine: 'default',
      pps,
      pps_no_output: ppsNoOutput,
      method: `whole commands on the wall clock, process start included, median of ${ROUNDS} alternating rounds: xdpsim replay CAPTURE --xdp parse.o --out DIR (one pcapng per disposition written to a temporary directory; pps), the same without --out (summary only; pps_no_output), tcpdump -r CAPTURE -w /dev/null`,
      tcpdump_pps: tcpdumpPps,
      ratio_to_tcpdump: pps !== null && tcpdumpPps !== null ? pps / tcpdumpPps : null,
      workers,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
