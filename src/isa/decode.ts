/**
 * decode — bytes to instruction slots. Pure and total: any length that is a multiple of 8
 * decodes; whether the instructions are valid is the validator's question (isa/validate.ts).
 */
import { DecodeError } from '../errors.js';
import { INSN_SIZE, type Insn } from './insn.js';

/** decodeInsns splits little-endian bytecode into one Insn per 8-byte slot. */
export function decodeInsns(bytes: Uint8Array): Insn[] {
  if (bytes.length % INSN_SIZE !== 0) {
    throw new DecodeError(
      'E_BYTECODE_LENGTH',
      `bytecode length ${bytes.length} is not a multiple of ${INSN_SIZE}`,
      { offset: bytes.length - (bytes.length % INSN_SIZE) },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const insns: Insn[] = new Array<Insn>(bytes.length / INSN_SIZE);
  for (let i = 0, p = 0; p < bytes.length; i++, p += INSN_SIZE) {
    const regs = bytes[p + 1];
    insns[i] = {
      opcode: bytes[p],
      dst: regs & 0x0f,
      src: regs >>> 4,
      off: view.getInt16(p + 2, true),
      imm: view.getInt32(p + 4, true),
    };
  }
  return insns;
}
