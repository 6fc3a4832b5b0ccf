/**
 * loop helpers — bpf_loop (181) and bpf_for_each_map_elem (164), which call back into the
 * program through env.callSubprog (set by the engine while a helper runs). A callback address is
 * what a BPF_PSEUDO_FUNC lddw loads: CODE_BASE + 8 * instruction index.
 *
 * bpf_loop (kernel/bpf/bpf_iter.c): flags must be 0 (-EINVAL), nr_loops ≤ 1 << 23 (-E2BIG);
 * callback(i, ctx) returning nonzero stops the loop; returns the number of calls made.
 * bpf_for_each_map_elem (per-map map_for_each_callback): flags must be 0; callback(map, &key,
 * &value, ctx) for each element of ARRAY, PERCPU_ARRAY and the HASH family (this CPU's value for
 * per-CPU maps); returns the number of elements visited, the one that stopped included. Keys are
 * handed over in a read-only scratch region; elements deleted by an earlier callback are skipped.
 */
import type { RunEnv } from '../vm/program.js';
import { CODE_BASE } from '../vm/program.js';
import { RegionKind, type Memory, type Region } from '../vm/memory.js';
import { Errno } from '../maps/errno.js';
import { HashMap } from '../maps/hash.js';
import { argFlags, argU32, argU64, helperFault, mapArg } from './args.js';
import type { HelperDef } from './table.js';

/** BPF_MAX_LOOPS is the bound on bpf_loop's nr_loops. */
export const BPF_MAX_LOOPS = 1 << 23;
/** Key slots for nested for_each calls (one per call frame). */
const KEY_SLOT = 512;
const KEY_SLOTS = 8;

const keyScratch = new WeakMap<Memory, { region: Region; depth: number }>();

function scratch(mem: Memory): { region: Region; depth: number } {
  let s = keyScratch.get(mem);
  if (s === undefined) {
    s = { region: mem.map(RegionKind.Scratch, 'for_each_map_elem keys', KEY_SLOT * KEY_SLOTS, { readable: true, writable: false }), depth: 0 };
    keyScratch.set(mem, s);
  }
  return s;
}

/** callbackInsn turns a callback address argument into an instruction index, or faults. */
function callbackInsn(env: RunEnv, n: number, helper: string): number {
  const addr = argU64(env, n);
  const off = addr - BigInt(CODE_BASE);
  if (off < 0n || off % 8n !== 0n || off >= 8n * 0x1000_0000n) {
    throw helperFault(helper, `r${n} = 0x${addr.toString(16)} is not a callback address`);
  }
  return Number(off / 8n);
}

function callSubprog(env: RunEnv, helper: string): (insn: number, args: readonly bigint[]) => bigint {
  const call = env.callSubprog;
  if (call === undefined) throw new Error(`${helper}: the engine did not provide env.callSubprog`);
  return call;
}

function bpfLoop(env: RunEnv): number {
  const h = 'bpf_loop';
  const nr = argU32(env, 1);
  const insn = callbackInsn(env, 2, h);
  const ctx = argU64(env, 3);
  if (argFlags(env, 4) !== 0) return -Errno.EINVAL;
  if (nr > BPF_MAX_LOOPS) return -Errno.E2BIG;
  const call = callSubprog(env, h);
  for (let i = 0; i < nr; i++) {
    if (call(insn, [BigInt(i), ctx]) !== 0n) return i + 1;
  }
  return nr;
}

function forEachMapElem(registry: import('../maps/registry.js').MapRegistry): (env: RunEnv) => number {
  return (env) => {
    const h = 'bpf_for_each_map_elem';
    const map = mapArg(registry, env, 1, h);
    const insn = callbackInsn(env, 2, h);
    const ctx = argU64(env, 3);
    if (argFlags(env, 4) !== 0) return -Errno.EINVAL;
    const entries = map.forEachEntries(env.cpu ?? 0);
    if (entries === undefined) throw helperFault(h, `map ${map.spec.name} (type ${map.spec.type}) does not support bpf_for_each_map_elem`);
    const call = callSubprog(env, h);
    const s = scratch(env.mem);
    if (s.depth >= KEY_SLOTS) throw helperFault(h, 'bpf_for_each_map_elem nested too deeply');
    const keyAddr = s.region.start + s.depth * KEY_SLOT;
    s.depth++;
    let n = 0;
    try {
      for (const e of entries) {
        if (map instanceof HashMap && !map.has(e.key)) continue;
        env.mem.write(keyAddr, e.key);
        n++;
        const r = call(insn, [BigInt(map.handle), BigInt(keyAddr), BigInt(e.valueAddr), ctx]);
        if (r !== 0n) break;
      }
    } finally {
      s.depth--;
    }
    return n;
  };
}

/** LOOP_HELPERS declares bpf_loop and bpf_for_each_map_elem. */
export const LOOP_HELPERS: readonly HelperDef[] = [
  { id: 164, name: 'for_each_map_elem', gplOnly: false, make: ({ registry }) => forEachMapElem(registry) },
  { id: 181, name: 'loop', gplOnly: false, make: () => bpfLoop },
];
