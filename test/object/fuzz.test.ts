/**
 * Fuzz: thousands of mutated copies of the committed objects (bit flips, byte stores, truncations,
 * and corruptions of header/section/symbol/relocation/BTF fields) go through parseObject, the
 * listing and loadObject; every outcome must be a loaded object or an XdpsimError — never another
 * exception — and every call must finish.
 * The PRNG is seeded, so a failure names a reproducible (object, seed).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { XdpsimError } from '../../src/errors.js';
import { parseElf } from '../../src/object/elf.js';
import { parseObject } from '../../src/object/loader.js';
import { OBJECTS as OBJ_NAMES, UNSUPPORTED_OBJECTS } from './objects.js';
import { loadObject } from '../../src/object/instantiate.js';
import { objectListing } from '../../src/object/listing.js';

const OBJECTS = [...OBJ_NAMES, ...UNSUPPORTED_OBJECTS].map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(`programs/${f}`)) }));

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** interesting returns byte offsets of structures worth corrupting: headers, tables, BTF. */
function interesting(bytes: Uint8Array): number[] {
  const elf = parseElf(bytes, 'x');
  const out: number[] = [];
  for (let i = 16; i < 64; i++) out.push(i);
  const shoff = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(40, true));
  for (let i = 0; i < elf.sections.length * 64; i++) out.push(shoff + i);
  for (const s of elf.sections) {
    if (s.name === '.symtab' || s.name.startsWith('.rel') || s.name === '.BTF' || s.name === '.BTF.ext' || s.name === 'maps' || s.name === '.maps' || s.name === 'license') {
      for (let i = 0; i < Math.min(s.size, 4096); i++) out.push(s.offset + i);
    }
  }
  return out;
}

function mutate(src: Uint8Array, hot: number[], rnd: () => number): Uint8Array {
  const pick = (n: number): number => Math.floor(rnd() * n);
  const kind = pick(6);
  if (kind === 0) return src.subarray(0, pick(src.length)); // truncation
  const b = new Uint8Array(src);
  const v = new DataView(b.buffer);
  const n = 1 + pick(4);
  for (let k = 0; k < n; k++) {
    const at = rnd() < 0.8 ? hot[pick(hot.length)] : pick(b.length);
    if (at >= b.length) continue;
    switch (kind) {
      case 1:
        b[at] ^= 1 << pick(8);
        break;
      case 2:
        b[at] = pick(256);
        break;
      case 3:
        if (at + 4 <= b.length) v.setUint32(at, [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, b.length, pick(0x10000)][pick(7)], true);
        break;
      case 4:
        if (at + 8 <= b.length) v.setBigUint64(at, [0n, 1n, (1n << 63n), BigInt(b.length), BigInt(b.length - 8), 0xffffffffffffffffn][pick(6)], true);
        break;
      default:
        if (at + 2 <= b.length) v.setUint16(at, [0, 0xffff, 0xff00, 0xfff1, 1, pick(64)][pick(6)], true);
    }
  }
  return b;
}

describe('loader fuzz', () => {
  it.each(OBJECTS.map((o) => [o.name, o] as const))('%s: 150 mutations each load or give an XdpsimError', (_name, obj) => {
    const hot = interesting(obj.bytes);
    const tally = { ok: 0, errors: new Map<string, number>() };
    for (let seed = 1; seed <= 150; seed++) {
      const rnd = prng(seed * 7919 + obj.bytes.length);
      const bytes = mutate(obj.bytes, hot, rnd);
      try {
        const spec = parseObject(bytes, { file: obj.name });
        objectListing(spec, { source: true });
        // What parses must also load or fail cleanly: maps created, lddw patched.
        loadObject(bytes, { file: obj.name, kconfig: { LINUX_KERNEL_VERSION: 0x61200 } });
        tally.ok++;
      } catch (e) {
        if (!(e instanceof XdpsimError)) {
          throw new Error(`${obj.name} seed ${seed}: non-XdpsimError ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e)}`);
        }
        expect(e.code).toMatch(/^E_[A-Z0-9_]+$/);
        tally.errors.set(e.code, (tally.errors.get(e.code) ?? 0) + 1);
      }
    }
    // The mutations must actually reach the checks: most of them are refused.
    const refused = [...tally.errors.values()].reduce((a, b) => a + b, 0);
    expect(refused).toBeGreaterThan(25);
    expect(tally.errors.size).toBeGreaterThan(3);
  });
});
