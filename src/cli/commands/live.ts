/**
 * live — `xdpsim live --iface NAME --xdp OBJ[:PROG] ...`: frames captured on a real interface go
 * through the same simulated datapath as `xdpsim replay` (src/datapath), and what the programs
 * decide is carried out with libpcap (src/io/live.ts):
 *
 *   XDP_TX                 → injected back on NAME
 *   XDP/TC redirect        → injected on the target (an --iface, --out-iface or --redirect-iface)
 *   PASS (to the host)     → tap mode: counted only (the kernel already handed the original to
 *                            the host stack); inline mode: injected on --out-iface, as the
 *                            programs left it
 *   DROP / ABORTED / ...   → counted; in inline mode the frame goes nowhere
 *
 * What "inline" means from user space: libpcap can watch a device and send on a device, but it
 * cannot take a frame away from the kernel. On a device that has addresses, the host stack gets
 * every frame whatever the simulated program says — that is tap mode, good for seeing verdicts
 * and for answering with XDP_TX, not for filtering. To put the program really in the path, give
 * the traffic no other way through: capture on a device the kernel does nothing with (one end of
 * a veth pair, no addresses, no bridge, no forwarding) and name a second such device with
 * --out-iface whose veth peer leads to the protected host or namespace. Frames that arrive on
 * --out-iface (the host's replies) are forwarded to NAME unchanged; TC egress programs on NAME do
 * not run on them (the datapath has no transmit entry yet), so --tc-egress on NAME is refused in
 * inline mode.
 */
import type { Command } from 'commander';
import { closeSync, openSync, writeSync } from 'node:fs';
import { NotSupportedError, UsageError } from '../../errors.js';
import { log } from '../../log.js';
import { DEFAULT_LIVE_BUFFER, LiveInterface, deviceInfo, loadCap, type DeviceInfo, type LiveFrame } from '../../io/live.js';
import { DEFAULT_ENGINE, engineNames, getEngine } from '../../vm/engines.js';
import { systemServices } from '../../helpers/services.js';
import { buildDatapath, splitIface } from '../../datapath/setup.js';
import { Accounting, Disposition, type FrameResult } from '../../datapath/accounting.js';
import { formatMac, type SimInterface } from '../../datapath/interfaces.js';
import { DispositionCaptures, describeAttach, hex, mapEntryCounts, preloadMapsFile, writeMapsFile } from '../outputs.js';
import { Progress } from '../progress.js';
import { formatSummary } from '../summary.js';

/** LiveCommandOptions are the parsed flags of `xdpsim live`. */
export interface LiveCommandOptions {
  iface?: string;
  outIface?: string;
  redirectIface: string[];
  xdp: string[];
  tcIngress: string[];
  tcEgress: string[];
  filter?: string;
  results?: string;
  out?: string;
  maps?: string;
  preload?: string;
  duration?: string;
  count?: string;
  engine: string;
  cpus?: string;
  buffer?: string;
  quiet?: boolean;
}

/** LiveIo is where the command writes, and an optional stop signal (tests pass their own). */
export interface LiveIo {
  stdout: (s: string) => void;
  stderr: NodeJS.WriteStream;
  /** Resolves when the run should stop (default: SIGINT or SIGTERM). */
  stop?: Promise<void>;
}

