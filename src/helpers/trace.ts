/**
 * trace helpers — bpf_trace_printk (6), bpf_snprintf (165), bpf_trace_vprintk (177), formatted by
 * format.ts and delivered to HelperServices.trace (default: the pino log at info).
 *
 * trace_printk(fmt, fmt_size, a1, a2, a3): fmt must hold a NUL within fmt_size; up to 3
 * conversions; returns the formatted length (output cut at 1023 bytes) or -EINVAL.
 * trace_vprintk(fmt, fmt_size, data, data_len) and snprintf(str, str_size, fmt, data, data_len):
 * data_len a multiple of 8, at most 12 arguments, data non-NULL when data_len > 0 (-EINVAL).
 * snprintf writes at most str_size - 1 characters and a NUL and returns the full length + 1.
 * The trace sink gets the message without one trailing newline.
 */
import type { RunEnv } from '../vm/program.js';
import { Errno } from '../maps/errno.js';
import type { HelperServices } from './services.js';
import { argPtr, argU32, argU64, checkMem, cstring } from './args.js';
import { MAX_BPRINTF_BUF, MAX_BPRINTF_VARARGS, MAX_TRACE_PRINTK_VARARGS, bprintf, type FormatMemory } from './format.js';
import type { HelperDef } from './table.js';

function formatMemory(env: RunEnv): FormatMemory {
  const ok = (a: bigint) => a >= 0n && a < 0x1_0000_0000n;
  return {
    cstring: (addr, max) => (ok(addr) ? cstring(env, Number(addr), max) : undefined),
    bytes: (addr, len) => (ok(addr) && env.mem.isAccessible(Number(addr), len, false) ? env.mem.copy(Number(addr), len) : undefined),
  };
}

/** fmtArg reads a format string argument: `size` readable bytes holding a NUL; undefined when there is none. */
function fmtArg(env: RunEnv, n: number, size: number, helper: string): Uint8Array | undefined {
  const bytes = checkMem(env, argPtr(env, n, helper), size, false, helper, 'fmt');
  const nul = bytes.indexOf(0);
  return nul < 0 ? undefined : bytes.slice(0, nul);
}

/** dataArgs reads the u64 argument array of trace_vprintk/snprintf, or returns -EINVAL. */
function dataArgs(env: RunEnv, n: number, len: number, helper: string): bigint[] | number {
  if (len % 8 !== 0 || len > MAX_BPRINTF_VARARGS * 8) return -Errno.EINVAL;
  if (len === 0) return [];
  if (env.regs[2 * n] === 0 && env.regs[2 * n + 1] === 0) return -Errno.EINVAL;
  const b = checkMem(env, argPtr(env, n, helper), len, false, helper, 'data');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Array.from({ length: len / 8 }, (_, i) => dv.getBigUint64(8 * i, true));
}

function emit(env: RunEnv, services: HelperServices, s: string): number {
  const text = s.length >= MAX_BPRINTF_BUF ? s.slice(0, MAX_BPRINTF_BUF - 1) : s;
  services.trace({
    program: env.current?.program ?? '?',
    insn: env.current?.insn ?? -1,
    cpu: env.cpu ?? 0,
    message: text.endsWith('\n') ? text.slice(0, -1) : text,
  });
  return s.length;
}

function tracePrintk(services: HelperServices): (env: RunEnv) => number {
  return (env) => {
    const fmt = fmtArg(env, 1, argU32(env, 2), 'bpf_trace_printk');
    if (fmt === undefined) return -Errno.EINVAL;
    const args = [argU64(env, 3), argU64(env, 4), argU64(env, 5)].slice(0, MAX_TRACE_PRINTK_VARARGS);
    const s = bprintf(fmt, args, formatMemory(env));
    return typeof s === 'number' ? s : emit(env, services, s);
  };
}

function traceVprintk(services: HelperServices): (env: RunEnv) => number {
  return (env) => {
    const h = 'bpf_trace_vprintk';
    const args = dataArgs(env, 3, argU32(env, 4), h);
    if (typeof args === 'number') return args;
    const fmt = fmtArg(env, 1, argU32(env, 2), h);
    if (fmt === undefined) return -Errno.EINVAL;
    const s = bprintf(fmt, args, formatMemory(env));
    return typeof s === 'number' ? s : emit(env, services, s);
  };
}

function snprintf(env: RunEnv): number {
  const h = 'bpf_snprintf';
  const size = argU32(env, 2);
  const args = dataArgs(env, 4, argU32(env, 5), h);
  if (typeof args === 'number') return args;
  const fmtAddr = argPtr(env, 3, h);
  const fmt = cstring(env, fmtAddr, 0x10000);
  if (fmt === undefined) return -Errno.EINVAL;
  const s = bprintf(fmt, args, formatMemory(env));
  if (typeof s === 'number') return s;
  const bytes = Uint8Array.from(s, (ch) => ch.charCodeAt(0));
  if (size > 0) {
    const dst = checkMem(env, argPtr(env, 1, h), size, true, h, 'str');
    const n = Math.min(bytes.length, size - 1);
    dst.set(bytes.subarray(0, n));
    dst[n] = 0;
  }
  return bytes.length + 1;
}

/** TRACE_HELPERS declares the printf helpers. */
export const TRACE_HELPERS: readonly HelperDef[] = [
  { id: 6, name: 'trace_printk', gplOnly: true, make: ({ services }) => tracePrintk(services) },
  { id: 165, name: 'snprintf', gplOnly: true, make: () => snprintf },
  { id: 177, name: 'trace_vprintk', gplOnly: true, make: ({ services }) => traceVprintk(services) },
];
