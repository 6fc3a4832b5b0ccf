/**
 * protocol — what the coordinator and the worker threads of `xdpsim replay --workers N` send each
 * other, in compact binary form (structured cloning a FrameResult per frame would cost more than
 * running the program).
 *
 * Frames batch (coordinator → worker, transferred ArrayBuffer): u32 count, then per frame
 * (encodeFrame) its position in the coordinator's batch, its replay-wide index, the interface
 * number (position in the topology's interface list), the capture fields a results line or a
 * capture needs, the bytes padded to 4.
 *
 * What comes back per batch, each part only when the run asks for it: the results lines the
 * worker rendered (one run of bytes, and per frame its position and line length), for --out the
 * FrameResults (encodeResult: every string as a number in the worker's string table, NONE for
 * absent, plus the strings first used in this batch). Each worker counts its own frames in an
 * Accounting, sent once at the end (AccountingJson) and merged by the coordinator.
 *
 * Errors cross as SerializedError and are rebuilt as the same XdpsimError subclass and code.
 */
import {
  CaptureError,
  DecodeError,
  LoadError,
  NotSupportedError,
  UsageError,
  VerifyError,
  XdpsimError,
  isXdpsimError,
  type ErrorFields,
} from '../../errors.js';
import { Counter, type Accounting, type Disposition, type FaultCount, type FrameResult, type HookRun, type OutFrame } from '../accounting.js';
import type { Frame } from '../../io/frames.js';
import type { VmFault } from '../../vm/fault.js';

/** NONE marks an absent string. */
const NONE = 0xffffffff;

/** WorkerInit is the workerData of a worker thread (or its first message, `init`, when it was prespawned). */
export interface WorkerInit {
  readonly backing: WebAssembly.Memory;
  /** slot is the worker's private range in the shared memory (1..N; the coordinator has 0). */
  readonly slot: number;
  readonly workers: number;
  readonly ifaces: readonly string[];
  readonly topology?: string;
  readonly hooks: { readonly xdp: readonly string[]; readonly tcIngress: readonly string[]; readonly tcEgress: readonly string[] };
  readonly engine: string;
  readonly maxHops?: number;
  readonly preload?: string;
  /**
   * ownQueue is set when no frame crosses threads (no per-frame output): the worker reads these
   * captures itself and runs its queue's frames up to replay-wide frame `limit`, then sends its
   * accounting unasked.
   */
  readonly ownQueue?: { readonly captures: readonly string[]; readonly limit: number };
}

/** SerializedError is an error as it crosses threads. */
export interface SerializedError {
  readonly kind: string;
  readonly code?: string;
  readonly message: string;
  readonly fields?: ErrorFields;
  readonly stack?: string;
}

/** RunFlags say what the coordinator needs back per frame. */
export interface RunFlags {
  /** results: render results lines (--results). */
  readonly results: boolean;
  /** frames: send every FrameResult back (--out). */
  readonly frames: boolean;
}

/** ToWorker is a message to a worker. */
export type ToWorker =
  | { readonly type: 'init'; readonly init: WorkerInit }
  | { readonly type: 'go'; readonly flags: RunFlags }
  | { readonly type: 'batch'; readonly id: number; readonly buf: ArrayBuffer; readonly file?: string }
  | { readonly type: 'finish' };

/** BatchDone is a worker's answer to one batch. */
export interface BatchDone {
  readonly type: 'done';
  readonly id: number;
  /** lines holds the rendered results lines; lineIndex per frame its position and line length. */
  readonly lines?: ArrayBuffer;
  readonly lineIndex?: Uint32Array;
  /** results holds the encoded FrameResults, strings the strings they use first. */
  readonly results?: ArrayBuffer;
  readonly strings: readonly string[];
}

/** FromWorker is a message from a worker. */
export type FromWorker =
  | { readonly type: 'ready' }
  | BatchDone
  | { readonly type: 'accounting'; readonly acc: AccountingJson }
  | { readonly type: 'error'; readonly error: SerializedError };

/** AccountingJson is an Accounting as it crosses threads. */
export interface AccountingJson {
  readonly framesIn: number;
  readonly bytesIn: number;
  readonly dispositions: Array<[string, number]>;
  readonly verdicts: Array<[string, Array<[string, number]>]>;
  readonly framesOut: Array<[string, number]>;
  readonly delivered: Array<[string, number]>;
  readonly dropReasons: Array<[string, number]>;
  readonly faults: Array<[string, FaultCount]>;
}

/** accountingJson captures an Accounting. */
export function accountingJson(a: Accounting): AccountingJson {
  return {
    framesIn: a.framesIn,
    bytesIn: a.bytesIn,
    dispositions: [...a.dispositions.entries()],
    verdicts: [...a.verdicts].map(([k, c]) => [k, [...c.entries()]]),
    framesOut: [...a.framesOut.entries()],
    delivered: [...a.delivered.entries()],
    dropReasons: [...a.dropReasons.entries()],
    faults: [...a.faults],
  };
}

