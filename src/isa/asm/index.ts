/**
 * asm — the bpf_conformance assembly dialect: lexer, operand parser, assembler.
 */
export { assemble } from './assembler.js';
export { AsmCode } from './parser.js';
export { lexAsm, type SourceLine } from './lexer.js';
