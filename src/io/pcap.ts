/**
 * pcap — the classic libpcap file format: a streaming reader and a streaming writer.
 *
 * File header (24 bytes): magic, version 2.4, thiszone, sigfigs, snaplen, link type (low 16 bits;
 * bit 26 says bits 28-31 give the FCS length in 16-bit words). Magic 0xa1b2c3d4 marks microsecond
 * timestamps, 0xa1b23c4d nanosecond; read in the other byte order they mark a big-endian file.
 * Each record: ts_sec, ts_usec|ts_nsec, caplen, len, then caplen bytes.
 *
 * Our own reader rather than the `pcap-parser` package: that one reads only microsecond files,
 * buffers through an event emitter without backpressure on the consumer, and reports neither
 * the byte offset of a bad record nor impossible lengths; here the format is 30 lines.
 *
 * Refused (CaptureError, code in brackets): a file shorter than its header or ending inside a
 * record [CAPTURE_TRUNCATED], an unknown magic [CAPTURE_BAD_MAGIC], a version other than 2
 * [CAPTURE_BAD_HEADER], caplen above the snaplen or above 256 KiB [CAPTURE_BAD_LENGTH], an
 * unsupported link type [CAPTURE_LINKTYPE]. Every frame before the bad record is yielded first.
 */
import { CaptureError } from '../errors.js';
import { ByteSource, DEFAULT_CHUNK, FrameScratch, SCRATCH_MAX, type CaptureSource } from './byte-source.js';
import { MAX_CAPLEN, type CaptureInterface, type CaptureNote, type Frame, type FrameCursor, type FrameInput, type ReadOptions } from './frames.js';
import { LINKTYPE } from './linktype.js';
import { Batch, CaptureReader, LinkMode, ReaderContext, type InterfaceState } from './reader.js';
import { ByteSink, DEFAULT_WRITE_BUFFER, type CaptureTarget } from './sink.js';
import { basename } from 'node:path';

/** PCAP_MAGIC holds the classic pcap magic numbers as read in the file's own byte order. */
export const PCAP_MAGIC = { MICRO: 0xa1b2c3d4, NANO: 0xa1b23c4d, MODIFIED: 0xa1b2cd34 } as const;

const FILE_HEADER = 24;
const EMPTY = new Uint8Array(0);
const RECORD_HEADER = 16;

/** isPcapMagic tells whether the first 4 bytes (read little-endian) start a classic pcap file. */
export function isPcapMagic(m: number): boolean {
  return (
    m === PCAP_MAGIC.MICRO || m === PCAP_MAGIC.NANO || m === PCAP_MAGIC.MODIFIED ||
    m === 0xd4c3b2a1 || m === 0x4d3cb2a1 || m === 0x34cdb2a1
  );
}

/** PcapHeader is what the file header says, as the record loop needs it. */
interface PcapHeader {
  readonly le: boolean;
  /** fracScale turns the record's fraction into nanoseconds (1000 for microsecond files). */
  readonly fracScale: number;
  readonly snaplen: number;
  /** limit is the largest caplen accepted. */
  readonly limit: number;
  readonly st: InterfaceState;
}

/**
 * readHeader checks the 24-byte file header available at the cursor, registers the interface
 * and skips the header; shared by the async parser and the synchronous cursor so both refuse
 * the same files with the same errors.
 */
function readHeader(src: ByteSource, ctx: ReaderContext): PcapHeader {
  const v = src.view;
  const p = src.pos;
  const m = v.getUint32(p, true);
  let le: boolean;
  let nano: boolean;
  switch (m) {
    case PCAP_MAGIC.MICRO: le = true; nano = false; break;
    case PCAP_MAGIC.NANO: le = true; nano = true; break;
    case 0xd4c3b2a1: le = false; nano = false; break;
    case 0x4d3cb2a1: le = false; nano = true; break;
    case PCAP_MAGIC.MODIFIED:
    case 0x34cdb2a1:
      throw ctx.error('CAPTURE_BAD_MAGIC', 'Kuznetzov\'s modified pcap format (magic 0xa1b2cd34) is not supported', 0);
    default:
      throw ctx.error('CAPTURE_BAD_MAGIC', `not a pcap file: magic 0x${m.toString(16).padStart(8, '0')}`, 0);
  }
  const major = v.getUint16(p + 4, le);
  const minor = v.getUint16(p + 6, le);
  if (major !== 2) {
    throw ctx.error('CAPTURE_BAD_HEADER', `pcap version ${major}.${minor} is not supported (expected 2.x)`, 0, { major, minor });
  }
  const snaplen = v.getUint32(p + 16, le);
  const linkField = v.getUint32(p + 20, le);
  const linkType = linkField & 0xffff;
  const info = {
    section: 0,
    idInSection: 0,
    linkType,
    snaplen,
    tsresol: { base: 10 as const, exponent: nano ? 9 : 6 },
    tsOffsetSec: 0,
    fileOffset: 0,
    ...((linkField & 0x0400_0000) !== 0 ? { fcsLen: (linkField >>> 28) * 2 } : {}),
  };
  const limit = snaplen === 0 || snaplen > MAX_CAPLEN ? MAX_CAPLEN : snaplen;
  const st = ctx.addInterface(info, limit);
  ctx.useInterface(st, 0);
  src.skip(FILE_HEADER);
  return { le, fracScale: nano ? 1 : 1000, snaplen, limit, st };
}

