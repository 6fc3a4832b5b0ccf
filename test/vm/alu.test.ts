/**
 * alu — the int32-half arithmetic of src/vm/alu.ts against a BigInt reference on edge values
 * and on seeded random operands.
 */
import { describe, expect, it } from 'vitest';
import * as alu from '../../src/vm/alu.js';

const M64 = (1n << 64n) - 1n;
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);

function load(R: Int32Array, d: number, v: bigint): void {
  R[d] = Number(v & 0xffffffffn) | 0;
  R[d + 1] = Number((v >> 32n) & 0xffffffffn) | 0;
}
const read = (R: Int32Array, d: number): bigint => alu.toBigU64(R[d + 1], R[d]);
const halves = (v: bigint): [number, number] => [Number((v >> 32n) & 0xffffffffn) | 0, Number(v & 0xffffffffn) | 0];

/** Reference semantics (kernel/bpf/core.c) written with BigInt. */
type BinOp = 'add64' | 'sub64' | 'mul64' | 'div64' | 'mod64' | 'sdiv64' | 'smod64';
const REF: Record<BinOp, (a: bigint, b: bigint) => bigint> = {
  add64: (a, b) => u64(a + b),
  sub64: (a, b) => u64(a - b),
  mul64: (a, b) => u64(a * b),
  div64: (a, b) => (b === 0n ? 0n : a / b),
  mod64: (a, b) => (b === 0n ? a : a % b),
  sdiv64: (a, b) => (b === 0n ? 0n : u64(s64(a) / s64(b))),
  smod64: (a, b) => (b === 0n ? a : u64(s64(a) % s64(b))),
};

const EDGES = [0n, 1n, 2n, 3n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, M64, M64 - 1n, 0x123456789abcdef0n];

/** xorshift64* with a fixed seed, so failures reproduce. */
function rng(seed: bigint): () => bigint {
  let x = seed;
  return () => {
    x ^= x >> 12n;
    x ^= (x << 25n) & M64;
    x ^= x >> 27n;
    return (x * 0x2545f4914f6cdd1dn) & M64;
  };
}

function operands(): Array<[bigint, bigint]> {
  const out: Array<[bigint, bigint]> = [];
  for (const a of EDGES) for (const b of EDGES) out.push([a, b]);
  const next = rng(0x9e3779b97f4a7c15n);
  for (let i = 0; i < 2000; i++) {
    const a = next();
    const b = next();
    // Mix widths so both the 32-bit fast paths and the long division run.
    const shift = BigInt(i % 64);
    out.push([a, b >> shift], [a >> shift, b]);
  }
  return out;
}

describe('alu 64-bit operations match BigInt', () => {
  const ops = operands();
  for (const name of Object.keys(REF) as BinOp[]) {
    const ref = REF[name];
    it(name, () => {
      const R = new Int32Array(4);
      const fn = alu[name];
      for (const [a, b] of ops) {
        load(R, 0, a);
        const [bh, bl] = halves(b);
        fn(R, 0, bh, bl);
        const got = read(R, 0);
        if (got !== ref(a, b)) expect(`${name}(0x${a.toString(16)}, 0x${b.toString(16)}) = 0x${got.toString(16)}`).toBe(`0x${ref(a, b).toString(16)}`);
      }
    });
  }

  it('shifts for every count 0..63', () => {
    const R = new Int32Array(2);
    for (const a of EDGES) {
      for (let n = 0; n < 64; n++) {
        const N = BigInt(n);
        load(R, 0, a);
        alu.lsh64(R, 0, n);
        expect(read(R, 0)).toBe(u64(a << N));
        load(R, 0, a);
        alu.rsh64(R, 0, n);
        expect(read(R, 0)).toBe(a >> N);
        load(R, 0, a);
        alu.arsh64(R, 0, n);
        expect(read(R, 0)).toBe(u64(s64(a) >> N));
      }
    }
  });

  it('neg64, bswap64 and the comparisons', () => {
    const R = new Int32Array(2);
    for (const a of EDGES) {
      load(R, 0, a);
      alu.neg64(R, 0);
      expect(read(R, 0)).toBe(u64(-a));
      load(R, 0, a);
      alu.bswap64(R, 0);
      let swapped = 0n;
      for (let i = 0n; i < 8n; i++) swapped |= ((a >> (8n * i)) & 0xffn) << (8n * (7n - i));
      expect(read(R, 0)).toBe(swapped);
      for (const b of EDGES) {
        const [ah, al] = halves(a);
        const [bh, bl] = halves(b);
        expect(alu.gtU64(ah, al, bh, bl)).toBe(a > b);
        expect(alu.geU64(ah, al, bh, bl)).toBe(a >= b);
        expect(alu.gtS64(ah, al, bh, bl)).toBe(s64(a) > s64(b));
        expect(alu.geS64(ah, al, bh, bl)).toBe(s64(a) >= s64(b));
      }
    }
  });

  it('32-bit division and modulo', () => {
    const vals = [0, 1, -1, 2, 7, -7, 0x7fffffff, -0x80000000];
    for (const a of vals) {
      for (const b of vals) {
        const ua = BigInt(a >>> 0);
        const ub = BigInt(b >>> 0);
        expect(BigInt(alu.div32(a, b) >>> 0)).toBe(ub === 0n ? 0n : ua / ub);
        expect(BigInt(alu.mod32(a, b) >>> 0)).toBe(ub === 0n ? ua : ua % ub);
        const sa = BigInt(a);
        const sb = BigInt(b);
        expect(BigInt(alu.sdiv32(a, b) >>> 0)).toBe(sb === 0n ? 0n : BigInt.asUintN(32, sa / sb));
        expect(BigInt(alu.smod32(a, b) >>> 0)).toBe(sb === 0n ? BigInt.asUintN(32, sa) : BigInt.asUintN(32, sa % sb));
      }
    }
  });

  it('setFromNumber sign-extends and handles values beyond 32 bits', () => {
    const R = new Int32Array(2);
    for (const v of [0, 1, -1, -22, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 40 + 5, -(2 ** 40) - 5, Number.MAX_SAFE_INTEGER]) {
      alu.setFromNumber(R, 0, v);
      expect(read(R, 0)).toBe(u64(BigInt(v)));
    }
  });
});
