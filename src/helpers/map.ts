/**
 * map helpers — bpf_map_lookup_elem (1), bpf_map_update_elem (2), bpf_map_delete_elem (3),
 * bpf_map_push_elem (87), bpf_map_pop_elem (88), bpf_map_peek_elem (89) and
 * bpf_map_lookup_percpu_elem (195), over the map types of src/maps.
 *
 * Which map type accepts which helper follows the verifier's check_map_func_compatibility
 * (kernel/bpf/verifier.c), and writes into BPF_F_RDONLY_PROG maps are refused as the verifier
 * refuses them; a program that breaks those rules would not load, so here it faults with
 * E_HELPER_ARGS. These helpers have pkt_access: keys and values may live in the packet. Values are copied out of VM memory before the map may allocate (growth detaches
 * views). Per-CPU maps use the run's CPU (env.cpu).
 */
import type { RunEnv } from '../vm/program.js';
import { MapFlag, MapType } from '../maps/spec.js';
import type { MapBase } from '../maps/base.js';
import type { MapRegistry } from '../maps/registry.js';
import { QueueStackMap } from '../maps/queue-stack.js';
import { ArrayMap } from '../maps/array.js';
import { Errno } from '../maps/errno.js';
import { argFlags, argU32, helperFault, mapArg, ptrMem } from './args.js';
import type { HelperDef } from './table.js';
import { registerArrayLookup } from '../vm/inline-lookup.js';

/** GENERIC_MAPS are the map types every map helper may touch (no special-map restriction). */
const GENERIC_MAPS: ReadonlySet<number> = new Set([
  MapType.HASH,
  MapType.ARRAY,
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_HASH,
  MapType.LRU_PERCPU_HASH,
  MapType.LPM_TRIE,
]);

/** LOOKUP_MAPS adds the special maps whose only program-side operation besides their own helpers is lookup. */
const LOOKUP_MAPS: ReadonlySet<number> = new Set([
  ...GENERIC_MAPS,
  MapType.ARRAY_OF_MAPS,
  MapType.HASH_OF_MAPS,
  MapType.DEVMAP,
  MapType.DEVMAP_HASH,
  MapType.XSKMAP,
]);

/** requireType faults unless the map's type is in `allowed` (check_map_func_compatibility). */
export function requireType(map: MapBase, allowed: ReadonlySet<number>, helper: string): void {
  if (!allowed.has(map.spec.type)) {
    throw helperFault(helper, `map ${map.spec.name} (type ${map.spec.type}) cannot be used with this helper`);
  }
}

/** requireWritable faults for BPF_F_RDONLY_PROG maps ("write into map forbidden"). */
function requireWritable(map: MapBase, helper: string): void {
  if ((map.spec.flags & MapFlag.RDONLY_PROG) !== 0 || map.spec.readonlyForProgram === true) {
    throw helperFault(helper, `write into map ${map.spec.name} forbidden (BPF_F_RDONLY_PROG)`);
  }
}

/** requireReadable faults for BPF_F_WRONLY_PROG maps ("read from map forbidden"). */
function requireReadable(map: MapBase, helper: string): void {
  if ((map.spec.flags & MapFlag.WRONLY_PROG) !== 0) {
    throw helperFault(helper, `read from map ${map.spec.name} forbidden (BPF_F_WRONLY_PROG)`);
  }
}

function queueArg(registry: MapRegistry, env: RunEnv, helper: string): QueueStackMap {
  const map = mapArg(registry, env, 1, helper);
  if (!(map instanceof QueueStackMap)) throw helperFault(helper, `map ${map.spec.name} is not a queue or stack`);
  return map;
}

