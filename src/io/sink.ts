/**
 * sink — the byte output of the capture writers: a file path or a Node Writable.
 *
 * Writers hand over whole records only, and the sink flushes only at record boundaries, so what
 * has reached the file is always a valid capture up to its last complete frame. A path is written
 * with synchronous writes from a small buffer (flushed when it fills and on `flush`/`close`): if
 * the program stops on an error, a `close()` in its `finally` leaves a complete file. A Writable
 * receives one chunk per flush; `drain()` waits when it asks for backpressure.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { CaptureError } from '../errors.js';

/** CaptureTarget is where a writer writes: a file path or a Node Writable. */
export type CaptureTarget = string | Writable;

/** DEFAULT_WRITE_BUFFER is the default flush threshold: 64 KiB. */
export const DEFAULT_WRITE_BUFFER = 64 * 1024;

/** ByteSink buffers whole records and flushes them to a file or a stream. */
export class ByteSink {
  private fd: number | undefined;
  private readonly stream: Writable | undefined;
  private buf: Uint8Array;
  private dv: DataView;
  private len = 0;
  private closed = false;
  /** bytesWritten counts bytes handed to the file or stream so far (excluding the buffer). */
  bytesWritten = 0;

  constructor(
    target: CaptureTarget,
    /** file names the output in errors. */
    readonly file: string,
    private readonly threshold: number = DEFAULT_WRITE_BUFFER,
  ) {
    if (typeof target === 'string') {
      try {
        this.fd = openSync(target, 'w');
      } catch (e) {
        throw new CaptureError('CAPTURE_IO', `${file}: cannot create: ${(e as Error).message}`, { file }, { cause: e });
      }
    } else {
      this.stream = target;
    }
    this.buf = new Uint8Array(Math.max(threshold, 4096));
    this.dv = new DataView(this.buf.buffer);
  }

  /** reserve appends n zero bytes to the buffer and returns their index in `bytes`/`view`, to be filled in place. */
  reserve(n: number): number {
    if (this.closed) throw new CaptureError('CAPTURE_CLOSED', `${this.file}: write after close`, { file: this.file });
    if (this.len + n > this.buf.length) {
      const size = Math.max(this.buf.length * 2, this.len + n);
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.len));
      this.setBuffer(next);
    }
    const at = this.len;
    this.len += n;
    this.buf.fill(0, at, at + n);
    return at;
  }

  /**
   * reserveDirty is reserve without the zeroing: the caller writes every one of the n bytes
   * (padding included). For writers that fill whole records themselves, frame after frame.
   */
  reserveDirty(n: number): number {
    if (this.closed) throw new CaptureError('CAPTURE_CLOSED', `${this.file}: write after close`, { file: this.file });
    if (this.len + n > this.buf.length) {
      if (this.len > 0 && n <= this.threshold) this.flush();
      if (this.len + n > this.buf.length) {
        const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
        next.set(this.buf.subarray(0, this.len));
        this.setBuffer(next);
      }
    }
    const at = this.len;
    this.len += n;
    return at;
  }

  /** bytes is the buffer that `reserve` indexes (valid until the next reserve). */
  get bytes(): Uint8Array {
    return this.buf;
  }

  /** view is a DataView over `bytes`. */
  get view(): DataView {
    return this.dv;
  }

  private setBuffer(b: Uint8Array): void {
    this.buf = b;
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /** endRecord marks the end of a whole record; the buffer is flushed when it passes the threshold. */
  endRecord(): void {
    if (this.len >= this.threshold) this.flush();
  }

  /** flush hands every buffered record to the file or stream. */
  flush(): void {
    if (this.len === 0) return;
    if (this.fd !== undefined) {
      let off = 0;
      while (off < this.len) {
        try {
          off += writeSync(this.fd, this.buf, off, this.len - off);
        } catch (e) {
          throw new CaptureError('CAPTURE_IO', `${this.file}: write failed: ${(e as Error).message}`, { file: this.file, offset: this.bytesWritten + off }, { cause: e });
        }
      }
    } else if (this.stream !== undefined) {
      this.stream.write(this.buf.slice(0, this.len));
    }
    this.bytesWritten += this.len;
    this.len = 0;
    if (this.buf.length > this.threshold * 4) this.setBuffer(new Uint8Array(Math.max(this.threshold, 4096)));
  }

  /** drain resolves when a stream target is ready for more (at once for a file). */
  async drain(): Promise<void> {
    const s = this.stream;
    if (s === undefined || !s.writableNeedDrain) return;
    await new Promise<void>((resolve, reject) => {
      const done = (e?: Error): void => {
        s.off('drain', ok);
        s.off('error', done);
        if (e !== undefined) reject(e);
        else resolve();
      };
      const ok = (): void => done();
      s.once('drain', ok);
      s.once('error', done);
    });
  }

  /** close flushes and closes the file, or ends the stream and waits for it to finish. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      closeSync(fd);
      return;
    }
    const s = this.stream;
    if (s === undefined) return;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.end(() => resolve());
    });
  }

  /** closeSync flushes and closes a file target at once (for exit handlers); streams are ended without waiting. */
  closeSync(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    } else {
      this.stream?.end();
    }
  }
}
