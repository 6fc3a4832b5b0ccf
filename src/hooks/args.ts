/**
 * args — reading helper arguments from the register file and touching guest memory on a helper's
 * behalf. Helpers receive r1..r5 in `env.regs` as 32-bit halves (src/vm/program.ts); packet
 * helpers take u32 offsets, s32 deltas, u64 flags and pointers into VM memory. A pointer argument
 * the verifier would have refused (outside every region, or too short) is a program fault, raised
 * as GuestFault so the engine reports the instruction of the call.
 */
import type { RunEnv } from '../vm/program.js';
import { FaultCode, GuestFault } from '../vm/fault.js';

/** argLo returns the low 32 bits of argument register r`n` as an unsigned number. */
export function argLo(env: RunEnv, n: number): number {
  return env.regs[2 * n] >>> 0;
}

/** argHi returns the high 32 bits of argument register r`n` as an unsigned number. */
export function argHi(env: RunEnv, n: number): number {
  return env.regs[2 * n + 1] >>> 0;
}

/** argS32 returns argument r`n` truncated to a signed 32-bit integer (a C `int` / `s32`). */
export function argS32(env: RunEnv, n: number): number {
  return env.regs[2 * n] | 0;
}

/** argPtr returns a pointer argument; a pointer with high bits set cannot be a VM address. */
export function argPtr(env: RunEnv, n: number, what: string): number {
  if (env.regs[2 * n + 1] !== 0) {
    throw new GuestFault(FaultCode.HelperArgs, `${what}: pointer argument r${n} has high bits set`);
  }
  return env.regs[2 * n] >>> 0;
}

/** guestBytes checks that [addr, addr+len) is accessible and returns a live view of it. */
export function guestBytes(env: RunEnv, addr: number, len: number, write: boolean, what: string): Uint8Array {
  if (len === 0) return new Uint8Array(0);
  const c = env.mem.check(addr, len, write);
  if (!c.ok) {
    throw new GuestFault(FaultCode.MemoryAccess, `${what}: ${write ? 'write' : 'read'} of ${len} bytes at 0x${addr.toString(16)}: ${c.reason}`, {
      kind: write ? 'write' : 'read',
      addr,
      size: len,
      region: c.region?.name,
    });
  }
  return env.mem.view(addr, len);
}

/**
 * guestAddr checks that [addr, addr+len) is accessible like guestBytes and returns `addr`, without
 * making a view (helpers on the per-packet path copy with `mem.u8` directly).
 */
export function guestAddr(env: RunEnv, addr: number, len: number, write: boolean, what: string): number {
  // The usual argument is a buffer on the program's stack: its live bounds are env.stack's, the
  // region isAccessible would find (readable, writable, no policy), without the owner lookup.
  const st = env.stack;
  if ((addr >= st.lo && addr + len <= st.hi) || len === 0 || env.mem.isAccessible(addr, len, write)) return addr;
  guestBytes(env, addr, len, write, what);
  return addr;
}
