/**
 * capture — open a capture of either format: the first four bytes say pcap or pcapng.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { CaptureSource } from './byte-source.js';
import type { FrameCursor, ReadOptions } from './frames.js';
import { isPcapMagic, parsePcap, PcapCursor } from './pcap.js';
import { isPcapngMagic, parsePcapng, PcapngCursor } from './pcapng.js';
import { CaptureReader } from './reader.js';

/**
 * readCapture reads a pcap or pcapng capture from a path or a Readable, choosing the parser by
 * magic number; an unknown magic is a CaptureError CAPTURE_BAD_MAGIC naming the file.
 */
export function readCapture(source: CaptureSource, opts: ReadOptions = {}): CaptureReader {
  return new CaptureReader(source, opts, (magic, ctx) => {
    if (magic === undefined) throw ctx.error('CAPTURE_TRUNCATED', 'file shorter than a capture magic number', 0);
    if (isPcapngMagic(magic)) return { format: 'pcapng', parse: parsePcapng };
    if (isPcapMagic(magic)) return { format: 'pcap', parse: parsePcap };
    throw ctx.error('CAPTURE_BAD_MAGIC', `neither pcap nor pcapng: magic 0x${magic.toString(16).padStart(8, '0')}`, 0);
  });
}

/**
 * openCursor opens a pcap or pcapng file for synchronous frame-by-frame reading (FrameCursor).
 * Undefined for anything else (unknown magic, shorter than a magic, unreadable): read those with
 * readCapture, which reports their errors.
 */
export function openCursor(path: string, opts: ReadOptions = {}): FrameCursor | undefined {
  const magic = new Uint8Array(4);
  let got = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      got = readSync(fd, magic, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  if (got < 4) return undefined;
  const m = (magic[0] | (magic[1] << 8) | (magic[2] << 16) | (magic[3] << 24)) >>> 0;
  if (isPcapngMagic(m)) return new PcapngCursor(path, opts);
  if (!isPcapMagic(m)) return undefined;
  return new PcapCursor(path, opts);
}
