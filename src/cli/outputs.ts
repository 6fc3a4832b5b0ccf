/**
 * outputs — what `xdpsim replay` and `xdpsim live` write besides their summary: map files
 * (--preload, --maps), the per-disposition pcapng captures (--out), and the attachment lines
 * of the summary. One implementation so both commands produce the same files.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { EpbVerdict } from '../io/frames.js';
import { PcapngWriter, type NumberedOptions } from '../io/pcapng.js';
import { dumpMaps } from '../maps/dump.js';
import { parseMapsJson, preloadMaps } from '../maps/preload.js';
import type { Datapath } from '../datapath/setup.js';
import type { FrameResult } from '../datapath/accounting.js';
import type { BoundProgram, ProgramSet } from '../datapath/programs.js';

/** hex renders bytes as lowercase hex, the results files' encoding of data. */
export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** preloadMapsFile fills the maps of every loaded object from a --maps format file (--preload). */
export function preloadMapsFile(programs: ProgramSet, file: string): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError('E_MAP_PRELOAD', `${file}: cannot read: ${(e as Error).message}`, { file });
  }
  const dumps = parseMapsJson(text, file);
  const regs = programs.registries();
  const unknown = dumps.filter((d) => !regs.some((r) => r.byName(d.name) !== undefined)).map((d) => d.name);
  if (unknown.length > 0) {
    const have = regs.flatMap((r) => r.allMaps().map((m) => m.spec.name));
    throw new UsageError('E_MAP_PRELOAD', `${file}: no map named ${unknown.join(', ')} (maps: ${have.join(', ') || 'none'})`, { file });
  }
  for (const r of regs) preloadMaps(r, dumps.filter((d) => r.byName(d.name) !== undefined), { file, ignoreUnknown: true });
}

/** mapEntryCounts lists every map with its number of entries (data sections left out). */
export function mapEntryCounts(programs: ProgramSet): Array<{ name: string; entries: number }> {
  const out: Array<{ name: string; entries: number }> = [];
  for (const o of programs.loaded()) {
    for (const m of o.registry.allMaps()) {
      if (m.spec.name.includes('.')) continue;
      let n = 0;
      for (const k of m.keys()) if (m.lookup(k) !== undefined) n++;
      out.push({ name: m.spec.name, entries: n });
    }
  }
  return out;
}

/** writeMapsFile dumps every map of every loaded object in the --maps format. */
export function writeMapsFile(programs: ProgramSet, file: string): void {
  const all = programs.loaded().flatMap((o) => dumpMaps(o.registry));
  try {
    const fd = openSync(file, 'w');
    writeSync(fd, `${JSON.stringify(all, null, 1)}\n`);
    closeSync(fd);
  } catch (e) {
    throw new UsageError('E_OUTPUT', `${file}: cannot write the map dump: ${(e as Error).message}`, { file });
  }
}

/** describeAttach lists which program runs at which hook of which interface, for the summary. */
export function describeAttach(dp: Datapath): string[] {
  const lines: string[] = [];
  for (const d of dp.topology.interfaces) {
    const a = dp.attach.get(d.ifindex);
    if (a === undefined) continue;
    const one = (hook: string, p: BoundProgram): void => {
      lines.push(`${hook.padEnd(10)} ${p.name} (${p.object.spec.file}, section ${p.section}) on ${d.name}`);
    };
    if (a.xdp !== undefined) one('xdp', a.xdp);
    for (const p of a.tcIngress) one('tc-ingress', p);
    for (const p of a.tcEgress) one('tc-egress', p);
  }
  return lines;
}

/** FrameStamp is what a disposition capture needs of the input frame besides its bytes. */
export interface FrameStamp {
  readonly data: Uint8Array;
  readonly origLen: number;
  readonly tsSec: number;
  readonly tsNsec: number;
}

/** OUT_WRITE_BUFFER is the write buffer of each --out capture of a replay: flushed in writes of about 1 MiB. */
const OUT_WRITE_BUFFER = 1 << 20;

/** EncodedEnd is how a kind of frame end is written: capture, interfaces, comment tails and verdict options, encoded once. */
interface EncodedEnd {
  readonly writer: PcapngWriter;
  /** For a frame that left nowhere: its input interface's id and options; else one of each per out frame. */
  readonly ids: number[];
  readonly options: NumberedOptions[];
  /** What the encoding was made from (compared field by field for unshared results). */
  readonly iface: string;
  readonly disposition: string;
  readonly at: string | undefined;
  readonly reason: string | undefined;
  readonly hooks: Array<{ hook: string; program: string; verdict: string; retval: number }>;
  readonly outs: Array<{ iface: string; xsk: number | undefined }>;
}

/** RECENT_ENDS is how many encodings of unshared results DispositionCaptures keeps (most recent first). */
const RECENT_ENDS = 8;

/**
 * DispositionCaptures writes one pcapng per disposition (host, drop, tx, redirect, ...) with the
 * interfaces declared by name and every frame marked with the programs' verdicts (the EPB
 * verdict option as xdpdump writes it) and a comment saying what happened (--out).
 *
 * A replay's frames end in a few ways that repeat, so each way is encoded once (EncodedEnd: the
 * comment after the frame number, the verdict options) and every frame is written with
 * PcapngWriter.writeNumbered straight into the capture's write buffer. Measured on 1M frames
 * through a parse program: building the comment string, verdict objects and option arrays per
 * frame made --out ten times slower than the replay without it.
 */
