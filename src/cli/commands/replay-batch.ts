/**
 * replay-batch — what runs `replay --workers` frames on one rx queue, in either mode of
 * replay-workers.ts:
 * - runOwnQueue (no per-frame output): the thread reads the captures itself and runs the frames
 *   whose flow hash picks its queue, counting them in its Accounting;
 * - BatchRunner (--results, --out): one batch of frames handed over by the coordinator, each
 *   frame through the pipeline, counted, its results line rendered (replay's resultLine, so the
 *   lines are the single-threaded ones) and, for --out, its FrameResult encoded.
 * Worker threads (replay-worker.ts) and the coordinator, which runs queue 0 itself
 * (replay-workers.ts), share both.
 */
import { CaptureError } from '../../errors.js';
import { Accounting } from '../../datapath/accounting.js';
import type { Datapath } from '../../datapath/setup.js';
import { flowQueueAt } from '../../datapath/pipeline.js';
import type { SimInterface } from '../../datapath/interfaces.js';
import { ByteReader, ByteWriter, StringTable, decodeFrame, encodeResult, newInFrame, type BatchDone, type RunFlags } from '../../datapath/workers/protocol.js';
import type { Frame } from '../../io/frames.js';
import { PcapCursor } from '../../io/pcap.js';
import { openCursor } from '../../io/capture.js';
import { LineBuffer, mapInterface, resultLine } from './replay.js';

/** PROGRESS_EVERY is how many own frames runOwnQueue runs between progress calls (a power of 2). */
const PROGRESS_EVERY = 1024;

/** OwnQueueEnd is how runOwnQueue ended: the frames it ran and the capture error that stopped it, if any. */
export interface OwnQueueEnd {
  readonly frames: number;
  readonly error: CaptureError | undefined;
}

/**
 * runOwnQueue runs, on `dp`, the frames of `captures` (classic pcap, see canReadOwnQueue) that
 * flowQueue sends to rx queue `queue` of `queues`, in capture order, up to replay-wide frame
 * `limit`; the others are only hashed. Every thread reads the whole capture: walking and hashing
 * a record costs a fraction of running it, and no frame crosses threads. A bad record ends the
 * run where it ends the single-threaded one (every thread meets it at the same frame).
 */
export function runOwnQueue(
  dp: Datapath,
  acc: Accounting,
  captures: readonly string[],
  queue: number,
  queues: number,
  limit: number,
  progress?: (file: string, offset: number, frames: number) => void,
): OwnQueueEnd {
  const devs = dp.topology.interfaces;
  const pipeline = dp.pipeline;
  let base = 0;
  let frames = 0;
  for (const file of captures) {
    const cursor = openCursor(file);
    if (!(cursor instanceof PcapCursor)) throw new Error(`replay --workers: ${file} is not a classic pcap (canReadOwnQueue)`);
    // seen counts the file's frames read so far (kept or not), for the next file's indexes.
    let seen = 0;
    const fileBase = base;
    const keep = (b: Uint8Array, start: number, end: number): boolean => fileBase + seen++ >= limit || flowQueueAt(b, start, end, queues) === queue;
    // One queue keeps every frame: no hash, no second look at the record.
    const step =
      queues > 1
        ? () => cursor.nextWhere(keep)
        : () => {
            const f = cursor.next();
            if (f !== undefined) seen = f.index + 1;
            return f;
          };
    // A classic pcap has one interface.
    let dev: SimInterface | undefined;
    try {
      for (let f = step(); f !== undefined; f = step()) {
        const index = fileBase + f.index;
        if (index >= limit) return { frames, error: undefined };
        dev ??= mapInterface(cursor.interfaces[f.interfaceIndex], f.interfaceIndex, devs);
        acc.add(index, f.data.length, pipeline.process(f.data, dev, queue));
        if ((++frames & (PROGRESS_EVERY - 1)) === 0) progress?.(file, cursor.offset, index + 1);
      }
    } catch (e) {
      if (e instanceof CaptureError) return { frames, error: e };
      throw e;
    } finally {
      cursor.close();
    }
    // At the limit the next capture is still opened and its first record read, as the
    // single-threaded loop does (so a bad header there fails the same way).
    base += seen;
  }
  return { frames, error: undefined };
}

/** canReadOwnQueue tells whether every capture can be read by runOwnQueue (classic pcap files). */
export function canReadOwnQueue(captures: readonly string[]): boolean {
  return captures.every((c) => {
    const cursor = openCursor(c);
    cursor?.close();
    return cursor instanceof PcapCursor;
  });
}

/** BatchRunner runs batches of one rx queue on a datapath. */
export class BatchRunner {
  /** acc counts this queue's frames. */
  readonly acc = new Accounting();
  /** flags say what the coordinator wants back; set before the first batch. */
  flags: RunFlags = { results: false, frames: false };
  private readonly strings = new StringTable();
  private readonly out = new ByteWriter();
  private readonly lines = new LineBuffer();
  private readonly inf = newInFrame();

  constructor(private readonly dp: Datapath) {}

  private lineIndex: number[] = [];
  private id = 0;

  /** run runs one batch of encoded frames; `transfer` lists the buffers the answer owns. */
  run(id: number, buf: ArrayBuffer, file: string | undefined): { done: BatchDone; transfer: ArrayBuffer[] } {
    const rd = new ByteReader(buf);
    const inf = this.inf;
    this.begin(id);
    for (let i = 0; i < rd.count; i++) {
      decodeFrame(rd, inf);
      this.frame(inf.pos, inf.index, inf.iface, inf.frame, file);
    }
    return this.end();
  }

  /** begin starts batch `id` for frames handed over one by one (the coordinator's own queue). */
  begin(id: number): void {
    this.id = id;
    this.lineIndex = [];
  }

  /** frame runs one frame: `pos` in the batch, `index` in the replay, `iface` the interface number. */
  frame(pos: number, index: number, iface: number, f: Frame, file: string | undefined): void {
    const r = this.dp.pipeline.process(f.data, this.dp.topology.interfaces[iface]);
    this.acc.add(index, f.data.length, r);
    if (this.flags.results) {
      const before = this.lines.length;
      resultLine(this.lines, index, f, r, file);
      this.lineIndex.push(pos, this.lines.length - before);
    }
    if (this.flags.frames) encodeResult(this.out, this.strings, pos, r);
  }

  /** end answers the batch begun last. */
  end(): { done: BatchDone; transfer: ArrayBuffer[] } {
    const lineIndex = this.flags.results ? Uint32Array.from(this.lineIndex) : undefined;
    const l = lineIndex !== undefined ? this.lines.take() : undefined;
    const b = this.flags.frames ? this.out.finish() : undefined;
    const done: BatchDone = {
      type: 'done',
      id: this.id,
      strings: this.strings.take(),
      ...(l !== undefined && lineIndex !== undefined ? { lines: l, lineIndex } : {}),
      ...(b !== undefined ? { results: b } : {}),
    };
    const transfer: ArrayBuffer[] = [];
    if (l !== undefined && lineIndex !== undefined) transfer.push(l, lineIndex.buffer as ArrayBuffer);
    if (b !== undefined) transfer.push(b);
    return { done, transfer };
  }
}
