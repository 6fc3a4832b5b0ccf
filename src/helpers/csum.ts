/**
 * csum helpers — bpf_csum_diff (28), net/core/filter.c as of Linux 6.18:
 *
 *   both sizes:  csum_from32to16(csum_sub(csum_partial(to, to_size, seed), csum_partial(from, from_size, 0)))
 *   to only:     csum_from32to16(csum_partial(to, to_size, seed))
 *   from only:   csum_from32to16(~csum_partial(from, from_size, ~seed))
 *   neither:     csum_from32to16(seed)
 *
 * so the result is a folded 16-bit one's-complement sum, not inverted. Sizes need not be
 * multiples of 4 any more (checked against the kernel: test/helpers/kernel-parity.test.ts).
 * csum_partial is modelled as the 32-bit end-around-carry sum of little-endian 32-bit words
 * (x86's result, up to the representation of zero, which only matters when every byte and the
 * seed are zero).
 */
import type { RunEnv } from '../vm/program.js';
import { argPtr, argU32, checkAddr } from './args.js';
import type { HelperDef } from './table.js';

/** add32c adds two u32 with end-around carry (csum_add). */
export function add32c(a: number, b: number): number {
  const s = (a >>> 0) + (b >>> 0);
  return s > 0xffff_ffff ? (s - 0x1_0000_0000 + 1) >>> 0 : s >>> 0;
}

/** csumPartial is csum_partial(buf, len, seed): a 32-bit one's-complement sum of little-endian words. */
export function csumPartial(buf: Uint8Array, seed: number): number {
  let s = seed >>> 0;
  const n = buf.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) s = add32c(s, buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24));
  if (i < n) {
    let w = 0;
    for (let k = 0; i + k < n; k++) w |= buf[i + k] << (8 * k);
    s = add32c(s, w);
  }
  return s;
}

/** csumFrom32to16 folds a 32-bit checksum to 16 bits (include/net/checksum.h csum_from32to16). */
export function csumFrom32to16(x: number): number {
  const sum = ((x >>> 0) + (((x >>> 16) | (x << 16)) >>> 0)) >>> 0;
  return sum >>> 16;
}

/** csumDiff is the arithmetic of bpf_csum_diff. */
export function csumDiff(from: Uint8Array, to: Uint8Array, seed: number): number {
  if (from.length > 0 && to.length > 0) return csumFrom32to16(add32c(csumPartial(to, seed), ~csumPartial(from, 0) >>> 0));
  if (to.length > 0) return csumFrom32to16(csumPartial(to, seed));
  if (from.length > 0) return csumFrom32to16(~csumPartial(from, ~seed >>> 0) >>> 0);
  return csumFrom32to16(seed);
}

/** csumPartialAt is csumPartial over `len` bytes of `u8` from `at`, without making a view. */
function csumPartialAt(u8: Uint8Array, at: number, len: number, seed: number): number {
  let s = seed >>> 0;
  const end = at + len;
  let i = at;
  for (; i + 4 <= end; i += 4) s = add32c(s, u8[i] | (u8[i + 1] << 8) | (u8[i + 2] << 16) | (u8[i + 3] << 24));
  if (i < end) {
    let w = 0;
    for (let k = 0; i + k < end; k++) w |= u8[i + k] << (8 * k);
    s = add32c(s, w);
  }
  return s;
}

/**
 * bpfCsumDiff is bpf_csum_diff(from, from_size, to, to_size, seed); a zero size allows a NULL
 * pointer. It sums guest memory in place (csumDiff's arithmetic, no views: a per-packet helper).
 */
function bpfCsumDiff(env: RunEnv): number {
  const h = 'bpf_csum_diff';
  const fromSize = argU32(env, 2);
  const toSize = argU32(env, 4);
  const from = fromSize === 0 ? 0 : checkAddr(env, argPtr(env, 1, h), fromSize, false, h, 'from', true);
  const to = toSize === 0 ? 0 : checkAddr(env, argPtr(env, 3, h), toSize, false, h, 'to', true);
  const seed = argU32(env, 5);
  const u8 = env.mem.u8;
  if (fromSize > 0 && toSize > 0) return csumFrom32to16(add32c(csumPartialAt(u8, to, toSize, seed), ~csumPartialAt(u8, from, fromSize, 0) >>> 0));
  if (toSize > 0) return csumFrom32to16(csumPartialAt(u8, to, toSize, seed));
  if (fromSize > 0) return csumFrom32to16(~csumPartialAt(u8, from, fromSize, ~seed >>> 0) >>> 0);
  return csumFrom32to16(seed);
}

/** CSUM_HELPERS declares bpf_csum_diff. */
export const CSUM_HELPERS: readonly HelperDef[] = [
  { id: 28, name: 'csum_diff', gplOnly: false, progTypes: [3, 4, 6], make: () => bpfCsumDiff },
];
