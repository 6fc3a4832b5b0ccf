/**
 * engines — the registry of execution engines by name (`--engine NAME`). Each engine adds one
 * line to ENGINES.
 */
import { UsageError } from '../errors.js';
import { jitEngine } from './compile/jit.js';
import { interpEngine } from './interp.js';
import type { Engine } from './program.js';

const ENGINES: ReadonlyMap<string, Engine> = new Map<string, Engine>([
  [interpEngine.name, interpEngine],
  [jitEngine.name, jitEngine],
]);

/**
 * DEFAULT_ENGINE is the engine used when none is named (the CLI's --engine default): the jit,
 * which agrees with the reference interpreter on every test and the kernel-parity runs.
 */
export const DEFAULT_ENGINE = 'jit';

/** engineNames lists the registered engine names. */
export function engineNames(): string[] {
  return [...ENGINES.keys()];
}

/** getEngine returns the engine called `name`, or throws UsageError E_UNKNOWN_ENGINE. */
export function getEngine(name: string): Engine {
  const e = ENGINES.get(name);
  if (e === undefined) {
    throw new UsageError('E_UNKNOWN_ENGINE', `unknown engine "${name}" (available: ${engineNames().join(', ')})`, { engine: name });
  }
  return e;
}
