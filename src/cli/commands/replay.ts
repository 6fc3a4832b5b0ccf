/**
 * replay — `xdpsim replay CAPTURE... --xdp OBJ[:PROG] ...`: every frame of the captures through
 * the simulated datapath (src/datapath), or with `--mode test-run` through one program exactly
 * as BPF_PROG_TEST_RUN runs it (src/hooks/testrun.ts), optionally side by side with the kernel
 * (`--compare-kernel`).
 *
 * Streaming: a pipeline replay reads pcap and pcapng through a synchronous FrameCursor (frame by
 * frame, no copy, no promise); test-run mode through the readers' batches() (one await per batch
 * of up to 256 frames). Results and captures are written as they go, so memory stays flat in the
 * capture's size. A bad capture stops the run after every frame before the bad record has been
 * processed and written; the output files are closed (valid up to that frame), the summary is
 * printed and the command fails with the CaptureError naming the file and byte offset.
 */
import type { Command } from 'commander';
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { CaptureError, UsageError, isXdpsimError } from '../../errors.js';
import { openCursor, readCapture } from '../../io/capture.js';
import type { CaptureReader } from '../../io/reader.js';
import type { CaptureInterface, Frame } from '../../io/frames.js';
import { DEFAULT_ENGINE, engineNames, getEngine } from '../../vm/engines.js';
import { systemServices } from '../../helpers/services.js';
import { buildDatapath, splitIface, type Datapath } from '../../datapath/setup.js';
import { Accounting, type FrameResult, type OutFrame } from '../../datapath/accounting.js';
import { DEFAULT_MAX_HOPS } from '../../datapath/pipeline.js';
import type { SimInterface } from '../../datapath/interfaces.js';
import { ProgramSet, parseProgramRef, type BoundProgram } from '../../datapath/programs.js';
import type { TestRunOutput } from '../../hooks/testrun.js';
import { loopbackDatapath } from '../../hooks/datapath.js';
import { ProgType } from '../../hooks/tc.js';
import { XdpMd } from '../../hooks/xdp.js';
import { SkBuffField } from '../../hooks/skb.js';
import type { KernelTestRunner, KernelObject, KernelMapDump } from '../../kernel/testrun.js';
import { DispositionCaptures, describeAttach, hex, mapEntryCounts, preloadMapsFile, writeMapsFile } from '../outputs.js';
import { Progress } from '../progress.js';
import { formatSummary } from '../summary.js';
import { runReplayWorkers } from './replay-workers.js';

/** ReplayOptions are the parsed flags of `xdpsim replay`. */
export interface ReplayOptions {
  xdp: string[];
  tcIngress: string[];
  tcEgress: string[];
  iface: string[];
  topology?: string;
  out?: string;
  results?: string;
  maps?: string;
  preload?: string;
  mode: string;
  ctxIn?: string;
  engine: string;
  limit?: string;
  compareKernel?: boolean;
  cpus?: string;
  maxHops?: string;
  workers?: string;
  quiet?: boolean;
}

/** ReplayIo is where the command writes (tests pass their own). */
export interface ReplayIo {
  stdout: (s: string) => void;
  stderr: NodeJS.WriteStream;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** registerReplay adds the `replay` command. */
export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('replay captures through XDP and TC programs and report what they did to every frame')
    .argument('<capture...>', 'pcap or pcapng files')
    .option('--xdp <obj[:prog][@iface]>', 'XDP program (program or section name); every interface unless @iface', collect, [])
    .option('--tc-ingress <obj[:prog][@iface]>', 'TC ingress program, in priority order (repeatable)', collect, [])
    .option('--tc-egress <obj[:prog][@iface]>', 'TC egress program, in priority order (repeatable)', collect, [])
    .option('--iface <spec>', 'interface NAME[,mac=..][,mtu=N][,queues=N][,ifindex=N][,vlan-offload=on|off][,peer=NAME][,netns=NAME] (repeatable; the first receives the capture)', collect, [])
    .option('--topology <file.json>', 'interfaces, routes, neighbours and attached programs from a JSON file')
    .option('--out <dir>', 'write one pcapng per disposition (host, drop, tx, redirect, ...) with verdicts and comments')
    .option('--results <file.jsonl>', 'write one JSON line per frame')
    .option('--maps <file.json>', 'dump every map at the end')
    .option('--preload <file.json>', 'fill maps before the first frame (the --maps format)')
    .option('--mode <mode>', 'pipeline (the datapath) or test-run (each frame alone, as BPF_PROG_TEST_RUN)', 'pipeline')
    .option('--ctx-in <file.json>', 'test-run: xdp_md or __sk_buff fields as ctx_in (missing fields 0, data_end the frame length)')
    .option('--engine <name>', `execution engine (${engineNames().join(', ')})`, DEFAULT_ENGINE)
    .option('--limit <n>', 'stop after N frames')
    .option('--compare-kernel', 'also run every frame through the kernel (BPF_PROG_TEST_RUN) and report differences')
    .option('--cpus <n>', 'simulated CPUs (default: the most rx queues of any interface)')
    .option('--max-hops <n>', `redirects one frame may take before the loop guard stops it (default ${DEFAULT_MAX_HOPS})`)
    .option('--workers <n>', 'run frames on N worker threads, one rx queue and CPU each, spread by flow hash (maps shared; see replay-workers.ts)')
    .option('-q, --quiet', 'no summary')
    .action(async (captures: string[], opts: ReplayOptions) => {
      const code = await runReplay(captures, opts, { stdout: (s) => process.stdout.write(s), stderr: process.stderr });
      if (code !== 0) process.exitCode = code;
    });
}

function posInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError('E_USAGE', `${flag} ${v}: expected a positive integer`, {});
  return Number(v);
}


/** HEX_DIGITS16 holds the two lowercase hex digits of every byte value as one little-endian 16-bit word. */
const HEX_DIGITS16: Uint16Array = (() => {
  const t = new Uint16Array(256);
  const d = '0123456789abcdef';
  for (let b = 0; b < 256; b++) t[b] = d.charCodeAt(b >> 4) | (d.charCodeAt(b & 15) << 8);
  return t;
})();


/** LineWriter is where resultLine renders a line: a LineSink, or a worker's LineBuffer (replay-batch.ts). */
export interface LineWriter {
  push(text: string): void;
  pushHex(b: Uint8Array): void;
  /** pushBytes appends bytes as they are (pre-encoded UTF-8 text). */
  pushBytes(b: Uint8Array): void;
  /** pushUint appends a non-negative safe integer in decimal. */
  pushUint(n: number): void;
}

/**
 * LineBuffer collects lines in one growing byte buffer: text as UTF-8, packet bytes as hex through
 * HEX_DIGITS16. Measured, this replaces a hex string, a joined string and its UTF-8 encoding per
 * batch. A --workers thread keeps its lines in one (replay-batch.ts); LineSink writes one to a file.
 */
export class LineBuffer implements LineWriter {
  protected buf: Buffer;
  protected pos = 0;
  /** A view of buf for pushHex's two-digit stores. */
  private dv: DataView;

  constructor(initialBytes = 1 << 16) {
    this.buf = Buffer.allocUnsafe(initialBytes);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.dv = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  /** push appends a line (or part of one) of text. */
  push(text: string): void {
    this.room(text.length * 3);
    this.pos += this.buf.write(text, this.pos, 'utf8');
  }

  /** pushHex appends bytes as lowercase hex. */
  pushHex(b: Uint8Array): void {
    const n = b.length;
    this.room(2 * n);
    // Both digits of a byte in one 16-bit store: about twice as fast as two byte stores here.
    const dv = this.dv;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      dv.setUint16(p, HEX_DIGITS16[b[i]], true);
      p += 2;
    }
    this.pos = p;
  }

  /** pushBytes appends bytes as they are (pre-encoded UTF-8 text). */
  pushBytes(b: Uint8Array): void {
    const n = b.length;
    this.room(n);
    const out = this.buf;
    let p = this.pos;
    // A byte loop for a few bytes; set() (a fixed ~40 ns, then memcpy) for longer runs, where
    // the loop measured ~3 ns a byte.
    if (n > 24) {
      out.set(b, p);
      p += n;
    } else {
      for (let i = 0; i < n; i++) out[p++] = b[i];
    }
    this.pos = p;
  }

  /** pushUint appends a non-negative safe integer in decimal (int32 arithmetic below 2^31). */
  pushUint(n: number): void {
    if (!(n >= 0 && n <= 0x7fffffff)) {
      this.push(String(n));
      return;
    }
    let digits = 1;
    for (let k = n | 0; k >= 10; k = (k / 10) | 0) digits++;
    this.room(digits);
    const out = this.buf;
    let k = n | 0;
    for (let p = this.pos + digits - 1; p >= this.pos; p--) {
      const q10 = (k / 10) | 0;
      out[p] = 48 + k - q10 * 10;
      k = q10;
    }
    this.pos += digits;
  }

  /** length is the number of bytes so far. */
  get length(): number {
    return this.pos;
  }

  /** take returns the bytes so far as a transferable buffer and starts again. */
  take(): ArrayBuffer {
    const out = new ArrayBuffer(this.pos);
    new Uint8Array(out).set(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }
}

/**
 * LineSink writes text lines to a file in batches, synchronously (complete lines survive an
 * error), one write per flush (per batch of frames).
 */
export class LineSink extends LineBuffer {
  private readonly fd: number;

  constructor(readonly file: string) {
    super(1 << 20);
    try {
      this.fd = openSync(file, 'w');
    } catch (e) {
      throw new UsageError('E_OUTPUT', `${file}: cannot create: ${(e as Error).message}`, { file });
    }
  }

