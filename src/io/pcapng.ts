/**
 * pcapng — the pcapng file format (draft-ietf-opsawg-pcapng): a streaming reader and writer.
 *
 * Every block is type, total length, body, total length again. A Section Header Block (type
 * 0x0A0D0D0A, a palindrome) starts each section and fixes its byte order through the magic
 * 0x1A2B3C4D; interfaces (IDBs) are numbered from 0 in each section and a new SHB forgets them.
 * Read: SHB, IDB (link type, snaplen, if_name, if_tsresol as a power of 10 or — high bit set — of
 * 2, if_tsoffset, if_fcslen), EPB, SPB (captured length = min(original length, snaplen of
 * interface 0), bounded by the block), the obsolete PB; NRB, ISB, DSB, custom and unknown blocks
 * are skipped with one note per type. EPB options read: opt_comment, epb_flags, epb_verdict.
 *
 * Refused (CaptureError; every good frame before it is yielded first): no SHB at the start
 * [CAPTURE_BAD_MAGIC]; input ending inside a block [CAPTURE_TRUNCATED]; a block length that is
 * below 12 or the block type's minimum, not a multiple of 4, above 16 MiB, or different in the
 * trailer; caplen above the block, the snaplen or 256 KiB [CAPTURE_BAD_LENGTH]; an SHB of another
 * major version or byte-order magic, a packet for an undeclared interface, options overrunning
 * their block [CAPTURE_BAD_BLOCK]; an unsupported link type, at the interface's first packet
 * [CAPTURE_LINKTYPE].
 *
 * The writer puts, like xdpdump (xdp-tools lib/util/xpcapng.c), the program's verdict in the EPB
 * option epb_verdict (code 7): one type octet (2 = Linux eBPF XDP, 1 = Linux eBPF TC) and the
 * 64-bit return value in the section's byte order; plus an opt_comment Wireshark shows.
 */
import { basename } from 'node:path';
import { CaptureError, UsageError } from '../errors.js';
import { ByteSource, DEFAULT_CHUNK, FrameScratch, SCRATCH_MAX, type CaptureSource } from './byte-source.js';
import {
  EPB_VERDICT_TYPE,
  MAX_CAPLEN,
  timestampToUnits,
  unitsToTimestamp,
  type CaptureInterface,
  type CaptureNote,
  type EpbVerdict,
  type Frame,
  type FrameCursor,
  type FrameInput,
  type ReadOptions,
  type TsResolution,
} from './frames.js';
import { LINKTYPE } from './linktype.js';
import { Batch, CaptureReader, ReaderContext, type InterfaceState } from './reader.js';
import { ByteSink, DEFAULT_WRITE_BUFFER, type CaptureTarget } from './sink.js';

/** BLOCK holds the pcapng block types xdpsim knows. */
export const BLOCK = {
  SHB: 0x0a0d0d0a,
  IDB: 0x00000001,
  PB: 0x00000002,
  SPB: 0x00000003,
  NRB: 0x00000004,
  ISB: 0x00000005,
  EPB: 0x00000006,
  SJE: 0x00000009,
  DSB: 0x0000000a,
  CB_COPY: 0x00000bad,
  CB_NOCOPY: 0x40000bad,
} as const;

/** OPT holds the pcapng option codes xdpsim reads or writes. */
export const OPT = {
  END: 0,
  COMMENT: 1,
  SHB_HARDWARE: 2,
  SHB_OS: 3,
  SHB_USERAPPL: 4,
  IF_NAME: 2,
  IF_DESCRIPTION: 3,
  IF_TSRESOL: 9,
  IF_FCSLEN: 13,
  IF_TSOFFSET: 14,
  EPB_FLAGS: 2,
  EPB_VERDICT: 7,
} as const;

/** BYTE_ORDER_MAGIC is the SHB byte-order magic. */
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** MAX_BLOCK bounds one block: 16 MiB, as Wireshark does. */
export const MAX_BLOCK = 16 * 1024 * 1024;

const MIN_LEN: Record<number, number> = {
  [BLOCK.SHB]: 28,
  [BLOCK.IDB]: 20,
  [BLOCK.PB]: 32,
  [BLOCK.SPB]: 16,
  [BLOCK.EPB]: 32,
};

const SKIPPED_NAMES: Record<number, string> = {
  [BLOCK.NRB]: 'Name Resolution Block',
  [BLOCK.ISB]: 'Interface Statistics Block',
  [BLOCK.SJE]: 'systemd Journal Export Block',
  [BLOCK.DSB]: 'Decryption Secrets Block',
  [BLOCK.CB_COPY]: 'Custom Block',
  [BLOCK.CB_NOCOPY]: 'Custom Block (do not copy)',
};

const utf8 = new TextDecoder('utf-8', { fatal: false });
const utf8enc = new TextEncoder();

/** isPcapngMagic tells whether the first 4 bytes (read little-endian) start a pcapng file. */
export function isPcapngMagic(m: number): boolean {
  return m === BLOCK.SHB;
}

/** decodeTsresol turns an if_tsresol octet into a resolution (high bit set: power of 2). */
export function decodeTsresol(b: number): TsResolution {
  return (b & 0x80) !== 0 ? { base: 2, exponent: b & 0x7f } : { base: 10, exponent: b };
}

