/**
 * replay-workers — `xdpsim replay --workers N`: the frames of the captures spread over N worker
 * threads (replay-worker.ts) the way a NIC with N rx queues spreads them over N CPUs.
 *
 * - RSS: a frame goes to queue flowQueue(frame, N) (src/datapath/pipeline.ts: FNV-1a, not
 *   symmetric, over the IPv4/IPv6 addresses and, for unfragmented TCP/UDP, the ports — not the
 *   NIC's Toeplitz hash; IP fragments without ports hash by addresses, non-IP frames go to queue
 *   0). One flow always lands on one worker, so its frames run in capture order. Worker i is rx
 *   queue i (xdp_md.rx_queue_index) and CPU i (bpf_get_smp_processor_id, its copy of every
 *   per-CPU value): every interface gets N rx queues and the datapath N CPUs. Queue 0 runs on the
 *   main thread, queues 1..N-1 on worker threads, started before the main thread builds its own
 *   datapath so that their start-up overlaps it.
 * - Two modes. Without per-frame output (no --results, no --out; classic pcap captures) every
 *   thread reads the captures itself, hashes every frame and runs its own queue's (runOwnQueues):
 *   no frame crosses threads, only the Accountings at the end. Otherwise the main thread reads,
 *   runs queue 0's frames between dispatches and hands the others over in batches (WorkerPool).
 * - Maps: one shared WebAssembly.Memory for all threads (src/vm/memory.ts, shared mode); every
 *   thread (this coordinator too, in slot 0) builds the same maps in the same order, so the maps
 *   are one set of maps at the same addresses for all; which map types work and how is
 *   src/maps/shared-types.ts, the others are refused with NotSupportedError E_WORKERS_MAP.
 *   The alternative — maps owned by one thread, the others calling it — costs a message round
 *   trip per helper call, far more than the program run itself.
 * - Output order (batch mode): results lines, --out captures and the accounting are merged back into the
 *   original frame order (the coordinator keeps up to MAX_INFLIGHT batches in flight and writes
 *   a batch once every worker has returned its part), so per-flow order holds trivially and the
 *   files are deterministic.
 * - What may differ from one worker, as on a multi-CPU kernel: anything that depends on the
 *   order of frames of different flows — a global counter read back into a packet, the order in
 *   which two flows insert into a hash (so the dump order of its keys), which of two flows finds
 *   a full map. Per-CPU values split by CPU differently (their sum per key is the same).
 * - BPF atomic instructions (lock xadd, atomic fetch/xchg/cmpxchg) are atomic across workers: the
 *   engines use Atomics / wasm atomics on a shared-mode memory (src/vm/atomics.ts); map update
 *   and delete helpers take the shared tables' locks.
 */
import type { Worker } from 'node:worker_threads';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { CaptureError, NotSupportedError, UsageError } from '../../errors.js';
import { readCapture } from '../../io/capture.js';
import type { Frame } from '../../io/frames.js';
import { getEngine } from '../../vm/engines.js';
import { Memory, SHARED_SLOTS, createSharedBacking } from '../../vm/memory.js';
import { systemServices } from '../../helpers/services.js';
import { buildDatapath, type Datapath } from '../../datapath/setup.js';
import { flowQueue } from '../../datapath/pipeline.js';
import { Accounting, type FrameResult } from '../../datapath/accounting.js';
import type { SimInterface } from '../../datapath/interfaces.js';
import { markWorkersStarted } from '../../maps/shared-types.js';
import { BatchRunner, canReadOwnQueue, runOwnQueue } from './replay-batch.js';
import { spawnWorker, takePrespawned } from './replay-prespawn.js';
import {
  accountingJson,
  ByteReader,
  ByteWriter,
  decodeResult,
  deserializeError,
  encodeFrame,
  mergeAccounting,
  type AccountingJson,
  type FromWorker,
  type RunFlags,
  type ToWorker,
  type WorkerInit,
} from '../../datapath/workers/protocol.js';
import { DispositionCaptures, preloadMapsFile } from '../outputs.js';
import { Progress } from '../progress.js';
import { finishReplay, mapInterface, type ReplayIo, type ReplayOptions } from './replay.js';