  flush(): void {
    if (this.pos === 0) return;
    let off = 0;
    while (off < this.pos) off += writeSync(this.fd, this.buf, off, this.pos - off);
    this.pos = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}


/** FLUSH_EVERY is how many frames the synchronous loop runs between results flushes and progress updates (a power of 2). */
const FLUSH_EVERY = 256;

/** runReplay runs the command and returns its exit code; user errors throw XdpsimError. */
export async function runReplay(captures: string[], opts: ReplayOptions, io: ReplayIo): Promise<number> {
  const mode = opts.compareKernel === true && opts.mode === 'pipeline' ? 'test-run' : opts.mode;
  if (mode !== 'pipeline' && mode !== 'test-run') throw new UsageError('E_USAGE', `--mode ${opts.mode}: expected pipeline or test-run`, {});
  if (opts.ctxIn !== undefined && mode !== 'test-run') throw new UsageError('E_USAGE', '--ctx-in applies to --mode test-run only', {});
  if (opts.out !== undefined && mode !== 'pipeline') throw new UsageError('E_USAGE', '--out applies to --mode pipeline only (test-run frames go nowhere; see --results)', {});
  const limit = posInt('--limit', opts.limit) ?? Infinity;
  const engine = getEngine(opts.engine);
  for (const c of captures) {
    try {
      statSync(c);
    } catch {
      throw new UsageError('E_CAPTURE_MISSING', `${c}: no such capture file`, { file: c });
    }
  }
  const workers = posInt('--workers', opts.workers);
  if (workers !== undefined && mode !== 'pipeline') throw new UsageError('E_USAGE', '--workers applies to --mode pipeline only', {});
  if (mode === 'test-run') return runTestRun(captures, opts, io, limit);
  if (opts.xdp.length + opts.tcIngress.length + opts.tcEgress.length === 0 && opts.topology === undefined) {
    throw new UsageError('E_USAGE', 'replay: give at least one program (--xdp, --tc-ingress, --tc-egress) or a --topology that attaches some', {});
  }
  if (workers !== undefined) return runReplayWorkers(captures, opts, io, workers, limit, posInt('--max-hops', opts.maxHops));
  const dp = buildDatapath({
    ifaces: opts.iface,
    topologyFile: opts.topology,
    hooks: { xdp: opts.xdp, tcIngress: opts.tcIngress, tcEgress: opts.tcEgress },
    engine,
    services: systemServices(),
    cpus: posInt('--cpus', opts.cpus),
    maxHops: posInt('--max-hops', opts.maxHops),
  });
  if (opts.preload !== undefined) preloadMapsFile(dp.programs, opts.preload);
  const acc = new Accounting();
  const results = opts.results !== undefined ? new LineSink(opts.results) : undefined;
  const names = dp.topology.interfaces.map((d) => d.name);
  const outDir = opts.out !== undefined ? new DispositionCaptures(opts.out, names, 'replay') : undefined;
  const progress = new Progress(io.stderr);
  const multi = captures.length > 1;
  // Nothing reads a frame's result but the counters: the pipeline may share results (Pipeline.count).
  const countOnly = results === undefined && outDir === undefined;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let error: CaptureError | undefined;
  let index = 0;
  try {
    outer: for (const file of captures) {
      const cursor = openCursor(file);
      const reader = cursor === undefined ? readCapture(file) : undefined;
      const interfaces = (): readonly CaptureInterface[] => (cursor ?? (reader as CaptureReader)).interfaces;
      const total = statSync(file).size;
      const ifaceOf = new Map<number, SimInterface>();
      let lastIndex = -1;
      let lastDev = dp.topology.interfaces[0];
      const pick = (i: number): SimInterface => {
        if (i === lastIndex) return lastDev;
        let d = ifaceOf.get(i);
        if (d === undefined) {
          d = mapInterface(interfaces()[i], i, dp.topology.interfaces);
          ifaceOf.set(i, d);
        }
        lastIndex = i;
        lastDev = d;
        return d;
      };
      const handle = (frame: Frame): void => {
        const dev = pick(frame.interfaceIndex);
        const r = countOnly ? dp.pipeline.count(frame.data, dev) : dp.pipeline.countOut(frame.data, dev);
        acc.add(index, frame.data.length, r);
        if (results !== undefined) resultLine(results, index, frame, r, multi ? file : undefined);
        if (outDir !== undefined) outDir.frame(index, frame, r);
        index++;
      };
      try {
        if (cursor !== undefined) {
          // Synchronous, frame by frame, no copy: the frame is a view into the reader's buffer,
          // done with before the next call.
          try {
            if (countOnly) {
              // handle() without the per-frame outputs, the loop as short as it can be.
              const pipeline = dp.pipeline;
              for (let frame = cursor.next(); frame !== undefined; frame = cursor.next()) {
                if (index >= limit) break outer;
                const data = frame.data;
                acc.add(index, data.length, pipeline.count(data, pick(frame.interfaceIndex)));
                index++;
                if ((index & (FLUSH_EVERY - 1)) === 0) progress.update(cursor.offset, total, index);
              }
            } else {
              for (let frame = cursor.next(); frame !== undefined; frame = cursor.next()) {
                if (index >= limit) break outer;
                handle(frame);
                if ((index & (FLUSH_EVERY - 1)) === 0) {
                  results?.flush();
                  progress.update(cursor.offset, total, index);
                }
              }
            }
          } finally {
            cursor.close();
          }
          results?.flush();
        } else if (reader !== undefined) {
          for await (const batch of reader.batches()) {
            for (const frame of batch) {
              if (index >= limit) break outer;
              handle(frame);
            }
            results?.flush();
            progress.update(batch.length > 0 ? batch[batch.length - 1].fileOffset : 0, total, index);
          }
        }
      } catch (e) {
        if (e instanceof CaptureError) {
          error = e;
          break;
        }
        throw e;
      }
    }
  } finally {
    progress.done();
    results?.close();
    await outDir?.close();
  }
  return finishReplay(dp, acc, opts, io, {
    captures,
    engine: engine.name,
    t0,
    c0,
    error,
    notes: outDir !== undefined ? [`captures written: ${outDir.files().join(', ') || 'none'}`] : [],
  });
}

/** ReplayEnd is how a pipeline replay ended, for finishReplay. */
export interface ReplayEnd {
  readonly captures: readonly string[];
  readonly engine: string;
  /** performance.now() and process.cpuUsage() when the frames started. */
  readonly t0: number;
  readonly c0: NodeJS.CpuUsage;
  /** The capture error that ended the replay early, if any (rethrown after the summary). */
  readonly error: CaptureError | undefined;
  readonly notes: readonly string[];
}

/**
 * finishReplay is the end of a pipeline replay, single-threaded or with --workers: writes --maps,
 * checks that the dispositions add up, prints the summary unless -q, and rethrows a capture error
 * once every output is whole. Returns the exit code.
 */
export function finishReplay(dp: Datapath, acc: Accounting, opts: ReplayOptions, io: ReplayIo, end: ReplayEnd): number {
  const seconds = (performance.now() - end.t0) / 1000;
  const cu = process.cpuUsage(end.c0);
  const cpuSeconds = (cu.user + cu.system) / 1e6;
  if (opts.maps !== undefined) writeMapsFile(dp.programs, opts.maps);
  if (!acc.balanced()) throw new Error('replay: dispositions do not add up to the frames in (accounting bug)');
  if (opts.quiet !== true) {
    io.stdout(
      formatSummary(acc, {
        captures: [...end.captures],
        attached: describeAttach(dp),
        engine: end.engine,
        seconds,
        cpuSeconds,
        maps: mapEntryCounts(dp.programs),
        error: end.error?.message,
        notes: [...end.notes],
      }),
    );
  }
  if (end.error !== undefined) throw end.error;
  return 0;
}

/** mapInterface picks the simulated interface of a capture interface: by name, then by position, else the first. */
export function mapInterface(ci: CaptureInterface | undefined, i: number, devs: readonly SimInterface[]): SimInterface {
  if (ci?.name !== undefined) {
    const byName = devs.find((d) => d.name === ci.name);
    if (byName !== undefined) return byName;
  }
  if (devs.length > 1 && i < devs.length) return devs[i];
  return devs[0];
}


/** QUOTED caches JSON.stringify of the strings results lines repeat (names, verdicts, reasons); bounded. */
const QUOTED = new Map<string, string>();
const QUOTED_MAX = 4096;

function q(s: string): string {
  let v = QUOTED.get(s);
  if (v === undefined) {
    v = JSON.stringify(s);
    if (QUOTED.size < QUOTED_MAX) QUOTED.set(s, v);
  }
  return v;
}

/**
 * resultLine renders one results line into `sink`. A line is its frame's numbers (index, file
 * index, length), the packet bytes out, and text that repeats from frame to frame (interface,
 * queue, hooks, verdicts, disposition, why): that text is rendered once per way a frame ended
 * (LineShape, a few kept) and copied as bytes; frames with a fault or several copies out, and
 * any shape not seen before, are rendered as text by resultText first. Both give the same bytes
 * (test/cli/results-lines.test.ts).
 */
export function resultLine(sink: LineWriter, index: number, frame: Frame, r: FrameResult, file: string | undefined): void {
  const shape = r.out.length <= 1 ? lineShape(r, file) : undefined;
  if (shape === undefined) {
    resultText(sink, index, frame, r, file);
    return;
  }
  sink.pushBytes(LINE_INDEX);
  sink.pushUint(index);
  if (shape.file !== undefined) {
    sink.pushBytes(shape.file);
    sink.pushUint(frame.index);
  }
  sink.pushBytes(LINE_LEN);
  sink.pushUint(frame.data.length);
  sink.pushBytes(shape.middle);
  if (r.out.length === 1) {
    sink.pushHex(r.out[0].data);
    sink.pushBytes(LINE_HEX_END);
  }
}

const utf8 = new TextEncoder();
const LINE_INDEX = utf8.encode('{"index":');
const LINE_LEN = utf8.encode(',"len":');
const LINE_HEX_END = utf8.encode('"}\n');

/** LineShape is one way frames end, as results lines render it (see resultLine). */
interface LineShape {
  readonly r: FrameResult;
  readonly fileName: string | undefined;
  /** `,"file":"F","file_index":` when lines name their capture. */
  readonly file: Uint8Array | undefined;
  /** From `,"iface":` to `"data_out":"` (one copy out) or to the end of the line (none). */
  readonly middle: Uint8Array;
}

/** LINE_SHAPES bounds the shapes kept (replaced round robin beyond). */
const LINE_SHAPES = 16;
const lineShapes: LineShape[] = [];
let nextLineShape = 0;

/** lineShape returns the shape of `r`'s line, made and kept if new; undefined for a fault. */
function lineShape(r: FrameResult, file: string | undefined): LineShape | undefined {
  for (let i = 0; i < lineShapes.length; i++) {
    const c = lineShapes[i];
    if (c.fileName === file && sameLineShape(c.r, r)) return c;
  }
  for (const h of r.hooks) if (h.fault !== undefined) return undefined;
  const text = renderMiddle(r);
  const shape: LineShape = {
    r: { ...r, hooks: r.hooks.map((h) => ({ ...h })), out: r.out.map((o) => ({ ...o, data: new Uint8Array(0) })) },
    fileName: file,
    file: file === undefined ? undefined : utf8.encode(`,"file":${q(file)},"file_index":`),
    middle: utf8.encode(text),
  };
  if (lineShapes.length < LINE_SHAPES) lineShapes.push(shape);
  else lineShapes[nextLineShape++ % LINE_SHAPES] = shape;
  return shape;
}

/** sameLineShape tells whether `r` renders like the kept result `c` but for its numbers and bytes. */
function sameLineShape(c: FrameResult, r: FrameResult): boolean {
  if (c.iface !== r.iface || c.queue !== r.queue || c.disposition !== r.disposition || c.at !== r.at || c.reason !== r.reason || c.hops !== r.hops) return false;
  if (c.out.length !== r.out.length) return false;
  if (r.out.length === 1 && (c.out[0].iface !== r.out[0].iface || c.out[0].xsk !== r.out[0].xsk)) return false;
  const hs = r.hooks;
  if (hs.length !== c.hooks.length) return false;
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i];
    const k = c.hooks[i];
    if (h.hook !== k.hook || h.iface !== k.iface || h.program !== k.program || h.retval !== k.retval || h.verdict !== k.verdict || h.fault !== undefined) return false;
  }
  return true;
}

