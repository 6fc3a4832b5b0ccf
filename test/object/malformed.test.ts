/**
 * Malformed objects: each corruption of a real object gets a DecodeError/LoadError with a stable
 * code and a location, never a raw exception. Corruptions are made by editing the parsed offsets
 * of programs/xdp_fw.o (and friends), so they hit exactly the structure they name.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DecodeError, LoadError, NotSupportedError, VerifyError, XdpsimError } from '../../src/errors.js';
import { VerifyCode } from '../../src/isa/validate.js';
import { parseElf } from '../../src/object/elf.js';
import { parseObject } from '../../src/object/loader.js';
import { BtfKind, parseBtf } from '../../src/object/btf/wire.js';
import { loadObject } from '../../src/object/instantiate.js';

const FW = new Uint8Array(readFileSync('programs/xdp_fw.o'));
const CALLS = new Uint8Array(readFileSync('programs/xdp_calls.o'));

function clone(b: Uint8Array): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(b);
  return { bytes, view: new DataView(bytes.buffer) };
}

function section(b: Uint8Array, name: string): { index: number; hdr: number; offset: number; size: number; link: number } {
  const elf = parseElf(b, 't.o');
  const s = elf.sections.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no section ${name}`);
  const shoff = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(40, true));
  return { index: s.index, hdr: shoff + 64 * s.index, offset: s.offset, size: s.size, link: s.link };
}

function codeOf(f: () => unknown): { cls: string; code: string; fields: Record<string, unknown> } {
  try {
    f();
  } catch (e) {
    if (e instanceof XdpsimError) return { cls: e.constructor.name, code: e.code, fields: e.fields };
    throw e;
  }
  return { cls: 'none', code: 'none', fields: {} };
}

describe('malformed ELF', () => {
  const cases: Array<[string, (c: { bytes: Uint8Array; view: DataView }) => Uint8Array, string, typeof DecodeError | typeof LoadError]> = [
    ['empty file', () => new Uint8Array(0), 'E_ELF_TRUNCATED', DecodeError],
    ['truncated header', (c) => c.bytes.subarray(0, 40), 'E_ELF_TRUNCATED', DecodeError],
    ['bad magic', (c) => ((c.bytes[1] = 0x46), c.bytes), 'E_ELF_MAGIC', DecodeError],
    ['32-bit class', (c) => ((c.bytes[4] = 1), c.bytes), 'E_ELF_IDENT', DecodeError],
    ['big-endian', (c) => ((c.bytes[5] = 2), c.bytes), 'E_ELF_IDENT', DecodeError],
    ['not ET_REL', (c) => (c.view.setUint16(16, 2, true), c.bytes), 'E_ELF_TYPE', DecodeError],
    ['x86-64 machine', (c) => (c.view.setUint16(18, 62, true), c.bytes), 'E_ELF_MACHINE', DecodeError],
    ['section headers past the end', (c) => (c.view.setBigUint64(40, BigInt(c.bytes.length - 10), true), c.bytes), 'E_ELF_TRUNCATED', DecodeError],
    ['shstrndx out of range', (c) => (c.view.setUint16(62, 999, true), c.bytes), 'E_ELF_SECTION_INDEX', DecodeError],
    ['truncated file cuts the section headers', (c) => c.bytes.subarray(0, c.bytes.length - 100), 'E_ELF_TRUNCATED', DecodeError],
    [
      'section offset past the end',
      (c) => {
        const s = section(c.bytes, 'xdp');
        c.view.setBigUint64(s.hdr + 24, BigInt(c.bytes.length + 8), true);
        return c.bytes;
      },
      'E_ELF_SECTION_BOUNDS',
      DecodeError,
    ],
    [
      'section name offset outside the string table',
      (c) => {
        const s = section(c.bytes, 'xdp');
        c.view.setUint32(s.hdr, 0x7fffff, true);
        return c.bytes;
      },
      'E_ELF_STRING',
      DecodeError,
    ],
    [
      'unterminated string table',
      (c) => {
        const s = section(c.bytes, '.strtab');
        c.bytes.fill(0x41, s.offset, s.offset + s.size);
        return c.bytes;
      },
      'E_ELF_STRING',
      DecodeError,
    ],
    [
      'symbol table links to a non-string section',
      (c) => {
        const s = section(c.bytes, '.symtab');
        c.view.setUint32(s.hdr + 40, section(c.bytes, 'xdp').index, true);
        return c.bytes;
      },
      'E_ELF_SECTION_INDEX',
      DecodeError,
    ],
    [
      'symbol section index out of range',
      (c) => {
        const s = section(c.bytes, '.symtab');
        c.view.setUint16(s.offset + 24 * 2 + 6, 0xf000, true);
        return c.bytes;
      },
      'E_ELF_SECTION_INDEX',
      DecodeError,
    ],
    [
      'relocation symbol index out of range',
      (c) => {
        const s = section(c.bytes, '.relxdp');
        c.view.setUint32(s.offset + 12, 100000, true);
        return c.bytes;
      },
      'E_ELF_SYMBOL_INDEX',
      DecodeError,
    ],
    [
      'relocation offset past its section',
      (c) => {
        const s = section(c.bytes, '.relxdp');
        c.view.setBigUint64(s.offset, 1n << 40n, true);
        return c.bytes;
      },
      'E_ELF_TABLE',
      DecodeError,
    ],
    [
      'relocation on a non-lddw instruction',
      (c) => {
        const s = section(c.bytes, '.relxdp');
        c.view.setBigUint64(s.offset, 0n, true);
        return c.bytes;
      },
      'E_OBJ_RELOCATION',
      LoadError,
    ],
    [
      'license not NUL-terminated',
      (c) => {
        const s = section(c.bytes, 'license');
        c.bytes.fill(0x47, s.offset, s.offset + s.size);
        return c.bytes;
      },
      'E_OBJ_LICENSE',
      LoadError,
    ],
  ];
  it.each(cases)('%s', (_name, corrupt, code, cls) => {
    const bytes = corrupt(clone(FW));
    const got = codeOf(() => parseObject(bytes, { file: 'xdp_fw.o' }));
    expect(got.code).toBe(code);
    expect(got.cls).toBe(cls.name);
    expect(got.fields.file).toBe('xdp_fw.o');
  });

  it('reads extended section numbering (e_shnum 0, e_shstrndx SHN_XINDEX, both in section 0)', () => {
    const c = clone(FW);
    const shoff = Number(c.view.getBigUint64(40, true));
    const shnum = c.view.getUint16(60, true);
    const shstrndx = c.view.getUint16(62, true);
    c.view.setUint16(60, 0, true);
    c.view.setUint16(62, 0xffff, true);
    c.view.setBigUint64(shoff + 32, BigInt(shnum), true);
    c.view.setUint32(shoff + 40, shstrndx, true);
    expect(parseObject(c.bytes, { file: 'xdp_fw.o' }).programs.map((p) => p.name)).toEqual(['xdp_fw']);
  });

  it('accepts e_machine 0 (old toolchains) like EM_BPF', () => {
    const c = clone(FW);
    c.view.setUint16(18, 0, true);
    const spec = parseObject(c.bytes, { file: 'xdp_fw.o' });
    expect(spec.programs.map((p) => p.name)).toEqual(['xdp_fw']);
  });
});

describe('malformed BTF', () => {
  function btfTypes(b: Uint8Array): { sec: ReturnType<typeof section>; typeStart: number; hdrLen: number } {
    const sec = section(b, '.BTF');
    const v = new DataView(b.buffer, b.byteOffset);
    const hdrLen = v.getUint32(sec.offset + 4, true);
    return { sec, typeStart: sec.offset + hdrLen + v.getUint32(sec.offset + 8, true), hdrLen };
  }

  /** recordOffsets gives the file offset of every type record, walking record sizes by kind. */
  function recordOffsets(b: Uint8Array): number[] {
    const { sec, typeStart } = btfTypes(b);
    const types = parseBtf(b.subarray(sec.offset, sec.offset + sec.size), { file: 'x', section: '.BTF', base: 0 }).types;
    const extra = (kind: number, vlen: number): number => {
      switch (kind) {
        case BtfKind.INT:
        case BtfKind.VAR:
        case BtfKind.DECL_TAG:
          return 4;
        case BtfKind.ARRAY:
          return 12;
        case BtfKind.STRUCT:
        case BtfKind.UNION:
        case BtfKind.DATASEC:
        case BtfKind.ENUM64:
          return 12 * vlen;
        case BtfKind.ENUM:
        case BtfKind.FUNC_PROTO:
          return 8 * vlen;
        default:
          return 0;
      }
    };
    const out = [0];
    let p = typeStart;
    for (let id = 1; id < types.length; id++) {
      out.push(p);
      const kind = types[id].kind;
      p += 12 + extra(kind, kind === BtfKind.FUNC ? 0 : types[id].vlen);
    }
    return out;
  }

  function firstOfKind(b: Uint8Array, kind: number): { id: number; at: number } {
    const { sec } = btfTypes(b);
    const types = parseBtf(b.subarray(sec.offset, sec.offset + sec.size), { file: 'x', section: '.BTF', base: 0 }).types;
    const id = types.findIndex((t) => t.kind === kind);
    expect(id).toBeGreaterThan(0);
    return { id, at: recordOffsets(b)[id] };
  }

  it('refuses a typedef of itself (E_BTF_CYCLE)', () => {
    const c = clone(FW);
    const t = firstOfKind(c.bytes, BtfKind.TYPEDEF);
    c.view.setUint32(t.at + 8, t.id, true);
    const got = codeOf(() => parseObject(c.bytes, { file: 'x.o' }));
    expect([got.cls, got.code, got.fields.section, got.fields.typeId]).toEqual(['DecodeError', 'E_BTF_CYCLE', '.BTF', t.id]);
  });

  it('refuses a struct that contains itself by value (E_BTF_CYCLE)', () => {
    const c = clone(FW);
    const t = firstOfKind(c.bytes, BtfKind.STRUCT);
    // Member 0's type (at record + 12 + 4) becomes the struct itself.
    c.view.setUint32(t.at + 16, t.id, true);
    const got = codeOf(() => parseObject(c.bytes, { file: 'x.o' }));
    expect([got.cls, got.code]).toEqual(['DecodeError', 'E_BTF_CYCLE']);
  });

  it('refuses a pointer to a type id past the end (E_BTF_TYPE_ID)', () => {
    const c = clone(FW);
    const t = firstOfKind(c.bytes, BtfKind.PTR);
    c.view.setUint32(t.at + 8, 0xffff0, true);
    const got = codeOf(() => parseObject(c.bytes, { file: 'x.o' }));
    expect([got.cls, got.code, got.fields.typeId, got.fields.got]).toEqual(['DecodeError', 'E_BTF_TYPE_ID', t.id, 0xffff0]);
  });

  it('refuses a type name outside the string section, naming its file offset (E_BTF_STRING)', () => {
    const c = clone(FW);
    const t = firstOfKind(c.bytes, BtfKind.STRUCT);
    c.view.setUint32(t.at, 0x7fffff, true);
    const got = codeOf(() => parseObject(c.bytes, { file: 'x.o' }));
    expect(got.code).toBe('E_BTF_STRING');
    expect(got.fields.offset).toBeGreaterThan(btfTypes(c.bytes).sec.offset);
  });

  it('refuses a string area outside the section (E_BTF_LAYOUT)', () => {
    const c = clone(FW);
    const { sec } = btfTypes(c.bytes);
    c.view.setUint32(sec.offset + 20, 0x7fffffff, true);
    const got = codeOf(() => parseObject(c.bytes, { file: 'x.o' }));
    expect(got.code).toBe('E_BTF_LAYOUT');
    expect(typeof got.fields.offset).toBe('number');
  });

  it('refuses a type area outside the section (E_BTF_LAYOUT)', () => {
    const c = clone(FW);
    const { sec } = btfTypes(c.bytes);
    c.view.setUint32(sec.offset + 12, 0x7ffffff0, true);
    expect(codeOf(() => parseObject(c.bytes, { file: 'x.o' })).code).toBe('E_BTF_LAYOUT');
  });

  it('refuses a bad BTF magic', () => {
    const c = clone(FW);
    const { sec } = btfTypes(c.bytes);
    c.view.setUint16(sec.offset, 0x9feb, true);
    expect(codeOf(() => parseObject(c.bytes, { file: 'x.o' })).code).toBe('E_BTF_MAGIC');
  });

  it('refuses a line_info record size that does not fit', () => {
    const c = clone(CALLS);
    const sec = section(c.bytes, '.BTF.ext');
    const hdrLen = c.view.getUint32(sec.offset + 4, true);
    const lineOff = c.view.getUint32(sec.offset + 16, true);
    c.view.setUint32(sec.offset + hdrLen + lineOff, 3, true);
    const got = codeOf(() => parseObject(c.bytes, { file: 'x.o' }));
    expect(got.code).toBe('E_BTF_EXT');
    expect(got.fields.section).toBe('.BTF.ext');
  });
});

