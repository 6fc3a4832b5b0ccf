/**
 * cursor — the synchronous pcap cursor (openCursor / PcapCursor) against the async reader: the
 * same frames (bytes, lengths, timestamps, index, offset, link type after conversion) from every
 * pcap in pcaps/, and on truncated and mutated files the same frames followed by the same
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
  return JSON.stringify([Buffer.from(f.data).toString('hex'), f.origLen, f.tsSec, f.tsNsec, f.index, f.fileOffset, f.linkType, f.interfaceIndex]);
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

function pcapFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...pcapFiles(join(dir, e.name)));
    else if (e.name.endsWith('.pcap')) out.push(join(dir, e.name));
  }
  return out.sort();
}

describe('PcapCursor', () => {
  const files = pcapFiles(PCAPS);

  it.each(files.map((f) => [f.slice(PCAPS.length + 1), f]))('reads %s as the async reader does', async (_name, path) => {
    for (const chunk of [64, 1 << 20]) {
      const want = await viaReader(path, chunk);
      expect(viaCursor(path, chunk)).toEqual(want);
    }
  });

  it('stops at every truncation and mutation of a capture with the same frames and error', async () => {
    const bytes = readFileSync(join(PCAPS, 'parity', 'vlan.pcap'));
    const rnd = seeded(7);
    const variants: Uint8Array[] = [];
    for (let len = 0; len <= bytes.length; len += 1 + Math.floor(rnd() * 9)) variants.push(bytes.subarray(0, len));
    for (let i = 0; i < 40; i++) {
      const b = Uint8Array.from(bytes);
      const at = 24 + Math.floor(rnd() * (b.length - 24));
      b[at] = Math.floor(rnd() * 256);
      variants.push(b);
    }
    let errors = 0;
    for (const [i, v] of variants.entries()) {
      const path = join(tmp, `v${i}.pcap`);
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
    expect(errors).toBeGreaterThan(10);
  });

  it('is not offered for pcapng (read those with readCapture)', () => {
    expect(openCursor(join(PCAPS, 'parity', 'all.pcapng'))).toBeUndefined();
  });
});
