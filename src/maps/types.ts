/**
 * types — the map types xdpsim implements, by BPF_MAP_TYPE_* number. The registry looks a
 * spec's type up here; a type missing from this table is refused with NotSupportedError.
 */
import { MapType, type MapSpec } from './spec.js';
import type { MapBase, MapHost } from './base.js';
import { ArrayMap } from './array.js';
import { HashMap } from './hash.js';
import { ProgArrayMap } from './prog-array.js';
import { PerfEventArrayMap } from './perf-event-array.js';
import { CgroupArrayMap } from './cgroup-array.js';
import { ArrayOfMapsMap } from './array-of-maps.js';
import { HashOfMapsMap } from './hash-of-maps.js';

/** MapConstructor builds a map of one type; it throws LoadError for specs the kernel refuses. */
export type MapConstructor = (host: MapHost, spec: MapSpec, id: number) => MapBase;

/** MAP_CONSTRUCTORS maps BPF_MAP_TYPE_* to constructors. */
export const MAP_CONSTRUCTORS: ReadonlyMap<number, MapConstructor> = new Map<number, MapConstructor>([
  [MapType.HASH, (h, s, i) => new HashMap(h, s, i, false)],
  [MapType.ARRAY, (h, s, i) => new ArrayMap(h, s, i, false)],
  [MapType.PROG_ARRAY, (h, s, i) => new ProgArrayMap(h, s, i)],
  [MapType.PERF_EVENT_ARRAY, (h, s, i) => new PerfEventArrayMap(h, s, i)],
  [MapType.PERCPU_HASH, (h, s, i) => new HashMap(h, s, i, true)],
  [MapType.PERCPU_ARRAY, (h, s, i) => new ArrayMap(h, s, i, true)],
  [MapType.CGROUP_ARRAY, (h, s, i) => new CgroupArrayMap(h, s, i)],
  [MapType.ARRAY_OF_MAPS, (h, s, i) => new ArrayOfMapsMap(h, s, i)],
  [MapType.HASH_OF_MAPS, (h, s, i) => new HashOfMapsMap(h, s, i)],
]);
