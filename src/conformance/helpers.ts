/**
 * helpers — the helper table of the bpf_conformance suite's uBPF plugin (iovisor/ubpf
 * ubpf_plugin, test_helpers.h). FOR CONFORMANCE RUNS ONLY: these ids collide with real kernel
 * helpers (id 1 is bpf_map_lookup_elem, 5 is bpf_ktime_get_ns); no program hook ever sees them.
 *
 *   0 gather_bytes(a, b, c, d, e)  the low bytes of a..e packed into one 40-bit value
 *   1 memfrob(ptr, len)            XOR each byte of [ptr, ptr+len) with 42; returns 0
 *   2 no_op()                      returns 0
 *   3 sqrti(x)                     floor of the square root of x
 *   4 strcmp_ext(a, b)             strcmp of two NUL-terminated strings
 *   5 unwind(x)                    returns x; when x is 0 the program stops with r0 = 0
 *                                  (uBPF's "unwind stack extension" helper; the tests callx
 *                                  and call_unwind_fail call it with x = -1, so they go on)
 */
import { FaultCode, GuestFault } from '../vm/fault.js';
import { toBigU64 } from '../vm/alu.js';
import type { HelperImpl, HelperTable, RunEnv } from '../vm/program.js';

/** argU64 reads argument register r`n` (1..5) as an unsigned bigint. */
function argU64(env: RunEnv, n: number): bigint {
  return toBigU64(env.regs[2 * n + 1], env.regs[2 * n]);
}

/** argPtr reads argument register r`n` as a 32-bit guest pointer. */
function argPtr(env: RunEnv, n: number): number {
  if (env.regs[2 * n + 1] !== 0) throw new GuestFault(FaultCode.BadPointer, `argument r${n} is not a 32-bit pointer`);
  return env.regs[2 * n] >>> 0;
}

/** checkRange throws a GuestFault unless [addr, addr+len) can be accessed. */
function checkRange(env: RunEnv, addr: number, len: number, write: boolean): void {
  const c = env.mem.check(addr, len, write);
  if (!c.ok) {
    throw new GuestFault(FaultCode.MemoryAccess, `${write ? 'write' : 'read'} of ${len} bytes at 0x${addr.toString(16)}: ${c.reason}`, {
      kind: write ? 'write' : 'read',
      addr,
      size: len,
      region: c.region?.name,
    });
  }
}

const gatherBytes: HelperImpl = (env) => {
  const b = (n: number): number => env.regs[2 * n] & 0xff;
  return b(1) * 2 ** 32 + b(2) * 2 ** 24 + b(3) * 2 ** 16 + b(4) * 2 ** 8 + b(5);
};

const memfrob: HelperImpl = (env) => {
  const p = argPtr(env, 1);
  const len = Number(argU64(env, 2));
  if (len === 0) return 0;
  checkRange(env, p, len, true);
  const bytes = env.mem.view(p, len);
  for (let i = 0; i < len; i++) bytes[i] ^= 42;
  return 0;
};

const noOp: HelperImpl = () => 0;

const sqrti: HelperImpl = (env) => BigInt(Math.floor(Math.sqrt(Number(argU64(env, 1)))));

/** cByte reads the byte at p, checking that it is readable. */
function cByte(env: RunEnv, p: number): number {
  checkRange(env, p, 1, false);
  return env.mem.u8[p];
}

const strcmpExt: HelperImpl = (env) => {
  const a = argPtr(env, 1);
  const b = argPtr(env, 2);
  for (let i = 0; ; i++) {
    const x = cByte(env, a + i);
    const y = cByte(env, b + i);
    if (x !== y || x === 0) return x - y;
  }
};

const unwind: HelperImpl = (env) => {
  const x = argU64(env, 1);
  if (x === 0n) env.exitRequested = true;
  return x;
};

/** CONFORMANCE_HELPERS is the uBPF plugin's helper table, for `xdpsim conformance` only. */
export const CONFORMANCE_HELPERS: HelperTable = new Map<number, HelperImpl>([
  [0, gatherBytes],
  [1, memfrob],
  [2, noOp],
  [3, sqrti],
  [4, strcmpExt],
  [5, unwind],
]);