const liveLog = log.child({ layer: 'cli/live' });
const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** registerLive adds the `live` command. */
export function registerLive(program: Command): void {
  program
    .command('live')
    .description('run XDP and TC programs on frames captured on a live interface (libpcap), carrying out TX and redirects by injection')
    .requiredOption('--iface <name>', 'the device to capture on; its received frames run through the programs')
    .option('--out-iface <name>', 'inline mode: frames the programs pass to the host are injected here, and frames arriving here are forwarded to --iface')
    .option('--redirect-iface <name>', 'another device programs may redirect to (frames are only injected there; repeatable)', collect, [])
    .option('--xdp <obj[:prog][@iface]>', 'XDP program (program or section name); on --iface unless @iface', collect, [])
    .option('--tc-ingress <obj[:prog][@iface]>', 'TC ingress program, in priority order (repeatable)', collect, [])
    .option('--tc-egress <obj[:prog][@iface]>', 'TC egress program; runs on frames a TC program redirects to that device (repeatable)', collect, [])
    .option('--filter <expr>', 'libpcap filter for the capture (ANDed with "not sent by this device")')
    .option('--results <file.jsonl>', 'write one JSON line per frame (as replay does, plus ts and injection)')
    .option('--out <dir>', 'write one pcapng per disposition (host, drop, tx, redirect, ...) with verdicts and comments')
    .option('--maps <file.json>', 'dump every map at the end')
    .option('--preload <file.json>', 'fill maps before the first frame (the --maps format)')
    .option('--duration <seconds>', 'stop after this many seconds')
    .option('--count <n>', 'stop after N frames')
    .option('--engine <name>', `execution engine (${engineNames().join(', ')})`, DEFAULT_ENGINE)
    .option('--cpus <n>', 'simulated CPUs (default 1)')
    .option('--buffer <MiB>', `capture ring per device in MiB (default ${DEFAULT_LIVE_BUFFER >> 20}; about 15 frames per MiB)`)
    .option('-q, --quiet', 'no summary')
    .addHelpText(
      'after',
      `
Tap mode (no --out-iface): the kernel delivers every captured frame to the host stack whatever
the program decides; xdpsim reports the verdicts, injects XDP_TX answers back on --iface and
redirected frames on their target. XDP_DROP cannot remove anything there.

Inline mode (--out-iface): capture on a device the kernel does nothing with (a veth end without
addresses, not bridged, forwarding off) and name another such device whose peer leads to the
protected side. Only frames the programs pass are injected on --out-iface, so the program
really sits in the path. Frames from --out-iface go back to --iface unchanged (no TC egress).
Example, two veth pairs: ext0<->sim-in, sim-out<->host0:
  xdpsim live --iface sim-in --out-iface sim-out --xdp programs/xdp_fw.o --preload programs/xdp_fw.rules.json

Needs libpcap through the optional package "cap" and CAP_NET_RAW (root). Devices are opened in
promiscuous mode; frames longer than 65535 bytes arrive cut and are not processed (turn off GRO/GSO
on the devices: ethtool -K DEV gro off gso off tso off). Stops on --count, --duration, SIGINT or
SIGTERM, then prints the summary. Frames whose source MAC is the device's own are taken for the
host's transmissions and not captured. The libpcap binding prints "no IPv4 address assigned"
for devices without one; that only affects filters using "net" masks.`,
    )
    .action(async (opts: LiveCommandOptions) => {
      const code = await runLive(opts, { stdout: (s) => process.stdout.write(s), stderr: process.stderr });
      if (code !== 0) process.exitCode = code;
    });
}

function posNum(flag: string, v: string | undefined, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const ok = integer ? /^\d+$/.test(v) : /^\d+(\.\d+)?$/.test(v);
  if (!ok || Number(v) <= 0) throw new UsageError('E_USAGE', `${flag} ${v}: expected a positive ${integer ? 'integer' : 'number'}`, {});
  return Number(v);
}


/** onIface qualifies a program reference without @IFACE with the capture device. */
function onIface(text: string, iface: string): string {
  return splitIface(text).iface === undefined ? `${text}@${iface}` : text;
}

/** ifaceSpec describes a real device as a simulated one: same name, ifindex, MAC and MTU. */
function ifaceSpec(d: DeviceInfo): string {
  const mtu = Math.min(0xffff, Math.max(68, d.mtu));
  return `${d.name},mac=${formatMac(d.mac)},mtu=${mtu},ifindex=${d.ifindex}`;
}

/** LiveStats counts what live mode did besides the datapath's accounting. */
interface LiveStats {
  injected: Map<string, number>;
  injectErrors: Map<string, number>;
  truncated: number;
  reverse: number;
}

