/**
 * format — the benchmark's JSON report (`npm run bench -- --json FILE`, issue 5), typed so that
 * more programs, frame sizes and engines slot in without changing its shape.
 *
 * One `BenchResult` per (program, frame); `ns_per_packet` has a key for every engine that exists
 * (`interp`, `jit`, ...) and `kernel`; a value is null where that runner cannot run here (no jit
 * engine yet; no root / no BPF for the kernel). `replay` holds end-to-end `xdpsim replay`
 * throughput once that command exists, null until then.
 */

/** NsPerPacket maps a runner ("interp", "jit", "kernel", ...) to ns per packet, or null. */
export interface NsPerPacket {
  interp: number | null;
  jit: number | null;
  kernel: number | null;
  [engine: string]: number | null;
}

/** BenchResult is one program on one frame. */
export interface BenchResult {
  /** Program name as the bench knows it (programs/bench/<program>.c). */
  program: string;
  /** ELF section / hook the program runs at. */
  section: string;
  hook: 'xdp' | 'tc';
  /** What the frame is (e.g. "ipv4-udp"). */
  frame: string;
  frame_len: number;
  ns_per_packet: NsPerPacket;
  /** Each runner's time divided by the kernel's (null when either is null). */
  ratio_to_kernel: Record<string, number | null>;
  /** The program's return value per runner: they must agree, or the timing compares nothing. */
  retval: Record<string, number | null>;
  /** How each figure was measured (packets timed, repeat, method). */
  method: Record<string, string>;
  /** Why a runner's figure is null for this program (e.g. it needs the object loader). */
  skipped: Record<string, string>;
}

/** ReplayBench is end-to-end replay throughput next to tcpdump on the same capture. */
export interface ReplayBench {
  capture: string;
  frames: number;
  program: string;
  engine: string;
  /** Frames per second of the whole `xdpsim replay --out DIR` command (capture to capture); null until it can run. */
  pps: number | null;
  /** Frames per second of `xdpsim replay` without --out (summary only). */
  pps_no_output?: number | null;
  /** How the figures were taken. */
  method?: string;
  tcpdump_pps: number | null;
  ratio_to_tcpdump: number | null;
  /** `xdpsim replay --workers 1` and `--workers 2` on the same capture (interleaved rounds, medians); null when skipped. */
  workers?: WorkersBench | null;
}

/** WorkersBench is `replay --workers` throughput: one worker thread against two (issue 5's target: 2 ≥ 1.8× 1 on two cores). */
export interface WorkersBench {
  workers1_pps: number | null;
  workers2_pps: number | null;
  /** workers2_pps / workers1_pps. */
  speedup: number | null;
  /** Load average at the start of the measurement (other work on the machine skews the ratio). */
  loadavg: number;
}

/** BenchReport is the whole JSON file. */
export interface BenchReport {
  version: 1;
  date: string;
  /** loadavg: the 1/5/15-minute load averages when the run began (a busy host makes figures noisy). */
  host: { node: string; platform: string; kernel: string; cpu: string; ncpus: number; loadavg: number[] };
  /** Why a runner is missing, e.g. {"kernel": "not root"}; empty when all ran. */
  unavailable: Record<string, string>;
  results: BenchResult[];
  replay: ReplayBench | null;
}