/** renderMiddle is the text of a line from `,"iface":` on, up to the packet bytes (resultText's order). */
function renderMiddle(r: FrameResult): string {
  const s = lineFields(r);
  return r.out.length === 1 ? `${s}${outFields(r.out[0])},"data_out":"` : `${s}}\n`;
}

/** lineFields is a results line from `,"iface":` through `"hops"` (hooks with their faults included). */
function lineFields(r: FrameResult): string {
  let s = `,"iface":${q(r.iface)},"queue":${r.queue},"hooks":[`;
  for (let i = 0; i < r.hooks.length; i++) {
    const h = r.hooks[i];
    if (i > 0) s += ',';
    s += `{"hook":${q(h.hook)},"iface":${q(h.iface)},"program":${q(h.program)},"retval":${h.retval},"verdict":${q(h.verdict)}`;
    if (h.fault !== undefined) {
      const f = h.fault;
      s += `,"fault":{"code":${q(f.code)},"program":${q(f.program)},"insn":${f.insn}${f.source !== undefined ? `,"source":${q(f.source)}` : ''},"message":${q(f.message)}}`;
    }
    s += '}';
  }
  s += `],"disposition":${q(r.disposition)}`;
  if (r.at !== undefined) s += `,"at":${q(r.at)}`;
  if (r.reason !== undefined) s += `,"reason":${q(r.reason)}`;
  if (r.hops > 0) s += `,"hops":${r.hops}`;
  return s;
}