describe('malformed BTF map definitions', () => {
  function renameString(b: Uint8Array, from: string, to: string): Uint8Array {
    const sec = section(b, '.BTF');
    const at = Buffer.from(b.subarray(sec.offset, sec.offset + sec.size)).indexOf(`\0${from}\0`);
    expect(at).toBeGreaterThan(0);
    b.set(new TextEncoder().encode(to), sec.offset + at + 1);
    return b;
  }

  it.each([
    ['an unknown field, as libbpf refuses it', 'max_entries', 'max_entriez', 'E_OBJ_MAP_DEF'],
  ])('refuses %s', (_n, from, to, code) => {
    const got = codeOf(() => parseObject(renameString(clone(FW).bytes, from, to), { file: 'x.o' }));
    expect([got.cls, got.code, got.fields.section]).toEqual(['LoadError', code, '.maps']);
  });
});

describe('unsupported features are named', () => {
  it('a kfunc call is NotSupportedError naming the instruction', () => {
    const c = clone(CALLS);
    const s = section(c.bytes, 'xdp');
    // Insn 1 of xdp_sum is `call -1` (a pseudo call to checksum_prefix); make it a kfunc call.
    expect(c.bytes[s.offset + 8]).toBe(0x85);
    c.bytes[s.offset + 9] = 0x20;
    const spec = parseObject(c.bytes, { file: 'x.o' });
    const sum = spec.programs.find((p) => p.name === 'xdp_sum');
    expect(sum?.refused).toBeInstanceOf(NotSupportedError);
    expect(sum?.refused?.fields.feature).toBe('kfunc');
    expect(sum?.refused?.fields.insn).toBe(1);
    expect(spec.programs.find((p) => p.name === 'xdp_loop')?.refused).toBeUndefined();
    const got = codeOf(() => loadObject(c.bytes, { file: 'x.o' }));
    expect(got.cls).toBe(NotSupportedError.name);
    expect(loadObject(c.bytes, { file: 'x.o', only: ['xdp_loop'] }).programs.has('xdp_loop')).toBe(true);
  });
});

