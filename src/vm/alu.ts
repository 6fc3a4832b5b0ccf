/**
 * alu — exact 64-bit eBPF arithmetic on registers stored as 32-bit halves.
 *
 * The register file is an Int32Array where register r occupies R[2r] (low half) and R[2r+1]
 * (high half); `d` below is that even index. Every function updates R in place from an operand
 * given as (bh, bl) = its high and low halves, so engines never allocate and V8 keeps everything
 * as int32. BigInt appears nowhere here.
 *
 * Semantics follow the kernel interpreter (kernel/bpf/core.c, ___bpf_prog_run): arithmetic wraps
 * modulo 2^64, shift counts are masked by the caller (& 63), unsigned division by zero gives 0 and
 * modulo by zero leaves the dividend, signed division truncates toward zero (INT_MIN / -1 wraps to
 * INT_MIN, INT_MIN % -1 is 0).
 */

/** TWO32 is 2^32 as a double. */
const TWO32 = 4294967296;

/** add64 sets R[d] += (bh:bl) modulo 2^64. */
export function add64(R: Int32Array, d: number, bh: number, bl: number): void {
  const l = (R[d] >>> 0) + (bl >>> 0);
  R[d] = l | 0;
  R[d + 1] = (R[d + 1] + bh + (l >= TWO32 ? 1 : 0)) | 0;
}

/** sub64 sets R[d] -= (bh:bl) modulo 2^64. */
export function sub64(R: Int32Array, d: number, bh: number, bl: number): void {
  const l = (R[d] >>> 0) - (bl >>> 0);
  R[d] = l | 0;
  R[d + 1] = (R[d + 1] - bh - (l < 0 ? 1 : 0)) | 0;
}

/** umulhi32 returns the high 32 bits of the 64-bit product of two u32 values (as int32). */
export function umulhi32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) | 0;
}

/** mul64 sets R[d] *= (bh:bl) modulo 2^64 (the low 64 bits of the product). */
export function mul64(R: Int32Array, d: number, bh: number, bl: number): void {
  const al = R[d];
  const ah = R[d + 1];
  R[d] = Math.imul(al, bl);
  R[d + 1] = (umulhi32(al, bl) + Math.imul(al, bh) + Math.imul(ah, bl)) | 0;
}

/** neg64 sets R[d] = -R[d] modulo 2^64 (so -INT64_MIN = INT64_MIN). */
export function neg64(R: Int32Array, d: number): void {
  const lo = R[d];
  R[d] = -lo | 0;
  R[d + 1] = (~R[d + 1] + (lo === 0 ? 1 : 0)) | 0;
}

/** lsh64 sets R[d] <<= n, for n in 0..63. */
export function lsh64(R: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  const lo = R[d];
  if (n < 32) {
    R[d + 1] = (R[d + 1] << n) | (lo >>> (32 - n));
    R[d] = lo << n;
  } else {
    R[d + 1] = lo << (n - 32);
    R[d] = 0;
  }
}

/** rsh64 sets R[d] >>= n (logical), for n in 0..63. */
export function rsh64(R: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  const hi = R[d + 1];
  if (n < 32) {
    R[d] = (R[d] >>> n) | (hi << (32 - n));
    R[d + 1] = hi >>> n;
  } else {
    R[d] = hi >>> (n - 32);
    R[d + 1] = 0;
  }
}

/** arsh64 sets R[d] >>= n (arithmetic, sign-filling), for n in 0..63. */
export function arsh64(R: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  const hi = R[d + 1];
  if (n < 32) {
    R[d] = (R[d] >>> n) | (hi << (32 - n));
    R[d + 1] = hi >> n;
  } else {
    R[d] = hi >> (n - 32);
    R[d + 1] = hi >> 31;
  }
}

/**
 * DIVMOD_OUT receives the results of udivmod64: [quotient hi, quotient lo, remainder hi,
 * remainder lo]. Module-level scratch, so division allocates nothing.
 */
export const DIVMOD_OUT = new Int32Array(4);