/** outFields names the one copy out of a line: `,"out_iface":..` and its AF_XDP slot. */
function outFields(o: OutFrame): string {
  return `,"out_iface":${q(o.iface)}${o.xsk !== undefined ? `,"xsk":${o.xsk}` : ''}`;
}

/**
 * resultText renders one results line as text. Built by hand rather than with JSON.stringify
 * of an object (about 3x faster per frame); free-form text (names, reasons, fault messages) goes
 * through JSON.stringify (cached per distinct string) so it is always escaped; output bytes go
 * to the sink as hex directly.
 */
export function resultText(sink: LineWriter, index: number, frame: Frame, r: FrameResult, file: string | undefined): void {
  let s = `{"index":${index}`;
  if (file !== undefined) s += `,"file":${q(file)},"file_index":${frame.index}`;
  s += `,"len":${frame.data.length}${lineFields(r)}`;
  if (r.out.length === 1) {
    const o = r.out[0];
    sink.push(`${s}${outFields(o)},"data_out":"`);
    sink.pushHex(o.data);
    sink.push('"}\n');
    return;
  }
  if (r.out.length > 1) {
    sink.push(`${s},"out":[`);
    for (let i = 0; i < r.out.length; i++) {
      const o = r.out[i];
      sink.push(`${i > 0 ? ',' : ''}{"iface":${q(o.iface)},"data_out":"`);
      sink.pushHex(o.data);
      sink.push('"}');
    }
    sink.push(']}\n');
    return;
  }
  sink.push(`${s}}\n`);
}





