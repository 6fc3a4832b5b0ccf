/**
 * replay-worker — the entry of one worker thread of `xdpsim replay --workers N` (the coordinator
 * is replay-workers.ts). The worker builds the same datapath as every other thread over the
 * shared memory (its own private slot), applies --preload, says it is ready, and then runs the
 * frame batches it is sent: worker i is rx queue i and CPU i, so the pipeline's own flowQueue
 * picks queue i for every frame it gets. It counts its frames in its own Accounting, renders the
 * results lines itself (with replay's resultLine, so the lines are the single-threaded ones) and
 * sends FrameResults back only when the coordinator writes --out captures.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { workersGate } from '../../maps/shared-types.js';
import { Accounting } from '../../datapath/accounting.js';
import {
  ByteReader,
  ByteWriter,
  StringTable,
  accountingJson,
  decodeFrame,
  encodeResult,
  newInFrame,
  serializeError,
  type BatchDone,
  type FromWorker,
  type RunFlags,
  type ToWorker,
  type WorkerInit,
} from '../../datapath/workers/protocol.js';
import { buildSharedDatapath } from './replay-workers.js';
import { resultLine, type LineWriter } from './replay.js';

/** BufferLines collects results lines in memory (the LineWriter of replay's resultLine). */
class BufferLines implements LineWriter {
  private buf: Buffer = Buffer.allocUnsafe(1 << 16);
  private pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  push(text: string): void {
    this.room(text.length * 3);
    this.pos += this.buf.write(text, this.pos, 'utf8');
  }

  pushHex(b: Uint8Array): void {
    this.room(2 * b.length);
    this.pos += this.buf.write(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex'), this.pos, 'latin1');
  }

  /** length is the number of bytes so far. */
  get length(): number {
    return this.pos;
  }

  /** take returns the bytes so far as a transferable buffer and starts again. */
  take(): ArrayBuffer {
    const out = new ArrayBuffer(this.pos);
    new Uint8Array(out).set(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }
}

function post(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  parentPort?.postMessage(m, transfer);
}

function main(init: WorkerInit): void {
  const port = parentPort;
  if (port === null) return;
  let dp: ReturnType<typeof buildSharedDatapath>;
  try {
    dp = buildSharedDatapath(init, init.slot);
  } catch (e) {
    post({ type: 'error', error: serializeError(e) });
    return;
  }
  const devs = dp.topology.interfaces;
  const pipeline = dp.pipeline;
  const acc = new Accounting();
  const strings = new StringTable();
  const out = new ByteWriter();
  const lines = new BufferLines();
  const inf = newInFrame();
  let flags: RunFlags = { results: false, frames: false };
  port.on('message', (m: ToWorker) => {
    try {
      if (m.type === 'go') {
        flags = m.flags;
        workersGate.started = true;
        return;
      }
      if (m.type === 'finish') {
        post({ type: 'accounting', acc: accountingJson(acc) });
        return;
      }
      const rd = new ByteReader(m.buf);
      const lineIndex = flags.results ? new Uint32Array(2 * rd.count) : undefined;
      for (let i = 0; i < rd.count; i++) {
        decodeFrame(rd, inf);
        const f = inf.frame;
        const r = pipeline.process(f.data, devs[inf.iface]);
        acc.add(inf.index, f.data.length, r);
        if (lineIndex !== undefined) {
          const before = lines.length;
          resultLine(lines, inf.index, f, r, m.file);
          lineIndex[2 * i] = inf.pos;
          lineIndex[2 * i + 1] = lines.length - before;
        }
        if (flags.frames) encodeResult(out, strings, inf.pos, r);
      }
      const l = lineIndex !== undefined ? lines.take() : undefined;
      const b = flags.frames ? out.finish() : undefined;
      const done: BatchDone = {
        type: 'done',
        id: m.id,
        strings: strings.take(),
        ...(l !== undefined && lineIndex !== undefined ? { lines: l, lineIndex } : {}),
        ...(b !== undefined ? { results: b } : {}),
      };
      const transfer: ArrayBuffer[] = [];
      if (l !== undefined && lineIndex !== undefined) transfer.push(l, lineIndex.buffer as ArrayBuffer);
      if (b !== undefined) transfer.push(b);
      post(done, transfer);
    } catch (e) {
      post({ type: 'error', error: serializeError(e) });
    }
  });
  post({ type: 'ready' });
}

main(workerData as WorkerInit);