/** MAX_WORKERS is the most rx queues one shared memory serves (one slot each; queue 0 is the coordinator's). */
export const MAX_WORKERS = SHARED_SLOTS;
/**
 * DISPATCH_FRAMES is how many frames the coordinator gathers (over several reader batches) before
 * it sends them out, and MAX_INFLIGHT how many such batches may be out at once: every batch costs
 * a message to and from each worker and wake-ups on both sides, measured as much as dispatching
 * its frames when batches were the reader's 256 frames.
 */
const DISPATCH_FRAMES = 2048;
const MAX_INFLIGHT = 3;

/** workerIfaces gives every `--iface` spec N rx queues (refusing another explicit count); eth0 when none. */
export function workerIfaces(specs: readonly string[], n: number): string[] {
  const list = specs.length > 0 ? specs : ['eth0'];
  return list.map((s) => {
    const m = /(?:^|,)queues=([^,]*)/.exec(s);
    if (m === null) return `${s},queues=${n}`;
    if (m[1] !== String(n)) {
      throw new UsageError('E_USAGE', `--iface ${s}: with --workers ${n} each worker is one rx queue, so an interface has ${n} queues (leave queues= out)`, { spec: s });
    }
    return s;
  });
}

/**
 * buildSharedDatapath builds the datapath of one thread over the shared memory: the same flags in
 * every thread, so every map lands at the same address; then --preload (every thread applies it:
 * replicated maps need it, shared ones are written the same bytes again before the first frame).
 */
export function buildSharedDatapath(init: WorkerInit, slot: number): Datapath {
  const engine = getEngine(init.engine);
  const dp = buildDatapath({
    ifaces: init.ifaces,
    topologyFile: init.topology,
    hooks: init.hooks,
    engine,
    services: systemServices(),
    cpus: init.workers,
    maxHops: init.maxHops,
    mem: new Memory(undefined, { memory: init.backing, slot }),
  });
  for (const d of dp.topology.interfaces) {
    if (d.rxQueues !== init.workers) {
      throw new UsageError('E_USAGE', `interface ${d.name} has ${d.rxQueues} rx queues: with --workers ${init.workers} each worker is one rx queue, so every interface needs queues ${init.workers}`, { spec: d.name });
    }
  }
  if (init.preload !== undefined) preloadMapsFile(dp.programs, init.preload);
  return dp;
}

/** Batch is a run of consecutive frames of one capture out at the workers. */
interface Batch {
  readonly id: number;
  readonly file: string | undefined;
  /** frames are kept for --out only: held across batches they would outlive V8's young generation. */
  readonly frames: Frame[];
  count: number;
  readonly first: number;
  /** results are the FrameResults (with --out). */
  readonly results: Array<FrameResult | undefined>;
  /** lines are the rendered results lines by position: the worker's bytes, start and length (with --results). */
  readonly lineBuf: Array<Uint8Array | undefined>;
  readonly lineStart: number[];
  readonly lineLen: number[];
  remaining: number;
}

/** ResultsFile writes the merged results lines (rendered by the workers) in frame order. */
class ResultsFile {
  private readonly fd: number;

  constructor(readonly file: string) {
    try {
      this.fd = openSync(file, 'w');
    } catch (e) {
      throw new UsageError('E_OUTPUT', `${file}: cannot create: ${(e as Error).message}`, { file });
    }
  }

