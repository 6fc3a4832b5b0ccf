/**
 * testrun — a typed client for native/build/xdpsim-ktest, the bridge to the real kernel's
 * BPF_PROG_TEST_RUN (bpf_prog_test_run_opts, net/bpf/test_run.c).
 *
 * One child process serves many requests (JSON Lines over its stdin/stdout, replies in request
 * order), so a test file or the benchmark spawns it once. `KernelTestRunner.open()` never throws
 * for an unusable environment: it answers `{ ok: false, reason }` (not Linux, binary not built,
 * not root / no CAP_BPF, kernel refuses a trivial XDP program), and tests put that reason in their
 * skip message. Kernel refusals of a program are `KernelError`s carrying the negative errno and
 * the verifier log.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { XdpsimError } from '../errors.js';
import type { Insn } from '../isa/insn.js';
import { encodeInsns } from '../isa/encode.js';

/** KTEST_BINARY_ENV names the environment variable that overrides the helper binary's path. */
export const KTEST_BINARY_ENV = 'XDPSIM_KTEST';

/** KernelError reports a request the kernel (or the helper) refused; `errno` is negative. */
export class KernelError extends XdpsimError {
  /** errno is the negative errno of the failed syscall (or -EINVAL for a malformed request). */
  get errno(): number {
    return Number(this.fields.errno ?? 0);
  }
  /** log is the verifier or libbpf output, when the failure produced any. */
  get log(): string {
    return String(this.fields.log ?? '');
  }
}

/** KernelProgType names the program types the helper loads raw bytecode as. */
export type KernelProgType = 'xdp' | 'sched_cls' | 'sched_act' | 'socket_filter';

/** KernelProgram is a program loaded in the helper process, named by its handle. */
export interface KernelProgram {
  readonly handle: number;
  readonly name: string;
  readonly section?: string;
  /** type as libbpf prints it ("xdp", "sched_cls", ...). */
  readonly type?: string;
}

/** KernelMap is a map held by the helper process. */
export interface KernelMap {
  readonly handle: number;
  readonly name: string;
  /** type as libbpf prints it ("array", "percpu_hash", ...). */
  readonly type: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
}

/** KernelObject is an ELF object loaded with libbpf (bpf_object__open_file + bpf_object__load). */
export interface KernelObject {
  readonly handle: number;
  /** The chosen program (by name or section, else the first one). */
  readonly prog: KernelProgram;
  readonly programs: readonly KernelProgram[];
  readonly maps: readonly KernelMap[];
}

/** KernelMapSpec describes a map for `createMap`. */
export interface KernelMapSpec {
  /** A map type as libbpf names it ("array", "hash", "percpu_array", ...) or its number. */
  readonly type: string | number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly name?: string;
  readonly flags?: number;
}

/** LoadRawOptions parametrises `loadRaw`. */
export interface LoadRawOptions {
  readonly progType: KernelProgType;
  readonly name?: string;
  /**
   * Maps the program references: a lddw with src_reg = BPF_PSEUDO_MAP_FD (1) and imm = i
   * refers to maps[i]; the helper rewrites imm to the map's fd before loading.
   */
  readonly maps?: readonly KernelMap[];
  /** BPF_F_* program flags (e.g. BPF_F_XDP_HAS_FRAGS). */
  readonly progFlags?: number;
  readonly expectedAttachType?: number;
}

/** LoadObjectOptions parametrises `loadObject`. */
export interface LoadObjectOptions {
  /** Program name or section name to pick; default the first program. */
  readonly program?: string;
  /** Override the program type of every program (like `bpftool prog load ... type`). */
  readonly progType?: KernelProgType;
  /** Load only the chosen program (the others are not autoloaded). */
  readonly only?: boolean;
}

/** RunOptions are the inputs of one BPF_PROG_TEST_RUN. */
export interface RunOptions {
  readonly dataIn: Uint8Array;
  readonly ctxIn?: Uint8Array;
  /** Repetitions; the reply's duration is the kernel's average per repetition. */
  readonly repeat?: number;
  /** Capacity of the data_out buffer (default 256 KiB). */
  readonly dataSizeOut?: number;
  /** Capacity of the ctx_out buffer (default 4096 when ctxIn is given, else none). */
  readonly ctxSizeOut?: number;
  readonly flags?: number;
  readonly cpu?: number;
  readonly batchSize?: number;
}

