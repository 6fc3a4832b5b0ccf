/**
 * wrap — how a standalone program (entered with anything in r1, returning r0) is run in the
 * kernel so its full 64-bit r0 can be read back: the way the bpf_conformance libbpf plugin
 * does it (shared/conformance/FORMAT.md §4). The program becomes a BPF-to-BPF subprogram of a
 * small XDP main program, which stores the callee's r0 into element 0 of an array map
 * (u32 key, u64 value) and returns XDP_PASS.
 */
import { makeInsn, type Insn } from '../../src/isa/insn.js';

/** RESULT_MAP_SPEC is the map `wrapForKernel` programs store r0 into (map index 0 of loadRaw). */
export const RESULT_MAP_SPEC = { type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 } as const;

/** wrapForKernel returns main + `program` as its subprogram. */
export function wrapForKernel(program: readonly Insn[]): Insn[] {
  const main = [
    makeInsn(0x85, 0, 1, 0, 0), // call local <subprog>, imm patched below
    makeInsn(0x7b, 10, 0, -8, 0), // *(u64 *)(r10 - 8) = r0
    makeInsn(0x62, 10, 0, -12, 0), // *(u32 *)(r10 - 12) = 0  (the key)
    makeInsn(0x18, 1, 1, 0, 0), // r1 = map[0] (BPF_PSEUDO_MAP_FD, index 0)
    makeInsn(0x00, 0, 0, 0, 0),
    makeInsn(0xbf, 2, 10, 0, 0), // r2 = r10
    makeInsn(0x07, 2, 0, 0, -12), // r2 += -12
    makeInsn(0x85, 0, 0, 0, 1), // call bpf_map_lookup_elem
    makeInsn(0x15, 0, 0, 2, 0), // if r0 == 0 goto +2
    makeInsn(0x79, 1, 10, -8, 0), // r1 = *(u64 *)(r10 - 8)
    makeInsn(0x7b, 0, 1, 0, 0), // *(u64 *)(r0 + 0) = r1
    makeInsn(0xb7, 0, 0, 0, 2), // r0 = XDP_PASS
    makeInsn(0x95), // exit
  ];
  main[0] = makeInsn(0x85, 0, 1, 0, main.length - 1);
  return [...main, ...program];
}

/** u64OfLe reads a little-endian u64 (the map value) as a bigint. */
export function u64OfLe(bytes: Uint8Array): bigint {
  if (bytes.length !== 8) throw new RangeError(`u64OfLe: expected 8 bytes, got ${bytes.length}`);
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
}