  /** write writes one batch's lines in frame order. */
  write(b: Batch): void {
    let total = 0;
    for (const n of b.lineLen) total += n;
    const out = Buffer.allocUnsafe(total);
    let p = 0;
    for (let i = 0; i < b.count; i++) {
      const src = b.lineBuf[i];
      if (src === undefined) throw new Error(`replay: no results line came back for frame ${b.first + i}`);
      out.set(src.subarray(b.lineStart[i], b.lineStart[i] + b.lineLen[i]), p);
      p += b.lineLen[i];
    }
    let off = 0;
    while (off < p) off += writeSync(this.fd, out, off, p - off);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * WorkerPool is the rx queues and what came back from them: queue 0 runs on the coordinator's
 * own thread (`local`, between dispatches), queues 1..N-1 on worker threads (slot q of the shared
 * memory). Measured on this 2-core machine: a coordinator that only reads and dispatches is a
 * third busy thread on two cores, and its reading plus a third isolate's GC cost about what a
 * worker saves.
 */
class WorkerPool {
  readonly threads: Worker[] = [];
  private readonly strings: string[][] = [];
  private readonly batches = new Map<number, Batch>();
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readyCount = 0;
  /** accs are the workers' Accountings by queue, once sent. */
  readonly accs: Array<AccountingJson | undefined> = [];
  /** framesPer counts the frames each rx queue ran. */
  readonly framesPer: number[];

  /** local runs queue 0 on this thread (the batch mode); set before ready(). */
  local: BatchRunner | undefined;

  constructor(
    base: Omit<WorkerInit, 'slot'>,
    n: number,
    private readonly backing: WebAssembly.Memory,
  ) {
    this.framesPer = new Array<number>(n).fill(0);
    this.strings.push([]);
    // Threads main.ts started early (replay-prespawn.ts) get their WorkerInit now; spares stop.
    const early = takePrespawned();
    for (const spare of early.splice(n - 1)) void spare.worker.terminate();
    for (let q = 1; q < n; q++) {
      const pre = early[q - 1];
      const t = pre?.worker ?? spawnWorker({ ...base, slot: q });
      this.strings.push([]);
      t.on('message', (m: FromWorker) => this.message(q, m));
      t.on('error', (e: Error) => this.fail(e));
      t.on('exit', (code) => {
        if (code !== 0 && this.failure === undefined) this.fail(new Error(`replay: worker ${q} exited with code ${code}`));
      });
      if (pre !== undefined) {
        t.ref();
        if (pre.error !== undefined) this.fail(pre.error);
        else if (pre.exitCode !== undefined) this.fail(new Error(`replay: worker ${q} exited with code ${pre.exitCode} before it started`));
        else t.postMessage({ type: 'init', init: { ...base, slot: q } } satisfies ToWorker);
      }
      this.threads.push(t);
    }
  }

  private fail(e: Error): void {
    if (this.failure === undefined) this.failure = e;
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private message(q: number, m: FromWorker): void {
    if (m.type === 'ready') {
      this.readyCount++;
    } else if (m.type === 'error') {
      this.fail(deserializeError(m.error, q));
    } else if (m.type === 'accounting') {
      this.accs[q] = m.acc;
    } else {
      const table = this.strings[q];
      for (const s of m.strings) table.push(s);
      const b = this.batches.get(m.id);
      if (b === undefined) {
        this.fail(new Error(`replay: worker ${q} answered unknown batch ${m.id}`));
        return;
      }
      if (m.lines !== undefined && m.lineIndex !== undefined) {
        const bytes = new Uint8Array(m.lines);
        const idx = m.lineIndex;
        let start = 0;
        for (let i = 0; i < idx.length; i += 2) {
          const pos = idx[i];
          b.lineBuf[pos] = bytes;
          b.lineStart[pos] = start;
          b.lineLen[pos] = idx[i + 1];
          start += idx[i + 1];
        }
      }
      if (m.results !== undefined) {
        const rd = new ByteReader(m.results);
        for (let i = 0; i < rd.count; i++) {
          const { pos, result } = decodeResult(rd, table);
          b.results[pos] = result;
        }
      }
      b.remaining--;
    }
    this.poke();
  }

  /** until waits for `cond`, throwing what a worker threw. */
  async until(cond: () => boolean): Promise<void> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      if (cond()) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** ready waits until every worker has built its datapath, then lets them (and queue 0 here) run. */
  async ready(flags: RunFlags): Promise<void> {
    await this.until(() => this.readyCount === this.threads.length);
    if (this.local !== undefined) this.local.flags = flags;
    markWorkersStarted(this.backing);
    for (const t of this.threads) t.postMessage({ type: 'go', flags } satisfies ToWorker);
  }

  /** send hands one batch to the queues 1..N-1 (`parts`, one per queue, may be empty; queue 0's frames ran already, `local` frames of them). */
  send(b: Batch, parts: ByteWriter[], local: number): void {
    this.batches.set(b.id, b);
    parts.forEach((p, q) => {
      if (p.count === 0 || q === 0) return;
      this.framesPer[q] += p.count;
      const buf = p.finish();
      b.remaining++;
      const msg: ToWorker = b.file === undefined ? { type: 'batch', id: b.id, buf } : { type: 'batch', id: b.id, buf, file: b.file };
      this.threads[q - 1].postMessage(msg, [buf]);
    });
    if (local > 0 && this.local !== undefined) {
      this.framesPer[0] += local;
      b.remaining++;
      this.message(0, this.local.end().done);
    }
  }

  /**
   * accounting collects every queue's counts, merged in queue order (queue 0's is `local`); `ask`
   * asks the workers for theirs (batch mode; in own-queue mode they send it when they are done).
   */
  async accounting(into: Accounting, local: Accounting, ask: boolean): Promise<void> {
    if (ask) for (const t of this.threads) t.postMessage({ type: 'finish' } satisfies ToWorker);
    await this.until(() => this.accs.filter((a) => a !== undefined).length === this.threads.length);
    mergeAccounting(into, accountingJson(local));
    for (const a of this.accs) if (a !== undefined) mergeAccounting(into, a);
  }

  /** forget drops a written batch. */
  forget(b: Batch): void {
    this.batches.delete(b.id);
  }

  /** close stops every worker. */
  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.terminate()));
  }
}

