/**
 * format — the printf subset of bpf_trace_printk, bpf_trace_vprintk and bpf_snprintf:
 * validation as bpf_bprintf_prepare (kernel/bpf/helpers.c) does it, formatting as bstr_printf /
 * vsnprintf (lib/vsprintf.c) would print it.
 *
 * Accepted: `%%`; flags `0 + - space`; a decimal width; `%d %i %u %x %X` with `l`/`ll` (no `l`:
 * 32-bit int, `l`/`ll`: 64-bit); `%c`; `%s`, `%pks`, `%pus` (a string read through the pointer,
 * empty when unreadable); `%p %px %pK %ps %pS %pB` (pointers); `%pI4 %pi4 %pI6 %pi6` (address
 * read through the pointer, zeros when unreadable; `%pI6c` prints like `%pI6` through
 * bpf_snprintf on Linux 6.18, the `c` swallowed — checked against the kernel). Anything else —
 * precision, `%o`, `%h`, unknown `%p` extensions, a non-printable or non-ASCII byte in the
 * format, more conversions than arguments, a format without NUL — is -EINVAL.
 *
 * Pointers: the kernel prints `%p` and `%pK` hashed with a per-boot random key; xdpsim prints
 * every pointer form like `%px` (16 lower-case hex digits), and `%ps/%pS/%pB` as 0x<hex> since
 * there are no kernel symbols.
 */
import { Errno } from '../maps/errno.js';

/** MAX_BPRINTF_VARARGS: at most 12 arguments to trace_vprintk/snprintf. */
export const MAX_BPRINTF_VARARGS = 12;
/** MAX_TRACE_PRINTK_VARARGS: trace_printk takes r3..r5. */
export const MAX_TRACE_PRINTK_VARARGS = 3;
/** MAX_BPRINTF_BUF: bytes of the buffer trace_printk formats into (output is cut at 1023). */
export const MAX_BPRINTF_BUF = 1024;
/** MAX_STRING: bytes read for one %s argument. */
const MAX_STRING = 512;

