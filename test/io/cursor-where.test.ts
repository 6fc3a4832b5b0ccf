/**
 * cursor-where — PcapCursor.nextWhere (the reader of a `replay --workers` thread) against next():
 * for every pcap in pcaps/ and for truncated and mutated files, with records straddling small
 * read chunks, it returns exactly the frames next() returns that `keep` accepts (bytes, index,
 * offset, ...), asks `keep` once per frame about the same bytes, and ends with the same
 * CaptureError after them.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureError } from '../../src/errors.js';
import { openCursor } from '../../src/io/capture.js';
import { PcapCursor } from '../../src/io/pcap.js';
import type { Frame } from '../../src/io/frames.js';
import { PCAPS, seeded } from './support.js';

const tmp = mkdtempSync(join(tmpdir(), 'xdpsim-cursor-where-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Seen {
  /** asked holds the bytes keep saw, in order; kept the frames returned. */
  asked: string[];
  kept: string[];
  error?: { code: string; offset: unknown };
}

function describeFrame(f: Frame): string {
  return JSON.stringify([Buffer.from(f.data).toString('hex'), f.origLen, f.tsSec, f.tsNsec, f.index, f.fileOffset, f.linkType, f.interfaceIndex]);
}

function hex(b: Uint8Array, start: number, end: number): string {
  return Buffer.from(b.subarray(start, end)).toString('hex');
}

/** wanted keeps a frame by its bytes (a fixed choice, about every other frame). */
function wanted(b: Uint8Array, start: number, end: number): boolean {
  let h = end - start;
  for (let i = start; i < end; i++) h = (h * 31 + b[i]) | 0;
  return (h & 2) === 0;
}

function cursor(path: string, chunkSize: number): PcapCursor {
  const c = openCursor(path, { chunkSize });
  if (!(c instanceof PcapCursor)) throw new Error(`${path}: no pcap cursor`);
  return c;
}

function run(path: string, chunkSize: number, where: boolean): Seen {
  const c = cursor(path, chunkSize);
  const out: Seen = { asked: [], kept: [] };
  const keep = (b: Uint8Array, start: number, end: number): boolean => {
    out.asked.push(hex(b, start, end));
    return wanted(b, start, end);
  };
  const next = where ? () => c.nextWhere(keep) : () => {
    for (;;) {
      const f = c.next();
      if (f === undefined || keep(f.data, 0, f.data.length)) return f;
    }
  };
  try {
    for (let f = next(); f !== undefined; f = next()) out.kept.push(describeFrame(f));
  } catch (e) {
    if (!(e instanceof CaptureError)) throw e;
    out.error = { code: e.code, offset: e.fields.offset };
  } finally {
    c.close();
  }
  return out;
}

function pcapFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...pcapFiles(join(dir, e.name)));
    else if (e.name.endsWith('.pcap')) out.push(join(dir, e.name));
  }
  return out.sort();
}

describe('PcapCursor.nextWhere', () => {
  it.each(pcapFiles(PCAPS).map((f) => [f.slice(PCAPS.length + 1), f]))('returns the frames of %s that keep accepts, as next() would', (_name, path) => {
    for (const chunk of [32, 100, 1 << 20]) {
      const want = run(path, chunk, false);
      expect(run(path, chunk, true)).toEqual(want);
    }
  });

  it('stops at every truncation and mutation of a capture after the same frames, with the same error', () => {
    const bytes = readFileSync(join(PCAPS, 'sample.pcap')).subarray(0, 4000);
    const rnd = seeded(11);
    const variants: Uint8Array[] = [];
    for (let len = 24; len <= bytes.length; len += 1 + Math.floor(rnd() * 97)) variants.push(bytes.subarray(0, len));
    for (let i = 0; i < 40; i++) {
      const b = Uint8Array.from(bytes);
      b[24 + Math.floor(rnd() * (b.length - 24))] = Math.floor(rnd() * 256);
      variants.push(b);
    }
    let errors = 0;
    let kept = 0;
    for (const [i, v] of variants.entries()) {
      const path = join(tmp, `v${i}.pcap`);
      writeFileSync(path, v);
      const want = run(path, 64, false);
      expect(run(path, 64, true), `variant ${i}`).toEqual(want);
      if (want.error !== undefined) errors++;
      kept += want.kept.length;
    }
    expect(errors).toBeGreaterThan(10);
    expect(kept).toBeGreaterThan(100);
  });
});
