/**
 * opcodes — eBPF instruction encoding constants (Documentation/bpf/standardization/
 * instruction-set.rst, include/uapi/linux/bpf.h, include/uapi/linux/bpf_common.h).
 *
 * An instruction slot is 8 bytes, little-endian:
 *
 *   byte 0      byte 1            bytes 2-3        bytes 4-7
 *   opcode      src:4 | dst:4     off (s16)        imm (s32)
 *   (dst is the low nibble of byte 1, src the high nibble)
 *
 * opcode = op:4 | source:1 | class:3 for ALU/JMP; mode:3 | size:2 | class:3 for loads/stores.
 */

/** Instruction classes (opcode & 0x07). */
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

/** Operand source (opcode & 0x08) for ALU and JMP classes. */
export const BPF_K = 0x00;
export const BPF_X = 0x08;
/** For BPF_END: BPF_TO_LE shares the value of BPF_K, BPF_TO_BE of BPF_X. */
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

/** ALU operations (opcode & 0xf0). */
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;

/** Jump operations (opcode & 0xf0). */
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;

/** Load/store sizes (opcode & 0x18). */
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;

/** Load/store modes (opcode & 0xe0). */
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;

/** Atomic operations (imm of a BPF_ATOMIC instruction). */
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;

/** src_reg values of lddw (BPF_LD | BPF_IMM | BPF_DW), the pseudo forms. */
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;

/** src_reg values of BPF_CALL. */
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

/** Full opcodes used often. */
export const OP_LDDW = BPF_LD | BPF_IMM | BPF_DW; // 0x18
export const OP_CALL = BPF_JMP | BPF_CALL; // 0x85
export const OP_CALLX = BPF_JMP | BPF_CALL | BPF_X; // 0x8d
export const OP_EXIT = BPF_JMP | BPF_EXIT; // 0x95
export const OP_JA = BPF_JMP | BPF_JA; // 0x05
export const OP_JA32 = BPF_JMP32 | BPF_JA; // 0x06 (gotol: offset in imm)

/** Stack size of one frame (MAX_BPF_STACK) and the deepest bpf-to-bpf call chain (MAX_CALL_FRAMES). */
export const MAX_BPF_STACK = 512;
export const MAX_CALL_FRAMES = 8;
/** MAX_TAIL_CALL_CNT in include/linux/bpf.h: at most 33 tail calls in one run. */
export const MAX_TAIL_CALL_CNT = 33;

/** Register numbers. r10 is the read-only frame pointer. */
export const R0 = 0;
export const R1 = 1;
export const R10 = 10;

/** insnClass extracts the class bits. */
export function insnClass(opcode: number): number {
  return opcode & 0x07;
}

/** sizeBytes maps a load/store size field to its width in bytes. */
export function sizeBytes(opcode: number): 1 | 2 | 4 | 8 {
  switch (opcode & 0x18) {
    case BPF_B:
      return 1;
    case BPF_H:
      return 2;
    case BPF_W:
      return 4;
    default:
      return 8;
  }
}