/** ctxTemplate encodes a --ctx-in JSON object as an xdp_md or __sk_buff; data_end defaults to the frame length per frame. */
function ctxTemplate(file: string, progType: number): (frameLen: number) => Uint8Array {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError('E_CTX_IN', `${file}: cannot read ctx_in JSON: ${(e as Error).message}`, { file });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new UsageError('E_CTX_IN', `${file}: ctx_in must be a JSON object of fields`, { file });
  const fields = doc as Record<string, unknown>;
  const xdp = progType === ProgType.XDP;
  const layout: Record<string, number> = xdp ? { ...XdpMd } : { ...SkBuffField };
  delete layout.SIZE;
  const size = xdp ? XdpMd.SIZE : SkBuffField.SIZE;
  const wide = new Set(['tstamp', 'hwtstamp']);
  const base = new Uint8Array(size);
  const dv = new DataView(base.buffer);
  for (const [k, v] of Object.entries(fields)) {
    const off = layout[k];
    if (off === undefined) throw new UsageError('E_CTX_IN', `${file}: ${k} is not a field of ${xdp ? 'xdp_md' : '__sk_buff'} (fields: ${Object.keys(layout).join(', ')})`, { file });
    if (k === 'cb') {
      if (!Array.isArray(v) || v.length > 5 || v.some((x) => typeof x !== 'number')) throw new UsageError('E_CTX_IN', `${file}: cb must be up to 5 numbers`, { file });
      (v as number[]).forEach((x, i) => dv.setUint32(off + 4 * i, x >>> 0, true));
    } else if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new UsageError('E_CTX_IN', `${file}: ${k} must be a non-negative integer`, { file });
    } else if (wide.has(k)) {
      dv.setBigUint64(off, BigInt(v), true);
    } else {
      dv.setUint32(off, v >>> 0, true);
    }
  }
  const setEnd = xdp && !('data_end' in fields);
  return (len) => {
    if (!setEnd) return base;
    const c = base.slice();
    new DataView(c.buffer).setUint32(XdpMd.data_end, len, true);
    return c;
  };
}

/** DATA_SIZE_OUT is the data_out capacity both sides get (what the parity tests use). */
const DATA_SIZE_OUT = 256 << 10;

