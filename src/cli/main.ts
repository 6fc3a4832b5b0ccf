#!/usr/bin/env node
/**
 * xdpsim — the command line. Each command lives in its own module under commands/ and registers
 * itself on the program; this file only assembles them and turns XdpsimErrors into clean exits.
 */
import { prespawnWorkers } from './commands/replay-prespawn.js';

// Before the command modules load, so that `replay --workers N` threads load theirs meanwhile.
prespawnWorkers(process.argv);
const { Command } = await import('commander');
const { isXdpsimError } = await import('../errors.js');
const { registerCommands } = await import('./commands/index.js');

const program = new Command();
program
  .name('xdpsim')
  .description('Run clang-compiled XDP/TC eBPF objects in user space against captures and live interfaces')
  .version('0.1.0');
registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (isXdpsimError(e)) {
    process.stderr.write(`xdpsim: ${e.message} [${e.code}]\n`);
    process.exit(2);
  }
  throw e;
}
