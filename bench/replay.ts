/**
 * replay — end-to-end throughput (issue 5), capture to capture: `xdpsim replay FILE --xdp
 * parse.o --out DIR` on a generated capture — every frame read, run through the parse program and
 * written to the pcapng of its disposition (with its verdict and comment) in a temporary
 * directory, removed afterwards — next to `tcpdump -r FILE -w /dev/null` on the same file (the
 * cost of just reading and writing the capture; tcpdump's output goes to /dev/null, xdpsim's to
 * real files). The same replay without --out is reported too, as `pps_no_output`. Every command
 * is timed whole on the wall clock, process start included (amortised over FRAMES frames), in
 * REPLAY_ROUNDS alternating rounds, medians. The xdpsim figures are null until the replay command
 * exists (it is detected, not assumed); tcpdump's is null where tcpdump is not installed.
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

/** REPLAY_ROUNDS is how many alternating rounds of the three replay commands are timed (medians reported). */
const REPLAY_ROUNDS = 3;

/** REPLAY_METHOD says in the JSON how the replay figures were taken. */
const REPLAY_METHOD =
  'capture to capture: `xdpsim replay FILE --xdp programs/bench/parse.o --out DIR` (every frame read, run, and written to the pcapng of its disposition in a temporary directory, removed afterwards) against `tcpdump -r FILE -w /dev/null` (tcpdump writes to /dev/null); pps_no_output: the same replay without --out; whole commands on the wall clock, process start included, ' +
  `${REPLAY_ROUNDS} alternating rounds, medians`;

/** benchReplay measures the commands on a capture of `frames` frames; notes say what was skipped. */
export function benchReplay(root: string, frames: number, notes: Record<string, string>): ReplayBench {
  const dir = mkdtempSync(join(tmpdir(), 'xdpsim-bench-'));
  const capture = join(dir, 'bench.pcap');
  const outDir = join(dir, 'out');
  try {
    writeCapture(capture, frames);
    const program = join(root, 'programs', 'bench', 'parse.o');
    const cli = join(root, 'dist', 'src', 'cli', 'main.js');
    const loadavg = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
    const times: { out: number[]; none: number[]; tcpdump: number[] } = { out: [], none: [], tcpdump: [] };
    const hasReplay = hasReplayCommand(cli);
    if (!hasReplay) notes.replay = 'the xdpsim CLI has no replay command yet';
    let replayOk = hasReplay;
    let tcpdumpOk = true;
    for (let r = 0; r < REPLAY_ROUNDS; r++) {
      if (replayOk) {
        rmSync(outDir, { recursive: true, force: true });
        const o = timeCommand(process.execPath, [cli, 'replay', capture, '--xdp', program, '--out', outDir]);
        rmSync(outDir, { recursive: true, force: true });
        const n = timeCommand(process.execPath, [cli, 'replay', capture, '--xdp', program]);
        if (!o.ok || !n.ok) {
          notes.replay = `xdpsim replay failed: ${(o.ok ? n : o).stderr.slice(0, 300)}`;
          replayOk = false;
        } else {
          times.out.push(o.seconds);
          times.none.push(n.seconds);
        }
      }
      if (tcpdumpOk) {
        const t = timeCommand('tcpdump', ['-r', capture, '-w', '/dev/null']);
        if (t.ok) times.tcpdump.push(t.seconds);
        else {
          notes.tcpdump = `tcpdump did not run: ${t.stderr.slice(0, 200)}`;
          tcpdumpOk = false;
        }
      }
    }
    const pps = replayOk ? frames / median(times.out) : null;
    const ppsNoOutput = replayOk ? frames / median(times.none) : null;
    const tcpdumpPps = tcpdumpOk ? frames / median(times.tcpdump) : null;
    const workers = pps !== null ? benchWorkers(cli, capture, program, frames, notes) : null;
    return {
      capture: `generated: ${frames} Ethernet/IPv4/UDP frames of 64 bytes, classic pcap`,
      frames,
      program: 'parse',
      engine: 'default',
      method: REPLAY_METHOD,
      loadavg,
      pps,
      pps_no_output: ppsNoOutput,
      tcpdump_pps: tcpdumpPps,
      ratio_to_tcpdump: pps !== null && tcpdumpPps !== null ? pps / tcpdumpPps : null,
      workers,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
