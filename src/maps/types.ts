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
import { LruHashMap } from './lru-hash.js';
import { LpmTrieMap } from './lpm-trie.js';
import { DevmapHashMap, DevmapMap } from './devmap.js';
import { CpumapMap } from './cpumap.js';
import { XskmapMap } from './xskmap.js';
import { QueueStackMap } from './queue-stack.js';
import { RingbufMap } from './ringbuf.js';

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
  [MapType.LRU_HASH, (h, s, i) => new LruHashMap(h, s, i, false)],
  [MapType.LRU_PERCPU_HASH, (h, s, i) => new LruHashMap(h, s, i, true)],
  [MapType.LPM_TRIE, (h, s, i) => new LpmTrieMap(h, s, i)],
  [MapType.DEVMAP, (h, s, i) => new DevmapMap(h, s, i)],
  [MapType.DEVMAP_HASH, (h, s, i) => new DevmapHashMap(h, s, i)],
  [MapType.CPUMAP, (h, s, i) => new CpumapMap(h, s, i)],
  [MapType.XSKMAP, (h, s, i) => new XskmapMap(h, s, i)],
  [MapType.QUEUE, (h, s, i) => new QueueStackMap(h, s, i)],
  [MapType.STACK, (h, s, i) => new QueueStackMap(h, s, i)],
  [MapType.RINGBUF, (h, s, i) => new RingbufMap(h, s, i)],
]);
