/**
 * cursor — the synchronous cursors (openCursor / PcapCursor, PcapngCursor) against the async
 * reader: the same frames (bytes, lengths, timestamps, index, offset, link type after conversion,
 * pcapng comments, flags and verdicts) from every pcap and pcapng in pcaps/, and on truncated
 * and mutated files the same frames followed by the same
 * CaptureError (code, byte offset, message). Small read chunks make records straddle reads.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureError } from '../../src/errors.js';
import { openCursor, readCapture } from '../../src/io/capture.js';
import type { Frame } from '../../src/io/frames.js';
import { PCAPS, seeded } from './support.js';

const tmp = mkdtempSync(join(tmpdir(), 'xdpsim-cursor-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Seen = { frames: string[]; error?: { code: string; offset: unknown; message: string } };

function describeFrame(f: Frame): string {
  const verdicts = f.verdicts?.map((v) => (v.kind === 'hardware' ? { kind: v.kind, bytes: Buffer.from(v.bytes).toString('hex') } : v));
  return JSON.stringify([Buffer.from(f.data).toString('hex'), f.origLen, f.tsSec, f.tsNsec, f.index, f.fileOffset, f.linkType, f.interfaceIndex, f.comment, f.flags, verdicts]);
}

function errorOf(e: unknown): Seen['error'] {
  if (!(e instanceof CaptureError)) throw e;
  return { code: e.code, offset: e.fields.offset, message: e.message };
}

async function viaReader(path: string, chunkSize: number): Promise<Seen> {
  const out: Seen = { frames: [] };
  try {
    for await (const f of readCapture(path, { chunkSize })) out.frames.push(describeFrame(f));
  } catch (e) {
    out.error = errorOf(e);
  }
  return out;
}

function viaCursor(path: string, chunkSize: number): Seen {
  const c = openCursor(path, { chunkSize });
  if (c === undefined) throw new Error(`${path}: no cursor`);
  const out: Seen = { frames: [] };
  try {
    for (let f = c.next(); f !== undefined; f = c.next()) out.frames.push(describeFrame(f));
    expect(c.next()).toBeUndefined();
  } catch (e) {
    out.error = errorOf(e);
    expect(c.next(), 'nothing after the error').toBeUndefined();
  } finally {
    c.close();
  }
  return out;
}

function captureFiles(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...captureFiles(join(dir, e.name), ext));
    else if (e.name.endsWith(ext)) out.push(join(dir, e.name));
  }
  return out.sort();
}

/** mutations are truncations every few bytes (about 300 at most) and single-byte changes after `keep` bytes. */
function mutations(bytes: Uint8Array, keep: number, seed: number): Uint8Array[] {
  const rnd = seeded(seed);
  const variants: Uint8Array[] = [];
  const step = Math.max(9, Math.floor(bytes.length / 150));
  for (let len = 0; len <= bytes.length; len += 1 + Math.floor(rnd() * step)) variants.push(bytes.subarray(0, len));
  for (let i = 0; i < 40; i++) {
    const b = Uint8Array.from(bytes);
    const at = keep + Math.floor(rnd() * (b.length - keep));
    b[at] = Math.floor(rnd() * 256);
    variants.push(b);
  }
  return variants;
}

/** sameOnVariants checks the cursor against the reader on every variant; returns how many ended in an error. */
async function sameOnVariants(variants: Uint8Array[], ext: string): Promise<number> {
  let errors = 0;
  for (const [i, v] of variants.entries()) {
    const path = join(tmp, `v${i}${ext}`);
    writeFileSync(path, v);
    const c = openCursor(path);
    if (c === undefined) {
      expect(v.length, 'only a file too short for a magic has no cursor').toBeLessThan(4);
      continue;
    }
    c.close();
    const want = await viaReader(path, 32);
    expect(viaCursor(path, 32), `variant ${i}`).toEqual(want);
    if (want.error !== undefined) errors++;
  }
  return errors;
}

describe('PcapCursor', () => {
  const files = captureFiles(PCAPS, '.pcap');

  it.each(files.map((f) => [f.slice(PCAPS.length + 1), f]))('reads %s as the async reader does', async (_name, path) => {
    for (const chunk of [64, 1 << 20]) {
      const want = await viaReader(path, chunk);
      expect(viaCursor(path, chunk)).toEqual(want);
    }
  });

  it('stops at every truncation and mutation of a capture with the same frames and error', async () => {
    const errors = await sameOnVariants(mutations(readFileSync(join(PCAPS, 'parity', 'vlan.pcap')), 24, 7), '.pcap');
    expect(errors).toBeGreaterThan(10);
  });
});

describe('PcapngCursor', () => {
  const files = captureFiles(PCAPS, '.pcapng');

  it('is offered for every pcapng in pcaps/', () => {
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) {
      const c = openCursor(f);
      expect(c, f).toBeDefined();
      c?.close();
    }
  });

  it.each(files.map((f) => [f.slice(PCAPS.length + 1), f]))('reads %s as the async reader does', async (_name, path) => {
    for (const chunk of [64, 1 << 20]) {
      const want = await viaReader(path, chunk);
      expect(viaCursor(path, chunk)).toEqual(want);
    }
  });

  it('stops at every truncation and mutation of a capture with the same frames and error', async () => {
    for (const [name, seed] of [['blocks.pcapng', 11], ['mixed-endian.pcapng', 13]] as const) {
      const errors = await sameOnVariants(mutations(readFileSync(join(PCAPS, 'formats', name)), 0, seed), '.pcapng');
      expect(errors, name).toBeGreaterThan(10);
    }
  });
});
