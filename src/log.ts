/**
 * log — structured logging (pino), quiet by default. XDPSIM_LOG=debug|info|warn sets the level;
 * logs go to stderr so stdout stays the command's output.
 */
import { pino, destination, type Logger } from 'pino';

/** log is the process-wide logger; layers take a child with their name. */
export const log: Logger = pino(
  { name: 'xdpsim', level: process.env.XDPSIM_LOG ?? 'silent' },
  destination(2),
);