/** runReplayWorkers is runReplay's pipeline mode with `--workers n` (checked by the caller: n ≥ 1, flags valid). */
export async function runReplayWorkers(captures: string[], opts: ReplayOptions, io: ReplayIo, n: number, limit: number, maxHops: number | undefined): Promise<number> {
  if (n > MAX_WORKERS) throw new UsageError('E_USAGE', `--workers ${n}: at most ${MAX_WORKERS}`, {});
  if (opts.cpus !== undefined && opts.cpus !== String(n)) {
    throw new UsageError('E_USAGE', `--cpus ${opts.cpus} with --workers ${n}: each worker is one CPU, so --cpus is ${n} (leave it out)`, {});
  }
  // Without per-frame output nothing needs merging in capture order: every thread reads the
  // captures itself (runOwnQueue) when it can (classic pcap).
  const ownQueue = opts.results === undefined && opts.out === undefined && canReadOwnQueue(captures);
  const base: Omit<WorkerInit, 'slot'> = {
    backing: createSharedBacking(),
    workers: n,
    ifaces: opts.topology !== undefined ? opts.iface : workerIfaces(opts.iface, n),
    topology: opts.topology,
    hooks: { xdp: opts.xdp, tcIngress: opts.tcIngress, tcEgress: opts.tcEgress },
    engine: opts.engine,
    maxHops,
    preload: opts.preload,
    ...(ownQueue ? { ownQueue: { captures, limit } } : {}),
  };
  // The workers first, so that their start-up (loading modules, compiling the programs) runs
  // while this thread builds its own copy of the datapath (slot 0, the one dumped at the end).
  // Concurrent builds are safe: a map's creation writes nothing a fresh shared memory does not
  // already hold, and every thread's --preload writes the same values (shared-types.ts); no frame
  // runs before every thread is ready.
  const pool = new WorkerPool(base, n, base.backing);
  let dp: Datapath;
  try {
    dp = buildSharedDatapath({ ...base, slot: 0 }, 0);
  } catch (e) {
    await pool.close();
    throw e;
  }
  if (base.ownQueue !== undefined) return runOwnQueues(dp, pool, captures, opts, io, n, limit);
  const devs = dp.topology.interfaces;
  const local = new BatchRunner(dp);
  pool.local = local;
  const acc = new Accounting();
  let results: ResultsFile | undefined;
  let outDir: DispositionCaptures | undefined;
  const progress = new Progress(io.stderr);
  const multi = captures.length > 1;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let error: CaptureError | undefined;
  let index = 0;
  let nextId = 0;
  const inflight: Batch[] = [];
  const emit = (b: Batch): void => {
    results?.write(b);
    if (outDir !== undefined) {
      for (let i = 0; i < b.frames.length; i++) {
        const r = b.results[i];
        if (r === undefined) throw new Error(`replay: frame ${b.first + i} came back from no worker`);
        outDir.frame(b.first + i, b.frames[i], r);
      }
    }
    pool.forget(b);
  };
  const drain = async (max: number): Promise<void> => {
    while (inflight.length > max) {
      const head = inflight[0];
      await pool.until(() => head.remaining === 0);
      inflight.shift();
      emit(head);
    }
  };
  try {
    await pool.ready({ results: opts.results !== undefined, frames: opts.out !== undefined });
    results = opts.results !== undefined ? new ResultsFile(opts.results) : undefined;
    outDir = opts.out !== undefined ? new DispositionCaptures(opts.out, devs.map((d) => d.name), 'replay') : undefined;
    const parts = Array.from({ length: n }, () => new ByteWriter());
    outer: for (const file of captures) {
      const reader = readCapture(file);
      const total = statSync(file).size;
      const devOf = new Map<number, number>();
      const pick = (i: number): number => {
        let d = devOf.get(i);
        if (d === undefined) {
          const dev: SimInterface = mapInterface(reader.interfaces[i], i, devs);
          d = devs.indexOf(dev);
          devOf.set(i, d);
        }
        return d;
      };
      const fresh = (): Batch => {
        const b: Batch = { id: nextId++, file: multi ? file : undefined, frames: [], count: 0, first: index, results: [], lineBuf: [], lineStart: [], lineLen: [], remaining: 0 };
        local.begin(b.id);
        return b;
      };
      let cur = fresh();
      let localCount = 0;
      const flush = async (): Promise<void> => {
        if (cur.count === 0) return;
        pool.send(cur, parts, localCount);
        inflight.push(cur);
        localCount = 0;
        cur = fresh();
        await drain(MAX_INFLIGHT);
      };
      try {
        for await (const batch of reader.batches()) {
          const take = Math.min(batch.length, limit - index);
          for (let i = 0; i < take; i++) {
            const frame = batch[i];
            const q = flowQueue(frame.data, n);
            // Queue 0's frames run here and now, in capture order like every queue's.
            if (q === 0) {
              local.frame(cur.count++, index + i, pick(frame.interfaceIndex), frame, cur.file);
              localCount++;
            } else {
              encodeFrame(parts[q], cur.count++, index + i, pick(frame.interfaceIndex), frame);
            }
            if (outDir !== undefined) cur.frames.push(frame);
          }
          index += take;
          if (cur.count >= DISPATCH_FRAMES) await flush();
          progress.update(batch.length > 0 ? batch[batch.length - 1].fileOffset : 0, total, index);
          if (index >= limit) break;
        }
      } catch (e) {
        if (!(e instanceof CaptureError)) throw e;
        error = e;
      }
      // The frames before the end, the limit or a bad record still run.
      await flush();
      if (error !== undefined || index >= limit) break outer;
    }
    await drain(0);
    await pool.accounting(acc, local.acc, true);
  } finally {
    progress.done();
    await pool.close();
    results?.close();
    await outDir?.close();
  }
  return finishReplay(dp, acc, opts, io, {
    captures,
    engine: getEngine(opts.engine).name,
    t0,
    c0,
    error,
    notes: [
      `workers: ${n} (rx queue and CPU i on worker i, queue 0 on the main thread; frames per queue ${pool.framesPer.join(', ')})`,
      ...(outDir !== undefined ? [`captures written: ${outDir.files().join(', ') || 'none'}`] : []),
    ],
  });
}

