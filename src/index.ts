/**
 * xdpsim — the library API. Explicit named exports only.
 */
export * from './errors.js';
export type { Insn, InsnIndex } from './isa/insn.js';
export { decodeInsns } from './isa/decode.js';
export { encodeInsns } from './isa/encode.js';
export { validateProgram, jumpTarget, VerifyCode, type ValidateOptions } from './isa/validate.js';
export { disasmInsn, disasmLines, disasmProgram, type DisasmLine, type DisasmOptions } from './isa/disasm.js';
export { mnemonic, opcodeInfo, OPCODE_TABLE, OpcodeKind, type OpcodeInfo } from './isa/mnemonic.js';
export { Memory, RegionKind, type Region } from './vm/memory.js';
export type { VmFault } from './vm/fault.js';
export type { Engine, Executable, ProgramSpec, RunEnv, RunResult, HelperImpl } from './vm/program.js';
