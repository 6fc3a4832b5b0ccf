/**
 * live — `xdpsim live` on real veth devices in a network namespace of the test's own, against
 * `xdpsim replay` on the same frames.
 *
 * Topology (namespace xdpsim-live-PID, nothing else in it, no IP addresses, IPv6 off so the kernel
 * sends nothing of its own):
 *
 *   xl-ext <-veth-> xl-in   [xdpsim live]   xl-out <-veth-> xl-host
 *
 * A child process in the namespace sends every frame of pcaps/sample.pcap on xl-ext and records
 * what arrives back on xl-ext and on xl-host; `xdpsim live` runs in the namespace too (a second
 * child: libpcap opens devices of the namespace it runs in). Checks: every frame got the same
 * verdict, disposition and output bytes as replay gave it; in inline mode exactly replay's
 * host-bound frames reach xl-host, in order, byte for byte; XDP_TX answers come back to xl-ext.
 * Every wait is bounded; the namespace is deleted after the tests even when they fail. Skips
 * without root, without `ip`, or when the "cap" package cannot load.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotSupportedError, UsageError } from '../../src/errors.js';
import { readCapture } from '../../src/io/capture.js';
import { directionFilter, liveAvailable, loadCap } from '../../src/io/live.js';
import { runLive, type LiveCommandOptions } from '../../src/cli/commands/live.js';
import { runReplay } from '../../src/cli/commands/replay.js';
import { ROOT } from './support.js';

const SAMPLE = join(ROOT, 'pcaps', 'sample.pcap');
const FW = join(ROOT, 'programs', 'xdp_fw.o');
const FW_RULES = join(ROOT, 'programs', 'xdp_fw.rules.json');
const ECHO = join(ROOT, 'programs', 'bench', 'icmp_echo.o');
const MAPS = join(ROOT, 'programs', 'xdp_maps.o');
const NS = `xdpsim-live-${process.pid}`;
/** The sample capture's host MAC, given to xl-in so the simulated device matches replay's default eth0. */
const HOST_MAC = '02:00:00:00:00:01';

function hasIp(): boolean {
  const r = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  return r.status === 0;
}

async function skipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, CAP_NET_RAW)';
  if (!hasIp()) return 'needs the ip command (iproute2)';
  const cap = await liveAvailable();
  if (cap !== undefined) return `the cap package cannot load: ${cap}`;
  return undefined;
}