export class DispositionCaptures {
  private readonly writers = new Map<string, PcapngWriter>();
  private readonly head: string;
  /** Encodings of the results Pipeline.count shares, by tally, and the result each was made from. */
  private readonly byTally: Array<EncodedEnd | undefined> = [];
  private readonly tallied: Array<FrameResult | undefined> = [];
  private readonly recent: EncodedEnd[] = [];

  constructor(
    private readonly dir: string,
    private readonly ifaces: readonly string[],
    private readonly tool: 'replay' | 'live',
  ) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new UsageError('E_OUTPUT', `${dir}: cannot create the output directory: ${(e as Error).message}`, { file: dir });
    }
    this.head = tool === 'live' ? 'live frame ' : 'frame ';
  }

  /** frame records one processed frame: each copy that left, or the frame itself when none did. */
  frame(index: number, frame: FrameStamp, r: FrameResult): void {
    const e = this.encoded(r);
    const out = r.out;
    const w = e.writer;
    if (out.length === 0) {
      w.writeNumbered(frame.data, frame.origLen, frame.tsSec, frame.tsNsec, e.ids[0], e.options[0], index);
      return;
    }
    for (let i = 0; i < out.length; i++) {
      const data = out[i].data;
      w.writeNumbered(data, data.length === frame.data.length ? frame.origLen : data.length, frame.tsSec, frame.tsNsec, e.ids[i], e.options[i], index);
    }
  }

  /** encoded finds (or makes) the encoding of the way `r` ended. */
  private encoded(r: FrameResult): EncodedEnd {
    const t = r.tally;
    if (t !== undefined) {
      const e = this.byTally[t];
      if (e !== undefined && this.tallied[t] === r) return e;
      const made = this.encode(r);
      while (this.byTally.length <= t) {
        this.byTally.push(undefined);
        this.tallied.push(undefined);
      }
      this.byTally[t] = made;
      this.tallied[t] = r;
      return made;
    }
    const recent = this.recent;
    for (let i = 0; i < recent.length; i++) {
      const e = recent[i];
      if (sameEnd(e, r)) {
        if (i > 0) {
          recent[i] = recent[0];
          recent[0] = e;
        }
        return e;
      }
    }
    const made = this.encode(r);
    if (recent.length >= RECENT_ENDS) recent.pop();
    recent.unshift(made);
    return made;
  }

  /** encode builds what every frame that ends as `r` did is written with (the comment as the per-frame writer had it). */
  private encode(r: FrameResult): EncodedEnd {
    const verdicts: EpbVerdict[] = [];
    for (const h of r.hooks) verdicts.push({ kind: h.hook.startsWith('xdp') ? 'xdp' : 'tc', value: h.retval });
    const chain = r.hooks.map((h) => `${h.hook} ${h.program}: ${h.verdict}`).join(' → ');
    const where = r.reason !== undefined ? ` (${r.at}: ${r.reason})` : '';
    const base = ` on ${r.iface}: ${chain || 'no program'} → ${r.disposition}${where}`;
    const writer = this.writer(r.disposition);
    const ids: number[] = [];
    const options: NumberedOptions[] = [];
    if (r.out.length === 0) {
      ids.push(this.ifaceId(r.iface));
      options.push(writer.numbered(this.head, base, { verdicts }));
    }
    for (const o of r.out) {
      ids.push(this.ifaceId(o.iface));
      options.push(writer.numbered(this.head, `${base} via ${o.iface}${o.xsk !== undefined ? ` (xsk slot ${o.xsk})` : ''}`, { verdicts }));
    }
    return {
      writer,
      ids,
      options,
      iface: r.iface,
      disposition: r.disposition,
      at: r.at,
      reason: r.reason,
      hooks: r.hooks.map((h) => ({ hook: h.hook, program: h.program, verdict: h.verdict, retval: h.retval })),
      outs: r.out.map((o) => ({ iface: o.iface, xsk: o.xsk })),
    };
  }

  private ifaceId(name: string): number {
    return Math.max(0, this.ifaces.indexOf(name));
  }

  private writer(kind: string): PcapngWriter {
    let w = this.writers.get(kind);
    if (w === undefined) {
      w = new PcapngWriter(join(this.dir, `${kind}.pcapng`), {
        interfaces: this.ifaces.map((name) => ({ name })),
        comment: `xdpsim ${this.tool}: frames that ended as ${kind}`,
        ...(this.tool === 'replay' ? { bufferSize: OUT_WRITE_BUFFER } : {}),
      });
      this.writers.set(kind, w);
    }
    return w;
  }

  /** close finishes every file. */
  async close(): Promise<void> {
    for (const w of this.writers.values()) await w.close();
  }

  /** files lists the captures written so far. */
  files(): string[] {
    return [...this.writers.keys()].map((k) => join(this.dir, `${k}.pcapng`));
  }
}

/** sameEnd tells whether `r` ended as the encoding `e` describes (everything its comment and verdicts say). */
function sameEnd(e: EncodedEnd, r: FrameResult): boolean {
  if (e.disposition !== r.disposition || e.iface !== r.iface || e.at !== r.at || e.reason !== r.reason) return false;
  const hooks = r.hooks;
  if (hooks.length !== e.hooks.length) return false;
  for (let i = 0; i < hooks.length; i++) {
    const a = e.hooks[i];
    const h = hooks[i];
    if (a.retval !== h.retval || a.verdict !== h.verdict || a.hook !== h.hook || a.program !== h.program) return false;
  }
  const out = r.out;
  if (out.length !== e.outs.length) return false;
  for (let i = 0; i < out.length; i++) if (out[i].iface !== e.outs[i].iface || out[i].xsk !== e.outs[i].xsk) return false;
  return true;
}
