/**
 * outputs — what `xdpsim replay` and `xdpsim live` write besides their summary: map files
 * (--preload, --maps), the per-disposition pcapng captures (--out), and the attachment lines
 * of the summary. One implementation so both commands produce the same files.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { EpbVerdict } from '../io/frames.js';
import { PcapngWriter } from '../io/pcapng.js';
import { dumpMaps } from '../maps/dump.js';
import { parseMapsJson, preloadMaps } from '../maps/preload.js';
import type { Datapath } from '../datapath/setup.js';
import type { FrameResult, OutFrame } from '../datapath/accounting.js';
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

/**
 * DispositionCaptures writes one pcapng per disposition (host, drop, tx, redirect, ...) with the
 * interfaces declared by name and every frame marked with the programs' verdicts (the EPB
 * verdict option as xdpdump writes it) and a comment saying what happened (--out).
 */
export class DispositionCaptures {
  private readonly writers = new Map<string, PcapngWriter>();
  private readonly shapes: CommentShape[] = [];
  private nextShape = 0;
  /** The comment's start: "frame " or "live frame ". */
  private readonly head: Uint8Array;
  /** The frame handed to the writer, reused (the writer copies what it needs at once). */
  private readonly stamp: { data: Uint8Array; origLen: number; tsSec: number; tsNsec: number } = { data: new Uint8Array(0), origLen: 0, tsSec: 0, tsNsec: 0 };

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
    this.head = utf8.encode(tool === 'live' ? 'live frame ' : 'frame ');
  }

  /** frame records one processed frame: each copy that left, or the frame itself when none did. */
  frame(index: number, frame: FrameStamp, r: FrameResult): void {
    if (r.out.length === 0) {
      this.write(this.shapeOf(r, undefined), frame, frame.data, index);
      return;
    }
    for (const o of r.out) this.write(this.shapeOf(r, o), frame, o.data, index);
  }

  /**
   * shapeOf returns what the comments, verdicts and file of a copy depend on besides the frame
   * number, cached: a replay's frames end in a handful of ways, so the comment text after the
   * number is encoded once per way (the recent ones are compared field by field, which for
   * strings the datapath reuses is a pointer compare).
   */
  private shapeOf(r: FrameResult, o: OutFrame | undefined): CommentShape {
    const shapes = this.shapes;
    for (let i = 0; i < shapes.length; i++) {
      const c = shapes[i];
      if (sameShape(c, r, o)) return c;
    }
    const shape = this.buildShape(r, o);
    if (shapes.length < SHAPES) shapes.push(shape);
    else shapes[this.nextShape++ % SHAPES] = shape;
    return shape;
  }

  private buildShape(r: FrameResult, o: OutFrame | undefined): CommentShape {
    const verdicts: EpbVerdict[] = [];
    for (const h of r.hooks) verdicts.push({ kind: h.hook.startsWith('xdp') ? 'xdp' : 'tc', value: h.retval });
    const chain = r.hooks.map((h) => `${h.hook} ${h.program}: ${h.verdict}`).join(' → ');
    const where = r.reason !== undefined ? ` (${r.at}: ${r.reason})` : '';
    let tail = ` on ${r.iface}: ${chain || 'no program'} → ${r.disposition}${where}`;
    if (o !== undefined) tail += ` via ${o.iface}${o.xsk !== undefined ? ` (xsk slot ${o.xsk})` : ''}`;
    return {
      iface: r.iface,
      disposition: r.disposition,
      at: r.at,
      reason: r.reason,
      hooks: r.hooks.map((h) => ({ hook: h.hook, program: h.program, verdict: h.verdict, retval: h.retval })),
      outIface: o?.iface,
      outXsk: o?.xsk,
      tail: utf8.encode(tail),
      verdicts,
      writer: this.writerFor(r.disposition),
      interfaceId: Math.max(0, this.ifaces.indexOf(o?.iface ?? r.iface)),
    };
  }

  private writerFor(kind: string): PcapngWriter {
    let w = this.writers.get(kind);
    if (w === undefined) {
      w = new PcapngWriter(join(this.dir, `${kind}.pcapng`), { interfaces: this.ifaces.map((name) => ({ name })), comment: `xdpsim ${this.tool}: frames that ended as ${kind}` });
      this.writers.set(kind, w);
    }
    return w;
  }

  private write(shape: CommentShape, frame: FrameStamp, data: Uint8Array, index: number): void {
    const origLen = data.length === frame.data.length ? frame.origLen : data.length;
    const stamp = this.stamp;
    stamp.data = data;
    stamp.origLen = origLen;
    stamp.tsSec = frame.tsSec;
    stamp.tsNsec = frame.tsNsec;
    shape.writer.writeNumbered(shape.interfaceId, stamp, this.head, index, shape.tail, shape.verdicts);
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

/** SHAPES bounds the comment shapes a DispositionCaptures keeps (replaced round robin beyond). */
const SHAPES = 16;
const utf8 = new TextEncoder();

/** CommentShape is one way a frame ended: its comment after the frame number, verdicts and file. */
interface CommentShape {
  readonly iface: string;
  readonly disposition: string;
  readonly at: string | undefined;
  readonly reason: string | undefined;
  readonly hooks: ReadonlyArray<{ readonly hook: string; readonly program: string; readonly verdict: string; readonly retval: number }>;
  readonly outIface: string | undefined;
  readonly outXsk: number | undefined;
  readonly tail: Uint8Array;
  readonly verdicts: readonly EpbVerdict[];
  readonly writer: PcapngWriter;
  readonly interfaceId: number;
}

/** sameShape tells whether result `r` (and copy `o`) ends the way `c` describes. */
function sameShape(c: CommentShape, r: FrameResult, o: OutFrame | undefined): boolean {
  if (c.iface !== r.iface || c.disposition !== r.disposition || c.at !== r.at || c.reason !== r.reason) return false;
  if (o === undefined ? c.outIface !== undefined : c.outIface !== o.iface || c.outXsk !== o.xsk) return false;
  const hs = r.hooks;
  if (hs.length !== c.hooks.length) return false;
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i];
    const k = c.hooks[i];
    if (h.hook !== k.hook || h.program !== k.program || h.verdict !== k.verdict || h.retval !== k.retval) return false;
  }
  return true;
}