async function runTestRun(captures: string[], opts: ReplayOptions, io: ReplayIo, limit: number): Promise<number> {
  const given = [...opts.xdp.map((x) => ({ x, kind: 'xdp' as const })), ...opts.tcIngress.map((x) => ({ x, kind: 'tc' as const }))];
  if (given.length !== 1 || opts.tcEgress.length > 0) {
    throw new UsageError('E_USAGE', '--mode test-run runs exactly one program: give one --xdp or one --tc-ingress', {});
  }
  if (opts.iface.length > 0 || opts.topology !== undefined) throw new UsageError('E_USAGE', '--mode test-run runs in a namespace with only lo: --iface and --topology do not apply', {});
  const engine = getEngine(opts.engine);
  // Imported here, not at the top: pipeline runs (the common case) do not pay for loading them.
  const { TestRunner } = await import('../../hooks/testrun.js');
  const kernel = opts.compareKernel === true ? await (await import('../../kernel/testrun.js')).KernelTestRunner.open() : undefined;
  if (kernel !== undefined && !kernel.ok) {
    throw new UsageError('E_NO_KERNEL', `--compare-kernel: the kernel cannot run programs here: ${kernel.reason}`, {});
  }
  const k = kernel?.runner;
  try {
    const programs = new ProgramSet({ engine, services: systemServices(), cpus: k?.ncpus ?? 1 });
    const { ref } = splitIface(given[0].x);
    const pref = parseProgramRef(ref);
    const prog = programs.load(pref, given[0].kind);
    if (opts.preload !== undefined) preloadMapsFile(programs, opts.preload);
    const runner = new TestRunner({ exec: prog.exec, progType: prog.progType, env: prog.env, datapath: loopbackDatapath((h) => programs.resolveMap(h)), expectedAttachType: prog.spec.attachType });
    const ctxFor = opts.ctxIn !== undefined ? ctxTemplate(opts.ctxIn, prog.progType) : undefined;
    let kobj: KernelObject | undefined;
    if (k !== undefined) {
      const progType = prog.progType === ProgType.XDP ? undefined : prog.progType === ProgType.SCHED_ACT ? ('sched_act' as const) : ('sched_cls' as const);
      try {
        try {
          kobj = await k.loadObject(pref.file, { program: prog.name, progType: prog.spec.progType === 0 ? progType : undefined });
        } catch (e) {
          // Section names this libbpf does not know (tc/ingress, tcx/...): load with the type given, as `bpftool prog load ... type` would.
          if (progType === undefined) throw e;
          kobj = await k.loadObject(pref.file, { program: prog.name, progType });
        }
      } catch (e) {
        throw new UsageError('E_NO_KERNEL', `--compare-kernel: the kernel refused ${pref.file}:${prog.name}: ${isXdpsimError(e) ? e.message : String(e)}`, { file: pref.file });
      }
      await syncMapsFromKernel(k, kobj, prog, opts.preload !== undefined);
    }
    const results = opts.results !== undefined ? new LineSink(opts.results) : undefined;
    const progress = new Progress(io.stderr);
    const byRet = new Map<string, number>();
    const diffs: string[] = [];
    let diffFrames = 0;
    let faults = 0;
    let index = 0;
    let error: CaptureError | undefined;
    const t0 = performance.now();
    try {
      outer: for (const file of captures) {
        const reader = readCapture(file);
        const total = statSync(file).size;
        try {
          for await (const batch of reader.batches()) {
            for (const frame of batch) {
              if (index >= limit) break outer;
              const ctxIn = ctxFor?.(frame.data.length);
              const sr = runner.run({ data: frame.data, ctxIn, dataSizeOut: DATA_SIZE_OUT });
              if (sr.fault !== undefined) faults++;
              const key = sr.err !== 0 ? `err ${sr.err}` : `retval ${sr.retval >>> 0}`;
              byRet.set(key, (byRet.get(key) ?? 0) + 1);
              results?.push(testRunLine(index, sr, programs));
              if (k !== undefined && kobj !== undefined) {
                const kr = await k.run(kobj.prog, { dataIn: frame.data, ctxIn, dataSizeOut: DATA_SIZE_OUT });
                const d = compareRun(kr, sr);
                if (d.length > 0) {
                  diffFrames++;
                  for (const x of d) diffs.push(`frame ${index}: ${x}`);
                }
              }
              index++;
            }
            results?.flush();
            progress.update(batch[batch.length - 1].fileOffset, total, index);
          }
        } catch (e) {
          if (e instanceof CaptureError) {
            error = e;
            break;
          }
          throw e;
        }
      }
    } finally {
      progress.done();
      results?.close();
    }
    const seconds = (performance.now() - t0) / 1000;
    if (k !== undefined && kobj !== undefined) for (const d of await compareMaps(k, kobj, programs)) diffs.push(d);
    if (opts.maps !== undefined) writeMapsFile(programs, opts.maps);
    if (opts.quiet !== true) {
      const lines = [`xdpsim replay --mode test-run — ${captures.join(', ')}`, `  program          ${prog.name} (${pref.file}, section ${prog.section})`, `  engine           ${engine.name}`, `  frames           ${index}`];
      for (const [kk, n] of [...byRet.entries()].sort((a, b) => b[1] - a[1])) lines.push(`    ${kk.padEnd(14)} ${n}`);
      lines.push(`  faults           ${faults}`);
      lines.push(`  rate             ${(seconds > 0 ? index / seconds : 0).toFixed(0)} frames/s`);
      if (k !== undefined) {
        lines.push(`  kernel           ${diffs.length === 0 ? `identical on all ${index} frames and the final maps` : `${diffFrames} frame(s) differ, ${diffs.length} difference(s)`}`);
        for (const d of diffs.slice(0, 200)) lines.push(`    ${d}`);
        if (diffs.length > 200) lines.push(`    ... ${diffs.length - 200} more`);
      }
      if (error !== undefined) lines.push(`  stopped          ${error.message}`);
      io.stdout(`${lines.join('\n')}\n`);
    }
    if (error !== undefined) throw error;
    return diffs.length > 0 ? 1 : 0;
  } finally {
    await k?.close();
  }
}

function testRunLine(index: number, r: TestRunOutput, programs: ProgramSet): string {
  const o: Record<string, unknown> = { index, retval: r.retval >>> 0, err: r.err, data_out: hex(r.dataOut), data_size_out: r.dataSizeOut };
  if (r.fault !== undefined) {
    const f = programs.describeFault(r.fault);
    o.fault = { code: f.code, program: f.program, insn: f.insn, ...(f.source !== undefined ? { source: f.source } : {}), message: f.message };
  }
  return `${JSON.stringify(o)}\n`;
}