/** encodeTsresol turns a resolution into its if_tsresol octet. */
export function encodeTsresol(r: TsResolution): number {
  return r.base === 2 ? 0x80 | r.exponent : r.exponent;
}

interface Section {
  le: boolean;
  index: number;
  ifaces: { st: InterfaceState; res: TsResolution; tsOffset: number }[];
}

/** parsePcapng is the pcapng parser (see the module comment for what it reads and refuses). */
export async function* parsePcapng(src: ByteSource, ctx: ReaderContext): AsyncGenerator<Frame[], void, undefined> {
  const batch = new Batch();
  try {
    yield* blocks(src, ctx, batch);
  } catch (e) {
    if (batch.size > 0) yield batch.take();
    throw e;
  }
}

/**
 * BlockReader is the block-by-block state shared by the async parser and the synchronous cursor
 * (the current section, and the header of the block at the cursor), so both read and refuse
 * the same files with the same errors; only how they wait for bytes differs.
 */
class BlockReader {
  sec: Section | undefined;
  sections = 0;
  /** The block at the cursor, once `header` has checked it. */
  type = 0;
  le = true;
  blockLen = 0;
  off = 0;

  constructor(
    private readonly src: ByteSource,
    private readonly ctx: ReaderContext,
    /**
     * Undefined: frames get a private copy of their bytes (the async parser). Else frame bytes are
     * valid until the next block: short ones in this scratch, longer ones views of the read buffer.
     */
    private readonly scratch: FrameScratch | undefined,
  ) {}

  /** shortHeader is the end of the input with fewer than 12 bytes left: undefined at a clean end, else the error. */
  shortHeader(): CaptureError | undefined {
    const { src, ctx, off } = this;
    if (src.available === 0 && this.sec !== undefined) return undefined;
    if (this.sec === undefined && src.available < 4) {
      return ctx.error('CAPTURE_TRUNCATED', `file shorter than a pcapng section header (${src.available} bytes)`, off);
    }
    if (this.sec === undefined && src.view.getUint32(src.pos, true) !== BLOCK.SHB) {
      return ctx.error('CAPTURE_BAD_MAGIC', 'not a pcapng file: no Section Header Block at the start', off);
    }
    return ctx.error('CAPTURE_TRUNCATED', `block header truncated: ${src.available} of 12 bytes`, off);
  }

  /** header checks the 12 available header bytes of the block at the cursor (type, byte order, length). */
  header(): void {
    const { src, ctx, off } = this;
    const v = src.view;
    const p = src.pos;
    let type = v.getUint32(p, true);
    let le: boolean;
    if (type === BLOCK.SHB) {
      const bom = v.getUint32(p + 8, true);
      if (bom === BYTE_ORDER_MAGIC) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else if (this.sec === undefined) throw ctx.error('CAPTURE_BAD_MAGIC', `not a pcapng file: byte-order magic 0x${bom.toString(16).padStart(8, '0')}`, off);
      else throw ctx.error('CAPTURE_BAD_BLOCK', `Section Header Block with byte-order magic 0x${bom.toString(16).padStart(8, '0')}`, off, { blockType: type });
    } else if (this.sec === undefined) {
      throw ctx.error('CAPTURE_BAD_MAGIC', 'not a pcapng file: no Section Header Block at the start', off);
    } else {
      le = this.sec.le;
      type = v.getUint32(p, le);
    }
    const blockLen = v.getUint32(p + 4, le);
    const min = MIN_LEN[type] ?? 12;
    if (blockLen < min || blockLen % 4 !== 0 || blockLen > MAX_BLOCK) {
      const why = blockLen < min ? `below the minimum ${min}` : blockLen % 4 !== 0 ? 'not a multiple of 4' : `above the ${MAX_BLOCK}-byte maximum`;
      throw ctx.error('CAPTURE_BAD_LENGTH', `block type 0x${type.toString(16)} length ${blockLen} is ${why}`, off, { blockType: type, blockLength: blockLen });
    }
    this.type = type;
    this.le = le;
    this.blockLen = blockLen;
  }

  /** truncated is the error for a block whose `blockLen` bytes the input does not hold. */
  truncated(): CaptureError {
    const { type, blockLen } = this;
    return this.ctx.error('CAPTURE_TRUNCATED', `block type 0x${type.toString(16)} truncated: ${this.src.available} of ${blockLen} bytes`, this.off, { blockType: type, blockLength: blockLen });
  }

