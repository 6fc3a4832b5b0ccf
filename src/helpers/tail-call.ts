/**
 * tail-call — the resolver engines use for bpf_tail_call (helper 12, executed by the engine
 * itself, kernel/bpf/core.c JMP_TAIL_CALL): from the PROG_ARRAY handle in r2 and the index in r3
 * to the executable to continue with.
 *
 * Results, as TailCallResolver defines them: undefined for an index past max_entries (the call
 * fails without counting toward MAX_TAIL_CALL_CNT), null for an empty slot (fails, counts), the
 * executable otherwise. A slot naming a program whose executable was never registered is a
 * wiring error of the embedding code, reported loudly (LoadError E_TAIL_CALL_TARGET) rather than
 * silently treated as empty. A map argument that is not a PROG_ARRAY cannot pass the verifier; it
 * is treated as a failed call.
 *
 * Results are cached per (map handle, index) in a small direct-mapped table, valid while the
 * registry's tailCallVersion is unchanged: every map creation, program registration and
 * PROG_ARRAY slot change (user space or program side) bumps it, so a cached answer is always the
 * one the lookup would give now. The wiring error is never cached (it is raised on every call).
 */
import { LoadError } from '../errors.js';
import type { MapRegistry } from '../maps/registry.js';
import { ProgArrayMap } from '../maps/prog-array.js';
import type { Executable, TailCallResolver } from '../vm/program.js';

/** makeTailCallResolver binds a resolver to a registry's PROG_ARRAY maps. */
export function makeTailCallResolver(registry: MapRegistry): TailCallResolver {
  const addrs = new Float64Array(CACHE_SIZE).fill(-1);
  const indexes = new Float64Array(CACHE_SIZE).fill(-1);
  const results = new Array<Executable | null | undefined>(CACHE_SIZE).fill(undefined);
  let version = registry.tailCallVersion;
  return (mapAddr: number, index: number): Executable | null | undefined => {
    if (registry.tailCallVersion !== version) {
      addrs.fill(-1);
      version = registry.tailCallVersion;
    }
    const h = (index ^ (mapAddr >>> 3)) & (CACHE_SIZE - 1);
    if (addrs[h] === mapAddr && indexes[h] === index) return results[h];
    const r = lookup(registry, mapAddr, index);
    addrs[h] = mapAddr;
    indexes[h] = index;
    results[h] = r;
    return r;
  };
}

/** CACHE_SIZE is the number of entries of a resolver's cache (a power of two). */
const CACHE_SIZE = 16;

/** lookup resolves without the cache. */
function lookup(registry: MapRegistry, mapAddr: number, index: number): Executable | null | undefined {
  const map = registry.byHandle(mapAddr);
  if (!(map instanceof ProgArrayMap)) return undefined;
  if (index >= map.spec.maxEntries) return undefined;
  const name = map.programName(index);
  if (name === undefined) return null;
  const exe = map.executable(index);
  if (exe === undefined) {
    throw new LoadError('E_TAIL_CALL_TARGET', `tail call through ${map.spec.name}[${index}]: program ${name} has no executable registered`, {
      symbol: name,
      index,
    });
  }
  return exe;
}
