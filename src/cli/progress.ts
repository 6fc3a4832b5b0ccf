/**
 * progress — a one-line progress bar on stderr, drawn only when stderr is a terminal (nothing
 * reaches a pipe or a file), redrawn at most ten times a second.
 */
import type { WriteStream } from 'node:tty';

/** Progress draws `[#####.....] 45%  123,456 frames  1.23 Mframes/s`. */
export class Progress {
  private last = 0;
  private readonly started = performance.now();
  private readonly tty: WriteStream | undefined;
  private drawn = false;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.tty = stream.isTTY === true ? (stream as WriteStream) : undefined;
  }

  /** update redraws when due: `done` of `total` bytes (total 0: unknown), `frames` so far. */
  update(done: number, total: number, frames: number): void {
    if (this.tty === undefined) return;
    const now = performance.now();
    if (now - this.last < 100) return;
    this.last = now;
    const width = 24;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const fill = Math.round(frac * width);
    const secs = (now - this.started) / 1000;
    const rate = secs > 0 ? frames / secs : 0;
    const bar = total > 0 ? `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(Math.floor(frac * 100)).padStart(3)}%  ` : '';
    this.tty.write(`\r${bar}${frames.toLocaleString('en-US')} frames  ${formatRate(rate)}\x1b[K`);
    this.drawn = true;
  }

  /** done erases the bar. */
  done(): void {
    if (this.tty !== undefined && this.drawn) this.tty.write('\r\x1b[K');
  }
}

/** formatRate renders frames per second with a unit. */
export function formatRate(rate: number): string {
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(2)} Mframes/s`;
  if (rate >= 1e3) return `${(rate / 1e3).toFixed(1)} kframes/s`;
  return `${rate.toFixed(0)} frames/s`;
}
