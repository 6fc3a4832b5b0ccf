/**
 * Round trips between bytes and Insn: every slot of the golden disassembly corpus and seeded random
 * slots decode and re-encode to the same bytes, and normalised Insns survive encode → decode.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeInsns } from '../../src/isa/decode.js';
import { disasmLines } from '../../src/isa/disasm.js';
import { encodeInsns } from '../../src/isa/encode.js';
import { makeInsn, type Insn } from '../../src/isa/insn.js';
import { corpus, FIXTURE_PATH, parseFixture } from '../../scripts/gen-objdump-fixture.js';

/** xorshift32: seeded so a failure reproduces. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const fromHex = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));

describe('decode ↔ encode', () => {
  it('re-encodes every slot of the golden fixture to its bytes', () => {
    const rows = parseFixture(readFileSync(FIXTURE_PATH, 'utf8'));
    expect(rows.length).toBeGreaterThan(4000);
    const bad = rows.filter((row) => {
      const bytes = fromHex(row.hex);
      return Buffer.compare(encodeInsns(decodeInsns(bytes)), bytes) !== 0;
    });
    expect(bad).toEqual([]);
  });

  it('re-encodes the whole corpus, and the corpus rows are its slots', () => {
    const insns = corpus();
    const bytes = encodeInsns(insns);
    expect(decodeInsns(bytes)).toEqual(insns);
    expect(encodeInsns(decodeInsns(bytes))).toEqual(bytes);
    const rows = parseFixture(readFileSync(FIXTURE_PATH, 'utf8'));
    const misplaced = rows.filter((row) => {
      const slot = fromHex(row.hex);
      return Buffer.compare(bytes.subarray(row.index * 8, row.index * 8 + slot.length), slot) !== 0;
    });
    expect(misplaced).toEqual([]);
  });

  it('round-trips 100000 random slots, byte for byte', () => {
    const next = rng(0xb9f);
    const bytes = new Uint8Array(100_000 * 8);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < bytes.length; i += 4) view.setUint32(i, next());
    const insns = decodeInsns(bytes);
    expect(insns.length).toBe(100_000);
    const outOfRange = insns.filter(
      (x) => x.dst > 15 || x.src > 15 || x.off < -0x8000 || x.off > 0x7fff || !Number.isInteger(x.imm) || x.imm < -0x80000000 || x.imm > 0x7fffffff,
    );
    expect(outOfRange).toEqual([]);
    expect(Buffer.compare(encodeInsns(insns), bytes)).toBe(0);
    // Disassembly never throws, whatever the bytes.
    expect(disasmLines(insns).length).toBeGreaterThan(0);
  });

  it('keeps normalised field values through encode → decode', () => {
    const next = rng(42);
    const insns: Insn[] = [];
    for (let i = 0; i < 20_000; i++) {
      insns.push(makeInsn(next() & 0xff, next() & 0xf, next() & 0xf, next() | 0, next() | 0));
    }
    insns.push(makeInsn(0xff, 15, 15, -0x8000, -0x80000000), makeInsn(0, 0, 0, 0x7fff, 0x7fffffff));
    expect(decodeInsns(encodeInsns(insns))).toEqual(insns);
  });
});
