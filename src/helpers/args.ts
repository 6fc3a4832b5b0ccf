/**
 * args — reading helper arguments r1..r5 from the register file (32-bit halves, see
 * src/vm/program.ts) and checking the memory they point to through the memory model. Whatever
 * the kernel's verifier would have refused at load (a pointer outside every region, too short,
 * not writable, a map argument that is not a map) is a program fault here: GuestFault with
 * E_HELPER_ARGS, naming the helper, the argument and the region.
 */
import type { RunEnv } from '../vm/program.js';
import { RegionKind } from '../vm/memory.js';
import { FaultCode, GuestFault } from '../vm/fault.js';
import type { MapBase } from '../maps/base.js';
import type { MapRegistry } from '../maps/registry.js';

/** argU32 returns the low 32 bits of r`n`, unsigned. */
export function argU32(env: RunEnv, n: number): number {
  return env.regs[2 * n] >>> 0;
}

/** argHi returns the high 32 bits of r`n`, unsigned. */
export function argHi(env: RunEnv, n: number): number {
  return env.regs[2 * n + 1] >>> 0;
}

/** argU64 returns r`n` as an unsigned 64-bit bigint (not for hot paths). */
export function argU64(env: RunEnv, n: number): bigint {
  return (BigInt(env.regs[2 * n + 1] >>> 0) << 32n) | BigInt(env.regs[2 * n] >>> 0);
}

/** argFlags returns a u64 flags argument as a number, or Infinity when high bits are set (always invalid). */
export function argFlags(env: RunEnv, n: number): number {
  return env.regs[2 * n + 1] !== 0 ? Infinity : env.regs[2 * n] >>> 0;
}

/** helperFault builds the E_HELPER_ARGS fault a helper throws. */
export function helperFault(helper: string, message: string, access?: GuestFault['access']): GuestFault {
  return new GuestFault(FaultCode.HelperArgs, `${helper}: ${message}`, access);
}

/** argPtr returns a pointer argument; a value with high bits set is no VM address. */
export function argPtr(env: RunEnv, n: number, helper: string): number {
  if (env.regs[2 * n + 1] !== 0) throw helperFault(helper, `r${n} is not a pointer (upper 32 bits set)`);
  return env.regs[2 * n] >>> 0;
}

/**
 * checkMem verifies [addr, addr+len) is accessible for reading (or writing) and returns a live
 * view. Packet memory is refused unless the helper's bpf_func_proto has pkt_access (the
 * verifier's "helper access to the packet is not allowed").
 */
export function checkMem(env: RunEnv, addr: number, len: number, write: boolean, helper: string, what: string, pktAccess = false): Uint8Array {
  if (len === 0) return new Uint8Array(0);
  const c = env.mem.check(addr, len, write);
  if (c.ok && !pktAccess && c.region.kind === RegionKind.Packet) {
    throw helperFault(helper, `${what}: helper access to the packet is not allowed`, { kind: write ? 'write' : 'read', addr, size: len, region: c.region.name });
  }
  if (!c.ok) {
    throw helperFault(helper, `${what}: ${write ? 'write' : 'read'} of ${len} bytes at 0x${addr.toString(16)}: ${c.reason}`, {
      kind: write ? 'write' : 'read',
      addr,
      size: len,
      region: c.region?.name,
    });
  }
  return env.mem.view(addr, len);
}

/**
 * checkAddr makes checkMem's checks and returns `addr` instead of a view, for per-packet helpers
 * that read guest memory in place.
 */
export function checkAddr(env: RunEnv, addr: number, len: number, write: boolean, helper: string, what: string, pktAccess = false): number {
  const mem = env.mem;
  if (len === 0 || (mem.isAccessible(addr, len, write) && (pktAccess || mem.regionAt(addr).kind !== RegionKind.Packet))) return addr;
  checkMem(env, addr, len, write, helper, what, pktAccess);
  return addr;
}

/** ptrMem reads pointer argument r`n` and checks `len` bytes behind it (pktAccess as for checkMem). */
export function ptrMem(env: RunEnv, n: number, len: number, write: boolean, helper: string, what: string, pktAccess = false): Uint8Array {
  return checkMem(env, argPtr(env, n, helper), len, write, helper, what, pktAccess);
}

/** mapArg resolves a map argument (the handle a program loaded with lddw) or faults. */
export function mapArg(registry: MapRegistry, env: RunEnv, n: number, helper: string): MapBase {
  const addr = env.regs[2 * n + 1] === 0 ? env.regs[2 * n] >>> 0 : -1;
  const map = registry.byHandle(addr);
  if (map === undefined) throw helperFault(helper, `r${n} = 0x${(env.regs[2 * n] >>> 0).toString(16)} is not a map`);
  return map;
}

/** cstring reads a NUL-terminated string of at most `max` bytes at `addr`; undefined when unreadable or unterminated. */
export function cstring(env: RunEnv, addr: number, max: number): Uint8Array | undefined {
  const mem = env.mem;
  for (let i = 0; i < max; i++) {
    if (!mem.isAccessible(addr + i, 1, false)) return undefined;
    if (mem.u8[addr + i] === 0) return mem.copy(addr, i);
  }
  return undefined;
}