/** MAP_HELPERS declares the map helpers. */
export const MAP_HELPERS: readonly HelperDef[] = [
  {
    id: 1,
    name: 'map_lookup_elem',
    gplOnly: false,
    make: ({ registry }) => {
      // The last map looked up, by handle, once it passed the type check: a registry never
      // removes or reassigns a handle, so a program calling with the same map skips the Map and
      // Set lookups (resolving the map was the largest part of this helper in a profile of the
      // jit running programs/bench/parse_count). For an ARRAY or PERCPU_ARRAY (global data
      // included) its layout is kept too (arrMax >= 0), and the value address is computed here
      // as array_map_lookup_elem / percpu_array_map_lookup_elem find it: NULL for an index at or
      // above max_entries.
      let lastHandle = -1;
      let lastMap: MapBase | undefined;
      let arrMax = -1;
      let arrBase = 0;
      let arrIndexStride = 0;
      let arrCpuStride = 0;
      const lookup = (env: RunEnv): number => {
        const R = env.regs;
        let map: MapBase;
        if (R[3] === 0 && R[2] >>> 0 === lastHandle && lastMap !== undefined) map = lastMap;
        else {
          map = mapArg(registry, env, 1, 'bpf_map_lookup_elem');
          if (!LOOKUP_MAPS.has(map.spec.type)) requireType(map, LOOKUP_MAPS, 'bpf_map_lookup_elem');
          lastHandle = R[2] >>> 0;
          lastMap = map;
          arrMax = -1;
          if (map instanceof ArrayMap) {
            arrMax = map.spec.maxEntries;
            arrBase = map.region.start;
            arrIndexStride = map.indexStride;
            arrCpuStride = map.cpuStride;
          }
        }
        const mem = env.mem;
        const keyAddr = R[4] >>> 0;
        const keySize = map.spec.keySize;
        // The key is usually on the program's stack: env.stack's live bounds are those of the
        // region isAccessible would find (as in guestAddr, src/hooks/args.ts).
        const st = env.stack;
        if (R[5] !== 0 || ((keyAddr < st.lo || keyAddr + keySize > st.hi) && !mem.isAccessible(keyAddr, keySize, false))) {
          ptrMem(env, 2, keySize, false, 'bpf_map_lookup_elem', 'key', true);
        }
        if (arrMax >= 0) {
          const u8 = mem.u8;
          const index = (u8[keyAddr] | (u8[keyAddr + 1] << 8) | (u8[keyAddr + 2] << 16) | (u8[keyAddr + 3] << 24)) >>> 0;
          if (index >= arrMax) return 0;
          return arrBase + index * arrIndexStride + (env.cpu ?? 0) * arrCpuStride;
        }
        return map.lookupAddrAt(mem.u8, keyAddr, env.cpu ?? 0);
      };
      // The compiled engine computes an array lookup inline from this layout (src/vm/inline-lookup.ts).
      registerArrayLookup(lookup, (handle) => {
        const map = registry.byHandle(handle);
        if (!(map instanceof ArrayMap) || !LOOKUP_MAPS.has(map.spec.type)) return undefined;
        return { base: map.region.start, maxEntries: map.spec.maxEntries, keySize: map.spec.keySize, indexStride: map.indexStride, cpuStride: map.cpuStride };
      });
      return lookup;
    },
  },
  {
    id: 2,
    name: 'map_update_elem',
    gplOnly: false,
    make: ({ registry }) => (env) => {
      const h = 'bpf_map_update_elem';
      const map = mapArg(registry, env, 1, h);
      requireType(map, GENERIC_MAPS, h);
      requireWritable(map, h);
      const key = ptrMem(env, 2, map.spec.keySize, false, h, 'key', true).slice();
      const value = ptrMem(env, 3, map.spec.valueSize, false, h, 'value', true).slice();
      const flags = argFlags(env, 4);
      if (!Number.isFinite(flags)) return -Errno.EINVAL;
      return map.update(key, value, flags, env.cpu ?? 0);
    },
  },
  {
    id: 3,
    name: 'map_delete_elem',
    gplOnly: false,
    make: ({ registry }) => (env) => {
      const h = 'bpf_map_delete_elem';
      const map = mapArg(registry, env, 1, h);
      requireType(map, GENERIC_MAPS, h);
      requireWritable(map, h);
      const key = ptrMem(env, 2, map.spec.keySize, false, h, 'key', true).slice();
      return map.delete(key);
    },
  },
  {
    id: 87,
    name: 'map_push_elem',
    gplOnly: false,
    make: ({ registry }) => (env) => {
      const h = 'bpf_map_push_elem';
      const map = queueArg(registry, env, h);
      requireWritable(map, h);
      const value = ptrMem(env, 2, map.spec.valueSize, false, h, 'value', true).slice();
      const flags = argFlags(env, 3);
      return Number.isFinite(flags) ? map.push(value, flags) : -Errno.EINVAL;
    },
  },
  {
    id: 88,
    name: 'map_pop_elem',
    gplOnly: false,
    make: ({ registry }) => (env) => {
      const h = 'bpf_map_pop_elem';
      const map = queueArg(registry, env, h);
      requireWritable(map, h);
      const dst = ptrMem(env, 2, map.spec.valueSize, true, h, 'value', true);
      const v = map.pop();
      if (typeof v === 'number') return v;
      dst.set(v);
      return 0;
    },
  },
  {
    id: 89,
    name: 'map_peek_elem',
    gplOnly: false,
    make: ({ registry }) => (env) => {
      const h = 'bpf_map_peek_elem';
      const map = queueArg(registry, env, h);
      requireReadable(map, h);
      const dst = ptrMem(env, 2, map.spec.valueSize, true, h, 'value', true);
      const v = map.peek();
      if (typeof v === 'number') return v;
      dst.set(v);
      return 0;
    },
  },
  {
    id: 195,
    name: 'map_lookup_percpu_elem',
    gplOnly: false,
    make: ({ registry }) => (env) => {
      const h = 'bpf_map_lookup_percpu_elem';
      const map = mapArg(registry, env, 1, h);
      if (!map.perCpu) throw helperFault(h, `map ${map.spec.name} is not a per-CPU map`);
      const key = ptrMem(env, 2, map.spec.keySize, false, h, 'key', true);
      const cpu = argU32(env, 3);
      if (env.regs[7] !== 0 || cpu >= registry.cpus) return 0;
      return map.lookupAddr(key, cpu);
    },
  },
];
