/**
 * atomics — BPF atomic read-modify-write instructions on a shared-mode Memory (replay --workers),
 * where several threads run programs over the same map values: done with JavaScript's Atomics so
 * that, as on a multi-CPU kernel (arch atomic ops behind BPF_ATOMIC), no update is lost. On an
 * unshared Memory there is one thread and the engines' plain read-modify-write is exact.
 *
 * Atomics need natural alignment; a misaligned operand (which the kernel's verifier refuses for
 * most pointer kinds) is left to the engine's plain path.
 */
import { BPF_ADD, BPF_AND, BPF_CMPXCHG, BPF_FETCH, BPF_OR, BPF_XCHG, BPF_XOR } from '../isa/opcodes.js';
import type { Memory } from './memory.js';

const I32 = new WeakMap<ArrayBufferLike, Int32Array>();
const I64 = new WeakMap<ArrayBufferLike, BigInt64Array>();

function i32Of(mem: Memory): Int32Array {
  const b = mem.wasm.buffer;
  let v = I32.get(b);
  if (v === undefined) I32.set(b, (v = new Int32Array(b)));
  return v;
}

function i64Of(mem: Memory): BigInt64Array {
  const b = mem.wasm.buffer;
  let v = I64.get(b);
  if (v === undefined) I64.set(b, (v = new BigInt64Array(b)));
  return v;
}

const toI64 = (lo: number, hi: number): bigint => (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0);

/**
 * sharedAtomic applies the BPF atomic operation `imm` (BPF_ADD/OR/AND/XOR, BPF_XCHG, BPF_CMPXCHG,
 * with or without BPF_FETCH) of width 4 or 8 at `a` with source halves (sl, sh) and, for cmpxchg,
 * the expected value r0 (r0l, r0h); writes the old value's halves to out[0], out[1] (the 32-bit
 * form zero-extended) and returns true — or returns false, touching nothing, when `mem` is not
 * shared or `a` is not aligned to the width.
 */
export function sharedAtomic(mem: Memory, a: number, wide: boolean, imm: number, sl: number, sh: number, r0l: number, r0h: number, out: Int32Array): boolean {
  if (mem.shared === undefined || (a & (wide ? 7 : 3)) !== 0) return false;
  if (!wide) {
    const v = i32Of(mem);
    const i = a >>> 2;
    let old: number;
    if (imm === BPF_CMPXCHG) old = Atomics.compareExchange(v, i, r0l | 0, sl | 0);
    else if (imm === BPF_XCHG) old = Atomics.exchange(v, i, sl | 0);
    else {
      const op = imm & ~BPF_FETCH;
      if (op === BPF_ADD) old = Atomics.add(v, i, sl | 0);
      else if (op === BPF_OR) old = Atomics.or(v, i, sl | 0);
      else if (op === BPF_AND) old = Atomics.and(v, i, sl | 0);
      else if (op === BPF_XOR) old = Atomics.xor(v, i, sl | 0);
      else return false;
    }
    out[0] = old;
    out[1] = 0;
    return true;
  }
  const v = i64Of(mem);
  const i = a >>> 3;
  const src = toI64(sl, sh);
  let old: bigint;
  if (imm === BPF_CMPXCHG) old = Atomics.compareExchange(v, i, toI64(r0l, r0h), src);
  else if (imm === BPF_XCHG) old = Atomics.exchange(v, i, src);
  else {
    const op = imm & ~BPF_FETCH;
    if (op === BPF_ADD) old = Atomics.add(v, i, src);
    else if (op === BPF_OR) old = Atomics.or(v, i, src);
    else if (op === BPF_AND) old = Atomics.and(v, i, src);
    else if (op === BPF_XOR) old = Atomics.xor(v, i, src);
    else return false;
  }
  out[0] = Number(BigInt.asIntN(32, old));
  out[1] = Number(BigInt.asIntN(32, old >> 32n));
  return true;
}
