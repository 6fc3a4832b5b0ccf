/**
 * BTF wire format and type graph on hand-built blobs: every kind decodes, and cycles, bad
 * offsets, bad type ids, unknown kinds and truncated records are refused with their codes.
 */
import { describe, expect, it } from 'vitest';
import { XdpsimError } from '../../src/errors.js';
import { Btf } from '../../src/object/btf/types.js';
import { BtfKind, parseBtf } from '../../src/object/btf/wire.js';

/** BtfBuilder writes a .BTF section: types as u32 words, names into a string table. */
class BtfBuilder {
  private readonly words: number[] = [];
  private strings = '\0';
  name(s: string): number {
    if (s === '') return 0;
    const off = this.strings.length;
    this.strings += s + '\0';
    return off;
  }
  type(name: string, kind: number, vlen: number, sizeOrType: number, extra: number[] = [], kindFlag = false): this {
    this.words.push(this.name(name), ((kindFlag ? 1 : 0) << 31) | (kind << 24) | vlen, sizeOrType, ...extra);
    return this;
  }
  build(): Uint8Array {
    const str = new TextEncoder().encode(this.strings);
    const typeLen = this.words.length * 4;
    const out = new Uint8Array(24 + typeLen + str.length);
    const v = new DataView(out.buffer);
    v.setUint16(0, 0xeb9f, true);
    out[2] = 1;
    v.setUint32(4, 24, true);
    v.setUint32(8, 0, true);
    v.setUint32(12, typeLen, true);
    v.setUint32(16, typeLen, true);
    v.setUint32(20, str.length, true);
    this.words.forEach((w, i) => v.setUint32(24 + i * 4, w >>> 0, true));
    out.set(str, 24 + typeLen);
    return out;
  }
}

const CTX = { file: 't.o', section: '.BTF', base: 1000 };
const INT = (b: BtfBuilder, name = 'int'): BtfBuilder => b.type(name, BtfKind.INT, 0, 4, [(1 << 24) | 32]);

function graph(bytes: Uint8Array): Btf {
  const btf = new Btf(parseBtf(bytes, CTX), CTX);
  btf.checkAcyclic();
  return btf;
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof XdpsimError) return e.code;
    throw e;
  }
  return 'ok';
}