/** runLive runs the command until a stop condition and returns its exit code; user errors throw XdpsimError. */
export async function runLive(opts: LiveCommandOptions, io: LiveIo): Promise<number> {
  const name = opts.iface;
  if (name === undefined) throw new UsageError('E_USAGE', 'live: --iface NAME is required', {});
  if (opts.xdp.length + opts.tcIngress.length + opts.tcEgress.length === 0) {
    throw new UsageError('E_USAGE', 'live: give at least one program (--xdp, --tc-ingress, --tc-egress)', {});
  }
  const count = posNum('--count', opts.count, true) ?? Infinity;
  const duration = posNum('--duration', opts.duration, false);
  const bufferMiB = posNum('--buffer', opts.buffer, true);
  const engine = getEngine(opts.engine);
  const names = [name, ...(opts.outIface !== undefined ? [opts.outIface] : []), ...opts.redirectIface];
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new UsageError('E_USAGE', `live: device ${dup} is named twice (--iface, --out-iface and --redirect-iface must differ)`, { iface: dup });
  const hooks = { xdp: opts.xdp.map((t) => onIface(t, name)), tcIngress: opts.tcIngress.map((t) => onIface(t, name)), tcEgress: opts.tcEgress.map((t) => onIface(t, name)) };
  if (opts.outIface !== undefined && hooks.tcEgress.some((t) => splitIface(t).iface === name)) {
    throw new NotSupportedError('E_LIVE_EGRESS', `live: --tc-egress on ${name} in inline mode: frames from ${opts.outIface} would have to run it, and the datapath has no transmit entry for host-sent frames yet`, { iface: name });
  }
  await loadCap();
  const devices = names.map(deviceInfo);
  const dp = buildDatapath({ ifaces: devices.map(ifaceSpec), hooks, engine, services: systemServices(), cpus: posNum('--cpus', opts.cpus, true) });
  if (opts.preload !== undefined) preloadMapsFile(dp.programs, opts.preload);
  const capDev = dp.topology.interfaces.find((d) => d.name === name) as SimInterface;

  const bufferSize = bufferMiB !== undefined ? bufferMiB << 20 : DEFAULT_LIVE_BUFFER;
  const handles = new Map<string, LiveInterface>();
  const acc = new Accounting();
  const stats: LiveStats = { injected: new Map(), injectErrors: new Map(), truncated: 0, reverse: 0 };
  const results = opts.results !== undefined ? new LineSink(opts.results) : undefined;
  const outDir = opts.out !== undefined ? new DispositionCaptures(opts.out, dp.topology.interfaces.map((d) => d.name), 'live') : undefined;
  const progress = new Progress(io.stderr);
  let index = 0;
  let failure: unknown;
  let finish: (why: string) => void = () => undefined;
  const finished = new Promise<string>((resolve) => {
    finish = resolve;
  });

  const inject = (iface: string, data: Uint8Array): string | undefined => {
    const h = handles.get(iface);
    if (h === undefined) return `${iface} is not open`;
    const err = h.send(data);
    const m = err === undefined ? stats.injected : stats.injectErrors;
    m.set(iface, (m.get(iface) ?? 0) + 1);
    return err;
  };

  const onFrame = (f: LiveFrame): void => {
    if (index >= count) return;
    try {
      if (f.truncated) {
        stats.truncated++;
        return;
      }
      const r = dp.pipeline.process(f.data, capDev);
      acc.add(index, f.data.length, r);
      const errors = carryOut(r, opts.outIface, inject);
      results?.push(resultLine(index, f, r, opts.outIface, errors));
      outDir?.frame(index, { data: f.data, origLen: f.data.length, tsSec: f.tsSec, tsNsec: f.tsNsec }, r);
      index++;
      progress.update(0, 0, index);
      if (index >= count) finish(`--count ${count} reached`);
    } catch (e) {
      failure = e;
      finish('error');
    }
  };

  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let stopReason = '';
  const timers: NodeJS.Timeout[] = [];
  const onSignal = (sig: string): void => finish(`${sig}`);
  const sigint = (): void => onSignal('SIGINT');
  const sigterm = (): void => onSignal('SIGTERM');
  try {
    for (const d of devices) {
      const role = d.name === name || d.name === opts.outIface ? {} : { injectOnly: true };
      handles.set(d.name, await LiveInterface.open(d.name, { filter: opts.filter, bufferSize, ...role }));
    }
    const out = opts.outIface !== undefined ? handles.get(opts.outIface) : undefined;
    out?.listen((f) => {
      if (f.truncated) {
        stats.truncated++;
        return;
      }
      stats.reverse++;
      inject(name, f.data);
    });
    (handles.get(name) as LiveInterface).listen(onFrame);
    if (io.stop === undefined) {
      process.once('SIGINT', sigint);
      process.once('SIGTERM', sigterm);
    } else {
      void io.stop.then(() => finish('stopped'));
    }
    if (duration !== undefined) timers.push(setTimeout(() => finish(`--duration ${duration} s elapsed`), duration * 1000));
    if (results !== undefined) timers.push(setInterval(() => results.flush(), 250));
    const mode = out !== undefined ? `inline: passed frames go out of ${opts.outIface}` : 'tap: the host stack receives every frame anyway';
    io.stderr.write(`xdpsim live: capturing on ${name} (${mode}; filter "${(handles.get(name) as LiveInterface).filter}")\n`);
    liveLog.info({ iface: name, outIface: opts.outIface, redirect: opts.redirectIface }, 'live capture started');
    stopReason = await finished;
  } finally {
    for (const t of timers) clearTimeout(t);
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
    for (const h of handles.values()) h.close();
    progress.done();
    results?.close();
    await outDir?.close();
  }
  if (failure !== undefined) throw failure;
  const seconds = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  if (opts.maps !== undefined) writeMapsFile(dp.programs, opts.maps);
  if (!acc.balanced()) throw new Error('live: dispositions do not add up to the frames in (accounting bug)');
  liveLog.info({ frames: index, reason: stopReason }, 'live capture stopped');
  if (opts.quiet !== true) {
    const notes: string[] = [`stopped: ${stopReason}`];
    for (const [d, h] of handles) {
      const c = h.counters;
      notes.push(`${d}: captured ${c.received}, injected ${stats.injected.get(d) ?? 0}${(stats.injectErrors.get(d) ?? 0) > 0 ? `, injection failed ${stats.injectErrors.get(d)}` : ''}`);
    }
    if (outDir !== undefined) notes.push(`captures written: ${outDir.files().join(', ') || 'none'}`);
    if (stats.truncated > 0) notes.push(`${stats.truncated} frame(s) longer than the snapshot length were not processed`);
    if (opts.outIface !== undefined) notes.push(`${stats.reverse} frame(s) forwarded ${opts.outIface} → ${name}`);
    else notes.push('tap mode: frames not passed were still delivered to the host by the kernel');
    const text = formatSummary(acc, { captures: [], attached: describeAttach(dp), engine: engine.name, seconds, cpuSeconds: (cu.user + cu.system) / 1e6, notes, maps: mapEntryCounts(dp.programs) });
    io.stdout(text.replace(/^xdpsim replay — .*\n/, `xdpsim live — ${name}${opts.outIface !== undefined ? ` → ${opts.outIface}` : ''}\n`));
  }
  return 0;
}