/** FormatMemory reads guest memory for %s and %pI arguments. */
export interface FormatMemory {
  /** cstring returns the bytes up to (not including) a NUL within `max` bytes, or undefined when unreadable. */
  cstring(addr: bigint, max: number): Uint8Array | undefined;
  /** bytes returns `len` readable bytes at addr, or undefined. */
  bytes(addr: bigint, len: number): Uint8Array | undefined;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isPrintOrSpace = (c: number) => (c >= 0x20 && c < 0x7f) || (c >= 0x09 && c <= 0x0d);
const isPunct = (c: number) => c > 0x20 && c < 0x7f && !isDigit(c) && !((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);

interface Spec {
  left: boolean;
  zero: boolean;
  plus: boolean;
  space: boolean;
  width: number;
}

function pad(s: string, spec: Spec, numeric: boolean): string {
  if (s.length >= spec.width) return s;
  if (spec.left) return s + ' '.repeat(spec.width - s.length);
  if (spec.zero && numeric) {
    const sign = s[0] === '-' || s[0] === '+' || s[0] === ' ' ? s[0] : '';
    return sign + '0'.repeat(spec.width - s.length) + s.slice(sign.length);
  }
  return ' '.repeat(spec.width - s.length) + s;
}

/** latin1 maps bytes to a string one char per byte (no UTF-8 or windows-1252 decoding). */
export function latin1(b: Uint8Array | undefined): string {
  let s = '';
  if (b !== undefined) for (const x of b) s += String.fromCharCode(x);
  return s;
}

function hex16(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16).padStart(16, '0');
}

/**
 * bprintf validates `fmt` (bytes up to its NUL) against `args` and formats it. It returns the
 * formatted string, or -EINVAL as bpf_bprintf_prepare would.
 */
export function bprintf(fmt: Uint8Array, args: readonly bigint[], mem: FormatMemory): string | number {
  let out = '';
  let argi = 0;
  const n = fmt.length;
  const at = (i: number) => (i < n ? fmt[i] : 0);
  for (let i = 0; i < n; i++) {
    const c = fmt[i];
    if (!isPrintOrSpace(c)) return -Errno.EINVAL;
    if (c !== 0x25) {
      out += String.fromCharCode(c);
      continue;
    }
    if (at(i + 1) === 0x25) {
      out += '%';
      i++;
      continue;
    }
    if (argi >= args.length) return -Errno.EINVAL;
    const spec: Spec = { left: false, zero: false, plus: false, space: false, width: 0 };
    i++;
    for (;;) {
      const f = at(i);
      if (f === 0x30) spec.zero = true;
      else if (f === 0x2b) spec.plus = true;
      else if (f === 0x2d) spec.left = true;
      else if (f === 0x20) spec.space = true;
      else break;
      i++;
    }
    if (at(i) >= 0x31 && at(i) <= 0x39) {
      while (isDigit(at(i))) spec.width = spec.width * 10 + (at(i++) - 0x30);
    }
    const arg = args[argi++];
    const conv = at(i);
    if (conv === 0x70 /* p */) {
      const p1 = at(i + 1);
      const p2 = at(i + 2);
      if ((p1 === 0x6b || p1 === 0x75) && p2 === 0x73) {
        i += 2;
        out += pad(latin1(mem.cstring(arg, MAX_STRING)), spec, false);
        continue;
      }
      if (p1 === 0 || isSpace(p1) || isPunct(p1) || p1 === 0x4b || p1 === 0x78) {
        if (p1 === 0x4b || p1 === 0x78) i++;
        out += pad(hex16(arg), spec, false);
        continue;
      }
      if (p1 === 0x73 || p1 === 0x53 || p1 === 0x42) {
        i++;
        out += pad(`0x${BigInt.asUintN(64, arg).toString(16)}`, spec, false);
        continue;
      }
      if ((p1 !== 0x69 && p1 !== 0x49) || (p2 !== 0x34 && p2 !== 0x36)) return -Errno.EINVAL;
      i += 2;
      const v6 = p2 === 0x36;
      const b = mem.bytes(arg, v6 ? 16 : 4) ?? new Uint8Array(v6 ? 16 : 4);
      let s: string;
      if (!v6) s = p1 === 0x49 ? Array.from(b).join('.') : Array.from(b, (x) => x.toString().padStart(3, '0')).join('.');
      else if (p1 === 0x69) s = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
      else {
        if (at(i + 1) === 0x63) i++;
        s = Array.from({ length: 8 }, (_, k) => ((b[2 * k] << 8) | b[2 * k + 1]).toString(16).padStart(4, '0')).join(':');
      }
      out += pad(s, spec, false);
      continue;
    }
    if (conv === 0x73 /* s */) {
      out += pad(latin1(mem.cstring(arg, MAX_STRING)), spec, false);
      continue;
    }
    if (conv === 0x63 /* c */) {
      out += pad(String.fromCharCode(Number(arg & 0xffn)), spec, false);
      continue;
    }
    let bits = 32;
    if (at(i) === 0x6c) {
      bits = 64;
      i++;
      if (at(i) === 0x6c) i++;
    }
    const k = at(i);
    let s: string;
    if (k === 0x64 || k === 0x69) {
      const v = BigInt.asIntN(bits, arg);
      s = v.toString();
      if (v >= 0n && spec.plus) s = '+' + s;
      else if (v >= 0n && spec.space) s = ' ' + s;
    } else if (k === 0x75) s = BigInt.asUintN(bits, arg).toString();
    else if (k === 0x78) s = BigInt.asUintN(bits, arg).toString(16);
    else if (k === 0x58) s = BigInt.asUintN(bits, arg).toString(16).toUpperCase();
    else return -Errno.EINVAL;
    out += pad(s, spec, true);
  }
  return out;
}