  /** body reads the whole block, available at the cursor, skips it, and returns its frame if it is a packet. */
  body(): Frame | undefined {
    const { src, ctx, off, type, le, blockLen } = this;
    const v = src.view;
    const p = src.pos;
    const trailer = v.getUint32(p + blockLen - 4, le);
    if (trailer !== blockLen) {
      throw ctx.error('CAPTURE_BAD_LENGTH', `block type 0x${type.toString(16)} trailing length ${trailer} differs from its leading length ${blockLen}`, off, { blockType: type, blockLength: blockLen, trailer });
    }
    const bodyEnd = p + blockLen - 4;
    const sec = this.sec;
    let frame: Frame | undefined;
    switch (type) {
      case BLOCK.SHB: {
        const major = v.getUint16(p + 12, le);
        const minor = v.getUint16(p + 14, le);
        if (major !== 1) {
          throw ctx.error('CAPTURE_BAD_BLOCK', `pcapng version ${major}.${minor} is not supported (expected 1.x)`, off, { major, minor });
        }
        readOptions(ctx, v, p + 24, bodyEnd, le, off, () => undefined);
        this.sec = { le, index: this.sections++, ifaces: [] };
        break;
      }
      case BLOCK.IDB:
        if (sec !== undefined) readIdb(ctx, sec, v, p, bodyEnd, le, off);
        break;
      case BLOCK.EPB:
      case BLOCK.PB:
        if (sec !== undefined) frame = readPacket(ctx, sec, src, v, p, bodyEnd, blockLen, le, off, type === BLOCK.PB, this.scratch);
        break;
      case BLOCK.SPB:
        if (sec !== undefined) frame = readSimplePacket(ctx, sec, src, v, p, blockLen, le, off, this.scratch);
        break;
      default: {
        const name = SKIPPED_NAMES[type] ?? `unknown block type 0x${type.toString(16).padStart(8, '0')}`;
        ctx.note('BLOCK_SKIPPED', `${name} skipped (first at byte ${off})`, off, undefined, `block:${type}`);
      }
    }
    src.skip(blockLen);
    return frame;
  }
}

async function* blocks(src: ByteSource, ctx: ReaderContext, batch: Batch): AsyncGenerator<Frame[], void, undefined> {
  const b = new BlockReader(src, ctx, undefined);
  for (;;) {
    b.off = src.offset;
    if (src.available < 12 && batch.size > 0) yield batch.take();
    if (src.available < 12 && !(await src.need(12))) {
      const e = b.shortHeader();
      if (e === undefined) return;
      throw e;
    }
    b.header();
    if (src.available < b.blockLen && batch.size > 0) yield batch.take();
    if (src.available < b.blockLen && !(await src.need(b.blockLen))) throw b.truncated();
    const frame = b.body();
    if (frame !== undefined && batch.add(frame)) yield batch.take();
  }
}

/**
 * PcapngCursor reads a pcapng file synchronously, one frame per `next()` (FrameCursor), with the
 * async parser's block reader, so it yields the same frames and refuses the same files with the
 * same CaptureErrors (file and byte offset), thrown by the `next()` after the last good frame.
 * Frame bytes are valid until the next call (short ones in a FrameScratch, longer ones views of
 * the read buffer); memory is bounded by the largest block (MAX_BLOCK) plus one read chunk,
 * whatever the file size.
 */
export class PcapngCursor implements FrameCursor {
  readonly file: string;
  private readonly src: ByteSource;
  private readonly ctx: ReaderContext;
  private readonly blocks: BlockReader;
  private done = false;

  /** Use openCursor (capture.ts), which checks the magic first. */
  constructor(path: string, opts: ReadOptions = {}) {
    this.file = opts.fileName ?? basename(path);
    this.src = ByteSource.open(path, this.file, opts.chunkSize ?? DEFAULT_CHUNK);
    this.ctx = new ReaderContext(this.file, opts.convertLinkTypes ?? true, opts.onNote);
    this.blocks = new BlockReader(this.src, this.ctx, new FrameScratch());
  }

  /** interfaces lists the interfaces declared so far. */
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

  /** next returns the next frame (its bytes valid until the next call) or undefined at the end. */
  next(): Frame | undefined {
    if (this.done) return undefined;
    const src = this.src;
    const b = this.blocks;
    try {
      for (;;) {
        b.off = src.offset;
        if (src.available < 12 && !src.needSync(12)) {
          const e = b.shortHeader();
          this.done = true;
          if (e === undefined) return undefined;
          throw e;
        }
        b.header();
        if (src.available < b.blockLen && !src.needSync(b.blockLen)) throw b.truncated();
        const frame = b.body();
        if (frame !== undefined) return frame;
      }
    } catch (e) {
      this.done = true;
      throw e;
    }
  }

  /** close releases the file. */
  close(): void {
    this.done = true;
    this.src.closeSync();
  }
}

/** readOptions walks an options area, calling `each` per option; overruns are CAPTURE_BAD_BLOCK. */
function readOptions(
  ctx: ReaderContext,
  v: DataView,
  start: number,
  end: number,
  le: boolean,
  off: number,
  each: (code: number, at: number, len: number) => void,
): void {
  let q = start;
  while (q + 4 <= end) {
    const code = v.getUint16(q, le);
    const len = v.getUint16(q + 2, le);
    if (code === OPT.END) return;
    const next = q + 4 + ((len + 3) & ~3);
    if (q + 4 + len > end) {
      throw ctx.error('CAPTURE_BAD_BLOCK', `option ${code} of length ${len} overruns its block`, off, { option: code });
    }
    each(code, q + 4, len);
    q = next;
  }
}