/**
 * runOwnQueues is the own-queue mode (no per-frame output, classic pcap captures): every thread,
 * this one as queue 0, reads the captures itself and runs its queue's frames (runOwnQueue); the
 * workers send their Accounting when done, merged here in queue order. Measured on this 2-core
 * machine against the batch mode, where this thread read every frame and copied the others' to
 * them: reading and hashing a frame costs a fraction of running it, so duplicating the reading
 * costs less than handing frames over (copies, messages, a thread that waits on the slowest).
 */
async function runOwnQueues(dp: Datapath, pool: WorkerPool, captures: string[], opts: ReplayOptions, io: ReplayIo, n: number, limit: number): Promise<number> {
  const acc = new Accounting();
  const local = new Accounting();
  const progress = new Progress(io.stderr);
  const sizes = new Map<string, number>();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let error: CaptureError | undefined;
  try {
    await pool.ready({ results: false, frames: false });
    error = runOwnQueue(dp, local, captures, 0, n, limit, (file, offset, frames) => {
      let total = sizes.get(file);
      if (total === undefined) sizes.set(file, (total = statSync(file).size));
      progress.update(offset, total, frames);
    }).error;
    await pool.accounting(acc, local, false);
    pool.framesPer[0] = local.framesIn;
    pool.accs.forEach((a, q) => {
      if (a !== undefined) pool.framesPer[q] = a.framesIn;
    });
  } finally {
    progress.done();
    await pool.close();
  }
  return finishReplay(dp, acc, opts, io, {
    captures,
    engine: getEngine(opts.engine).name,
    t0,
    c0,
    error,
    notes: [`workers: ${n} (rx queue and CPU i on worker i, queue 0 on the main thread, each reading the captures itself; frames per queue ${pool.framesPer.join(', ')})`],
  });
}
