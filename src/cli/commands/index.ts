/**
 * commands — the list of xdpsim subcommands. Add one import and one call per command.
 */
import type { Command } from 'commander';
import { registerConformance } from './conformance.js';
import { registerInspect } from './inspect.js';
import { registerDisasm } from './disasm.js';
import { registerReplay } from './replay.js';
import { registerLive } from './live.js';

/** registerCommands attaches every subcommand to the root program. */
export function registerCommands(program: Command): void {
  registerConformance(program);
  registerInspect(program);
  registerDisasm(program);
  registerReplay(program);
  registerLive(program);
}
