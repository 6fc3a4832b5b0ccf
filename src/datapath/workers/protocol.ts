/**
 * protocol — what the coordinator and the worker threads of `xdpsim replay --workers N` send each
 * other, in compact binary form (structured cloning a FrameResult per frame would cost more than
 * running the program).
 *
 * Frames batch (coordinator → worker, transferred ArrayBuffer): u32 count, then per frame
 * u32 position in the coordinator's batch, u32 interface number (position in the topology's
 * interface list), u32 length, the bytes, padded to 4.
 *
 * Results batch (worker → coordinator, transferred ArrayBuffer, plus the strings first used in
 * it): u32 count, then per frame a FrameResult with every string as a number in the worker's
 * string table (NONE for absent): position, iface, queue, cpu, disposition, at, reason, hops,
 * hook count, per hook (hook, iface, program, retval, verdict, fault as JSON), out count, per out
 * frame (iface, xsk + 1 or 0, length, bytes padded to 4).
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
import type { Disposition, FrameResult, HookRun, OutFrame } from '../accounting.js';
import type { VmFault } from '../../vm/fault.js';

/** NONE marks an absent string. */
const NONE = 0xffffffff;

/** WorkerInit is the workerData of a worker thread. */
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
}

/** SerializedError is an error as it crosses threads. */
export interface SerializedError {
  readonly kind: string;
  readonly code?: string;
  readonly message: string;
  readonly fields?: ErrorFields;
  readonly stack?: string;
}

/** ToWorker is a message to a worker. */
export type ToWorker = { readonly type: 'go' } | { readonly type: 'batch'; readonly id: number; readonly buf: ArrayBuffer };

/** FromWorker is a message from a worker. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly id: number; readonly buf: ArrayBuffer; readonly strings: readonly string[] }
  | { readonly type: 'error'; readonly error: SerializedError };

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
