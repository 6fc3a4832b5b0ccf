/**
 * lock helpers — bpf_spin_lock (93) and bpf_spin_unlock (94).
 *
 * A VM runs one program at a time, so a lock never spins. What the kernel's verifier enforces
 * statically is checked at run time instead: the lock must be a 4-byte word inside a writable
 * map value; a program holds at most one lock; it unlocks the lock it holds. Locking a word that
 * is still set (a previous run ended without bpf_spin_unlock — the verifier would have refused
 * that program) faults too, rather than deadlocking as the kernel would.
 *
 * A run that faults while holding a lock leaves it set; whoever runs programs should call
 * `releaseHeldLock(env)` after every run (it is a no-op when nothing is held) so one faulted
 * packet does not make every later spin_lock of that word fault.
 */
import type { RunEnv } from '../vm/program.js';
import { RegionKind } from '../vm/memory.js';
import { argPtr, checkMem, helperFault } from './args.js';
import type { HelperDef } from './table.js';

/** held records, per run environment, the address of the lock its program holds. */
const held = new WeakMap<RunEnv, number>();

function lockWord(env: RunEnv, helper: string): number {
  const addr = argPtr(env, 1, helper);
  checkMem(env, addr, 4, true, helper, 'lock');
  const kind = env.mem.regionAt(addr).kind;
  if (kind !== RegionKind.MapValue && kind !== RegionKind.GlobalData) {
    throw helperFault(helper, `lock at 0x${addr.toString(16)} is not in a map value (${kind})`);
  }
  if ((addr & 3) !== 0) throw helperFault(helper, `lock at 0x${addr.toString(16)} is not 4-byte aligned`);
  return addr;
}

function spinLock(env: RunEnv): number {
  const h = 'bpf_spin_lock';
  const addr = lockWord(env, h);
  const cur = held.get(env);
  if (cur !== undefined) throw helperFault(h, `already holding the lock at 0x${cur.toString(16)}; only one lock at a time`);
  if (env.mem.dv.getUint32(addr, true) !== 0) {
    throw helperFault(h, `lock at 0x${addr.toString(16)} is already held (a run ended without bpf_spin_unlock)`);
  }
  env.mem.dv.setUint32(addr, 1, true);
  held.set(env, addr);
  return 0;
}

function spinUnlock(env: RunEnv): number {
  const h = 'bpf_spin_unlock';
  const addr = lockWord(env, h);
  const cur = held.get(env);
  if (cur !== addr) {
    throw helperFault(h, cur === undefined ? `lock at 0x${addr.toString(16)} is not held` : `unlocking 0x${addr.toString(16)} while holding 0x${cur.toString(16)}`);
  }
  env.mem.dv.setUint32(addr, 0, true);
  held.delete(env);
  return 0;
}

/** heldLock returns the lock address a run environment's program holds, if any (for end-of-run checks). */
export function heldLock(env: RunEnv): number | undefined {
  return held.get(env);
}

/**
 * releaseHeldLock clears a lock left held when a run ended (by a fault or a missing unlock) and
 * returns its address, or undefined when the run held none.
 */
export function releaseHeldLock(env: RunEnv): number | undefined {
  const addr = held.get(env);
  if (addr === undefined) return undefined;
  env.mem.dv.setUint32(addr, 0, true);
  held.delete(env);
  return addr;
}

/** LOCK_HELPERS declares the spin lock helpers. */
export const LOCK_HELPERS: readonly HelperDef[] = [
  { id: 93, name: 'spin_lock', gplOnly: false, make: () => spinLock },
  { id: 94, name: 'spin_unlock', gplOnly: false, make: () => spinUnlock },
];
