/**
 * services — what helpers take from the outside world: clocks, randomness, the NUMA node, the
 * trace sink. Injected so runs can be deterministic (tests, regression suites, kernel diffs):
 * `systemServices()` reads the real clocks and Math.random; `deterministicServices()` gives a
 * clock that advances a fixed step per read and a seeded PRNG.
 */
import { log } from '../log.js';

/** HZ_DEFAULT is the kernel's default CONFIG_HZ (jiffies per second). */
export const HZ_DEFAULT = 250;

/** initialJiffies is INITIAL_JIFFIES as a u64: (u32)(-300 * HZ), so jiffies wrap 5 minutes after boot. */
export function initialJiffies(hz: number): bigint {
  return BigInt((-300 * hz) >>> 0);
}

/** TraceRecord is one bpf_trace_printk / bpf_trace_vprintk line with where it came from. */
export interface TraceRecord {
  readonly program: string;
  readonly insn: number;
  readonly cpu: number;
  readonly message: string;
}

/** HelperServices are the injectable parts of the helpers' environment. */
export interface HelperServices {
  /** CLOCK_MONOTONIC in ns (bpf_ktime_get_ns). */
  monotonicNs(): bigint;
  /** CLOCK_BOOTTIME in ns (bpf_ktime_get_boot_ns). */
  bootNs(): bigint;
  /** CLOCK_MONOTONIC_COARSE in ns (bpf_ktime_get_coarse_ns): monotonic truncated to a jiffy. */
  coarseNs(): bigint;
  /** get_jiffies_64(). */
  jiffies64(): bigint;
  /** One bpf_get_prandom_u32 value. */
  randomU32(): number;
  /** bpf_get_numa_node_id. */
  numaNode(): number;
  /** Receives formatted trace_printk/trace_vprintk output. */
  trace(rec: TraceRecord): void;
  /**
   * packetBytes gives bpf_perf_event_output the first `len` bytes of the packet behind the
   * program's context (BPF_F_CTXLEN_MASK), or undefined when len exceeds the packet (-EFAULT).
   * Provided by the hooks layer; without it such calls fail loudly with NotSupportedError.
   */
  packetBytes?(env: import('../vm/program.js').RunEnv, len: number): Uint8Array | undefined;
}

const traceLog = log.child({ layer: 'trace' });

/** logTrace is the default trace sink: the pino log at info. */
export function logTrace(rec: TraceRecord): void {
  traceLog.info({ program: rec.program, insn: rec.insn, cpu: rec.cpu }, rec.message);
}

/** systemServices reads the host's monotonic clock and Math.random; trace lines go to `trace`. */
export function systemServices(opts: { hz?: number; trace?: (r: TraceRecord) => void } = {}): HelperServices {
  const hz = opts.hz ?? HZ_DEFAULT;
  const tick = BigInt(Math.round(1e9 / hz));
  const now = (): bigint => process.hrtime.bigint();
  return {
    monotonicNs: now,
    bootNs: now,
    coarseNs: () => {
      const t = now();
      return t - (t % tick);
    },
    jiffies64: () => BigInt.asUintN(64, initialJiffies(hz) + now() / tick),
    randomU32: () => Math.floor(Math.random() * 0x1_0000_0000) >>> 0,
    numaNode: () => 0,
    trace: opts.trace ?? logTrace,
  };
}

/** DeterministicOptions configure deterministicServices. */
export interface DeterministicOptions {
  /** PRNG seed (default 1). */
  seed?: number;
  /** Monotonic time of the first read in ns (default 1 s). */
  startNs?: bigint;
  /** Advance of the clock per read in ns (default 1000). */
  stepNs?: bigint;
  /** Boot time minus monotonic time (time spent suspended), default 0. */
  suspendedNs?: bigint;
  hz?: number;
  trace?: (r: TraceRecord) => void;
}

/**
 * deterministicServices gives the same clock readings and random numbers on every run: the clock
 * starts at startNs and advances stepNs per read (any clock); random numbers come from
 * splitmix32 seeded with `seed`.
 */
export function deterministicServices(opts: DeterministicOptions = {}): HelperServices {
  const hz = opts.hz ?? HZ_DEFAULT;
  const tick = BigInt(Math.round(1e9 / hz));
  const step = opts.stepNs ?? 1000n;
  const suspended = opts.suspendedNs ?? 0n;
  let t = (opts.startNs ?? 1_000_000_000n) - step;
  let state = (opts.seed ?? 1) >>> 0;
  const next = (): bigint => (t += step);
  return {
    monotonicNs: next,
    bootNs: () => next() + suspended,
    coarseNs: () => {
      const v = next();
      return v - (v % tick);
    },
    jiffies64: () => BigInt.asUintN(64, initialJiffies(hz) + next() / tick),
    randomU32: () => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    },
    numaNode: () => 0,
    trace: opts.trace ?? logTrace,
  };
}
