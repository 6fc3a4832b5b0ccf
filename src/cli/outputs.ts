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

/**
 * DispositionCaptures writes one pcapng per disposition (host, drop, tx, redirect, ...) with the
 * interfaces declared by name and every frame marked with the programs' verdicts (the EPB
 * verdict option as xdpdump writes it) and a comment saying what happened (--out).
 */
export class DispositionCaptures {
  private readonly writers = new Map<string, PcapngWriter>();

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
  }

  /** frame records one processed frame: each copy that left, or the frame itself when none did. */
  frame(index: number, frame: FrameStamp, r: FrameResult): void {
    const verdicts: EpbVerdict[] = [];
    for (const h of r.hooks) verdicts.push({ kind: h.hook.startsWith('xdp') ? 'xdp' : 'tc', value: h.retval });
    const chain = r.hooks.map((h) => `${h.hook} ${h.program}: ${h.verdict}`).join(' → ');
    const where = r.reason !== undefined ? ` (${r.at}: ${r.reason})` : '';
    const prefix = this.tool === 'live' ? 'live frame' : 'frame';
    const base = `${prefix} ${index} on ${r.iface}: ${chain || 'no program'} → ${r.disposition}${where}`;
    if (r.out.length === 0) {
      this.write(r.disposition, r.iface, frame, frame.data, verdicts, base);
      return;
    }
    for (const o of r.out) {
      this.write(r.disposition, o.iface, frame, o.data, verdicts, `${base} via ${o.iface}${o.xsk !== undefined ? ` (xsk slot ${o.xsk})` : ''}`);
    }
  }

  private write(kind: string, iface: string, frame: FrameStamp, data: Uint8Array, verdicts: EpbVerdict[], comment: string): void {
    let w = this.writers.get(kind);
    if (w === undefined) {
      w = new PcapngWriter(join(this.dir, `${kind}.pcapng`), { interfaces: this.ifaces.map((name) => ({ name })), comment: `xdpsim ${this.tool}: frames that ended as ${kind}` });
      this.writers.set(kind, w);
    }
    const origLen = data.length === frame.data.length ? frame.origLen : data.length;
    w.write({ data, origLen, tsSec: frame.tsSec, tsNsec: frame.tsNsec }, { interfaceId: Math.max(0, this.ifaces.indexOf(iface)), verdicts, comment });
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