function readIdb(ctx: ReaderContext, sec: Section, v: DataView, p: number, bodyEnd: number, le: boolean, off: number): void {
  const linkType = v.getUint16(p + 8, le);
  const snaplen = v.getUint32(p + 12, le);
  let res: TsResolution = { base: 10, exponent: 6 };
  let tsOffset = 0;
  let name: string | undefined;
  let fcsLen: number | undefined;
  readOptions(ctx, v, p + 16, bodyEnd, le, off, (code, at, len) => {
    if (code === OPT.IF_TSRESOL && len >= 1) res = decodeTsresol(v.getUint8(at));
    else if (code === OPT.IF_TSOFFSET && len >= 8) tsOffset = v.getInt32(at + (le ? 4 : 0), le) * 4_294_967_296 + v.getUint32(at + (le ? 0 : 4), le);
    else if (code === OPT.IF_NAME) name = utf8.decode(new Uint8Array(v.buffer, v.byteOffset + at, len));
    else if (code === OPT.IF_FCSLEN && len >= 1) fcsLen = v.getUint8(at);
  });
  const limit = snaplen === 0 || snaplen > MAX_CAPLEN ? MAX_CAPLEN : snaplen;
  const info = {
    section: sec.index,
    idInSection: sec.ifaces.length,
    linkType,
    snaplen,
    tsresol: res,
    tsOffsetSec: tsOffset,
    fileOffset: off,
    ...(name !== undefined ? { name } : {}),
    ...(fcsLen !== undefined ? { fcsLen } : {}),
  };
  sec.ifaces.push({ st: ctx.addInterface(info, limit), res, tsOffset });
}

function iface(ctx: ReaderContext, sec: Section, id: number, off: number): Section['ifaces'][number] {
  const ifc = sec.ifaces[id];
  if (ifc === undefined) {
    throw ctx.error('CAPTURE_BAD_BLOCK', `packet for interface ${id}, but section ${sec.index} declares ${sec.ifaces.length} interface(s)`, off, { interfaceId: id });
  }
  ctx.useInterface(ifc.st, off);
  return ifc;
}

function checkCaplen(ctx: ReaderContext, st: InterfaceState, caplen: number, room: number, off: number): void {
  if (caplen > room) {
    throw ctx.error('CAPTURE_BAD_LENGTH', `caplen ${caplen} exceeds the ${room} bytes its block holds`, off, { caplen });
  }
  if (caplen > st.caplenLimit) {
    throw ctx.error(
      'CAPTURE_BAD_LENGTH',
      `caplen ${caplen} exceeds ${caplen > MAX_CAPLEN ? `the ${MAX_CAPLEN}-byte maximum` : `the snaplen ${st.info.snaplen}`}`,
      off,
      { caplen, snaplen: st.info.snaplen },
    );
  }
}

function readPacket(
  ctx: ReaderContext,
  sec: Section,
  src: ByteSource,
  v: DataView,
  p: number,
  bodyEnd: number,
  blockLen: number,
  le: boolean,
  off: number,
  obsolete: boolean,
  scratch: FrameScratch | undefined,
): Frame {
  const id = obsolete ? v.getUint16(p + 8, le) : v.getUint32(p + 8, le);
  const ifc = iface(ctx, sec, id, off);
  const hi = v.getUint32(p + 12, le);
  const lo = v.getUint32(p + 16, le);
  const caplen = v.getUint32(p + 20, le);
  const origLen = v.getUint32(p + 24, le);
  checkCaplen(ctx, ifc.st, caplen, blockLen - 32, off);
  let comment: string | undefined;
  let flags: number | undefined;
  let verdicts: EpbVerdict[] | undefined;
  const optStart = p + 28 + ((caplen + 3) & ~3);
  if (optStart < bodyEnd) {
    readOptions(ctx, v, optStart, bodyEnd, le, off, (code, at, len) => {
      if (code === OPT.COMMENT) {
        const text = utf8.decode(new Uint8Array(v.buffer, v.byteOffset + at, len));
        comment = comment === undefined ? text : `${comment}\n${text}`;
      } else if (code === OPT.EPB_FLAGS && len >= 4) {
        flags = v.getUint32(at, le);
      } else if (code === OPT.EPB_VERDICT && !obsolete && len >= 1) {
        (verdicts ??= []).push(readVerdict(v, at, len, le));
      }
    });
  }
  const ts = ifc.res.base === 10 && ifc.res.exponent === 9 && hi < 0x200000
    ? fastNs(hi, lo)
    : unitsToTimestamp(hi, lo, ifc.res);
  const data = packetBytes(src, v, 28, caplen, scratch);
  return ctx.frame(ifc.st, data, origLen, ts.sec + ifc.tsOffset, ts.nsec, off, comment, flags, verdicts);
}

/** packetBytes returns the caplen bytes at `at` of the block at the cursor: a private copy without a scratch, else see BlockReader. */
function packetBytes(src: ByteSource, v: DataView, at: number, caplen: number, scratch: FrameScratch | undefined): Uint8Array {
  if (scratch === undefined) return src.copy(at, caplen);
  const from = src.pos + at;
  return caplen <= SCRATCH_MAX ? scratch.take(src.buf, v, from, caplen) : src.buf.subarray(from, from + caplen);
}

