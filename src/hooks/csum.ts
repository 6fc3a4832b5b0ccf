/**
 * csum — Internet checksum arithmetic as the kernel does it (include/net/checksum.h,
 * arch/x86/include/asm/checksum_64.h), on values in "memory order": a 16-bit field is the u16 read
 * little-endian from the packet, a __wsum is a 32-bit partial sum of little-endian words. One's
 * complement addition commutes with byte swapping, so working in memory order gives the very
 * bytes the kernel writes. Every sum uses end-around carry, so a result is zero only when all its
 * inputs are zero, as with the x86 adc chains.
 */

/** csumAdd is csum_add: 32-bit one's complement addition of two __wsum values. */
export function csumAdd(a: number, b: number): number {
  const s = (a >>> 0) + (b >>> 0);
  return (s >= 0x1_0000_0000 ? s - 0xffff_ffff : s) >>> 0;
}

/** csumSub is csum_sub: a + ~b. */
export function csumSub(a: number, b: number): number {
  return csumAdd(a, ~b >>> 0);
}

/** csumFold is csum_fold: folds a __wsum to 16 bits and complements it (a __sum16). */
export function csumFold(sum: number): number {
  let s = (sum & 0xffff) + (sum >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** csumUnfold is csum_unfold: a __sum16 widened to a __wsum. */
export function csumUnfold(sum16: number): number {
  return sum16 & 0xffff;
}

/** csumFrom32to16 folds a 32-bit sum to 16 bits without complementing (bpf_csum_diff's result). */
export function csumFrom32to16(sum: number): number {
  let s = (sum & 0xffff) + (sum >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s & 0xffff;
}

/**
 * csumPartial is csum_partial(buf, len, seed): the one's complement sum of `bytes` taken as
 * little-endian u32 words (a short tail zero-padded), added to `seed`.
 */
export function csumPartial(bytes: Uint8Array, seed: number): number {
  let sum = seed >>> 0;
  const n = bytes.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    sum = csumAdd(sum, (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)) >>> 0);
  }
  if (i < n) {
    let w = 0;
    for (let k = 0; i + k < n; k++) w |= bytes[i + k] << (8 * k);
    sum = csumAdd(sum, w >>> 0);
  }
  return sum;
}

/** csum16Add is csum16_add: 16-bit one's complement addition. */
export function csum16Add(csum: number, addend: number): number {
  let res = ((csum & 0xffff) + (addend & 0xffff)) & 0xffff;
  res += res < (addend & 0xffff) ? 1 : 0;
  return res & 0xffff;
}

/** csum16Sub is csum16_sub: csum16_add(csum, ~addend). */
export function csum16Sub(csum: number, addend: number): number {
  return csum16Add(csum, ~addend & 0xffff);
}

/** csumReplaceByDiff is csum_replace_by_diff: the new __sum16 after adding a precomputed diff. */
export function csumReplaceByDiff(sum16: number, diff: number): number {
  return csumFold(csumAdd(diff >>> 0, ~csumUnfold(sum16) >>> 0));
}

/** csumReplace4 is csum_replace4: the new __sum16 after a 32-bit field changed from `from` to `to`. */
export function csumReplace4(sum16: number, from: number, to: number): number {
  const tmp = csumSub(~csumUnfold(sum16) >>> 0, from >>> 0);
  return csumFold(csumAdd(tmp, to >>> 0));
}

/** csumReplace2 is csum_replace2: the new __sum16 after a 16-bit field changed. */
export function csumReplace2(sum16: number, from: number, to: number): number {
  return ~csum16Add(csum16Sub(~sum16 & 0xffff, from & 0xffff), to & 0xffff) & 0xffff;
}

/** ror32 rotates a u32 right by `n` bits. */
export function ror32(x: number, n: number): number {
  return ((x >>> n) | (x << (32 - n))) >>> 0;
}

/** csumBlockAdd is csum_block_add: adds a block's sum that starts at byte `offset` of the packet. */
export function csumBlockAdd(csum: number, csum2: number, offset: number): number {
  const s = (offset & 1) !== 0 ? ror32(csum2, 8) : csum2 >>> 0;
  return csumAdd(csum, s);
}

/** csumBlockSub is csum_block_sub. */
export function csumBlockSub(csum: number, csum2: number, offset: number): number {
  return csumBlockAdd(csum, ~csum2 >>> 0, offset);
}
