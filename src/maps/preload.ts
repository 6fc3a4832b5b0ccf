/**
 * preload — filling maps from JSON in the --maps format of dump.ts (the format `xdpsim replay
 * --maps` writes), before a run or when restoring pinned maps. Each map is found by name; each
 * entry is written with BPF_ANY through the user API, so the kernel's rules apply (an errno is
 * reported as an error naming the map and entry). PROG_ARRAY entries may name a `program`,
 * map-in-map entries an `inner` map, instead of giving ids.
 */
import { UsageError } from '../errors.js';
import { BPF_ANY } from './spec.js';
import type { MapBase } from './base.js';
import type { MapRegistry } from './registry.js';
import { errnoName } from './errno.js';
import { fromHex, type MapDump, type MapDumpEntry } from './dump.js';
import { QueueStackMap } from './queue-stack.js';
import { ProgArrayMap } from './prog-array.js';
import { ArrayOfMapsMap } from './array-of-maps.js';
import { HashOfMapsMap } from './hash-of-maps.js';
import { ArrayMap } from './array.js';
import { HashMap } from './hash.js';
import { RingbufMap } from './ringbuf.js';
import { u32At } from './base.js';

function bad(where: string, why: string, fields: Record<string, string | number> = {}): UsageError {
  return new UsageError('E_MAP_PRELOAD', `${where}: ${why}`, fields);
}

function hexField(where: string, what: string, s: unknown, size: number): Uint8Array {
  if (typeof s !== 'string') throw bad(where, `${what} must be a hex string`);
  const b = fromHex(s);
  if (b === undefined) throw bad(where, `${what} "${s}" is not hex`);
  if (b.length !== size) throw bad(where, `${what} has ${b.length} bytes, the map needs ${size}`);
  return b;
}

/** parseMapsJson accepts an array of MapDump, one MapDump, or {maps: [...]}. */
export function parseMapsJson(text: string, file = '<maps>'): MapDump[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError('E_MAP_PRELOAD', `${file}: not JSON: ${(e as Error).message}`, { file });
  }
  const list = Array.isArray(v) ? v : typeof v === 'object' && v !== null && Array.isArray((v as { maps?: unknown }).maps) ? (v as { maps: unknown[] }).maps : [v];
  for (const [i, m] of list.entries()) {
    if (typeof m !== 'object' || m === null || typeof (m as MapDump).name !== 'string' || !Array.isArray((m as MapDump).entries)) {
      throw new UsageError('E_MAP_PRELOAD', `${file}: map #${i} needs "name" and "entries"`, { file, index: i });
    }
  }
  return list as MapDump[];
}

/** clearMap removes every entry of a map whose entries can be deleted (hash-like maps, queues). */
export function clearMap(map: MapBase): void {
  if (map instanceof QueueStackMap) {
    while (typeof map.pop() !== 'number');
    return;
  }
  if (map instanceof ArrayMap || map instanceof RingbufMap) return;
  for (const k of [...map.keys()]) map.delete(k);
}

function applyEntry(registry: MapRegistry, map: MapBase, e: MapDumpEntry, where: string): void {
  const s = map.spec;
  if (map instanceof QueueStackMap) {
    const err = map.push(hexField(where, 'value', e.value, s.valueSize), BPF_ANY);
    if (err !== 0) throw bad(where, `push failed: ${errnoName(err)}`, { errno: err });
    return;
  }
  const key = hexField(where, 'key', e.key, s.keySize);
  let err: number;
  if (map instanceof ProgArrayMap && e.program !== undefined) {
    err = map.setProgram(u32At(key), e.program);
  } else if (map instanceof ArrayOfMapsMap && e.inner !== undefined) {
    err = map.setInner(u32At(key), e.inner);
  } else if (map instanceof HashOfMapsMap && e.inner !== undefined) {
    err = map.setInner(key, e.inner, BPF_ANY);
  } else if (e.values !== undefined) {
    if (!Array.isArray(e.values) || e.values.length !== registry.cpus) {
      throw bad(where, `"values" must list one value per CPU (${registry.cpus})`);
    }
    const vals = e.values.map((v, c) => hexField(`${where} cpu ${c}`, 'value', v, s.valueSize));
    if (!(map instanceof HashMap || map instanceof ArrayMap) || !map.perCpu) throw bad(where, '"values" is only for per-CPU maps');
    err = map.updatePerCpu(key, vals, BPF_ANY);
  } else {
    err = map.update(key, hexField(where, 'value', e.value, s.valueSize), BPF_ANY);
  }
  if (err !== 0) throw bad(where, `update failed: ${errnoName(err)}`, { errno: err });
}

/** preloadMap writes the entries of one dump into `map`. */
export function preloadMap(registry: MapRegistry, map: MapBase, dump: MapDump, file = '<maps>'): void {
  dump.entries.forEach((e, i) => applyEntry(registry, map, e, `${file}: map ${map.spec.name} entry ${i}`));
}

/**
 * preloadMaps writes every dump into the registry's map of the same name. A dump naming no
 * existing map is an error unless `ignoreUnknown`.
 */
export function preloadMaps(registry: MapRegistry, dumps: readonly MapDump[], opts: { file?: string; ignoreUnknown?: boolean } = {}): void {
  const file = opts.file ?? '<maps>';
  for (const d of dumps) {
    const map = registry.byName(d.name);
    if (map === undefined) {
      if (opts.ignoreUnknown === true) continue;
      throw new UsageError('E_MAP_PRELOAD', `${file}: no map named ${d.name}`, { file, symbol: d.name });
    }
    preloadMap(registry, map, d, file);
  }
}
