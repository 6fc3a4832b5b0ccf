/**
 * disasm — `xdpsim disasm OBJ [PROGRAM] [--no-source] [--linked]`: the object's instructions in
 * llvm-objdump's syntax and layout, with the C source line above each block when BTF line info
 * exists (like `llvm-objdump -S`). With --linked, PROGRAM as xdpsim runs it: its subprograms
 * appended and its map references named.
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { objectListing, programListing } from '../../object/listing.js';
import { parseObject } from '../../object/loader.js';
import { readObjectFile } from './inspect.js';

/** registerDisasm adds the `disasm` command. */
export function registerDisasm(program: Command): void {
  program
    .command('disasm')
    .description('disassemble a BPF object (llvm-objdump syntax, C source lines from BTF)')
    .argument('<obj>', 'BPF object file (.o)')
    .argument('[program]', 'only this program or function')
    .option('--no-source', 'omit the C source lines')
    .option('--linked', 'show the program as loaded: subprograms appended, map references named')
    .action((obj: string, name: string | undefined, opts: { source: boolean; linked?: boolean }) => {
      const spec = parseObject(readObjectFile(obj), { file: obj });
      let lines: string[];
      if (opts.linked === true) {
        const progs = name === undefined ? spec.programs : spec.programs.filter((p) => p.name === name);
        if (progs.length === 0) throw new UsageError('E_NO_PROGRAM', `${obj}: no program ${name ?? ''} (programs: ${spec.programs.map((p) => p.name).join(', ')})`, { file: obj });
        lines = progs.flatMap((p) => [`Program ${p.name} (section ${p.section}):`, '', ...programListing(p, { source: opts.source }), '']);
      } else {
        lines = objectListing(spec, { source: opts.source, ...(name !== undefined ? { program: name } : {}) });
        if (name !== undefined && lines.length === 0) {
          throw new UsageError('E_NO_PROGRAM', `${obj}: no function ${name} (functions: ${spec.functions.map((f) => f.name).join(', ')})`, { file: obj });
        }
      }
      process.stdout.write(`\n${obj}:\tfile format elf64-bpf\n\n${lines.join('\n')}\n`);
    });
}