/** TestRunResult is what BPF_PROG_TEST_RUN returned. */
export interface TestRunResult {
  /** The program's return value (u32, as the kernel reports it). */
  readonly retval: number;
  /** 0, or the negative errno the syscall failed with (then the other fields may be empty). */
  readonly err: number;
  readonly dataOut: Uint8Array;
  /** The kernel's data_size_out (may exceed dataOut.length on -ENOSPC). */
  readonly dataSizeOut: number;
  readonly ctxOut: Uint8Array | undefined;
  /** Average ns per repetition, as the kernel measured it. */
  readonly duration: number;
}

/** KernelMapEntry is one key with its value (or one value per possible CPU for per-CPU maps). */
export interface KernelMapEntry {
  readonly key: Uint8Array;
  readonly value?: Uint8Array;
  readonly values?: readonly Uint8Array[];
}

/** KernelMapDump is a map's description and contents (or why they could not be read). */
export interface KernelMapDump {
  readonly name: string;
  readonly type: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly entries?: readonly KernelMapEntry[];
  readonly error?: string;
}

/** KernelAvailability is the answer of `KernelTestRunner.open`. */
export type KernelAvailability =
  | { readonly ok: true; readonly runner: KernelTestRunner }
  | { readonly ok: false; readonly runner: undefined; readonly reason: string };

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Reply = { [key: string]: Json };

interface Pending {
  id: number;
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
}

/** hexOf renders bytes as lowercase hex. */
export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** bytesOfHex parses hex into bytes. */
export function bytesOfHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** findKtestBinary returns the helper's path: $XDPSIM_KTEST, else native/build/ of this package. */
export function findKtestBinary(): string {
  const fromEnv = process.env[KTEST_BINARY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const parsed = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown };
        if (parsed.name === 'xdpsim') return join(dir, 'native', 'build', 'xdpsim-ktest');
      } catch {
        // Not our package.json; keep walking up.
      }
    }
    dir = dirname(dir);
  }
  return join(process.cwd(), 'native', 'build', 'xdpsim-ktest');
}

function num(reply: Reply, key: string): number {
  const v = reply[key];
  if (typeof v !== 'number') throw new Error(`xdpsim-ktest: reply field ${key} is not a number`);
  return v;
}

function str(reply: Reply, key: string): string {
  const v = reply[key];
  if (typeof v !== 'string') throw new Error(`xdpsim-ktest: reply field ${key} is not a string`);
  return v;
}

function mapOf(r: Reply): KernelMap {
  return {
    handle: num(r, 'map'),
    name: str(r, 'name'),
    type: str(r, 'type'),
    keySize: num(r, 'key_size'),
    valueSize: num(r, 'value_size'),
    maxEntries: num(r, 'max_entries'),
  };
}

/** KernelTestRunner talks to one xdpsim-ktest process. */
export class KernelTestRunner {
  private nextId = 1;
  private readonly pending: Pending[] = [];
  private exited: Error | undefined;
  private stderr = '';

  private cpus = 1;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {}

  /** ncpus is the kernel's number of possible CPUs (the length of per-CPU value lists). */
  get ncpus(): number {
    return this.cpus;
  }

  /**
   * open spawns the helper and proves the kernel will load and run a trivial XDP program.
   * Resolves `{ ok: false, reason }` when that is impossible here, naming why.
   */
  static async open(binary: string = findKtestBinary()): Promise<KernelAvailability> {
    const no = (reason: string): KernelAvailability => ({ ok: false, runner: undefined, reason });
    if (process.platform !== 'linux') return no(`BPF_PROG_TEST_RUN needs Linux (this is ${process.platform})`);
    if (!existsSync(binary)) return no(`${binary} is not built (run \`make -C native\`; needs gcc and libbpf-dev)`);
    const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const runner = await new Promise<KernelTestRunner | string>((res) => {
      child.once('error', (e) => res(`cannot start ${binary}: ${e.message}`));
      child.once('spawn', () => res(new KernelTestRunner(child)));
    });
    if (typeof runner === 'string') return no(runner);
    runner.attach();
    const ready = runner;
    try {
      const hello = await runner.request({ op: 'hello' });
      runner.cpus = num(hello, 'ncpus');
      // r0 = XDP_PASS; exit — the smallest program; a refusal here means no BPF for us.
      const probe = await ready.loadRaw(new Uint8Array([0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]), {
        progType: 'xdp',
        name: 'xdpsim_probe',
      });
      const r = await ready.run(probe, { dataIn: new Uint8Array(64) });
      await ready.closeHandle(probe.handle);
      if (r.err !== 0) {
        await ready.close();
        return no(`the kernel refused BPF_PROG_TEST_RUN on a trivial XDP program (errno ${r.err})`);
      }
      return { ok: true, runner: ready };
    } catch (e) {
      child.kill();
      const why = e instanceof KernelError ? `${e.message} (errno ${e.errno}; needs root or CAP_BPF+CAP_NET_ADMIN)` : String(e);
      return no(`the kernel will not load BPF programs here: ${why}`);
    }
  }