function headerTruncated(src: ByteSource, ctx: ReaderContext): CaptureError {
  return ctx.error('CAPTURE_TRUNCATED', `pcap file header truncated: ${src.available} of ${FILE_HEADER} bytes`, 0);
}

function recordHeaderTruncated(src: ByteSource, ctx: ReaderContext): CaptureError {
  return ctx.error('CAPTURE_TRUNCATED', `record header truncated: ${src.available} of ${RECORD_HEADER} bytes`, src.offset);
}

function badLength(ctx: ReaderContext, h: PcapHeader, caplen: number, off: number): CaptureError {
  return ctx.error(
    'CAPTURE_BAD_LENGTH',
    `record caplen ${caplen} exceeds ${caplen > MAX_CAPLEN ? `the ${MAX_CAPLEN}-byte maximum` : `the snaplen ${h.snaplen}`}`,
    off,
    { caplen, snaplen: h.snaplen },
  );
}

function recordTruncated(src: ByteSource, ctx: ReaderContext, total: number, off: number, caplen: number): CaptureError {
  return ctx.error('CAPTURE_TRUNCATED', `record truncated: ${src.available} of ${total} bytes`, off, { caplen });
}

/** parsePcap is the classic pcap parser (see the module comment for what it refuses). */
export async function* parsePcap(src: ByteSource, ctx: ReaderContext): AsyncGenerator<Frame[], void, undefined> {
  if (!(await src.need(FILE_HEADER))) throw headerTruncated(src, ctx);
  const h = readHeader(src, ctx);
  const { le, fracScale, limit, st } = h;
  const batch = new Batch();
  try {
    for (;;) {
      if (src.available < RECORD_HEADER) {
        if (batch.size > 0) yield batch.take();
        if (!(await src.need(RECORD_HEADER))) {
          if (src.available === 0) return;
          throw recordHeaderTruncated(src, ctx);
        }
      }
      const v = src.view;
      const p = src.pos;
      const off = src.offset;
      const sec = v.getUint32(p, le);
      const frac = v.getUint32(p + 4, le);
      const caplen = v.getUint32(p + 8, le);
      const len = v.getUint32(p + 12, le);
      if (caplen > limit) throw badLength(ctx, h, caplen, off);
      const total = RECORD_HEADER + caplen;
      if (src.available < total) {
        if (batch.size > 0) yield batch.take();
        if (!(await src.need(total))) throw recordTruncated(src, ctx, total, off, caplen);
      }
      const data = src.copy(RECORD_HEADER, caplen);
      src.skip(total);
      let nsec = frac * fracScale;
      let s = sec;
      if (nsec >= 1e9) {
        s += Math.floor(nsec / 1e9);
        nsec %= 1e9;
      }
      if (batch.add(ctx.frame(st, data, len, s, nsec, off, undefined, undefined, undefined))) yield batch.take();
    }
  } catch (e) {
    if (batch.size > 0) yield batch.take();
    throw e;
  }
}

/**
 * PcapCursor reads a classic pcap file synchronously, one frame per `next()`, with no private
 * copy: the frame it returns is one reused object whose `data` is a view into the read buffer
 * (or, for short frames, into a FrameScratch), valid until the next call (process it, or copy
 * what must be kept, before calling again). It refuses the
 * same files with the same CaptureErrors as parsePcap, thrown by the `next()` after the last
 * good frame. Measured on 64-byte frames: this, rather than batches() with a private copy per
 * frame and a promise per batch, removed about a third of the per-frame cost of `xdpsim replay`.
 */
export class PcapCursor implements FrameCursor {
  readonly file: string;
  private readonly src: ByteSource;
  private readonly ctx: ReaderContext;
  private h: PcapHeader | undefined;
  private readonly cur: Frame;
  private readonly scratch = new FrameScratch();
  private done = false;