/** udivmod64 divides (ah:al) by a non-zero (bh:bl), unsigned, into DIVMOD_OUT. */
export function udivmod64(ah: number, al: number, bh: number, bl: number): void {
  if (ah === 0 && bh === 0) {
    // Both fit in 32 bits: double division of integers below 2^32 floors exactly.
    const a = al >>> 0;
    const b = bl >>> 0;
    const q = (a / b) >>> 0;
    DIVMOD_OUT[0] = 0;
    DIVMOD_OUT[1] = q | 0;
    DIVMOD_OUT[2] = 0;
    DIVMOD_OUT[3] = (a - q * b) | 0;
    return;
  }
  // Restoring binary long division, one quotient bit per step (rare: 64-bit operands).
  let qh = 0;
  let ql = 0;
  let rh = 0;
  let rl = 0;
  const ubh = bh >>> 0;
  const ubl = bl >>> 0;
  for (let i = 63; i >= 0; i--) {
    const bit = i >= 32 ? (ah >>> (i - 32)) & 1 : (al >>> i) & 1;
    rh = (rh << 1) | (rl >>> 31);
    rl = (rl << 1) | bit;
    const urh = rh >>> 0;
    const url = rl >>> 0;
    if (urh > ubh || (urh === ubh && url >= ubl)) {
      const l = url - ubl;
      rl = l | 0;
      rh = (rh - bh - (l < 0 ? 1 : 0)) | 0;
      if (i >= 32) qh |= 1 << (i - 32);
      else ql |= 1 << i;
    }
  }
  DIVMOD_OUT[0] = qh;
  DIVMOD_OUT[1] = ql;
  DIVMOD_OUT[2] = rh;
  DIVMOD_OUT[3] = rl;
}

/** div64 sets R[d] /= (bh:bl) unsigned; division by zero gives 0 (kernel: BPF_ALU64|BPF_DIV). */
export function div64(R: Int32Array, d: number, bh: number, bl: number): void {
  if (bh === 0 && bl === 0) {
    R[d] = 0;
    R[d + 1] = 0;
    return;
  }
  udivmod64(R[d + 1], R[d], bh, bl);
  R[d] = DIVMOD_OUT[1];
  R[d + 1] = DIVMOD_OUT[0];
}

/** mod64 sets R[d] %= (bh:bl) unsigned; modulo by zero leaves R[d] unchanged. */
export function mod64(R: Int32Array, d: number, bh: number, bl: number): void {
  if (bh === 0 && bl === 0) return;
  udivmod64(R[d + 1], R[d], bh, bl);
  R[d] = DIVMOD_OUT[3];
  R[d + 1] = DIVMOD_OUT[2];
}

/** negPair writes -(h:l) modulo 2^64 into out[off] (high half) and out[off+1] (low half). */
function negPair(h: number, l: number, out: Int32Array, off: number): void {
  out[off + 1] = -l | 0;
  out[off] = (~h + (l === 0 ? 1 : 0)) | 0;
}

/** ABS_SCRATCH holds the magnitudes of signed operands: [ah, al, bh, bl]. */
const ABS_SCRATCH = new Int32Array(4);

/**
 * sdiv64 sets R[d] /= (bh:bl) signed, truncating toward zero (v4 BPF_SDIV, off = 1); division by
 * zero gives 0 and INT64_MIN / -1 wraps to INT64_MIN, as in the kernel.
 */
export function sdiv64(R: Int32Array, d: number, bh: number, bl: number): void {
  if (bh === 0 && bl === 0) {
    R[d] = 0;
    R[d + 1] = 0;
    return;
  }
  const ah = R[d + 1];
  const al = R[d];
  const an = ah < 0;
  const bn = bh < 0;
  if (an) negPair(ah, al, ABS_SCRATCH, 0);
  else {
    ABS_SCRATCH[0] = ah;
    ABS_SCRATCH[1] = al;
  }
  if (bn) negPair(bh, bl, ABS_SCRATCH, 2);
  else {
    ABS_SCRATCH[2] = bh;
    ABS_SCRATCH[3] = bl;
  }
  udivmod64(ABS_SCRATCH[0], ABS_SCRATCH[1], ABS_SCRATCH[2], ABS_SCRATCH[3]);
  R[d] = DIVMOD_OUT[1];
  R[d + 1] = DIVMOD_OUT[0];
  if (an !== bn) neg64(R, d);
}

/**
 * smod64 sets R[d] %= (bh:bl) signed (v4 BPF_SMOD, off = 1): the remainder takes the sign of the
 * dividend; modulo by zero leaves R[d] unchanged; INT64_MIN % -1 is 0.
 */