function addCounts(c: Counter, entries: ReadonlyArray<[string, number]>): void {
  for (const [k, n] of entries) c.add(k, n);
}

/** mergeAccounting adds a worker's counts to `into` (a fault's first frame is the smallest index). */
export function mergeAccounting(into: Accounting, a: AccountingJson): void {
  into.framesIn += a.framesIn;
  into.bytesIn += a.bytesIn;
  addCounts(into.dispositions, a.dispositions);
  for (const [k, entries] of a.verdicts) {
    let c = into.verdicts.get(k);
    if (c === undefined) into.verdicts.set(k, (c = new Counter()));
    addCounts(c, entries);
  }
  addCounts(into.framesOut, a.framesOut);
  addCounts(into.delivered, a.delivered);
  addCounts(into.dropReasons, a.dropReasons);
  for (const [k, f] of a.faults) {
    const have = into.faults.get(k);
    if (have === undefined) into.faults.set(k, { ...f });
    else {
      have.count += f.count;
      if (f.firstFrame < have.firstFrame) have.firstFrame = f.firstFrame;
    }
  }
}

const ERROR_CLASSES: ReadonlyMap<string, new (code: string, message: string, fields: ErrorFields) => XdpsimError> = new Map<string, new (code: string, message: string, fields: ErrorFields) => XdpsimError>([
  ['DecodeError', DecodeError],
  ['LoadError', LoadError],
  ['VerifyError', VerifyError],
  ['NotSupportedError', NotSupportedError],
  ['UsageError', UsageError],
  ['CaptureError', CaptureError],
  ['XdpsimError', XdpsimError],
]);

/** serializeError turns a thrown value into a SerializedError. */
export function serializeError(e: unknown): SerializedError {
  if (isXdpsimError(e)) return { kind: e.name, code: e.code, message: e.message, fields: e.fields };
  if (e instanceof Error) return { kind: 'Error', message: e.message, stack: e.stack };
  return { kind: 'Error', message: String(e) };
}

/** deserializeError rebuilds the error a worker threw: the same XdpsimError class and code, or an Error. */
export function deserializeError(s: SerializedError, slot: number): Error {
  const ctor = ERROR_CLASSES.get(s.kind);
  if (ctor !== undefined && s.code !== undefined) return new ctor(s.code, s.message, s.fields ?? {});
  const err = new Error(`worker ${slot}: ${s.message}`);
  if (s.stack !== undefined) err.stack = `${err.message}\n(worker stack)\n${s.stack}`;
  return err;
}

/** ByteWriter appends u32 words and byte runs to a growable buffer. */
export class ByteWriter {
  private buf: ArrayBuffer;
  private u8: Uint8Array;
  private dv: DataView;
  private pos = 4;
  private n = 0;

  constructor(size = 1 << 16) {
    this.buf = new ArrayBuffer(size);
    this.u8 = new Uint8Array(this.buf);
    this.dv = new DataView(this.buf);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.byteLength) return;
    const next = new ArrayBuffer(Math.max(this.buf.byteLength * 2, this.pos + n));
    new Uint8Array(next).set(this.u8.subarray(0, this.pos));
    this.buf = next;
    this.u8 = new Uint8Array(next);
    this.dv = new DataView(next);
  }

  /** u32 appends a little-endian u32. */
  u32(v: number): void {
    this.room(4);
    this.dv.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }

  /** bytes appends a length-prefixed byte run padded to 4. */
  bytes(b: Uint8Array): void {
    const len = b.length;
    this.room(4 + len + 3);
    this.dv.setUint32(this.pos, len, true);
    this.u8.set(b, this.pos + 4);
    this.pos += 4 + ((len + 3) & ~3);
  }

  /** record counts one record (the leading u32 of the buffer). */
  record(): void {
    this.n++;
  }

  /** count is the number of records so far. */
  get count(): number {
    return this.n;
  }

  /** finish returns the buffer (trimmed) and starts a new one. */
  finish(): ArrayBuffer {
    this.dv.setUint32(0, this.n, true);
    const out = this.buf.slice(0, this.pos);
    this.pos = 4;
    this.n = 0;
    return out;
  }
}

/** ByteReader reads what a ByteWriter wrote. */
export class ByteReader {
  private readonly u8: Uint8Array;
  private readonly dv: DataView;
  private pos = 4;
  /** count is the number of records. */
  readonly count: number;

  constructor(buf: ArrayBuffer) {
    this.u8 = new Uint8Array(buf);
    this.dv = new DataView(buf);
    this.count = this.dv.getUint32(0, true);
  }

  /** u32 reads a u32. */
  u32(): number {
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** bytes returns a view of the next byte run (valid as long as the buffer). */
  bytes(): Uint8Array {
    const len = this.dv.getUint32(this.pos, true);
    const v = this.u8.subarray(this.pos + 4, this.pos + 4 + len);
    this.pos += 4 + ((len + 3) & ~3);
    return v;
  }
}

/** StringTable interns strings on the worker side; `fresh` collects those not sent yet. */
export class StringTable {
  private readonly ids = new Map<string, number>();
  private fresh: string[] = [];

