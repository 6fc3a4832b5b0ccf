/**
 * `xdpsim replay` end to end (commander in process): the results JSON Lines and the summary on
 * pcaps/sample.pcap against what the capture holds, per-disposition captures, the map dump,
 * --mode test-run lines, a truncated capture, user errors, the progress bar's silence on a pipe.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerReplay } from '../../src/cli/commands/replay.js';
import { readCapture } from '../../src/io/capture.js';
import { Progress } from '../../src/cli/progress.js';
import { CaptureError, UsageError } from '../../src/errors.js';
import type { Frame } from '../../src/io/frames.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SAMPLE = join(ROOT, 'pcaps', 'sample.pcap');
const FW = join(ROOT, 'programs', 'xdp_fw.o');
const BLOCKLIST = join(ROOT, 'programs', 'xdp_fw.rules.json');
const tmp = mkdtempSync(join(tmpdir(), 'xdpsim-replay-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** runCli runs `xdpsim replay ...` in process and returns stdout and the exit code it set. */
async function runCli(args: string[]): Promise<{ out: string; code: number }> {
  const program = new Command().exitOverride();
  registerReplay(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk);
    return true;
  });
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'xdpsim', 'replay', ...args]);
    return { out, code: Number(process.exitCode ?? 0) };
  } finally {
    process.exitCode = before;
    spy.mockRestore();
  }
}

function lines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** blockedBySample says whether xdp_fw with the example blocklist drops a frame, from its headers. */
function blocked(f: Uint8Array): boolean {
  const type = (f[12] << 8) | f[13];
  if (type === 0x0800) {
    const ihl = (f[14] & 0x0f) * 4;
    if (f[26] === 192 && f[27] === 0 && f[28] === 2) return true;
    return f[23] === 6 && ((f[14 + ihl + 2] << 8) | f[14 + ihl + 3]) === 23;
  }
  if (type === 0x86dd) {
    const bad = [0x20, 0x01, 0x0d, 0xb8, 0x0b, 0xad, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x66];
    if (bad.every((b, i) => f[22 + i] === b)) return true;
    return f[20] === 6 && ((f[54 + 2] << 8) | f[54 + 3]) === 23;
  }
  return false;
}

describe('xdpsim replay on pcaps/sample.pcap with xdp_fw', async () => {
  const frames: Frame[] = await readCapture(SAMPLE).collect();
  const results = join(tmp, 'sample.jsonl');
  const maps = join(tmp, 'maps.json');
  const outDir = join(tmp, 'out');
  const run = await runCli([SAMPLE, '--xdp', `${FW}:xdp_fw`, '--preload', BLOCKLIST, '--results', results, '--maps', maps, '--out', outDir]);
  const rows = lines(results);
  const expectDrop = frames.map((f) => blocked(f.data));
  const drops = expectDrop.filter(Boolean).length;

  it('exits 0 and writes one line per frame with index, len, hooks, disposition and data_out', () => {
    expect(run.code).toBe(0);
    expect(rows).toHaveLength(frames.length);
    rows.forEach((r, i) => {
      expect(r.index).toBe(i);
      expect(r.len).toBe(frames[i].data.length);
      const hooks = r.hooks as Array<Record<string, unknown>>;
      expect(hooks).toHaveLength(1);
      expect(hooks[0]).toMatchObject({ hook: 'xdp', program: 'xdp_fw', retval: expectDrop[i] ? 1 : 2, verdict: expectDrop[i] ? 'XDP_DROP' : 'XDP_PASS' });
      expect(r.disposition).toBe(expectDrop[i] ? 'drop' : 'host');
      if (expectDrop[i]) expect(r.data_out).toBeUndefined();
      else expect(r.data_out).toBe(Buffer.from(frames[i].data).toString('hex'));
    });
  });

  it('drops what pcaps/README.md says (34 of 196) and says so in the summary', () => {
    expect([frames.length, drops]).toEqual([196, 34]);
    expect(run.out).toMatch(/frames in\s+196 /);
    expect(run.out).toContain(`XDP_PASS ${frames.length - drops} `);
    expect(run.out).toContain(`XDP_DROP ${drops} `);
    expect(run.out).toMatch(new RegExp(`drop\\s+${drops} `));
    expect(run.out).toMatch(/faults\s+none/);
  });

  it('dumps the maps with the blocklist hits', () => {
    const dump = JSON.parse(readFileSync(maps, 'utf8')) as Array<{ name: string; entries: Array<{ key: string; value?: string; values?: string[] }> }>;
    const hits = (name: string): number => Number(Buffer.from(dump.find((m) => m.name === name)?.entries[0].value ?? '', 'hex').readBigUInt64LE(0));
    expect(hits('blocknet_v4') + hits('blocklist_v6') + hits('blocked_ports')).toBe(drops);
    const stats = dump.find((m) => m.name === 'verdict_stats');
    expect(stats?.entries).toHaveLength(5);
  });

  it('writes per-disposition pcapng files marked with the XDP verdict and a comment', async () => {
    const dropped = await readCapture(join(outDir, 'drop.pcapng')).collect();
    const host = await readCapture(join(outDir, 'host.pcapng')).collect();
    expect([dropped.length, host.length]).toEqual([drops, frames.length - drops]);
    for (const f of dropped) {
      expect(f.verdicts).toEqual([{ kind: 'xdp', value: 1 }]);
      expect(f.comment).toMatch(/^frame \d+ on eth0: xdp xdp_fw: XDP_DROP → drop/);
    }
    expect(host.map((f) => Buffer.from(f.data).toString('hex'))).toEqual(frames.filter((_, i) => !expectDrop[i]).map((f) => Buffer.from(f.data).toString('hex')));
  });
});

