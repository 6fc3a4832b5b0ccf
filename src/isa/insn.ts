/**
 * insn — the decoded form of one 8-byte instruction slot.
 *
 * A program is an array of slots, one `Insn` per 8 bytes, so an instruction index is a slot index
 * everywhere in xdpsim (as in the kernel verifier and llvm-objdump). `lddw` takes two slots: the
 * first carries the low 32 bits of the immediate in `imm`, the second (opcode 0) the high 32 bits.
 */

/** InsnIndex is an instruction (slot) index within a program; it is not a byte offset. */
export type InsnIndex = number;

/** Insn is one instruction slot with its fields as the encoding defines them. */
export interface Insn {
  /** opcode byte, 0..255 */
  opcode: number;
  /** destination register, 0..15 as encoded (only 0..10 are valid) */
  dst: number;
  /** source register, 0..15 as encoded */
  src: number;
  /** signed 16-bit offset */
  off: number;
  /** signed 32-bit immediate */
  imm: number;
}

/** INSN_SIZE is the size of one instruction slot in bytes. */
export const INSN_SIZE = 8;

/** makeInsn builds an Insn, normalising off to s16 and imm to s32. */
export function makeInsn(opcode: number, dst = 0, src = 0, off = 0, imm = 0): Insn {
  return { opcode: opcode & 0xff, dst: dst & 0xf, src: src & 0xf, off: (off << 16) >> 16, imm: imm | 0 };
}