describe('BTF', () => {
  it('decodes every kind and sizes types', () => {
    const b = new BtfBuilder();
    INT(b); // [1] int
    b.type('', BtfKind.PTR, 0, 1); // [2] int *
    b.type('', BtfKind.ARRAY, 0, 0, [1, 1, 10]); // [3] int[10]
    b.type('s', BtfKind.STRUCT, 2, 48, [b.name('a'), 1, 0, b.name('b'), 3, 64]); // [4] struct s
    b.type('u', BtfKind.UNION, 1, 8, [b.name('p'), 2, 0]); // [5] union u
    b.type('e', BtfKind.ENUM, 2, 4, [b.name('A'), 1, b.name('B'), -1 >>> 0], true); // [6] signed enum
    b.type('f', BtfKind.FWD, 0, 0); // [7]
    b.type('t', BtfKind.TYPEDEF, 0, 4); // [8] typedef struct s t
    b.type('', BtfKind.VOLATILE, 0, 8); // [9]
    b.type('', BtfKind.CONST, 0, 9); // [10]
    b.type('', BtfKind.RESTRICT, 0, 2); // [11]
    b.type('', BtfKind.FUNC_PROTO, 1, 1, [b.name('x'), 1]); // [12] int (int x)
    b.type('fn', BtfKind.FUNC, 1, 12); // [13] global func
    b.type('v', BtfKind.VAR, 0, 10, [1]); // [14] var v of const volatile t
    b.type('.data', BtfKind.DATASEC, 1, 48, [14, 0, 48]); // [15]
    b.type('double', BtfKind.FLOAT, 0, 8); // [16]
    b.type('tag', BtfKind.DECL_TAG, 0, 4, [-1 >>> 0]); // [17]
    b.type('tt', BtfKind.TYPE_TAG, 0, 1); // [18]
    b.type('e64', BtfKind.ENUM64, 1, 8, [b.name('C'), 1, 2]); // [19]
    const btf = graph(b.build());
    expect(btf.types.length).toBe(20);
    expect(btf.sizeOf(3)).toBe(40);
    expect(btf.sizeOf(4)).toBe(48);
    expect(btf.sizeOf(10)).toBe(48);
    expect(btf.sizeOf(2)).toBe(8);
    expect(btf.skipModifiers(10).name).toBe('s');
    expect(btf.get(4).members?.map((m) => [m.name, m.bitOffset])).toEqual([['a', 0], ['b', 64]]);
    expect(btf.get(6).enumValues?.map((e) => e.value)).toEqual([1n, -1n]);
    expect(btf.get(19).enumValues?.[0].value).toBe((2n << 32n) | 1n);
    expect(btf.get(13).linkage).toBe(1);
    expect(btf.get(17).componentIdx).toBe(-1);
    expect(btf.byName('.data', BtfKind.DATASEC)?.secinfo).toEqual([{ type: 14, offset: 0, size: 48 }]);
    expect([btf.describe(2), btf.describe(3), btf.describe(10), btf.describe(14), btf.describe(12), btf.describe(7)]).toEqual([
      'int *',
      'int[10]',
      'const volatile t',
      'const volatile t',
      'int (...)',
      'struct f',
    ]);
  });

  it('a pointer breaks a cycle (struct list { struct list *next; })', () => {
    const b = new BtfBuilder();
    b.type('list', BtfKind.STRUCT, 1, 8, [b.name('next'), 2, 0]); // [1]
    b.type('', BtfKind.PTR, 0, 1); // [2]
    expect(graph(b.build()).sizeOf(1)).toBe(8);
  });

  it.each([
    ['typedef loop', (b: BtfBuilder) => b.type('a', BtfKind.TYPEDEF, 0, 2).type('b', BtfKind.TYPEDEF, 0, 1)],
    ['const of itself', (b: BtfBuilder) => b.type('', BtfKind.CONST, 0, 1)],
    ['struct containing itself', (b: BtfBuilder) => b.type('s', BtfKind.STRUCT, 1, 4, [b.name('x'), 1, 0])],
    ['array of itself', (b: BtfBuilder) => b.type('', BtfKind.ARRAY, 0, 0, [1, 1, 2])],
    ['var of a loop', (b: BtfBuilder) => b.type('v', BtfKind.VAR, 0, 2, [0]).type('t', BtfKind.VOLATILE, 0, 2)],
  ])('refuses a cycle: %s', (_n, make) => {
    expect(code(() => graph(make(new BtfBuilder()).build()))).toBe('E_BTF_CYCLE');
  });

  it('refuses modifier chains deeper than the kernel allows', () => {
    const b = new BtfBuilder();
    INT(b);
    for (let i = 0; i < 40; i++) b.type('', BtfKind.CONST, 0, i + 1);
    const btf = new Btf(parseBtf(b.build(), CTX), CTX);
    expect(code(() => btf.skipModifiers(41))).toBe('E_BTF_CYCLE');
    expect(code(() => btf.sizeOf(41))).toBe('E_BTF_CYCLE');
    expect(code(() => btf.skipModifiers(20))).toBe('ok');
  });

  it('names the absolute byte offset of a bad name', () => {
    const bytes = INT(new BtfBuilder()).build();
    new DataView(bytes.buffer).setUint32(24, 999, true);
    try {
      parseBtf(bytes, CTX);
      expect.unreachable();
    } catch (e) {
      expect((e as XdpsimError).code).toBe('E_BTF_STRING');
      expect((e as XdpsimError).fields.offset).toBeGreaterThanOrEqual(CTX.base);
      expect((e as XdpsimError).fields.section).toBe('.BTF');
    }
  });

  it.each([
    ['type id past the end', (b: BtfBuilder) => b.type('', BtfKind.PTR, 0, 7), 'E_BTF_TYPE_ID'],
    ['member type past the end', (b: BtfBuilder) => b.type('s', BtfKind.STRUCT, 1, 4, [0, 9, 0]), 'E_BTF_TYPE_ID'],
    ['unknown kind', (b: BtfBuilder) => b.type('', 25, 0, 0), 'E_BTF_KIND'],
    ['vlen past the type area', (b: BtfBuilder) => b.type('s', BtfKind.STRUCT, 500, 4), 'E_BTF_TRUNCATED'],
    ['INT wider than its size', (b: BtfBuilder) => b.type('i', BtfKind.INT, 0, 1, [64]), 'E_BTF_TYPE'],
    ['FUNC of a non-prototype', (b: BtfBuilder) => INT(b).type('f', BtfKind.FUNC, 0, 1), 'E_BTF_TYPE'],
  ])('refuses %s', (_n, make, want) => {
    expect(code(() => graph(make(new BtfBuilder()).build()))).toBe(want);
  });

  it.each([
    ['bad magic', (v: DataView) => v.setUint16(0, 0x1234, true), 'E_BTF_MAGIC'],
    ['bad version', (v: DataView) => v.setUint8(2, 2), 'E_BTF_VERSION'],
    ['hdr_len past the end', (v: DataView) => v.setUint32(4, 1 << 20, true), 'E_BTF_LAYOUT'],
    ['type area past the end', (v: DataView) => v.setUint32(12, 1 << 20, true), 'E_BTF_LAYOUT'],
    ['string area past the end', (v: DataView) => v.setUint32(20, 1 << 20, true), 'E_BTF_LAYOUT'],
    ['misaligned type area', (v: DataView) => v.setUint32(8, 2, true), 'E_BTF_LAYOUT'],
  ])('refuses a header with %s', (_n, poke, want) => {
    const bytes = INT(new BtfBuilder()).build();
    poke(new DataView(bytes.buffer));
    expect(code(() => parseBtf(bytes, CTX))).toBe(want);
  });

  it('refuses a header shorter than 24 bytes', () => {
    expect(code(() => parseBtf(new Uint8Array(10), CTX))).toBe('E_BTF_TRUNCATED');
  });
});