describe('xdpsim replay edge cases', () => {
  it('processes a truncated capture up to the bad record, closes its outputs and fails with the CaptureError', async () => {
    const bad = join(ROOT, 'pcaps', 'bad', 'truncated.pcap');
    const results = join(tmp, 'trunc.jsonl');
    const outDir = join(tmp, 'trunc');
    const err = await runCli([bad, '--xdp', FW, '--results', results, '--out', outDir]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CaptureError);
    expect((err as CaptureError).code).toBe('CAPTURE_TRUNCATED');
    expect((err as CaptureError).fields.offset).toBe(956);
    expect(lines(results)).toHaveLength(10);
    expect(await readCapture(join(outDir, 'host.pcapng')).collect()).toHaveLength(10);
  });

  it('names the programs an object has when the one asked for is missing', async () => {
    const err = await runCli([SAMPLE, '--xdp', `${FW}:nope`]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).code).toBe('E_PROGRAM_NOT_FOUND');
    expect((err as UsageError).message).toContain('xdp_fw (section xdp)');
    const tc = await runCli([SAMPLE, '--tc-ingress', FW]).catch((e: unknown) => e);
    expect((tc as UsageError).code).toBe('E_PROGRAM_NOT_FOUND');
  });

  it('maps pcapng interfaces to simulated interfaces by name', async () => {
    const ng = join(ROOT, 'pcaps', 'parity', 'all.pcapng');
    const reader = readCapture(ng);
    const frames = await reader.collect();
    const results = join(tmp, 'ng.jsonl');
    await runCli([ng, '--iface', 'eth0', '--iface', 'eth1', '--xdp', FW, '--results', results, '-q']);
    const rows = lines(results);
    expect(rows.map((r) => r.iface)).toEqual(frames.map((f) => reader.interfaces[f.interfaceIndex].name));
    expect(new Set(rows.map((r) => r.iface))).toEqual(new Set(['eth0', 'eth1']));
  });

  it('runs the programs a topology file attaches', async () => {
    const results = join(tmp, 'topo.jsonl');
    const r = await runCli([SAMPLE, '--topology', join(ROOT, 'examples', 'topology-router.json'), '--preload', BLOCKLIST, '--results', results]);
    expect(r.out).toMatch(/xdp_fw .* on eth0/);
    const rows = lines(results);
    expect(rows.filter((x) => x.disposition === 'drop')).toHaveLength(34);
    expect(new Set(rows.map((x) => x.queue))).toEqual(new Set([0, 1]));
  });

  it('reports program faults per frame and in the summary with program, instruction and source line', async () => {
    const results = join(tmp, 'fault.jsonl');
    const frames = await readCapture(SAMPLE).collect();
    const r = await runCli([SAMPLE, '--xdp', join(ROOT, 'test', 'datapath', 'programs', 'dp_fault.o'), '--results', results]);
    const short = frames.filter((f) => f.data.length <= 100).length;
    const rows = lines(results);
    const aborted = rows.filter((x) => x.disposition === 'aborted');
    expect(aborted).toHaveLength(short);
    const fault = (aborted[0].hooks as Array<{ fault?: Record<string, unknown> }>)[0].fault;
    expect(fault).toMatchObject({ code: 'E_MEM_ACCESS', program: 'xdp_fault' });
    expect(String(fault?.source)).toMatch(/dp_fault\.c:\d+/);
    expect(r.out).toMatch(new RegExp(`faults\\s+${short}\\n`));
    expect(r.out).toMatch(new RegExp(`xdp_fault insn ${String(fault?.insn)} \\(\\./dp_fault\\.c:\\d+`));
  });

  it('--limit stops after N frames', async () => {
    const results = join(tmp, 'limit.jsonl');
    await runCli([SAMPLE, '--xdp', FW, '--limit', '7', '--results', results, '-q']);
    expect(lines(results)).toHaveLength(7);
  });

  it('--mode test-run writes index, retval, err, data_out and data_size_out as the kernel returns them', async () => {
    const all = join(ROOT, 'pcaps', 'parity', 'runts.pcap');
    const frames = await readCapture(all).collect();
    const results = join(tmp, 'tr.jsonl');
    const r = await runCli([all, '--mode', 'test-run', '--xdp', FW, '--results', results]);
    expect(r.code).toBe(0);
    const rows = lines(results);
    expect(rows).toHaveLength(frames.length);
    rows.forEach((row, i) => {
      expect(Object.keys(row)).toEqual(['index', 'retval', 'err', 'data_out', 'data_size_out']);
      // bpf_prog_test_run_xdp refuses frames shorter than ETH_HLEN with -EINVAL.
      if (frames[i].data.length < 14) expect([row.err, row.retval, row.data_out]).toEqual([-22, 0, '']);
      else expect([row.err, row.data_size_out]).toEqual([0, frames[i].data.length]);
    });
  });

  it('--ctx-in gives the xdp_md fields the kernel checks (egress_ifindex is refused with -EINVAL)', async () => {
    const ctx = join(tmp, 'ctx.json');
    const results = join(tmp, 'ctx.jsonl');
    const sample = (await readCapture(SAMPLE).collect()).length;
    writeFileSync(ctx, JSON.stringify({ ingress_ifindex: 1, rx_queue_index: 0 }));
    await runCli([SAMPLE, '--mode', 'test-run', '--xdp', FW, '--ctx-in', ctx, '--results', results, '-q']);
    expect(lines(results).filter((r) => r.err === 0)).toHaveLength(sample);
    writeFileSync(ctx, JSON.stringify({ egress_ifindex: 1 }));
    await runCli([SAMPLE, '--mode', 'test-run', '--xdp', FW, '--ctx-in', ctx, '--results', results, '-q']);
    expect(lines(results).filter((r) => r.err === -22)).toHaveLength(sample);
    writeFileSync(ctx, JSON.stringify({ colour: 1 }));
    const err = await runCli([SAMPLE, '--mode', 'test-run', '--xdp', FW, '--ctx-in', ctx]).catch((e: unknown) => e);
    expect((err as UsageError).code).toBe('E_CTX_IN');
  });

  it('takes several programs in --mode test-run as a usage error', async () => {
    const err = await runCli([SAMPLE, '--mode', 'test-run', '--xdp', FW, '--tc-ingress', join(ROOT, 'programs', 'tc_maps.o')]).catch((e: unknown) => e);
    expect((err as UsageError).code).toBe('E_USAGE');
  });
});

describe('progress bar', () => {
  it('draws nothing on a pipe and something on a terminal', () => {
    let text = '';
    const fake = (isTTY: boolean): NodeJS.WriteStream => ({ isTTY, write: (s: string) => ((text += s), true) }) as unknown as NodeJS.WriteStream;
    const pipe = new Progress(fake(false));
    pipe.update(50, 100, 10);
    pipe.done();
    expect(text).toBe('');
    const tty = new Progress(fake(true));
    tty.update(50, 100, 10);
    tty.done();
    expect(text).toContain('50%');
  });
});
