/**
 * bench — `npm run bench [-- --json FILE] [--quick] [--program NAME]`: ns per packet of every
 * xdpsim engine next to the kernel's BPF_PROG_TEST_RUN on the same object and the same frame,
 * measured in the same run, printed as a table with ratios (and written as JSON, bench/format.ts).
 *
 * Method. xdpsim: in a child process per engine, program and frame, the object is loaded and the
 * program prepared once (bench/sim.ts), then run back to back on one hook buffer loaded once with
 * the frame, exactly like the kernel's repeat loop, which does not restore the frame between
 * repetitions either; after a warm-up (≥ 1 s of CPU), SAMPLES
 * batches of at least MIN_PACKETS/SAMPLES runs each, timed in process CPU time (so other
 * processes on a busy machine do not inflate it; the kernel's timer also pauses while its task is
 * rescheduled), and the median batch is that process's figure; the median of PROCESSES such
 * processes is reported (every process's figure is in the method text). Kernel: xdpsim-ktest loads the object with
 * libbpf and runs BPF_PROG_TEST_RUN with repeat = KERNEL_REPEAT (≥ 1M); the kernel's own duration
 * (ns per repetition, net/bpf/test_run.c bpf_test_timer) is taken, median of SAMPLES calls. The
 * return values of every runner are recorded and must agree.
 *
 * Programs (issue 5's list, C in programs/bench/, objects committed): drop, parse, parse_count
 * (per-CPU map counter), icmp_echo (XDP_TX with checksum), tc_dnat (TC with skb helpers),
 * tailcall (PROG_ARRAY dispatcher), each on a 64- and a 1500-byte frame it really processes.
 * Both sides load the same committed .o: xdpsim through src/object, the kernel through libbpf.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineNames } from '../src/vm/engines.js';
import { KernelTestRunner, type KernelObject } from '../src/kernel/testrun.js';
import type { BenchReport, BenchResult, NsPerPacket } from './format.js';
import { loadSimProgram, type SimProgram } from './sim.js';
import { benchReplay } from './replay.js';
import { PROGRAMS } from './programs.js';

const KERNEL_REPEAT = 1_000_000;
const SAMPLES = 5;
/** Child processes per engine, program and frame (the median process is reported). */
const PROCESSES = 3;
/** Frames in the generated capture of the replay measurement. */
const REPLAY_FRAMES = 1_000_000;


function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'xdpsim') return dir;
    dir = dirname(dir);
  }
  throw new Error('bench: cannot find the xdpsim package root above ' + fileURLToPath(import.meta.url));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** WARMUP_CPU_MS: the warm-up lasts at least this much CPU time (V8 may take ~0.4 s to optimise a big function). */
const WARMUP_CPU_MS = 1000;

/** cpuMs is this process's user + system CPU time in milliseconds. */
function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

/**
 * timeEngine returns [median ns per packet, retval, method] for one engine, measured in
 * PROCESSES child processes of its own (timeEngineHere), the median of their medians: one
 * process running every engine and program makes V8's call sites in the bench loop and in the
 * engines' run wrappers polymorphic, which slowed the jit 2-3x against the same program
 * measured alone; and on this kind of VM one process's figure can sit at twice another's for
 * seconds with the same code (no deopt, no GC in between; a synthetic switch loop shows the
 * same spread), so one process is one sample. Every process's figure is in the method text.
 */
function timeEngine(engineName: string, path: string, func: string, frame: Uint8Array, minPackets: number): [number, number, string] {
  const args = [fileURLToPath(import.meta.url), '--child', engineName, path, func, Buffer.from(frame).toString('hex'), String(minPackets)];
  const runs: Array<[number, number, string]> = [];
  for (let i = 0; i < PROCESSES; i++) {
    const out = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
    runs.push(JSON.parse(out) as [number, number, string]);
  }
  const retvals = new Set(runs.map((r) => r[1]));
  if (retvals.size !== 1) throw new Error(`bench: ${func} on ${engineName} returned ${[...retvals].join(' and ')} in different processes`);
  const byTime = [...runs].sort((a, b) => a[0] - b[0]);
  const mid = byTime[Math.floor(byTime.length / 2)];
  const each = runs.map((r) => r[0].toFixed(1)).join(', ');
  return [mid[0], mid[1], `${mid[2]}; median of ${PROCESSES} processes of their own (each: ${each} ns)`];
}

