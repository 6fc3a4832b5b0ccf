/**
 * capture — open a capture of either format: the first four bytes say pcap or pcapng.
 */
import type { CaptureSource } from './byte-source.js';
import type { ReadOptions } from './frames.js';
import { isPcapMagic, parsePcap } from './pcap.js';
import { isPcapngMagic, parsePcapng } from './pcapng.js';
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
