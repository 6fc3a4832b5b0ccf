/**
 * xdpsim — the library API. Explicit named exports only.
 */
export * from './errors.js';
export type { Insn, InsnIndex } from './isa/insn.js';
export { decodeInsns } from './isa/decode.js';
export { encodeInsns } from './isa/encode.js';
export { Memory, RegionKind, type Region } from './vm/memory.js';
export type { VmFault } from './vm/fault.js';
export type { Engine, Executable, ProgramSpec, RunEnv, RunResult, HelperImpl } from './vm/program.js';
