/**
 * kernel-util — driving the running kernel's maps through bpftool for parity tests. Every
 * command runs pinned to CPU 0 (taskset) so per-CPU LRU state is comparable with xdpsim's CPU 0.
 * `kernelSkipReason()` says why the kernel cannot be asked (not Linux, not root, no bpftool, no
 * bpffs, no clang-16), or undefined when it can.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BPFFS = '/sys/fs/bpf';

/** which tells whether a command is on PATH. */
export function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** kernelSkipReason returns why kernel parity tests must skip, or undefined. */
export function kernelSkipReason(needClang = false): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root';
  if (!which('bpftool')) return 'bpftool not installed';
  if (!which('taskset')) return 'taskset not installed';
  if (!existsSync(BPFFS)) return `${BPFFS} not mounted`;
  if (needClang && !which('clang-16')) return 'clang-16 not installed';
  const probe = spawnSync('bpftool', ['map', 'create', `${BPFFS}/xdpsim-probe-${process.pid}`, 'type', 'array', 'key', '4', 'value', '4', 'entries', '1', 'name', 'probe']);
  rmSync(`${BPFFS}/xdpsim-probe-${process.pid}`, { force: true });
  if (probe.status !== 0) return `bpftool map create failed: ${probe.stderr.toString().trim()}`;
  return undefined;
}

/** bpftool runs bpftool on CPU `cpu` (default 0); returns the exit status as a negative errno (bpftool exits with -errno & 0xff) and stdout. */
export function bpftool(args: string[], cpu = 0): { errno: number; out: string; err: string } {
  const r = spawnSync('taskset', ['-c', `${cpu}`, 'bpftool', ...args]);
  const status = r.status ?? 255;
  return { errno: status === 0 ? 0 : status - 256, out: r.stdout.toString(), err: r.stderr.toString() };
}

const hexArgs = (b: Uint8Array): string[] => ['hex', ...Array.from(b, (x) => x.toString(16).padStart(2, '0'))];

/** KernelMap is a map created in the kernel and pinned under a private bpffs directory. */
export class KernelMap {
  readonly path: string;
  private static seq = 0;

  constructor(
    readonly dir: string,
    type: string,
    keySize: number,
    valueSize: number,
    entries: number,
    flags = 0,
  ) {
    this.path = join(dir, `m${KernelMap.seq++}`);
    const r = bpftool(['map', 'create', this.path, 'type', type, 'key', `${keySize}`, 'value', `${valueSize}`, 'entries', `${entries}`, 'name', 'parity', 'flags', `${flags}`]);
    if (r.errno !== 0) throw new Error(`bpftool map create ${type}: ${r.err}`);
  }

  /** update runs BPF_MAP_UPDATE_ELEM on CPU `cpu` (it matters for LRU maps' per-CPU lists). */
  update(key: Uint8Array, value: Uint8Array, flags: number, cpu = 0): number {
    const f = flags === 0 ? 'any' : flags === 1 ? 'noexist' : flags === 2 ? 'exist' : undefined;
    if (f === undefined) throw new Error(`bpftool cannot pass update flags ${flags}`);
    return bpftool(['map', 'update', 'pinned', this.path, 'key', ...hexArgs(key), 'value', ...hexArgs(value), f], cpu).errno;
  }

  delete(key: Uint8Array, cpu = 0): number {
    return bpftool(['map', 'delete', 'pinned', this.path, 'key', ...hexArgs(key)], cpu).errno;
  }

  lookup(key: Uint8Array): Uint8Array | number {
    const r = bpftool(['map', 'lookup', 'pinned', this.path, 'key', ...hexArgs(key), '-j']);
    if (r.errno !== 0) return r.errno;
    const v = JSON.parse(r.out) as { value: string[] };
    return Uint8Array.from(v.value, (x) => parseInt(x, 16));
  }

  push(value: Uint8Array): number {
    return bpftool(['map', 'push', 'pinned', this.path, 'value', ...hexArgs(value)]).errno;
  }

  pop(): Uint8Array | number {
    const r = bpftool(['map', 'pop', 'pinned', this.path, '-j']);
    if (r.errno !== 0) return r.errno;
    const v = JSON.parse(r.out) as { value: string[] };
    return Uint8Array.from(v.value, (x) => parseInt(x, 16));
  }

  /** dump returns the entries in the kernel's get_next_key order, as [keyHex, valueHex]. */
  dump(): Array<[string, string]> {
    const r = bpftool(['map', 'dump', 'pinned', this.path, '-j']);
    if (r.errno !== 0) throw new Error(`bpftool map dump: ${r.err}`);
    const hex = (a: string[]) => a.map((x) => x.slice(2)).join('');
    return (JSON.parse(r.out) as Array<{ key: string[]; value: string[] }>).map((e) => [hex(e.key), hex(e.value)]);
  }
}

/** KernelScratch is a private bpffs directory plus a temp directory, removed by close(). */
export class KernelScratch {
  readonly bpffs: string;
  readonly tmp: string;
  constructor() {
    this.bpffs = join(BPFFS, `xdpsim-parity-${process.pid}-${Date.now()}`);
    mkdirSync(this.bpffs);
    this.tmp = mkdtempSync(join(tmpdir(), 'xdpsim-parity-'));
  }

  /** compile builds a C file with clang-16 into the temp directory and returns the object path. */
  compile(src: string): string {
    const out = join(this.tmp, `${src.replace(/.*\//, '').replace(/\.c$/, '')}.o`);
    const arch = `/usr/include/${process.arch === 'x64' ? 'x86_64' : 'aarch64'}-linux-gnu`;
    execFileSync('clang-16', ['-O2', '-g', '-target', 'bpf', '-mcpu=v3', `-I${arch}`, '-c', src, '-o', out]);
    return out;
  }

  /** file writes bytes into the temp directory and returns the path. */
  file(name: string, bytes: Uint8Array): string {
    const p = join(this.tmp, name);
    writeFileSync(p, bytes);
    return p;
  }

  close(): void {
    rmSync(this.bpffs, { recursive: true, force: true });
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** Rng is a small seeded PRNG (mulberry32) for generating operation sequences. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