  /** Use openCursor (capture.ts), which checks the magic first. */
  constructor(path: string, opts: ReadOptions = {}) {
    this.file = opts.fileName ?? basename(path);
    this.src = ByteSource.open(path, this.file, opts.chunkSize ?? DEFAULT_CHUNK);
    this.ctx = new ReaderContext(this.file, opts.convertLinkTypes ?? true, opts.onNote);
    this.cur = { data: EMPTY, origLen: 0, tsSec: 0, tsNsec: 0, interfaceIndex: 0, linkType: 0, comment: undefined, flags: undefined, verdicts: undefined, index: 0, fileOffset: 0 };
  }

  /** interfaces lists the capture's interface (once the header is read). */
  get interfaces(): readonly CaptureInterface[] {
    return this.ctx.interfaces;
  }

  /** notes lists what the reader did or noticed so far. */
  get notes(): readonly CaptureNote[] {
    return this.ctx.notes;
  }

  /** offset is the file offset of the next unread byte. */
  get offset(): number {
    return this.src.offset;
  }

  /** next returns the next frame (a reused object, see the class comment) or undefined at the end. */
  next(): Frame | undefined {
    if (this.done) return undefined;
    const src = this.src;
    let h = this.h;
    if (h === undefined) {
      if (!src.needSync(FILE_HEADER)) throw this.fail(headerTruncated(src, this.ctx));
      try {
        h = this.h = readHeader(src, this.ctx);
      } catch (e) {
        throw this.fail(e);
      }
    }
    const le = h.le;
    if (src.available < RECORD_HEADER && !src.needSync(RECORD_HEADER)) {
      if (src.available === 0) {
        this.done = true;
        return undefined;
      }
      throw this.fail(recordHeaderTruncated(src, this.ctx));
    }
    let v = src.view;
    let p = src.pos;
    const off = src.offset;
    const caplen = v.getUint32(p + 8, le);
    if (caplen > h.limit) throw this.fail(badLength(this.ctx, h, caplen, off));
    const total = RECORD_HEADER + caplen;
    if (src.available < total) {
      if (!src.needSync(total)) throw this.fail(recordTruncated(src, this.ctx, total, off, caplen));
      v = src.view;
      p = src.pos;
    }
    const sec = v.getUint32(p, le);
    const frac = v.getUint32(p + 4, le);
    const len = v.getUint32(p + 12, le);
    src.skip(total);
    let nsec = frac * h.fracScale;
    let s = sec;
    if (nsec >= 1e9) {
      s += Math.floor(nsec / 1e9);
      nsec %= 1e9;
    }
    if (h.st.mode !== LinkMode.AsIs) return this.ctx.frame(h.st, src.buf.subarray(p + RECORD_HEADER, p + total), len, s, nsec, off, undefined, undefined, undefined);
    const data = caplen <= SCRATCH_MAX ? this.scratch.take(src.buf, v, p + RECORD_HEADER, caplen) : src.buf.subarray(p + RECORD_HEADER, p + total);
    const f = this.cur;
    f.data = data;
    f.origLen = len;
    f.tsSec = s;
    f.tsNsec = nsec;
    f.linkType = h.st.info.linkType;
    f.index = this.ctx.nextIndex();
    f.fileOffset = off;
    return f;
  }

  /**
   * nextWhere is `next` for a reader that wants only some frames (a `replay --workers` thread
   * wants its rx queue's): `keep(buf, start, end)` is asked once about every frame, with its
   * captured bytes at buf[start, end), and a frame it refuses is skipped without building its
   * Frame (its index still counts). Measured: building the view of every frame cost three times
   * walking the records. Frames of a converted link type are built first and asked about after.
   */
  nextWhere(keep: (buf: Uint8Array, start: number, end: number) => boolean): Frame | undefined {
    for (;;) {
      const h = this.h;
      if (!this.done && h !== undefined && h.st.mode === LinkMode.AsIs) {
        // Whole records in the buffer: ask and skip without leaving the loop.
        const src = this.src;
        const buf = src.buf;
        const v = src.view;
        const le = h.le;
        const end = src.end;
        let p = src.pos;
        while (end - p >= RECORD_HEADER) {
          const caplen = v.getUint32(p + 8, le);
          const total = RECORD_HEADER + caplen;
          if (caplen > h.limit || end - p < total) break;
          if (keep(buf, p + RECORD_HEADER, p + total)) {
            src.pos = p;
            return this.next();
          }
          this.ctx.nextIndex();
          p += total;
        }
        src.pos = p;
      }
      // The header, a record across the end of the buffer, a bad record, the end: next() decides.
      const f = this.next();
      if (f === undefined || keep(f.data, 0, f.data.length)) return f;
    }
  }