  /** id returns the number of `s`. */
  id(s: string | undefined): number {
    if (s === undefined) return NONE;
    let i = this.ids.get(s);
    if (i === undefined) {
      i = this.ids.size;
      this.ids.set(s, i);
      this.fresh.push(s);
    }
    return i;
  }

  /** take returns the strings first used since the last take. */
  take(): string[] {
    const f = this.fresh;
    this.fresh = [];
    return f;
  }
}

/** encodeFrame appends one input frame: its position in the batch, replay-wide index and interface number. */
export function encodeFrame(w: ByteWriter, pos: number, index: number, iface: number, f: Frame): void {
  w.record();
  w.u32(pos);
  w.u32(index);
  w.u32(iface);
  w.u32(f.index);
  w.u32(f.origLen);
  w.u32(f.tsSec);
  w.u32(f.tsNsec);
  w.u32(f.interfaceIndex);
  w.u32(f.linkType);
  w.bytes(f.data);
}

/** InFrame is a decoded input frame; `frame` is reused by the next decodeFrame. */
export interface InFrame {
  pos: number;
  index: number;
  iface: number;
  readonly frame: Frame;
}

/** newInFrame makes the reusable target of decodeFrame (fileOffset is not carried: nothing in a worker reads it). */
export function newInFrame(): InFrame {
  return { pos: 0, index: 0, iface: 0, frame: { data: new Uint8Array(0), origLen: 0, tsSec: 0, tsNsec: 0, interfaceIndex: 0, linkType: 0, index: 0, fileOffset: 0 } };
}

/** decodeFrame reads one input frame into `into` (its data a view of the batch buffer). */
export function decodeFrame(rd: ByteReader, into: InFrame): void {
  into.pos = rd.u32();
  into.index = rd.u32();
  into.iface = rd.u32();
  const f = into.frame;
  f.index = rd.u32();
  f.origLen = rd.u32();
  f.tsSec = rd.u32();
  f.tsNsec = rd.u32();
  f.interfaceIndex = rd.u32();
  f.linkType = rd.u32();
  f.data = rd.bytes();
}

/** encodeResult appends one frame's result to `w`. */
export function encodeResult(w: ByteWriter, t: StringTable, pos: number, r: FrameResult): void {
  w.record();
  w.u32(pos);
  w.u32(t.id(r.iface));
  w.u32(r.queue);
  w.u32(r.cpu);
  w.u32(t.id(r.disposition));
  w.u32(t.id(r.at));
  w.u32(t.id(r.reason));
  w.u32(r.hops);
  w.u32(r.hooks.length);
  for (const h of r.hooks) {
    w.u32(t.id(h.hook));
    w.u32(t.id(h.iface));
    w.u32(t.id(h.program));
    w.u32(h.retval);
    w.u32(t.id(h.verdict));
    w.u32(t.id(h.fault === undefined ? undefined : JSON.stringify(h.fault)));
  }
  w.u32(r.out.length);
  for (const o of r.out) {
    w.u32(t.id(o.iface));
    w.u32(o.xsk === undefined ? 0 : o.xsk + 1);
    w.bytes(o.data);
  }
}

/** decodeResult reads one frame's result (its position in the batch and the FrameResult, bytes copied). */
export function decodeResult(rd: ByteReader, strings: readonly string[]): { pos: number; result: FrameResult } {
  const s = (i: number): string | undefined => (i === NONE ? undefined : strings[i]);
  const pos = rd.u32();
  const iface = s(rd.u32()) ?? '';
  const queue = rd.u32();
  const cpu = rd.u32();
  const disposition = s(rd.u32()) as Disposition;
  const at = s(rd.u32());
  const reason = s(rd.u32());
  const hops = rd.u32();
  const hooks: HookRun[] = [];
  for (let n = rd.u32(); n > 0; n--) {
    const hook = s(rd.u32()) ?? '';
    const hIface = s(rd.u32()) ?? '';
    const program = s(rd.u32()) ?? '';
    const retval = rd.u32();
    const verdict = s(rd.u32()) ?? '';
    const fault = s(rd.u32());
    hooks.push(fault === undefined ? { hook, iface: hIface, program, retval, verdict } : { hook, iface: hIface, program, retval, verdict, fault: JSON.parse(fault) as VmFault });
  }
  const out: OutFrame[] = [];
  for (let n = rd.u32(); n > 0; n--) {
    const oIface = s(rd.u32()) ?? '';
    const xsk = rd.u32();
    const data = rd.bytes().slice();
    out.push(xsk === 0 ? { iface: oIface, data } : { iface: oIface, data, xsk: xsk - 1 });
  }
  const result: FrameResult = { iface, queue, cpu, hooks, disposition, out, hops };
  if (at !== undefined) result.at = at;
  if (reason !== undefined) result.reason = reason;
  return { pos, result };
}
