/**
 * replay-batch — what runs one batch of `replay --workers` frames on one rx queue: each frame
 * through the pipeline, counted in the queue's Accounting, its results line rendered (replay's
 * resultLine, so the lines are the single-threaded ones) and, for --out, its FrameResult encoded.
 * Worker threads (replay-worker.ts) and the coordinator, which runs queue 0 itself
 * (replay-workers.ts), share it.
 */
import { Accounting } from '../../datapath/accounting.js';
import type { Datapath } from '../../datapath/setup.js';
import { ByteReader, ByteWriter, StringTable, decodeFrame, encodeResult, newInFrame, type BatchDone, type RunFlags } from '../../datapath/workers/protocol.js';
import type { Frame } from '../../io/frames.js';
import { LineBuffer, resultLine } from './replay.js';

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
