/**
 * encode — instruction slots to little-endian bytes, the inverse of decodeInsns.
 */
import { INSN_SIZE, type Insn } from './insn.js';

/** encodeInsns writes one 8-byte slot per Insn. */
export function encodeInsns(insns: readonly Insn[]): Uint8Array {
  const out = new Uint8Array(insns.length * INSN_SIZE);
  const view = new DataView(out.buffer);
  insns.forEach((insn, i) => {
    const p = i * INSN_SIZE;
    out[p] = insn.opcode & 0xff;
    out[p + 1] = (insn.dst & 0x0f) | ((insn.src & 0x0f) << 4);
    view.setInt16(p + 2, insn.off, true);
    view.setInt32(p + 4, insn.imm, true);
  });
  return out;
}
