/**
 * replay-prespawn — the worker threads of `xdpsim replay --workers N`, started from the raw
 * command line before the command's own modules load (main.ts calls prespawnWorkers first), so
 * that a worker's start-up — a Node isolate, the ~100 modules of the datapath — runs on the other
 * core while the main thread loads the same modules, instead of after. Measured on this 2-core
 * machine: spawned once the main thread had built its datapath, a worker became ready about
 * 0.3 s later, on top of the main thread's own start-up.
 *
 * A prespawned worker loads its modules and waits for its WorkerInit (message `init`); the
 * command adopts it (takePrespawned) once it has parsed its options. This module imports nothing
 * of xdpsim: its own loading must stay negligible. A worker nobody adopts (the options turned out
 * wrong, --help) is unreferenced, so it never keeps the process alive.
 */
import { Worker } from 'node:worker_threads';

/** MAX_PRESPAWN bounds the threads started from an unchecked command line (replay-workers.ts checks N). */
const MAX_PRESPAWN = 15;

/** Prespawned is a started worker and what happened to it before it was adopted. */
export interface Prespawned {
  readonly worker: Worker;
  /** error is the first error the worker raised before adoption; exitCode set if it exited. */
  error: Error | undefined;
  exitCode: number | undefined;
}

let started: Prespawned[] = [];

/** spawnWorker starts a worker thread on replay-worker (its .ts source through tsx under vitest and tsx), with `workerData` if given. */
export function spawnWorker(workerData?: unknown): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const entry = new URL('./replay-worker.ts', here).href;
    return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, { eval: true, workerData });
  }
  return new Worker(new URL('./replay-worker.js', here), { workerData });
}

/** workersOption reads `--workers N` / `--workers=N` of a `replay` command line; undefined when absent or not a number. */
export function workersOption(argv: readonly string[]): number | undefined {
  if (argv[2] !== 'replay' || argv.includes('--help') || argv.includes('-h')) return undefined;
  let value: string | undefined;
  for (let i = 3; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') break;
    if (a === '--workers') value = argv[i + 1];
    else if (a.startsWith('--workers=')) value = a.slice('--workers='.length);
  }
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** prespawnWorkers starts the N-1 worker threads of `replay --workers N` (the main thread runs queue 0) from `argv` (process.argv). */
export function prespawnWorkers(argv: readonly string[]): void {
  const n = workersOption(argv);
  if (n === undefined || n < 2 || n - 1 > MAX_PRESPAWN) return;
  for (let q = 1; q < n; q++) {
    const worker = spawnWorker();
    const p: Prespawned = { worker, error: undefined, exitCode: undefined };
    worker.on('error', (e: Error) => {
      p.error ??= e;
    });
    worker.on('exit', (code) => {
      p.exitCode = code;
    });
    worker.unref();
    started.push(p);
  }
}

/** takePrespawned hands over the prespawned workers (all of them, once); the caller uses those it needs and terminates the rest. */
export function takePrespawned(): Prespawned[] {
  const out = started;
  started = [];
  return out;
}