  private attach(): void {
    const lines = createInterface({ input: this.child.stdout });
    lines.on('line', (line) => this.onLine(line));
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString('utf8')).slice(-4096);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = new Error(
        `xdpsim-ktest exited (${signal ?? `code ${code}`})${this.stderr !== '' ? `: ${this.stderr.trim()}` : ''}`,
      );
      for (const p of this.pending.splice(0)) p.reject(this.exited);
    });
  }

  private onLine(line: string): void {
    const p = this.pending.shift();
    if (p === undefined) return;
    let reply: Reply;
    try {
      reply = JSON.parse(line) as Reply;
    } catch {
      p.reject(new Error(`xdpsim-ktest: unparsable reply: ${line.slice(0, 200)}`));
      return;
    }
    if (reply.id !== p.id) {
      p.reject(new Error(`xdpsim-ktest: reply id ${String(reply.id)} does not match request ${p.id}`));
      return;
    }
    p.resolve(reply);
  }

  /** request sends one request and resolves with its reply; an ok:false reply rejects with KernelError. */
  private request(body: Record<string, Json>): Promise<Reply> {
    if (this.exited !== undefined) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<Reply>((resolveReply, reject) => {
      this.pending.push({
        id,
        resolve: (reply) => {
          if (reply.ok === true) {
            resolveReply(reply);
            return;
          }
          const error = typeof reply.error === 'string' ? reply.error : 'request failed';
          reject(
            new KernelError('E_KERNEL', error, {
              op: String(body.op),
              errno: typeof reply.errno === 'number' ? reply.errno : 0,
              log: typeof reply.log === 'string' ? reply.log : undefined,
            }),
          );
        },
        reject,
      });
      this.child.stdin.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }

  /** createMap creates a standalone map (e.g. the result array a raw program stores r0 into). */
  async createMap(spec: KernelMapSpec): Promise<KernelMap> {
    const r = await this.request({
      op: 'map_create',
      map_type: spec.type,
      key_size: spec.keySize,
      value_size: spec.valueSize,
      max_entries: spec.maxEntries,
      ...(spec.name !== undefined ? { name: spec.name } : {}),
      ...(spec.flags !== undefined ? { map_flags: spec.flags } : {}),
    });
    return {
      handle: num(r, 'map'),
      name: spec.name ?? '',
      type: String(spec.type),
      keySize: spec.keySize,
      valueSize: spec.valueSize,
      maxEntries: spec.maxEntries,
    };
  }

  /** loadRaw loads bytecode (bytes or instruction slots); rejects with KernelError and the verifier log. */
  async loadRaw(insns: Uint8Array | readonly Insn[], opts: LoadRawOptions): Promise<KernelProgram> {
    const bytes = insns instanceof Uint8Array ? insns : encodeInsns(insns);
    const r = await this.request({
      op: 'load_raw',
      insns: hexOf(bytes),
      prog_type: opts.progType,
      ...(opts.name !== undefined ? { name: opts.name } : {}),
      ...(opts.maps !== undefined ? { maps: opts.maps.map((m) => m.handle) } : {}),
      ...(opts.progFlags !== undefined ? { prog_flags: opts.progFlags } : {}),
      ...(opts.expectedAttachType !== undefined ? { expected_attach_type: opts.expectedAttachType } : {}),
    });
    return { handle: num(r, 'prog'), name: opts.name ?? '', type: opts.progType };
  }

  /** loadObject opens and loads an ELF object with libbpf and picks one program. */
  async loadObject(path: string, opts: LoadObjectOptions = {}): Promise<KernelObject> {
    const r = await this.request({
      op: 'load_object',
      path: resolve(path),
      ...(opts.program !== undefined ? { program: opts.program } : {}),
      ...(opts.progType !== undefined ? { prog_type: opts.progType } : {}),
      ...(opts.only === true ? { only: true } : {}),
    });
    const programs = (r.programs as Reply[]).map(
      (p): KernelProgram => ({
        handle: typeof p.prog === 'number' ? p.prog : 0,
        name: str(p, 'name'),
        section: str(p, 'section'),
        type: str(p, 'type'),
      }),
    );
    const chosen = num(r, 'prog');
    const prog = programs.find((p) => p.handle === chosen);
    if (prog === undefined) throw new Error(`xdpsim-ktest: chosen program handle ${chosen} is not in the reply`);
    return { handle: num(r, 'object'), prog, programs, maps: (r.maps as Reply[]).map(mapOf) };
  }

  /** run executes BPF_PROG_TEST_RUN once (or `repeat` times) and returns what the kernel returned. */
  async run(prog: KernelProgram, opts: RunOptions): Promise<TestRunResult> {
    const r = await this.request({
      op: 'run',
      prog: prog.handle,
      data_in: hexOf(opts.dataIn),
      ...(opts.ctxIn !== undefined ? { ctx_in: hexOf(opts.ctxIn) } : {}),
      ...(opts.repeat !== undefined ? { repeat: opts.repeat } : {}),
      ...(opts.dataSizeOut !== undefined ? { data_size_out: opts.dataSizeOut } : {}),
      ...(opts.ctxSizeOut !== undefined ? { ctx_size_out: opts.ctxSizeOut } : {}),
      ...(opts.flags !== undefined ? { flags: opts.flags } : {}),
      ...(opts.cpu !== undefined ? { cpu: opts.cpu } : {}),
      ...(opts.batchSize !== undefined ? { batch_size: opts.batchSize } : {}),
    });
    return {
      retval: num(r, 'retval'),
      err: num(r, 'err'),
      dataOut: bytesOfHex(str(r, 'data_out')),
      dataSizeOut: num(r, 'data_size_out'),
      ctxOut: typeof r.ctx_out === 'string' ? bytesOfHex(r.ctx_out) : undefined,
      duration: num(r, 'duration'),
    };
  }

  /** mapUpdate writes one element (bpf_map_update_elem); per-CPU maps take one value per CPU. */
  async mapUpdate(map: KernelMap, key: Uint8Array, value: Uint8Array | readonly Uint8Array[], flags = 0): Promise<void> {
    await this.request({
      op: 'map_update',
      map: map.handle,
      key: hexOf(key),
      ...(value instanceof Uint8Array ? { value: hexOf(value) } : { values: value.map(hexOf) }),
      flags,
    });
  }

  /** mapLookup reads one element; undefined when the key is absent. */
  async mapLookup(map: KernelMap, key: Uint8Array): Promise<KernelMapEntry | undefined> {
    const r = await this.request({ op: 'map_lookup', map: map.handle, key: hexOf(key) });
    if (r.found !== true) return undefined;
    return entryOf({ key: hexOf(key), ...r });
  }

  /** dumpMaps reads every entry of an object's maps, or of the given maps. */
  async dumpMaps(of: KernelObject | readonly KernelMap[]): Promise<KernelMapDump[]> {
    const r = await this.request(
      'prog' in of ? { op: 'dump_maps', object: of.handle } : { op: 'dump_maps', maps: of.map((m) => m.handle) },
    );
    return (r.maps as Reply[]).map((m): KernelMapDump => {
      const base = {
        name: str(m, 'name'),
        type: str(m, 'type'),
        keySize: num(m, 'key_size'),
        valueSize: num(m, 'value_size'),
        maxEntries: num(m, 'max_entries'),
      };
      if (typeof m.error === 'string') return { ...base, error: m.error };
      return { ...base, entries: (m.entries as Reply[]).map(entryOf) };
    });
  }

  /** closeHandle releases a program, map or object (an object releases its programs and maps). */
  async closeHandle(handle: number): Promise<void> {
    await this.request({ op: 'close', handle });
  }

  /** close ends the helper process (the kernel frees everything it held). */
  async close(): Promise<void> {
    if (this.exited !== undefined) return;
    const done = new Promise<void>((res) => this.child.once('exit', () => res()));
    this.child.stdin.end(`${JSON.stringify({ id: this.nextId++, op: 'quit' })}\n`);
    await done;
  }
}

function entryOf(e: Reply): KernelMapEntry {
  const key = bytesOfHex(str(e, 'key'));
  if (Array.isArray(e.values)) return { key, values: e.values.map((v) => bytesOfHex(String(v))) };
  return { key, value: bytesOfHex(str(e, 'value')) };
}