/**
 * carryOut injects what the datapath decided: TX and redirected frames on their interface, frames
 * for the host on the out interface in inline mode. Returns the injection errors, if any.
 */
function carryOut(r: FrameResult, outIface: string | undefined, inject: (iface: string, data: Uint8Array) => string | undefined): string[] {
  const errors: string[] = [];
  const send = (iface: string, data: Uint8Array): void => {
    const e = inject(iface, data);
    if (e !== undefined) errors.push(`${iface}: ${e}`);
  };
  switch (r.disposition) {
    case Disposition.TX:
    case Disposition.REDIRECT:
      for (const o of r.out) send(o.iface, o.data);
      break;
    case Disposition.HOST:
      if (outIface !== undefined) for (const o of r.out) send(outIface, o.data);
      break;
    default:
      break;
  }
  return errors;
}

function resultLine(index: number, f: LiveFrame, r: FrameResult, outIface: string | undefined, errors: string[]): string {
  const o: Record<string, unknown> = { index, ts: `${f.tsSec}.${String(f.tsNsec).padStart(9, '0')}`, len: f.data.length, iface: r.iface, queue: r.queue };
  o.hooks = r.hooks.map((h) => {
    const x: Record<string, unknown> = { hook: h.hook, iface: h.iface, program: h.program, retval: h.retval, verdict: h.verdict };
    if (h.fault !== undefined) x.fault = { code: h.fault.code, program: h.fault.program, insn: h.fault.insn, ...(h.fault.source !== undefined ? { source: h.fault.source } : {}), message: h.fault.message };
    return x;
  });
  o.disposition = r.disposition;
  if (r.at !== undefined) o.at = r.at;
  if (r.reason !== undefined) o.reason = r.reason;
  if (r.hops > 0) o.hops = r.hops;
  if (r.out.length === 1) {
    o.out_iface = r.out[0].iface;
    if (r.out[0].xsk !== undefined) o.xsk = r.out[0].xsk;
    o.data_out = hex(r.out[0].data);
  } else if (r.out.length > 1) {
    o.out = r.out.map((x) => ({ iface: x.iface, data_out: hex(x.data) }));
  }
  const injectedTo = r.disposition === Disposition.TX || r.disposition === Disposition.REDIRECT ? r.out.map((x) => x.iface) : r.disposition === Disposition.HOST && outIface !== undefined ? r.out.map(() => outIface) : [];
  if (injectedTo.length > 0) o.injected = injectedTo;
  if (errors.length > 0) o.inject_errors = errors;
  return `${JSON.stringify(o)}\n`;
}



/** LineSink writes text lines to a file in batches, synchronously (complete lines survive an error). */
class LineSink {
  private readonly fd: number;
  private parts: string[] = [];

  constructor(readonly file: string) {
    try {
      this.fd = openSync(file, 'w');
    } catch (e) {
      throw new UsageError('E_OUTPUT', `${file}: cannot create: ${(e as Error).message}`, { file });
    }
  }

  push(line: string): void {
    this.parts.push(line);
    if (this.parts.length >= 256) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    writeSync(this.fd, this.parts.join(''));
    this.parts = [];
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}