function fastNs(hi: number, lo: number): { sec: number; nsec: number } {
  const units = hi * 4_294_967_296 + lo;
  let sec = Math.floor(units / 1e9);
  let nsec = units - sec * 1e9;
  if (nsec < 0) { sec -= 1; nsec += 1e9; }
  return { sec, nsec };
}

function readVerdict(v: DataView, at: number, len: number, le: boolean): EpbVerdict {
  const type = v.getUint8(at);
  if ((type === EPB_VERDICT_TYPE.xdp || type === EPB_VERDICT_TYPE.tc) && len === 9) {
    const hi = v.getInt32(at + 1 + (le ? 4 : 0), le);
    const lo = v.getUint32(at + 1 + (le ? 0 : 4), le);
    return { kind: type === EPB_VERDICT_TYPE.xdp ? 'xdp' : 'tc', value: hi * 4_294_967_296 + lo };
  }
  return { kind: 'hardware', bytes: new Uint8Array(v.buffer.slice(v.byteOffset + at + 1, v.byteOffset + at + len)) };
}

function readSimplePacket(ctx: ReaderContext, sec: Section, src: ByteSource, v: DataView, p: number, blockLen: number, le: boolean, off: number, scratch: FrameScratch | undefined): Frame {
  const ifc = iface(ctx, sec, 0, off);
  const origLen = v.getUint32(p + 8, le);
  const snap = ifc.st.info.snaplen;
  const caplen = snap !== 0 && origLen > snap ? snap : origLen;
  checkCaplen(ctx, ifc.st, caplen, blockLen - 16, off);
  const data = packetBytes(src, v, 12, caplen, scratch);
  return ctx.frame(ifc.st, data, origLen, 0, 0, off, undefined, undefined, undefined);
}

/** readPcapng reads a pcapng file or stream (see CaptureReader). */
export function readPcapng(source: CaptureSource, opts: ReadOptions = {}): CaptureReader {
  return new CaptureReader(source, opts, () => ({ format: 'pcapng', parse: parsePcapng }));
}

/** PcapngInterfaceOptions describes one interface (IDB) the writer declares. */
export interface PcapngInterfaceOptions {
  /** linkType defaults to LINKTYPE_ETHERNET. */
  linkType?: number;
  /** snaplen defaults to 262144; longer frames are cut to it. */
  snaplen?: number;
  /** name is written as if_name. */
  name?: string;
  /** description is written as if_description. */
  description?: string;
  /** tsresol is the timestamp unit; default nanoseconds (10^-9), as xdpdump writes. */
  tsresol?: TsResolution;
  /** tsOffsetSec is written as if_tsoffset and subtracted from timestamps. */
  tsOffsetSec?: number;
}

/** PcapngSectionOptions configures one section (SHB) and its interfaces. */
export interface PcapngSectionOptions {
  /** bigEndian writes the section big-endian; default little-endian. */
  bigEndian?: boolean;
  /** comment is the SHB opt_comment. */
  comment?: string;
  /** userAppl is shb_userappl; default "xdpsim". */
  userAppl?: string;
  /** interfaces are declared at once; default one Ethernet interface. Pass [] to add them later. */
  interfaces?: PcapngInterfaceOptions[];
}

/** PcapngWriterOptions configures a PcapngWriter (its first section, and buffering). */
export interface PcapngWriterOptions extends PcapngSectionOptions {
  /** bufferSize is the flush threshold in bytes (default 64 KiB; 0 writes every block through). */
  bufferSize?: number;
  /** fileName names a stream target in errors. */
  fileName?: string;
}

/** EpbOptions are the per-frame extras of an EPB; each defaults to the frame's own field. */
export interface EpbOptions {
  /** interfaceId is the IDB (within the current section) the frame is on; default 0. */
  interfaceId?: number;
  comment?: string;
  flags?: number;
  verdicts?: EpbVerdict[];
}

interface WriterIface {
  snaplen: number;
  res: TsResolution;
  tsOffset: number;
}

/**
 * PcapngWriter writes a pcapng file block by block as frames arrive. What has been flushed is
 * always a valid file; `close()` flushes the rest and finishes it.
 */
export class PcapngWriter {
  private readonly sink: ByteSink;
  private le = true;
  private ifaces: WriterIface[] = [];
  private readonly verdictCache = new Map<number, Uint8Array>();
  /** writeNumbered's timestamp cache: the units of second `tsSec` on interface `tsIface` (nanosecond resolution). */
  private tsSec = -1;
  private tsIface: WriterIface | undefined;
  private tsHi = 0;
  private tsLo = 0;
  /** framesWritten counts frames written so far. */
  framesWritten = 0;

  constructor(target: CaptureTarget, opts: PcapngWriterOptions = {}) {
    const file = opts.fileName ?? (typeof target === 'string' ? basename(target) : '<stream>');
    this.sink = new ByteSink(target, file, opts.bufferSize ?? DEFAULT_WRITE_BUFFER);
    this.newSection(opts);
  }

