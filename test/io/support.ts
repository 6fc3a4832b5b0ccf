/**
 * support — shared helpers of the io tests: reading everything a reader gives before its error,
 * byte sources, and raw pcapng block building for hand-made files.
 */
import { Readable, Writable } from 'node:stream';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import type { Frame } from '../../src/io/frames.js';
import type { CaptureReader } from '../../src/io/reader.js';

/** ROOT is the repository root. */
export const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
/** PCAPS is the committed captures directory. */
export const PCAPS = join(ROOT, 'pcaps');

/** Outcome is every frame a reader yielded and the error it ended with, if any. */
export interface Outcome {
  frames: Frame[];
  error: unknown;
}

/** drain reads a capture to its end or its error. */
export async function drain(reader: CaptureReader): Promise<Outcome> {
  const frames: Frame[] = [];
  try {
    for await (const f of reader) frames.push(f);
    return { frames, error: undefined };
  } catch (e) {
    return { frames, error: e };
  }
}

/** chunked makes a Readable that delivers `bytes` in chunks of `size` bytes. */
export function chunked(bytes: Uint8Array, size: number): Readable {
  let off = 0;
  return new Readable({
    read() {
      if (off >= bytes.length) {
        this.push(null);
        return;
      }
      this.push(bytes.slice(off, off + size));
      off += size;
    },
  });
}

/** collector makes a Writable that keeps everything written, and a getter for it. */
export function collector(): { stream: Writable; bytes: () => Uint8Array } {
  const parts: Uint8Array[] = [];
  const stream = new Writable({
    write(chunk: Uint8Array, _enc, cb) {
      parts.push(Uint8Array.from(chunk));
      cb();
    },
  });
  return {
    stream,
    bytes: () => {
      const n = parts.reduce((a, p) => a + p.length, 0);
      const out = new Uint8Array(n);
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      return out;
    },
  };
}

/** tcpdumpAvailable tells whether tcpdump runs here. */
export const tcpdumpAvailable: boolean = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' }).status === 0;

/** tcpdumpCount returns the packet count `tcpdump --count -r` reports, its exit status and stderr. */
export function tcpdumpCount(path: string): { count: number; status: number | null; stderr: string } {
  const r = spawnSync('tcpdump', ['--count', '-nn', '-r', path], { encoding: 'utf8' });
  const m = /(\d+) packets?/.exec(r.stdout + r.stderr);
  return { count: m === null ? -1 : Number(m[1]), status: r.status, stderr: r.stderr };
}

/** block builds one pcapng block (type, body padded to 4 bytes, lengths around it). */
export function block(type: number, body: Uint8Array, le = true): Uint8Array {
  const padded = (body.length + 3) & ~3;
  const total = 12 + padded;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, le);
  v.setUint32(4, total, le);
  out.set(body, 8);
  v.setUint32(total - 4, total, le);
  return out;
}

/** u32s encodes 32-bit words. */
export function u32s(le: boolean, ...words: number[]): Uint8Array {
  const out = new Uint8Array(4 * words.length);
  const v = new DataView(out.buffer);
  words.forEach((w, i) => v.setUint32(4 * i, w >>> 0, le));
  return out;
}

/** shb builds a minimal Section Header Block. */
export function shb(le = true): Uint8Array {
  const body = new Uint8Array(16);
  const v = new DataView(body.buffer);
  v.setUint32(0, 0x1a2b3c4d, le);
  v.setUint16(4, 1, le);
  v.setInt32(8, -1, le);
  v.setInt32(12, -1, le);
  return block(0x0a0d0d0a, body, le);
}

/** idb builds an Interface Description Block with optional raw options bytes. */
export function idb(linkType: number, snaplen: number, le = true, options: Uint8Array = new Uint8Array(0)): Uint8Array {
  const body = new Uint8Array(8 + options.length);
  const v = new DataView(body.buffer);
  v.setUint16(0, linkType, le);
  v.setUint32(4, snaplen, le);
  body.set(options, 8);
  return block(1, body, le);
}

/** epb builds an Enhanced Packet Block. */
export function epb(ifid: number, hi: number, lo: number, data: Uint8Array, le = true, origLen = data.length, caplen = data.length): Uint8Array {
  const body = new Uint8Array(20 + ((data.length + 3) & ~3));
  const v = new DataView(body.buffer);
  v.setUint32(0, ifid, le);
  v.setUint32(4, hi, le);
  v.setUint32(8, lo, le);
  v.setUint32(12, caplen, le);
  v.setUint32(16, origLen, le);
  body.set(data, 20);
  return block(6, body, le);
}

/** cat joins byte arrays. */
export function cat(...parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** seeded returns a deterministic PRNG in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** tsharkAvailable tells whether tshark (Wireshark) runs here; tests that compare with it skip otherwise. */
export const tsharkAvailable: boolean = spawnSync('tshark', ['-v'], { encoding: 'utf8' }).status === 0;

/** TsharkRow is what tshark says about one packet record. */
export interface TsharkRow {
  capLen: number;
  len: number;
  /** time is "sec.nnnnnnnnn", empty when the record has no timestamp (SPB). */
  time: string;
  xdpVerdict: string;
  comment: string;
}

/** tsharkRows lists a capture's packet records as tshark reads them (pcapng non-packet records dropped). */
export function tsharkRows(path: string): TsharkRow[] {
  const r = spawnSync('tshark', ['-r', path, '-T', 'fields', '-E', 'separator=/t', '-e', 'frame.cap_len', '-e', 'frame.len', '-e', 'frame.time_epoch', '-e', 'frame.verdict.ebpf_xdp', '-e', 'frame.comment', '-e', '_ws.col.Protocol'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t'))
    .filter((c) => c[5] !== 'PCAPNG')
    .map((c) => ({ capLen: Number(c[0]), len: Number(c[1]), time: c[2], xdpVerdict: c[3], comment: c[4] }));
}