function compareRun(kr: { retval: number; err: number; dataOut: Uint8Array; dataSizeOut: number }, sr: TestRunOutput): string[] {
  const out: string[] = [];
  const cmp = (field: string, a: string, b: string): void => {
    if (a !== b) out.push(`${field}: kernel ${a.length > 120 ? `${a.slice(0, 120)}…` : a}, xdpsim ${b.length > 120 ? `${b.slice(0, 120)}…` : b}`);
  };
  if (sr.fault !== undefined) out.push(`xdpsim faulted: ${sr.fault.message}`);
  cmp('err', String(kr.err), String(sr.err));
  cmp('retval', String(kr.retval >>> 0), String(sr.retval >>> 0));
  cmp('data_size_out', String(kr.dataSizeOut), String(sr.dataSizeOut));
  cmp('data_out', hex(kr.dataOut), hex(sr.dataOut));
  return out;
}

/** Map types whose values are kernel object ids (fds, ifindexes of the host): not comparable. */
const ID_VALUED = new Set(['prog_array', 'array_of_maps', 'hash_of_maps', 'devmap', 'devmap_hash', 'cpumap', 'xskmap', 'sockmap', 'sockhash']);

function simMapOf(programs: ProgramSet, kname: string): import('../../maps/base.js').MapBase | undefined {
  for (const r of programs.registries()) for (const m of r.allMaps()) if (m.spec.name.slice(0, 15) === kname) return m;
  return undefined;
}

/**
 * syncMapsFromKernel starts both sides from the same maps: with --preload, the preloaded values go
 * to the kernel too; otherwise xdpsim takes the kernel's contents (pinned maps keep theirs).
 */
async function syncMapsFromKernel(k: KernelTestRunner, kobj: KernelObject, prog: BoundProgram, preloaded: boolean): Promise<void> {
  const programs = prog.object;
  const dumps: KernelMapDump[] = await k.dumpMaps(kobj);
  for (const d of dumps) {
    if (ID_VALUED.has(d.type)) continue;
    const m = [...programs.maps.values()].find((x) => x.spec.name.slice(0, 15) === d.name);
    if (m === undefined) continue;
    if (preloaded) {
      const km = kobj.maps.find((x) => x.name === d.name);
      if (km === undefined) continue;
      for (const key of m.keys()) {
        const v = m.lookup(key);
        if (v === undefined) continue;
        await k.mapUpdate(km, key, v);
      }
    } else {
      for (const e of d.entries ?? []) {
        if (e.values !== undefined) e.values.forEach((v, cpu) => m.update(e.key, v, 0, cpu));
        else if (e.value !== undefined) m.update(e.key, e.value, 0);
      }
    }
  }
}

function sumPerCpu(values: readonly Uint8Array[]): string {
  const size = values[0]?.length ?? 0;
  const w = size % 8 === 0 ? 8 : 4;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  for (const v of values) {
    const vd = new DataView(v.buffer, v.byteOffset, v.byteLength);
    for (let o = 0; o + w <= size; o += w) {
      if (w === 8) dv.setBigUint64(o, BigInt.asUintN(64, dv.getBigUint64(o, true) + vd.getBigUint64(o, true)), true);
      else dv.setUint32(o, (dv.getUint32(o, true) + vd.getUint32(o, true)) >>> 0, true);
    }
  }
  return hex(out);
}

/** compareMaps compares the final maps entry by entry (per-CPU values as sums: the kernel runs on whichever CPU). */
async function compareMaps(k: KernelTestRunner, kobj: KernelObject, programs: ProgramSet): Promise<string[]> {
  const out: string[] = [];
  for (const d of await k.dumpMaps(kobj)) {
    if (ID_VALUED.has(d.type) || d.entries === undefined) continue;
    const m = simMapOf(programs, d.name);
    if (m === undefined) {
      out.push(`map ${d.name}: missing in xdpsim`);
      continue;
    }
    const kv = new Map<string, string>();
    for (const e of d.entries) kv.set(hex(e.key), e.values !== undefined ? sumPerCpu(e.values) : hex(e.value ?? new Uint8Array(0)));
    const sv = new Map<string, string>();
    for (const key of m.keys()) {
      const v = m.lookup(key);
      if (v === undefined) continue;
      sv.set(hex(key), Array.isArray(v) ? sumPerCpu(v) : hex(v as Uint8Array));
    }
    for (const key of new Set([...kv.keys(), ...sv.keys()])) {
      const a = kv.get(key) ?? '(absent)';
      const b = sv.get(key) ?? '(absent)';
      if (a !== b) out.push(`map ${d.name}[${key}]: kernel ${a}, xdpsim ${b}`);
    }
  }
  return out;
}