  /** newSection starts a section: an SHB, then its interfaces; earlier interface ids no longer apply. */
  newSection(opts: PcapngSectionOptions = {}): void {
    this.le = opts.bigEndian !== true;
    this.ifaces = [];
    const options: OptionBytes[] = [];
    if (opts.comment !== undefined) options.push(textOption(OPT.COMMENT, opts.comment));
    options.push(textOption(OPT.SHB_USERAPPL, opts.userAppl ?? 'xdpsim'));
    const { at, v } = this.startBlock(BLOCK.SHB, 16, options);
    v.setUint32(at + 8, BYTE_ORDER_MAGIC, this.le);
    v.setUint16(at + 12, 1, this.le);
    v.setUint16(at + 14, 0, this.le);
    v.setInt32(at + 16, -1, this.le);
    v.setInt32(at + 20, -1, this.le);
    this.sink.endRecord();
    for (const i of opts.interfaces ?? [{}]) this.addInterface(i);
  }

  /** addInterface declares an interface in the current section and returns its id. */
  addInterface(opts: PcapngInterfaceOptions = {}): number {
    const res = opts.tsresol ?? { base: 10, exponent: 9 };
    const tsOffset = opts.tsOffsetSec ?? 0;
    const snaplen = opts.snaplen ?? MAX_CAPLEN;
    const options: OptionBytes[] = [];
    if (opts.name !== undefined) options.push(textOption(OPT.IF_NAME, opts.name));
    if (opts.description !== undefined) options.push(textOption(OPT.IF_DESCRIPTION, opts.description));
    if (res.base !== 10 || res.exponent !== 6) options.push({ code: OPT.IF_TSRESOL, bytes: Uint8Array.of(encodeTsresol(res)) });
    if (tsOffset !== 0) options.push({ code: OPT.IF_TSOFFSET, bytes: this.int64(tsOffset) });
    const { at, v } = this.startBlock(BLOCK.IDB, 8, options);
    v.setUint16(at + 8, opts.linkType ?? LINKTYPE.ETHERNET, this.le);
    v.setUint32(at + 12, snaplen, this.le);
    this.sink.endRecord();
    this.ifaces.push({ snaplen, res, tsOffset });
    return this.ifaces.length - 1;
  }