export function smod64(R: Int32Array, d: number, bh: number, bl: number): void {
  if (bh === 0 && bl === 0) return;
  const ah = R[d + 1];
  const al = R[d];
  const an = ah < 0;
  if (an) negPair(ah, al, ABS_SCRATCH, 0);
  else {
    ABS_SCRATCH[0] = ah;
    ABS_SCRATCH[1] = al;
  }
  if (bh < 0) negPair(bh, bl, ABS_SCRATCH, 2);
  else {
    ABS_SCRATCH[2] = bh;
    ABS_SCRATCH[3] = bl;
  }
  udivmod64(ABS_SCRATCH[0], ABS_SCRATCH[1], ABS_SCRATCH[2], ABS_SCRATCH[3]);
  R[d] = DIVMOD_OUT[3];
  R[d + 1] = DIVMOD_OUT[2];
  if (an) neg64(R, d);
}

/** div32 returns the u32 quotient a / b (as int32); division by zero gives 0. */
export function div32(a: number, b: number): number {
  return b === 0 ? 0 : ((a >>> 0) / (b >>> 0)) | 0;
}

/** mod32 returns the u32 remainder a % b (as int32); modulo by zero gives a. */
export function mod32(a: number, b: number): number {
  return b === 0 ? a : ((a >>> 0) % (b >>> 0)) | 0;
}

/** sdiv32 returns the s32 quotient truncated toward zero; by zero gives 0; INT_MIN / -1 = INT_MIN. */
export function sdiv32(a: number, b: number): number {
  return b === 0 ? 0 : Math.trunc((a | 0) / (b | 0)) | 0;
}

/** smod32 returns the s32 remainder with the dividend's sign; by zero gives a; INT_MIN % -1 = 0. */
export function smod32(a: number, b: number): number {
  return b === 0 ? a : ((a | 0) % (b | 0)) | 0;
}

/** bswap16 swaps the two low bytes of x; the result is zero-extended (0..0xffff). */
export function bswap16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}

/** bswap32 reverses the four bytes of x (as int32). */
export function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** bswap64 reverses the eight bytes of R[d]. */
export function bswap64(R: Int32Array, d: number): void {
  const lo = R[d];
  R[d] = bswap32(R[d + 1]);
  R[d + 1] = bswap32(lo);
}

/** gtU64 tells whether (ah:al) > (bh:bl) unsigned. */
export function gtU64(ah: number, al: number, bh: number, bl: number): boolean {
  return ah === bh ? al >>> 0 > bl >>> 0 : ah >>> 0 > bh >>> 0;
}

/** geU64 tells whether (ah:al) >= (bh:bl) unsigned. */
export function geU64(ah: number, al: number, bh: number, bl: number): boolean {
  return ah === bh ? al >>> 0 >= bl >>> 0 : ah >>> 0 > bh >>> 0;
}

/** gtS64 tells whether (ah:al) > (bh:bl) signed. */
export function gtS64(ah: number, al: number, bh: number, bl: number): boolean {
  return ah === bh ? al >>> 0 > bl >>> 0 : ah > bh;
}

/** geS64 tells whether (ah:al) >= (bh:bl) signed. */
export function geS64(ah: number, al: number, bh: number, bl: number): boolean {
  return ah === bh ? al >>> 0 >= bl >>> 0 : ah > bh;
}

/** toBigU64 joins two halves into an unsigned 64-bit bigint (boundary use only, not hot paths). */
export function toBigU64(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** setFromNumber stores a JS number (an integer, |v| < 2^53) sign-extended to 64 bits into R[d]. */
export function setFromNumber(R: Int32Array, d: number, v: number): void {
  if (v === (v | 0)) {
    R[d] = v;
    R[d + 1] = v >> 31;
    return;
  }
  const hi = Math.floor(v / TWO32);
  R[d] = (v - hi * TWO32) | 0;
  R[d + 1] = hi | 0;
}

/** setFromBigInt stores a bigint modulo 2^64 into R[d]. */
export function setFromBigInt(R: Int32Array, d: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  R[d] = Number(u & 0xffffffffn) | 0;
  R[d + 1] = Number(u >> 32n) | 0;
}