/**
 * repeat runs the program n times back to back: the repeat loop, in a function of its own so V8
 * optimises it once during the warm-up. Written inline in timeEngineHere, the timed loops were
 * OSR-compiled and deoptimised again at every code path the warm-up had not reached yet
 * (--trace-deopt: 20 deopts, "insufficient type feedback"), so part of each batch ran in the
 * bytecode interpreter: drop measured 35 ns that way against 8-15 ns with this function.
 */
function repeat(prog: SimProgram, n: number): void {
  for (let i = 0; i < n; i++) prog.run();
}

/** timeEngineHere measures in this process (the child side of timeEngine). */
function timeEngineHere(engineName: string, path: string, func: string, frame: Uint8Array, minPackets: number): [number, number, string] {
  const prog = loadSimProgram(path, func, engineName, frame);
  const first = prog.run();
  if (!first.ok) throw new Error(`bench: ${func} faults on ${engineName}: ${first.fault.message}`);
  const retval = Number(first.r0 & 0xffffffffn);
  const batch = Math.ceil(minPackets / SAMPLES);
  // Warm-up: at least one batch and WARMUP_CPU_MS of CPU, so the timed batches run optimised code.
  let warm = 0;
  const w0 = cpuMs();
  while (warm < batch || cpuMs() - w0 < WARMUP_CPU_MS) {
    repeat(prog, 10_000);
    warm += 10_000;
  }
  // CPU time (process.cpuUsage: user + system of this process), not wall time: like the kernel's
  // bpf_test_timer, which stops while the task is rescheduled, it leaves out the time other
  // processes hold the CPU. Wall time is recorded in the method string for comparison.
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    repeat(prog, batch);
    wall.push(Number(process.hrtime.bigint() - t0) / batch);
    const c = process.cpuUsage(c0);
    cpu.push(((c.user + c.system) * 1000) / batch);
  }
  const how = `CPU time, median of ${SAMPLES} batches of ${batch} runs after ${warm} warm-up runs (wall-clock median ${median(wall).toFixed(1)} ns)`;
  return [median(cpu), retval, how];
}