  /** write appends one frame as an EPB, with its comment, flags and verdicts as options. */
  write(frame: FrameInput, opts: EpbOptions = {}): void {
    const id = opts.interfaceId ?? 0;
    const ifc = this.ifaces[id];
    if (ifc === undefined) {
      throw new UsageError('CAPTURE_NO_INTERFACE', `${this.sink.file}: interface ${id} is not declared in the current section`, { file: this.sink.file });
    }
    const units = timestampToUnits(frame.tsSec - ifc.tsOffset, frame.tsNsec, ifc.res);
    if (units === undefined) {
      throw new CaptureError('CAPTURE_BAD_TIMESTAMP', `${this.sink.file}: timestamp ${frame.tsSec}.${frame.tsNsec} does not fit the interface's 64-bit timestamp`, { file: this.sink.file });
    }
    const caplen = Math.min(frame.data.length, ifc.snaplen);
    const origLen = Math.max(frame.origLen ?? frame.data.length, caplen);
    const options: OptionBytes[] = [];
    const comment = opts.comment ?? frame.comment;
    if (comment !== undefined) options.push(textOption(OPT.COMMENT, comment));
    const flags = opts.flags ?? frame.flags;
    if (flags !== undefined) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, flags, this.le);
      options.push({ code: OPT.EPB_FLAGS, bytes: b });
    }
    for (const vd of opts.verdicts ?? frame.verdicts ?? []) options.push({ code: OPT.EPB_VERDICT, bytes: this.verdictBytes(vd) });
    const { at, v } = this.startBlock(BLOCK.EPB, 20 + ((caplen + 3) & ~3), options);
    v.setUint32(at + 8, id, this.le);
    v.setUint32(at + 12, units[0], this.le);
    v.setUint32(at + 16, units[1], this.le);
    v.setUint32(at + 20, caplen, this.le);
    v.setUint32(at + 24, origLen, this.le);
    this.sink.bytes.set(caplen === frame.data.length ? frame.data : frame.data.subarray(0, caplen), at + 28);
    this.framesWritten++;
    this.sink.endRecord();
  }

  /**
   * numbered prepares the options of frames written with `writeNumbered`: the comment `head` +
   * the decimal digits of a frame's number + `tail`, then its flags and verdicts — the options
   * `write` would put, encoded once in this section's byte order (pass it to this writer only).
   */
  numbered(head: string, tail: string, opts: { flags?: number; verdicts?: readonly EpbVerdict[] } = {}): NumberedOptions {
    const options: OptionBytes[] = [];
    if (opts.flags !== undefined) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, opts.flags, this.le);
      options.push({ code: OPT.EPB_FLAGS, bytes: b });
    }
    for (const vd of opts.verdicts ?? []) options.push({ code: OPT.EPB_VERDICT, bytes: this.verdictBytes(vd) });
    let restLen = 0;
    for (const o of options) restLen += 4 + ((o.bytes.length + 3) & ~3);
    const headBytes = utf8enc.encode(head);
    const tailBytes = utf8enc.encode(tail);
    const restBytes = new Uint8Array(restLen);
    const rv = new DataView(restBytes.buffer);
    let q = 0;
    for (const o of options) {
      rv.setUint16(q, o.code, this.le);
      rv.setUint16(q + 2, o.bytes.length, this.le);
      restBytes.set(o.bytes, q + 4);
      q += 4 + ((o.bytes.length + 3) & ~3);
    }
    return { head: headBytes, tail: tailBytes, rest: restBytes, le: this.le, byDigits: [] };
  }

  /**
   * numberedArea is the options area of `opts` for frame numbers of `digits` digits, zeros in
   * place of the digits: the comment option (header, head, digits, tail, padding), the other
   * options, opt_endofopt. Made once per digit count.
   */
  private numberedArea(opts: NumberedOptions, digits: number): Uint8Array {
    const { head, tail, rest } = opts;
    const commentLen = head.length + digits + tail.length;
    if (commentLen > 0xffff) {
      throw new UsageError('CAPTURE_OPTION_TOO_LONG', `pcapng option ${OPT.COMMENT}: ${commentLen} bytes exceed the 65535-byte option limit`, {});
    }
    const padded = (commentLen + 3) & ~3;
    const out = new Uint8Array(4 + padded + rest.length + 4);
    const v = new DataView(out.buffer);
    v.setUint16(0, OPT.COMMENT, this.le);
    v.setUint16(2, commentLen, this.le);
    out.set(head, 4);
    out.set(tail, 4 + head.length + digits);
    out.set(rest, 4 + padded);
    opts.byDigits[digits] = out;
    return out;
  }

  /**
   * writeNumbered is `write` of a frame whose options are `opts` (from `numbered`) with the
   * number `n` in the comment: the same bytes, built in place in the write buffer, with no
   * per-frame object, string or array (`replay --out`, whose comments differ frame to frame only
   * in the frame number). `n` must be a non-negative safe integer.
   */
  writeNumbered(data: Uint8Array, origLen: number, tsSec: number, tsNsec: number, interfaceId: number, opts: NumberedOptions, n: number): void {
    const ifc = this.ifaces[interfaceId];
    if (ifc === undefined) {
      throw new UsageError('CAPTURE_NO_INTERFACE', `${this.sink.file}: interface ${interfaceId} is not declared in the current section`, { file: this.sink.file });
    }
    if (opts.le !== this.le) throw new UsageError('E_USAGE', `${this.sink.file}: numbered options of another section's byte order`, { file: this.sink.file });
    let hi: number;
    let lo: number;
    if (tsSec === this.tsSec && ifc === this.tsIface && nsecOk(tsNsec)) {
      hi = this.tsHi;
      lo = this.tsLo + tsNsec;
      if (lo >= 4_294_967_296) {
        lo -= 4_294_967_296;
        hi++;
      }
    } else {
      const units = timestampToUnits(tsSec - ifc.tsOffset, tsNsec, ifc.res);
      if (units === undefined) {
        throw new CaptureError('CAPTURE_BAD_TIMESTAMP', `${this.sink.file}: timestamp ${tsSec}.${tsNsec} does not fit the interface's 64-bit timestamp`, { file: this.sink.file });
      }
      hi = units[0];
      lo = units[1];
      // Remember the second's start (nanosecond interfaces only: there units = second + nsec).
      const base = ifc.res.base === 10 && ifc.res.exponent === 9 ? timestampToUnits(tsSec - ifc.tsOffset, 0, ifc.res) : undefined;
      if (base !== undefined) {
        this.tsSec = tsSec;
        this.tsIface = ifc;
        this.tsHi = base[0];
        this.tsLo = base[1];
      } else {
        this.tsIface = undefined;
      }
    }
    const digits = decimalDigits(n);
    const area = opts.byDigits[digits] ?? this.numberedArea(opts, digits);
    const caplen = Math.min(data.length, ifc.snaplen);
    const padded = (caplen + 3) & ~3;
    const total = 28 + padded + area.length + 4;
    const le = this.le;
    const sink = this.sink;
    const at = sink.reserveDirty(total);
    const b = sink.bytes;
    const v = sink.view;
    v.setUint32(at, BLOCK.EPB, le);
    v.setUint32(at + 4, total, le);
    v.setUint32(at + 8, interfaceId, le);
    v.setUint32(at + 12, hi, le);
    v.setUint32(at + 16, lo, le);
    v.setUint32(at + 20, caplen, le);
    v.setUint32(at + 24, Math.max(origLen, caplen), le);
    b.set(caplen === data.length ? data : data.subarray(0, caplen), at + 28);
    for (let q = at + 28 + caplen, e = at + 28 + padded; q < e; q++) b[q] = 0;
    const o = at + 28 + padded;
    b.set(area, o);
    putDecimal(b, o + 4 + opts.head.length + digits, n);
    v.setUint32(o + area.length, total, le);
    this.framesWritten++;
    sink.endRecord();
  }

  /** writeBlock appends a raw block of any type around `body` (padded to 4 bytes). */
  writeBlock(type: number, body: Uint8Array): void {
    const { at } = this.startBlock(type, (body.length + 3) & ~3, []);
    this.sink.bytes.set(body, at + 8);
    this.sink.endRecord();
  }

  /** flush hands buffered blocks to the file or stream. */
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

  /** bigEndian tells whether the current section is big-endian. */
  get bigEndian(): boolean {
    return !this.le;
  }

  /** startBlock reserves a whole block with `fixed` body bytes and the options, writing framing and options. */
  private startBlock(type: number, fixed: number, options: OptionBytes[]): { at: number; v: DataView } {
    let optLen = 0;
    for (const o of options) optLen += 4 + ((o.bytes.length + 3) & ~3);
    if (options.length > 0) optLen += 4;
    const total = 8 + fixed + optLen + 4;
    const at = this.sink.reserve(total);
    const v = this.sink.view;
    const bytes = this.sink.bytes;
    v.setUint32(at, type, this.le);
    v.setUint32(at + 4, total, this.le);
    let q = at + 8 + fixed;
    for (const o of options) {
      v.setUint16(q, o.code, this.le);
      v.setUint16(q + 2, o.bytes.length, this.le);
      bytes.set(o.bytes, q + 4);
      q += 4 + ((o.bytes.length + 3) & ~3);
    }
    v.setUint32(at + total - 4, total, this.le);
    return { at, v };
  }

  private int64(n: number): Uint8Array {
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    const hi = Math.floor(n / 4_294_967_296);
    const lo = n - hi * 4_294_967_296;
    dv.setInt32(this.le ? 4 : 0, hi, this.le);
    dv.setUint32(this.le ? 0 : 4, lo, this.le);
    return b;
  }

  /**
   * verdictBytes encodes an epb_verdict option value. TC and XDP verdicts are cached per kind,
   * value and byte order (a replay writes the same few for every frame); the cached arrays are
   * only ever copied into blocks.
   */
  private verdictBytes(vd: EpbVerdict): Uint8Array {
    if (vd.kind !== 'hardware' && Number.isInteger(vd.value) && Math.abs(vd.value) < 2 ** 50) {
      // value, kind and byte order in one number (exact for integers below 2^50).
      const key = vd.value * 4 + (vd.kind === 'xdp' ? 2 : 0) + (this.le ? 1 : 0);
      let b = this.verdictCache.get(key);
      if (b === undefined) {
        b = this.encodeVerdict(vd);
        if (this.verdictCache.size < 1024) this.verdictCache.set(key, b);
      }
      return b;
    }
    return this.encodeVerdict(vd);
  }

  private encodeVerdict(vd: EpbVerdict): Uint8Array {
    if (vd.kind === 'hardware') {
      const b = new Uint8Array(1 + vd.bytes.length);
      b[0] = EPB_VERDICT_TYPE.hardware;
      b.set(vd.bytes, 1);
      return b;
    }
    const b = new Uint8Array(9);
    b[0] = EPB_VERDICT_TYPE[vd.kind];
    b.set(this.int64(vd.value), 1);
    return b;
  }
}

