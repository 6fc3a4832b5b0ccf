/**
 * dump — maps as JSON, in two shapes:
 *
 * - `bpftoolDump(map)`: what `bpftool map dump -j` prints (without BTF): an array of
 *   `{"key": ["0x01", ...], "value": [...]}`, per-CPU maps `{"key", "values": [{"cpu": 0,
 *   "value": [...]}, ...]}`, bytes as "0x%02x". Maps bpftool cannot dump (queue, stack, ringbuf)
 *   give []. Empty DEVMAP/CPUMAP/XSKMAP slots are left out (bpftool prints an error object for
 *   each of them).
 * - `dumpMap(map)` / `dumpMaps(registry)`: the `--maps FILE` format of DESIGN.md, which
 *   preload.ts reads back: `{name, type, key_size, value_size, max_entries, flags, entries}` with
 *   keys and values as lowercase hex strings; per-CPU maps carry `values` (one per CPU) instead
 *   of `value`; PROG_ARRAY entries name their `program`, map-in-map entries their `inner` map;
 *   queue/stack entries have only a value (oldest first); a ringbuf lists its unconsumed
 *   `records`, a perf event array the `records` its programs output.
 */
import type { MapBase } from './base.js';
import type { MapRegistry } from './registry.js';
import { mapTypeName } from './spec.js';
import { QueueStackMap } from './queue-stack.js';
import { RingbufMap } from './ringbuf.js';
import { ProgArrayMap } from './prog-array.js';
import { ArrayOfMapsMap } from './array-of-maps.js';
import { HashOfMapsMap } from './hash-of-maps.js';
import { PerfEventArrayMap } from './perf-event-array.js';
import { u32At } from './base.js';

/** BpftoolEntry is one element of `bpftool map dump -j`. */
export type BpftoolEntry =
  | { key: string[]; value: string[] }
  | { key: string[]; values: Array<{ cpu: number; value: string[] }> };

/** MapDumpEntry is one entry of the --maps format. */
export interface MapDumpEntry {
  key?: string;
  value?: string;
  values?: string[];
  program?: string;
  inner?: string;
}

/** MapDump is one map in the --maps format. */
export interface MapDump {
  name: string;
  type: string;
  key_size: number;
  value_size: number;
  max_entries: number;
  flags: number;
  entries: MapDumpEntry[];
  records?: Array<string | { cpu: number; index: number; data: string }>;
}

/** toHex encodes bytes as lowercase hex. */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** fromHex decodes a hex string (whitespace and a 0x prefix allowed); undefined when malformed. */
export function fromHex(s: string): Uint8Array | undefined {
  const t = s.replace(/^0x/i, '').replace(/\s+/g, '');
  if (t.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(t)) return undefined;
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const bpftoolBytes = (b: Uint8Array): string[] => Array.from(b, (x) => `0x${x.toString(16).padStart(2, '0')}`);

/** bpftoolDump renders a map as `bpftool map dump -j` does. */
export function bpftoolDump(map: MapBase): BpftoolEntry[] {
  if (map instanceof QueueStackMap || map instanceof RingbufMap) return [];
  const out: BpftoolEntry[] = [];
  for (const key of map.keys()) {
    const v = map.lookup(key);
    if (v === undefined) continue;
    if (Array.isArray(v)) out.push({ key: bpftoolBytes(key), values: v.map((value, cpu) => ({ cpu, value: bpftoolBytes(value) })) });
    else out.push({ key: bpftoolBytes(key), value: bpftoolBytes(v) });
  }
  return out;
}

/** dumpMap renders a map in the --maps format. */
export function dumpMap(map: MapBase, registry?: MapRegistry): MapDump {
  const s = map.spec;
  const d: MapDump = {
    name: s.name,
    type: mapTypeName(s.type),
    key_size: s.keySize,
    value_size: s.valueSize,
    max_entries: s.maxEntries,
    flags: s.flags,
    entries: [],
  };
  if (map instanceof QueueStackMap) {
    d.entries = map.values().map((v) => ({ value: toHex(v) }));
    return d;
  }
  if (map instanceof RingbufMap) {
    d.records = map.records().map((r) => toHex(r.data));
    return d;
  }
  if (map instanceof PerfEventArrayMap) {
    d.records = map.records.map((r) => ({ cpu: r.cpu, index: r.index, data: toHex(r.data) }));
  }
  for (const key of map.keys()) {
    const v = map.lookup(key);
    if (v === undefined) continue;
    const e: MapDumpEntry = { key: toHex(key) };
    if (Array.isArray(v)) e.values = v.map(toHex);
    else e.value = toHex(v);
    if (map instanceof ProgArrayMap) {
      const name = map.programName(u32At(key));
      if (name !== undefined) e.program = name;
    }
    if (map instanceof ArrayOfMapsMap || map instanceof HashOfMapsMap) {
      const inner = registry?.byId(u32At(v as Uint8Array));
      if (inner !== undefined) e.inner = inner.spec.name;
    }
    d.entries.push(e);
  }
  return d;
}

/** dumpMaps renders every map of a registry, in creation order. */
export function dumpMaps(registry: MapRegistry): MapDump[] {
  return registry.allMaps().map((m) => dumpMap(m, registry));
}
