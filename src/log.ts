/**
 * log — structured logging (pino), quiet by default. XDPSIM_LOG=debug|info|warn sets the level;
 * logs go to stderr so stdout stays the command's output.
 *
 * pino is loaded only when a level is set: at the default (silent) `log` is a logger that drops
 * everything. Measured: loading pino and its ~30 modules was a fifth of the start-up time of
 * every command, which `xdpsim replay` pays on every run.
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

/** LogFn logs a structured record with a message. */
export type LogFn = (obj: Record<string, unknown>, msg?: string) => void;

/** Log is the part of pino's Logger xdpsim uses. */
export interface Log {
  child(bindings: Record<string, unknown>): Log;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const drop: LogFn = () => undefined;

/** SILENT is a Log that drops every record (the default level). */
const SILENT: Log = { child: () => SILENT, debug: drop, info: drop, warn: drop, error: drop };

function pinoLog(level: string): Log {
  const pino = createRequire(import.meta.url)('pino') as typeof import('pino');
  const logger: Logger = pino.pino({ name: 'xdpsim', level }, pino.destination(2));
  return logger;
}

/** log is the process-wide logger; layers take a child with their name. */
export const log: Log = (process.env.XDPSIM_LOG ?? 'silent') === 'silent' ? SILENT : pinoLog(process.env.XDPSIM_LOG ?? 'silent');