/** decimalDigits is the number of decimal digits of a non-negative safe integer. */
function decimalDigits(n: number): number {
  if (n < 2_147_483_648) {
    let d = 1;
    for (let x = n | 0; x >= 10; x = (x / 10) | 0) d++;
    return d;
  }
  return String(n).length;
}

/**
 * putDecimal writes the decimal digits of a non-negative safe integer so that they end before
 * b[end]. Int32 arithmetic below 2^31 (measured: the float division and modulo of a general
 * number were a third of writeNumbered).
 */
function putDecimal(b: Uint8Array, end: number, n: number): void {
  if (n < 2_147_483_648) {
    let x = n | 0;
    let q = end;
    do {
      const y = (x / 10) | 0;
      b[--q] = 48 + x - y * 10;
      x = y;
    } while (x !== 0);
    return;
  }
  const s = String(n);
  for (let i = 0; i < s.length; i++) b[end - s.length + i] = s.charCodeAt(i);
}

/** nsecOk tells whether a nanosecond field is an integer in [0, 1e9), as timestampToUnits requires. */
function nsecOk(nsec: number): boolean {
  return nsec >= 0 && nsec < 1e9 && Math.floor(nsec) === nsec;
}

/**
 * NumberedOptions are the options of frames PcapngWriter.writeNumbered writes, encoded by
 * PcapngWriter.numbered: the comment's head and tail around the frame number, the other options.
 */
export interface NumberedOptions {
  readonly head: Uint8Array;
  readonly tail: Uint8Array;
  /** The flags and verdict options. */
  readonly rest: Uint8Array;
  readonly le: boolean;
  /** The whole options area by digit count of the frame number (PcapngWriter.numberedArea). */
  readonly byDigits: Uint8Array[];
}

interface OptionBytes {
  code: number;
  bytes: Uint8Array;
}

function textOption(code: number, text: string): OptionBytes {
  const bytes = utf8enc.encode(text);
  if (bytes.length > 0xffff) {
    throw new UsageError('CAPTURE_OPTION_TOO_LONG', `pcapng option ${code}: ${bytes.length} bytes exceed the 65535-byte option limit`, {});
  }
  return { code, bytes };
}