describe('bytecode the kernel verifier refuses is refused at load', () => {
  it('a register read after a call scratched it: VerifyError naming file, section, program and instruction', () => {
    const c = clone(CALLS);
    const s = section(c.bytes, 'xdp');
    // Insn 2 of xdp_sum is `w6 = w0` after `call checksum_prefix`; read r3 instead, which the call scratched.
    expect(c.bytes[s.offset + 16]).toBe(0xbc);
    expect(c.bytes[s.offset + 17]).toBe(0x06);
    c.bytes[s.offset + 17] = 0x36;
    const spec = parseObject(c.bytes, { file: 'x.o' });
    const sum = spec.programs.find((p) => p.name === 'xdp_sum');
    expect(sum?.refused).toBeInstanceOf(VerifyError);
    expect(sum?.refused?.code).toBe(VerifyCode.UninitRegister);
    expect(sum?.refused?.fields).toMatchObject({ file: 'x.o', section: 'xdp', program: 'xdp_sum', insn: 2, reg: 3 });
    expect(sum?.refused?.message).toMatch(/^x\.o: section xdp: program xdp_sum: instruction 2 /);
    const got = codeOf(() => loadObject(c.bytes, { file: 'x.o' }));
    expect([got.cls, got.code]).toEqual(['VerifyError', VerifyCode.UninitRegister]);
    // Like libbpf, the object still opens: the other program loads on its own.
    expect(loadObject(c.bytes, { file: 'x.o', only: ['xdp_loop'] }).programs.has('xdp_loop')).toBe(true);
  });

  it('an unknown opcode is refused at load, not when a packet reaches it', () => {
    const c = clone(CALLS);
    const s = section(c.bytes, 'xdp');
    c.bytes[s.offset + 16] = 0xff;
    const got = codeOf(() => loadObject(c.bytes, { file: 'x.o', only: ['xdp_sum'] }));
    expect([got.cls, got.code, got.fields.insn]).toEqual(['VerifyError', VerifyCode.UnknownOpcode, 2]);
  });
});
