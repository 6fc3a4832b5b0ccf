/**
 * shared-types — the map types a shared-mode Memory (`xdpsim replay --workers N`) can hold, and
 * how. The registry uses this table instead of MAP_CONSTRUCTORS when its Memory is shared; a type
 * missing here is refused with NotSupportedError E_WORKERS_MAP naming the map and its type.
 *
 * Three ways a map works across worker threads (every thread builds every map, in the same order,
 * over the same shared memory — src/vm/memory.ts):
 * - state in shared memory, one map for all workers: ARRAY and PERCPU_ARRAY (ArrayMap keeps
 *   nothing but its region; libbpf's .data/.bss/.rodata are ARRAY maps), HASH and PERCPU_HASH
 *   (SharedHashMap: table and lock in shared memory);
 * - replicated, changed by user space only: PROG_ARRAY, DEVMAP, DEVMAP_HASH, XSKMAP,
 *   ARRAY_OF_MAPS, HASH_OF_MAPS, CGROUP_ARRAY. Programs cannot update these (the verifier's
 *   check_map_func_compatibility), the only user-space writes are the declarative slots and
 *   --preload, which every thread applies before the first frame; their values (ifindexes, ids)
 *   are read by value, never through a pointer;
 * - LPM_TRIE replicated, its values in shared memory (every thread allocates them in the same
 *   order, so a lookup returns the same address in every worker): programs may look up and write
 *   through the value pointer; a program-side bpf_map_update_elem or bpf_map_delete_elem on it
 *   after the first frame is refused (NotSupportedError), since the other workers' copies of the
 *   trie would not see it.
 * Refused: LRU_HASH and LRU_PERCPU_HASH (LRU lists in JS), QUEUE, STACK, RINGBUF,
 * PERF_EVENT_ARRAY (state in JS, changed by programs), CPUMAP (a redirect moves the frame to
 * another CPU, i.e. another worker), and any map whose value holds a bpf_spin_lock (the lock
 * helpers track holders per thread).
 */
import { NotSupportedError } from '../errors.js';
import { MapType, mapTypeName, type MapSpec } from './spec.js';
import type { MapBase, MapHost } from './base.js';
import { MAP_CONSTRUCTORS, type MapConstructor } from './types.js';
import { SharedHashMap } from './shared-hash.js';

/** REPLICATED_MAP_TYPES are the map types each worker keeps its own copy of (user-space writes only). */
export const REPLICATED_MAP_TYPES: ReadonlySet<number> = new Set([
  MapType.PROG_ARRAY,
  MapType.DEVMAP,
  MapType.DEVMAP_HASH,
  MapType.XSKMAP,
  MapType.ARRAY_OF_MAPS,
  MapType.HASH_OF_MAPS,
  MapType.CGROUP_ARRAY,
  MapType.LPM_TRIE,
]);

/** started holds the shared backing stores whose workers have started (then replicated maps may not change). */
const started = new WeakSet<WebAssembly.Memory>();

/** markWorkersStarted records that frames run on `backing` now; each thread calls it before its first frame. */
export function markWorkersStarted(backing: WebAssembly.Memory): void {
  started.add(backing);
}

/** frozenAfterStart makes a replicated map's update and delete refuse once the workers have started. */
function frozenAfterStart(map: MapBase): MapBase {
  const refuse = (op: string): never => {
    throw new NotSupportedError('E_WORKERS_MAP', `map ${map.spec.name} (${mapTypeName(map.spec.type)}): ${op} while frames run is not supported with --workers (each worker holds its own copy of this map type; run without --workers)`, {
      symbol: map.spec.name,
      mapType: map.spec.type,
    });
  };
  const update = map.update.bind(map);
  const del = map.delete.bind(map);
  const lookupAndDelete = map.lookupAndDelete.bind(map);
  const backing = map.mem.wasm;
  map.update = (key, value, flags, cpu) => (started.has(backing) ? refuse('bpf_map_update_elem') : update(key, value, flags, cpu));
  map.delete = (key) => (started.has(backing) ? refuse('bpf_map_delete_elem') : del(key));
  map.lookupAndDelete = (key) => (started.has(backing) ? refuse('lookup and delete') : lookupAndDelete(key));
  return map;
}

/** refuseForWorkers is the NotSupportedError for a map --workers cannot share. */
export function refuseForWorkers(spec: MapSpec, why: string): NotSupportedError {
  return new NotSupportedError('E_WORKERS_MAP', `map ${spec.name}: map type ${mapTypeName(spec.type)} is not supported with --workers: ${why}`, {
    symbol: spec.name,
    mapType: spec.type,
  });
}

/** REFUSED_WHY says why each refused type is refused. */
const REFUSED_WHY: ReadonlyMap<number, string> = new Map([
  [MapType.LRU_HASH, 'its LRU lists are per thread'],
  [MapType.LRU_PERCPU_HASH, 'its LRU lists are per thread'],
  [MapType.QUEUE, 'its elements are per thread and programs change them'],
  [MapType.STACK, 'its elements are per thread and programs change them'],
  [MapType.RINGBUF, 'its producer and consumer positions are per thread'],
  [MapType.PERF_EVENT_ARRAY, 'its event buffers are per thread'],
  [MapType.CPUMAP, 'a cpumap redirect moves the frame to another CPU, which is another worker'],
]);

/** sharedMapConstructor returns how to build `spec` in a shared-mode Memory, or throws NotSupportedError. */
export function sharedMapConstructor(spec: MapSpec): MapConstructor | undefined {
  if (spec.spinLockOffset !== undefined) throw refuseForWorkers(spec, 'its value holds a bpf_spin_lock, which the lock helpers track per thread');
  switch (spec.type) {
    case MapType.ARRAY:
    case MapType.PERCPU_ARRAY:
      return MAP_CONSTRUCTORS.get(spec.type);
    case MapType.HASH:
      return (h: MapHost, s: MapSpec, i: number) => new SharedHashMap(h, s, i, false);
    case MapType.PERCPU_HASH:
      return (h: MapHost, s: MapSpec, i: number) => new SharedHashMap(h, s, i, true);
    default: {
      const ctor = MAP_CONSTRUCTORS.get(spec.type);
      if (ctor !== undefined && REPLICATED_MAP_TYPES.has(spec.type)) {
        return spec.type === MapType.LPM_TRIE ? (h, s, i) => frozenAfterStart(ctor(h, s, i)) : ctor;
      }
      if (ctor === undefined) return undefined;
      throw refuseForWorkers(spec, REFUSED_WHY.get(spec.type) ?? 'no shared implementation');
    }
  }
}