function fmt(v: number | null, digits = 1): string {
  return v === null ? '—' : v.toFixed(digits);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    const [, engineName, path, func, hex, minPackets] = args;
    process.stdout.write(JSON.stringify(timeEngineHere(engineName, path, func, new Uint8Array(Buffer.from(hex, 'hex')), Number(minPackets))));
    return;
  }
  const jsonAt = args.indexOf('--json');
  const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
  if (jsonAt >= 0 && (jsonFile === undefined || jsonFile.startsWith('--'))) throw new Error('bench: --json needs a file name');
  const quick = args.includes('--quick');
  const minPackets = quick ? 200_000 : 2_000_000;
  const root = packageRoot();
  const load = loadavg();
  if (load[0] > cpus().length) {
    console.log(`note: load average ${load[0].toFixed(1)} on ${cpus().length} CPUs — other work competes with the measurement; figures will be noisy`);
  }

  const only = args.indexOf('--program');
  const programs = only >= 0 ? PROGRAMS.filter((p) => p.name === args[only + 1]) : PROGRAMS;
  if (programs.length === 0) throw new Error(`bench: no program named ${args[only + 1]} (have ${PROGRAMS.map((p) => p.name).join(', ')})`);

  const unavailable: Record<string, string> = {};
  const kernel = await KernelTestRunner.open();
  if (!kernel.ok) unavailable.kernel = kernel.reason;
  const engines = engineNames();
  for (const e of ['jit']) if (!engines.includes(e)) unavailable[e] = `no engine named ${e} is registered yet`;

  const results: BenchResult[] = [];
  for (const p of programs) {
    const path = join(root, 'programs', 'bench', `${p.name}.o`);
    let kobj: KernelObject | undefined;
    if (kernel.ok) kobj = await kernel.runner.loadObject(path, { program: p.func });
    for (const f of p.frames) {
      const ns: NsPerPacket = { interp: null, jit: null, kernel: null };
      const retval: Record<string, number | null> = {};
      const method: Record<string, string> = {};
      const skipped: Record<string, string> = {};
      for (const e of engines) {
        const [t, rv, how] = timeEngine(e, path, p.func, f.bytes, minPackets);
        ns[e] = t;
        retval[e] = rv;
        method[e] = how;
      }
      if (kernel.ok && kobj !== undefined) {
        const ds: number[] = [];
        let rv = -1;
        for (let s = 0; s < SAMPLES; s++) {
          const r = await kernel.runner.run(kobj.prog, { dataIn: f.bytes, repeat: KERNEL_REPEAT });
          if (r.err !== 0) throw new Error(`bench: kernel test run of ${p.name} failed with errno ${r.err}`);
          ds.push(r.duration);
          rv = r.retval;
        }
        ns.kernel = median(ds);
        retval.kernel = rv;
        method.kernel = `BPF_PROG_TEST_RUN repeat=${KERNEL_REPEAT} on ${p.name}.o loaded by libbpf, kernel-reported duration, median of ${SAMPLES}`;
      } else {
        retval.kernel = null;
        skipped.kernel = kernel.ok ? 'not loaded' : kernel.reason;
      }
      const ratio: Record<string, number | null> = {};
      for (const e of Object.keys(ns)) {
        if (e === 'kernel') continue;
        const v = ns[e];
        ratio[e] = v !== null && ns.kernel !== null && ns.kernel > 0 ? v / ns.kernel : null;
      }
      results.push({
        program: p.name,
        section: p.section,
        hook: p.hook,
        frame: f.name,
        frame_len: f.bytes.length,
        ns_per_packet: ns,
        ratio_to_kernel: ratio,
        retval,
        method,
        skipped,
      });
    }
    if (kernel.ok && kobj !== undefined) await kernel.runner.closeHandle(kobj.handle);
  }
  if (kernel.ok) await kernel.runner.close();

  const report: BenchReport = {
    version: 1,
    date: new Date().toISOString(),
    host: { node: process.version, platform: process.platform, kernel: release(), cpu: cpus()[0]?.model ?? 'unknown', ncpus: cpus().length, loadavg: load },
    unavailable,
    results,
    replay: args.includes('--no-replay') ? null : benchReplay(root, quick ? 100_000 : REPLAY_FRAMES, unavailable),
  };

  const cols = ['interp', 'jit', 'kernel'];
  for (const e of engines) if (!cols.includes(e)) cols.splice(cols.length - 1, 0, e);
  const header = ['program', 'frame', 'len', ...cols.map((c) => `${c} ns`), ...cols.filter((c) => c !== 'kernel').map((c) => `${c}/kernel`), 'retval'];
  const rows = results.map((r) => [
    r.program,
    r.frame,
    String(r.frame_len),
    ...cols.map((c) => fmt(r.ns_per_packet[c] ?? null)),
    ...cols.filter((c) => c !== 'kernel').map((c) => (r.ratio_to_kernel[c] == null ? '—' : `${fmt(r.ratio_to_kernel[c], 2)}x`)),
    [...new Set(Object.values(r.retval).filter((v) => v !== null))].join('/'),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  const rp = report.replay;
  if (rp !== null) {
    const pps = (v: number | null): string => (v === null ? '—' : `${(v / 1e6).toFixed(2)} Mpps`);
    console.log(
      `replay (${rp.capture}, ${rp.program}): xdpsim capture to capture (--out) ${pps(rp.pps)}, without output ${pps(rp.pps_no_output ?? null)}, ` +
        `tcpdump -r/-w ${pps(rp.tcpdump_pps)}${rp.ratio_to_tcpdump === null ? '' : `, ratio (--out / tcpdump) ${rp.ratio_to_tcpdump.toFixed(2)}`}`,
    );
    const wk = rp.workers;
    if (wk !== undefined && wk !== null) console.log(`replay --workers (same capture, medians of alternating runs, load ${wk.loadavg}): 1 worker ${pps(wk.workers1_pps)}, 2 workers ${pps(wk.workers2_pps)}${wk.speedup === null ? '' : `, speed-up ${wk.speedup.toFixed(2)}x`}`);
  }
  for (const [k, why] of Object.entries(unavailable)) console.log(`${k}: not measured — ${why}`);
  const disagree = results.filter((r) => new Set(Object.values(r.retval).filter((v) => v !== null)).size > 1);
  for (const r of disagree) console.log(`WARNING: ${r.program}/${r.frame}: runners disagree on the return value: ${JSON.stringify(r.retval)}`);

  if (jsonFile !== undefined) {
    const out = resolve(jsonFile);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${out}`);
  }
  if (disagree.length > 0) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