  /** close releases the file. */
  close(): void {
    this.done = true;
    this.src.closeSync();
  }

  private fail(e: unknown): unknown {
    this.done = true;
    return e;
  }
}

/** readPcap reads a classic pcap file or stream (see CaptureReader). */
export function readPcap(source: CaptureSource, opts: ReadOptions = {}): CaptureReader {
  return new CaptureReader(source, opts, (magic, ctx) => {
    if (magic === undefined) throw ctx.error('CAPTURE_TRUNCATED', 'file shorter than a pcap magic number', 0);
    return { format: 'pcap', parse: parsePcap };
  });
}

/** PcapWriterOptions configures a PcapWriter. */
export interface PcapWriterOptions {
  /** nanosecond selects nanosecond timestamps (magic 0xa1b23c4d); default microsecond. */
  nanosecond?: boolean;
  /** linkType is written in the header; default LINKTYPE_ETHERNET. */
  linkType?: number;
  /** snaplen is written in the header and frames longer are cut to it; default 262144. */
  snaplen?: number;
  /** bigEndian writes the file big-endian; default little-endian. */
  bigEndian?: boolean;
  /** bufferSize is the flush threshold in bytes (default 64 KiB; 0 writes every record through). */
  bufferSize?: number;
  /** fileName names a stream target in errors. */
  fileName?: string;
}

/**
 * PcapWriter writes a classic pcap file as frames arrive. What has been flushed is always a
 * valid file; `close()` flushes the rest and finishes it.
 */
export class PcapWriter {
  private readonly sink: ByteSink;
  private readonly le: boolean;
  private readonly nano: boolean;
  private readonly snaplen: number;
  /** framesWritten counts frames written so far. */
  framesWritten = 0;

  constructor(target: CaptureTarget, opts: PcapWriterOptions = {}) {
    const file = opts.fileName ?? (typeof target === 'string' ? basename(target) : '<stream>');
    this.sink = new ByteSink(target, file, opts.bufferSize ?? DEFAULT_WRITE_BUFFER);
    this.le = opts.bigEndian !== true;
    this.nano = opts.nanosecond === true;
    this.snaplen = opts.snaplen ?? MAX_CAPLEN;
    const at = this.sink.reserve(FILE_HEADER);
    const v = this.sink.view;
    v.setUint32(at, this.nano ? PCAP_MAGIC.NANO : PCAP_MAGIC.MICRO, this.le);
    v.setUint16(at + 4, 2, this.le);
    v.setUint16(at + 6, 4, this.le);
    v.setUint32(at + 16, this.snaplen, this.le);
    v.setUint32(at + 20, opts.linkType ?? LINKTYPE.ETHERNET, this.le);
    this.sink.endRecord();
  }

  /** write appends one frame (cut to the snaplen; origLen defaults to the data length). */
  write(frame: FrameInput): void {
    const caplen = Math.min(frame.data.length, this.snaplen);
    const origLen = Math.max(frame.origLen ?? frame.data.length, caplen);
    if (!Number.isInteger(frame.tsSec) || frame.tsSec < 0 || frame.tsSec > 0xffffffff) {
      throw new CaptureError('CAPTURE_BAD_TIMESTAMP', `${this.sink.file}: timestamp ${frame.tsSec} s does not fit a pcap record`, { file: this.sink.file });
    }
    const at = this.sink.reserve(RECORD_HEADER + caplen);
    const v = this.sink.view;
    v.setUint32(at, frame.tsSec, this.le);
    v.setUint32(at + 4, this.nano ? frame.tsNsec : Math.floor(frame.tsNsec / 1000), this.le);
    v.setUint32(at + 8, caplen, this.le);
    v.setUint32(at + 12, origLen, this.le);
    this.sink.bytes.set(caplen === frame.data.length ? frame.data : frame.data.subarray(0, caplen), at + RECORD_HEADER);
    this.framesWritten++;
    this.sink.endRecord();
  }

  /** flush hands buffered frames to the file or stream. */
  flush(): void {
    this.sink.flush();
  }

  /** drain waits while a stream target asks for backpressure. */
  drain(): Promise<void> {
    return this.sink.drain();
  }

  /** close flushes and finishes the file. */
  close(): Promise<void> {
    return this.sink.close();
  }

  /** closeSync flushes and closes at once (for exit handlers). */
  closeSync(): void {
    this.sink.closeSync();
  }
}