const reason = await skipReason();

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error?.message || `exit ${r.status}`}`);
}

function sysctl(key: string): void {
  ip('netns', 'exec', NS, 'sysctl', '-qw', `${key}=1`);
}

function setUpNamespace(): void {
  ip('netns', 'add', NS);
  sysctl('net.ipv6.conf.all.disable_ipv6');
  sysctl('net.ipv6.conf.default.disable_ipv6');
  ip('-n', NS, 'link', 'add', 'xl-ext', 'type', 'veth', 'peer', 'name', 'xl-in');
  ip('-n', NS, 'link', 'add', 'xl-out', 'type', 'veth', 'peer', 'name', 'xl-host');
  ip('-n', NS, 'link', 'set', 'xl-in', 'address', HOST_MAC);
  for (const d of ['xl-ext', 'xl-in', 'xl-out', 'xl-host']) {
    sysctl(`net.ipv6.conf.${d}.disable_ipv6`);
    ip('-n', NS, 'link', 'set', d, 'up');
  }
}

/** nsRead reads a file inside the namespace (sysfs shows the namespace's devices there). */
function nsRead(file: string): string {
  const r = spawnSync('ip', ['netns', 'exec', NS, 'cat', file], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`cat ${file} in ${NS}: ${r.stderr}`);
  return r.stdout.trim();
}

function tearDownNamespace(): void {
  spawnSync('ip', ['netns', 'del', NS], { timeout: 10_000 });
}

/** Replay's view of one frame. */
interface ResultLine {
  index: number;
  disposition: string;
  hooks: { hook: string; program: string; retval: number; verdict: string }[];
  data_out?: string;
  out_iface?: string;
  injected?: string[];
  inject_errors?: string[];
}

function readLines(file: string): ResultLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ResultLine);
}

/**
 * The injector: a plain ESM script run in the namespace. It opens xl-ext (one handle to send and
 * capture, so its own frames are not captured back) and xl-host (the same), sends the reverse
 * frames on xl-host, then the frames on xl-ext, 1 ms apart, waits a second and prints what
 * arrived on each as hex.
 */
const INJECTOR = `
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
const require = createRequire(${JSON.stringify(join(ROOT, 'package.json'))});
const { Cap } = require('cap');
const frames = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const reverse = process.argv[3] !== undefined ? JSON.parse(readFileSync(process.argv[3], 'utf8')) : [];
const got = {};
const open = (dev) => {
  const c = new Cap();
  const b = Buffer.alloc(65536);
  c.open(dev, '', 32 << 20, b);
  got[dev] = [];
  c.on('packet', (n) => got[dev].push(b.subarray(0, n).toString('hex')));
  return c;
};
const ext = open('xl-ext');
const host = open('xl-host');
for (const f of reverse) {
  host.send(Buffer.from(f, 'hex'));
  await new Promise((r) => setTimeout(r, 1));
}
for (const f of frames) {
  ext.send(Buffer.from(f, 'hex'));
  await new Promise((r) => setTimeout(r, 1));
}
await new Promise((r) => setTimeout(r, 1000));
ext.close();
host.close();
process.stdout.write(JSON.stringify(got));
`;

interface Run {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

function start(args: string[]): Run {
  const child = spawn('ip', ['netns', 'exec', NS, process.execPath, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.on('close', (code) => resolve(code))),
  };
  child.stdout?.on('data', (d: Buffer) => (run.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (run.stderr += d.toString()));
  return run;
}

/** waitFor resolves when `test` holds, or rejects after `ms` (polling every 50 ms). */
async function waitFor(what: string, test: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!test()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** bounded waits for a child to exit, killing it (and failing) after `ms`. */
async function bounded(run: Run, what: string, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  const r = await Promise.race([run.exited, timeout]);
  clearTimeout(timer);
  if (r === 'timeout') {
    run.child.kill('SIGKILL');
    throw new Error(`${what} did not finish in ${ms} ms; stderr: ${run.stderr}`);
  }
  return r;
}

async function sampleHex(): Promise<string[]> {
  const out: string[] = [];
  for await (const b of readCapture(SAMPLE).batches()) for (const f of b) out.push(Buffer.from(f.data).toString('hex'));
  return out;
}

/** framesOf reads a pcapng xdpsim wrote: each frame's bytes as hex and its XDP verdict. */
async function framesOf(file: string): Promise<{ hex: string; verdict: number | undefined }[]> {
  const out: { hex: string; verdict: number | undefined }[] = [];
  for await (const b of readCapture(file).batches()) {
    for (const f of b) out.push({ hex: Buffer.from(f.data).toString('hex'), verdict: f.verdicts?.find((v) => v.kind === 'xdp')?.value });
  }
  return out;
}

async function replay(dir: string, program: string, preload?: string, iface: string[] = []): Promise<ResultLine[]> {
  const file = join(dir, `replay-${Math.random().toString(36).slice(2)}.jsonl`);
  const code = await runReplay([SAMPLE], { xdp: [program], tcIngress: [], tcEgress: [], iface, mode: 'pipeline', engine: 'interp', results: file, quiet: true, ...(preload !== undefined ? { preload } : {}) }, { stdout: () => undefined, stderr: process.stderr });
  expect(code).toBe(0);
  return readLines(file);
}

/** liveAndInject runs `xdpsim live ARGS` in the namespace, injects the sample, and returns both sides' records. */
async function liveAndInject(dir: string, frames: string[], args: string[], reverse: string[] = []): Promise<{ live: ResultLine[]; got: Record<string, string[]>; code: number | null }> {
  const results = join(dir, `live-${Math.random().toString(36).slice(2)}.jsonl`);
  const framesFile = join(dir, 'frames.json');
  writeFileSync(framesFile, JSON.stringify(frames));
  const reverseFile = join(dir, 'reverse.json');
  writeFileSync(reverseFile, JSON.stringify(reverse));
  const injector = join(dir, 'inject.mjs');
  writeFileSync(injector, INJECTOR);
  const live = start(['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'live', ...args, '--count', String(frames.length), '--duration', '60', '--results', results]);
  try {
    await waitFor('xdpsim live to start capturing', () => live.stderr.includes('xdpsim live: capturing on'), 60_000);
    const inj = start([injector, framesFile, reverseFile]);
    const injCode = await bounded(inj, 'the injector', 60_000);
    expect(injCode, inj.stderr).toBe(0);
    const code = await bounded(live, 'xdpsim live', 30_000);
    return { live: readLines(results), got: JSON.parse(inj.stdout) as Record<string, string[]>, code };
  } finally {
    if (live.child.exitCode === null) live.child.kill('SIGKILL');
  }
}

describe('live capture support', () => {
  it('keeps only frames the device did not send, ANDed with a user filter', () => {
    const mac = Uint8Array.of(2, 0, 0, 0, 0, 0x1f);
    expect(directionFilter(mac, undefined)).toBe('not ether src 02:00:00:00:00:1f');
    expect(directionFilter(mac, 'udp port 53')).toBe('(udp port 53) and not ether src 02:00:00:00:00:1f');
    expect(directionFilter(mac, 'tcp', true)).toBe('tcp');
  });

  it('names what is missing when the cap package cannot be loaded', async () => {
    const before = process.env.XDPSIM_CAP_MODULE;
    process.env.XDPSIM_CAP_MODULE = join(ROOT, 'no-such-dir', 'cap.js');
    try {
      await expect(loadCap()).rejects.toBeInstanceOf(NotSupportedError);
      await expect(loadCap()).rejects.toMatchObject({ code: 'E_LIVE_UNAVAILABLE' });
      const opts: LiveCommandOptions = { iface: 'lo', redirectIface: [], xdp: [FW], tcIngress: [], tcEgress: [], engine: 'interp' };
      await expect(runLive(opts, { stdout: () => undefined, stderr: process.stderr })).rejects.toMatchObject({ code: 'E_LIVE_UNAVAILABLE' });
    } finally {
      if (before === undefined) delete process.env.XDPSIM_CAP_MODULE;
      else process.env.XDPSIM_CAP_MODULE = before;
    }
  });

  it('refuses bad arguments, a missing device, and TC egress on the capture device in inline mode', async () => {
    const base: LiveCommandOptions = { iface: 'xdpsim-none0', redirectIface: [], xdp: [FW], tcIngress: [], tcEgress: [], engine: 'interp' };
    const io = { stdout: () => undefined, stderr: process.stderr };
    await expect(runLive({ ...base, xdp: [] }, io)).rejects.toBeInstanceOf(UsageError);
    await expect(runLive({ ...base, outIface: base.iface }, io)).rejects.toBeInstanceOf(UsageError);
    await expect(runLive({ ...base, count: '0' }, io)).rejects.toBeInstanceOf(UsageError);
    await expect(runLive({ ...base, outIface: 'xdpsim-none1', tcEgress: [FW] }, io)).rejects.toMatchObject({ code: 'E_LIVE_EGRESS' });
    if (reason !== undefined) return;
    await expect(runLive(base, io)).rejects.toMatchObject({ code: 'E_LIVE_NO_DEVICE' });
  });
});

describe.skipIf(reason !== undefined)(`xdpsim live on veth devices${reason !== undefined ? ` (skipped: ${reason})` : ''}`, () => {
  let dir = '';
  let frames: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xdpsim-live-'));
    frames = await sampleHex();
    tearDownNamespace();
    setUpNamespace();
  });

  afterAll(() => {
    tearDownNamespace();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('inline: xdp_fw decides which sample frames reach the host side, exactly as replay does; frames from the host side go back untouched', async () => {
    const expected = await replay(dir, FW, FW_RULES);
    expect(expected).toHaveLength(frames.length);
    // Frames the protected side sends: ones xdp_fw drops, to show the way back bypasses it.
    const reverse = frames.filter((_, i) => expected[i].disposition === 'drop').slice(0, 10);
    expect(reverse).toHaveLength(10);
    const outDir = join(dir, 'out-inline');
    const { live, got, code } = await liveAndInject(dir, frames, ['--iface', 'xl-in', '--out-iface', 'xl-out', '--xdp', FW, '--preload', FW_RULES, '--out', outDir], reverse);
    expect(code).toBe(0);
    expect(live).toHaveLength(frames.length);
    for (let i = 0; i < frames.length; i++) {
      const e = expected[i];
      const l = live[i];
      expect({ i, disposition: l.disposition, verdicts: l.hooks.map((h) => h.verdict), data_out: l.data_out }).toEqual({ i, disposition: e.disposition, verdicts: e.hooks.map((h) => h.verdict), data_out: e.data_out });
      expect(l.inject_errors).toBeUndefined();
    }
    const hostBound = expected.filter((e) => e.disposition === 'host').map((e) => e.data_out);
    const dropped = expected.filter((e) => e.disposition === 'drop').length;
    expect(dropped).toBeGreaterThan(0);
    expect(hostBound.length + dropped).toBe(frames.length);
    expect(got['xl-host']).toEqual(hostBound);
    expect(got['xl-ext']).toEqual(reverse);
    // --out: one pcapng per disposition, each frame with its XDP verdict.
    const host = await framesOf(join(outDir, 'host.pcapng'));
    const drop = await framesOf(join(outDir, 'drop.pcapng'));
    expect(host.map((f) => f.hex)).toEqual(hostBound);
    expect(drop.map((f) => f.hex)).toEqual(frames.filter((_, i) => expected[i].disposition === 'drop'));
    expect(host.every((f) => f.verdict === 2) && drop.every((f) => f.verdict === 1)).toBe(true);
  }, 180_000);

  it('tap: XDP_TX answers of icmp_echo come back out of the capture device, other frames stay with the host', async () => {
    const expected = await replay(dir, ECHO);
    const tx = expected.filter((e) => e.disposition === 'tx').map((e) => e.data_out);
    expect(tx.length).toBeGreaterThan(0);
    const { live, got, code } = await liveAndInject(dir, frames, ['--iface', 'xl-in', '--xdp', ECHO]);
    expect(code).toBe(0);
    expect(live.map((l) => [l.disposition, l.data_out])).toEqual(expected.map((e) => [e.disposition, e.data_out]));
    expect(live.filter((l) => l.injected !== undefined).map((l) => l.injected)).toEqual(tx.map(() => ['xl-in']));
    expect(got['xl-ext']).toEqual(tx);
    expect(got['xl-host']).toEqual([]);
  }, 180_000);

  it('redirect: frames xdp_redirect sends through a devmap_hash leave by the redirect device, as replay says', async () => {
    // xdp_maps.o:xdp_redirect sends frames whose length is 1 mod 4 to tx_ports_hash[length]
    // (XDP_DROP without an entry); the other lengths find empty maps and pass. Entries for
    // lengths 85 and 133 name xl-out's real ifindex.
    const inIndex = Number(nsRead('/sys/class/net/xl-in/ifindex'));
    const outIndex = Number(nsRead('/sys/class/net/xl-out/ifindex'));
    const outMac = nsRead('/sys/class/net/xl-out/address');
    const le32 = (v: number): string => Buffer.from(Uint32Array.of(v).buffer).toString('hex');
    const preload = join(dir, 'tx_ports_hash.json');
    const entries = [85, 133].map((len) => ({ key: le32(len), value: le32(outIndex) }));
    writeFileSync(preload, JSON.stringify({ maps: [{ name: 'tx_ports_hash', type: 'devmap_hash', key_size: 4, value_size: 4, max_entries: 4, flags: 0, entries }] }));
    const expected = await replay(dir, `${MAPS}:xdp_redirect@xl-in`, preload, [`xl-in,mac=${HOST_MAC},ifindex=${inIndex}`, `xl-out,mac=${outMac},ifindex=${outIndex}`]);
    const redirected = expected.filter((e) => e.disposition === 'redirect');
    expect(redirected.length).toBeGreaterThan(0);
    expect(redirected.every((e) => e.out_iface === 'xl-out')).toBe(true);
    expect(expected.some((e) => e.disposition === 'drop')).toBe(true);
    const { live, got, code } = await liveAndInject(dir, frames, ['--iface', 'xl-in', '--redirect-iface', 'xl-out', '--xdp', `${MAPS}:xdp_redirect`, '--preload', preload]);
    expect(code).toBe(0);
    expect(live.map((l) => [l.disposition, l.out_iface, l.data_out])).toEqual(expected.map((e) => [e.disposition, e.out_iface, e.data_out]));
    expect(got['xl-host']).toEqual(redirected.map((e) => e.data_out));
    expect(got['xl-ext']).toEqual([]);
  }, 180_000);
});
