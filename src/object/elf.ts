/**
 * elf — a strict reader for the ELF64 relocatable files clang writes for BPF.
 *
 * Only what a BPF object needs: the file header, section headers with names, the symbol table
 * and REL/RELA relocation tables. Every offset, size and index is checked against the file before
 * it is used, so a malformed object fails with a DecodeError naming the file, the section and the
 * byte offset, never with a RangeError from a DataView. Accepted: ELFCLASS64, ELFDATA2LSB,
 * ET_REL, e_machine EM_BPF (247) — or 0, which old toolchains wrote, with a logged warning.
 * Extended section numbering (e_shnum = 0 / e_shstrndx = SHN_XINDEX, sizes in section 0) is
 * honoured as the ELF specification describes.
 */
import { DecodeError, type ErrorFields } from '../errors.js';
import { log } from '../log.js';

/** ElfCode lists the stable codes of the DecodeErrors this module throws. */
export const ElfCode = {
  /** The file is shorter than a structure it must contain (fields: offset, need, size). */
  Truncated: 'E_ELF_TRUNCATED',
  BadMagic: 'E_ELF_MAGIC',
  /** 32-bit, big-endian, unknown version (fields: what, got). */
  BadIdent: 'E_ELF_IDENT',
  /** Not ET_REL (fields: got). */
  NotRelocatable: 'E_ELF_TYPE',
  /** e_machine neither EM_BPF nor 0 (fields: got). */
  WrongMachine: 'E_ELF_MACHINE',
  /** A header size field differs from the ELF64 structure size (fields: what, got). */
  BadHeaderSize: 'E_ELF_HEADER_SIZE',
  /** A section's data lies outside the file (fields: section, offset, size). */
  SectionOutOfBounds: 'E_ELF_SECTION_BOUNDS',
  /** A section index (sh_link, st_shndx, e_shstrndx) names no section (fields: got). */
  BadSectionIndex: 'E_ELF_SECTION_INDEX',
  /** A string table offset is outside its table or the string is unterminated (fields: offset). */
  BadString: 'E_ELF_STRING',
  /** A symbol index is out of range (fields: got, count). */
  BadSymbolIndex: 'E_ELF_SYMBOL_INDEX',
  /** A table's entry size or size is inconsistent (fields: section, what, got). */
  BadTable: 'E_ELF_TABLE',
  /** A 64-bit field holds a value beyond what this reader can address (fields: what). */
  TooLarge: 'E_ELF_TOO_LARGE',
} as const;

/** EM_BPF is the e_machine value of BPF objects. */
export const EM_BPF = 247;
/** ET_REL marks a relocatable object. */
export const ET_REL = 1;

/** Section types (sh_type). */
export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;

/** Section flags (sh_flags). */
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

/** Special section indexes. */
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

/** Symbol types (st_info & 0xf) and bindings (st_info >> 4). */
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

/** BPF relocation types (llvm/BinaryFormat/ELFRelocs/BPF.def). */
export const R_BPF_NONE = 0;
export const R_BPF_64_64 = 1;
export const R_BPF_64_ABS64 = 2;
export const R_BPF_64_ABS32 = 3;
export const R_BPF_64_NODYLD32 = 4;
export const R_BPF_64_32 = 10;

/** MAX_NOBITS caps a zero-fill section (.bss) at 256 MiB, a quarter of the VM address space. */
export const MAX_NOBITS = 1 << 28;

/** UTF8 decodes names; one shared decoder. */
const UTF8 = new TextDecoder();

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;
const RELA_SIZE = 24;

/** ElfSection is one section header with its name resolved. */
export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
}

/** ElfSymbol is one symbol table entry with its name resolved. */
export interface ElfSymbol {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly bind: number;
  readonly shndx: number;
  readonly value: number;
  readonly size: number;
}

/** ElfReloc is one relocation entry (REL: addend 0, the addend lives in the patched bytes). */
export interface ElfReloc {
  readonly offset: number;
  readonly type: number;
  readonly symbol: number;
  readonly addend: number;
}

/** ElfFile is a parsed ELF64 relocatable object. */
export interface ElfFile {
  readonly file: string;
  readonly bytes: Uint8Array;
  readonly machine: number;
  readonly sections: readonly ElfSection[];
  /** Symbols of the (single) SHT_SYMTAB, index 0 included; empty when there is none. */
  readonly symbols: readonly ElfSymbol[];
  /** Relocation tables by the index of the section they patch (sh_info). */
  readonly relocations: ReadonlyMap<number, readonly ElfReloc[]>;
}

function fail(code: string, file: string, message: string, fields: ErrorFields = {}): never {
  throw new DecodeError(code, `${file}: ${message}`, { file, ...fields });
}

/** Reader wraps a DataView with bounds-checked little-endian reads that fail as DecodeErrors. */
class Reader {
  readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(offset: number, size: number, what: string): void {
    if (offset < 0 || size < 0 || offset + size > this.bytes.length) {
      fail(ElfCode.Truncated, this.file, `${what} at byte ${offset} (${size} bytes) is past the end of the file (${this.bytes.length} bytes)`, {
        offset,
        need: size,
        size: this.bytes.length,
      });
    }
  }
  u8(o: number): number {
    return this.view.getUint8(o);
  }
  u16(o: number): number {
    return this.view.getUint16(o, true);
  }
  u32(o: number): number {
    return this.view.getUint32(o, true);
  }
  /** u64 reads a 64-bit field that must fit in a JavaScript safe integer. */
  u64(o: number, what: string): number {
    const lo = this.view.getUint32(o, true);
    const hi = this.view.getUint32(o + 4, true);
    if (hi > 0x1fffff) fail(ElfCode.TooLarge, this.file, `${what} at byte ${o} is too large (high word 0x${hi.toString(16)})`, { offset: o, what });
    return hi * 0x1_0000_0000 + lo;
  }
  /** s64 reads a signed 64-bit addend that must fit in a safe integer. */
  s64(o: number, what: string): number {
    const v = this.view.getBigInt64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      fail(ElfCode.TooLarge, this.file, `${what} at byte ${o} is out of range`, { offset: o, what });
    }
    return Number(v);
  }
}

/** cString reads a NUL-terminated string from `table` at `off`, or fails naming the table. */
export function cString(bytes: Uint8Array, table: { offset: number; size: number }, off: number, file: string, where: string): string {
  if (off < 0 || off >= table.size) {
    fail(ElfCode.BadString, file, `${where}: string offset ${off} is outside the string table (${table.size} bytes)`, { offset: table.offset + off });
  }
  const start = table.offset + off;
  const limit = table.offset + table.size;
  let end = start;
  while (end < limit && bytes[end] !== 0) end++;
  if (end >= limit) fail(ElfCode.BadString, file, `${where}: string at offset ${off} is not NUL-terminated inside its table`, { offset: start });
  return UTF8.decode(bytes.subarray(start, end));
}

/** parseElf parses and validates an ELF64 BPF relocatable object. */
export function parseElf(bytes: Uint8Array, file: string): ElfFile {
  const r = new Reader(bytes, file);
  r.need(0, 16, 'ELF identification');
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    fail(ElfCode.BadMagic, file, 'not an ELF file (bad magic)', { offset: 0 });
  }
  if (bytes[4] !== 2) fail(ElfCode.BadIdent, file, `not a 64-bit ELF file (EI_CLASS ${bytes[4]}, want 2)`, { offset: 4, what: 'class', got: bytes[4] });
  if (bytes[5] !== 1) fail(ElfCode.BadIdent, file, `not a little-endian ELF file (EI_DATA ${bytes[5]}, want 1)`, { offset: 5, what: 'data', got: bytes[5] });
  if (bytes[6] !== 1) fail(ElfCode.BadIdent, file, `unknown ELF version ${bytes[6]}`, { offset: 6, what: 'version', got: bytes[6] });
  r.need(0, EHDR_SIZE, 'ELF header');
  const type = r.u16(16);
  const machine = r.u16(18);
  if (type !== ET_REL) fail(ElfCode.NotRelocatable, file, `not a relocatable object (e_type ${type}, want ET_REL)`, { offset: 16, got: type });
  if (machine !== EM_BPF) {
    if (machine !== 0) fail(ElfCode.WrongMachine, file, `not a BPF object (e_machine ${machine}, want ${EM_BPF})`, { offset: 18, got: machine });
    log.warn({ file }, 'ELF e_machine is 0 (EM_NONE), as written by old toolchains; reading it as EM_BPF');
  }
  const shoff = r.u64(40, 'e_shoff');
  const ehsize = r.u16(52);
  const shentsize = r.u16(58);
  let shnum = r.u16(60);
  let shstrndx = r.u16(62);
  if (ehsize !== EHDR_SIZE) fail(ElfCode.BadHeaderSize, file, `e_ehsize is ${ehsize}, want ${EHDR_SIZE}`, { offset: 52, what: 'e_ehsize', got: ehsize });
  if (shoff === 0) {
    return { file, bytes, machine, sections: [], symbols: [], relocations: new Map() };
  }
  if (shentsize !== SHDR_SIZE) fail(ElfCode.BadHeaderSize, file, `e_shentsize is ${shentsize}, want ${SHDR_SIZE}`, { offset: 58, what: 'e_shentsize', got: shentsize });
  r.need(shoff, SHDR_SIZE, 'section header 0');
  if (shnum === 0) shnum = r.u64(shoff + 32, 'section 0 sh_size (section count)');
  if (shstrndx === SHN_XINDEX) shstrndx = r.u32(shoff + 40);
  if (shnum > (bytes.length - shoff) / SHDR_SIZE) {
    fail(ElfCode.Truncated, file, `${shnum} section headers at byte ${shoff} do not fit in the file (${bytes.length} bytes)`, { offset: shoff, need: shnum * SHDR_SIZE, size: bytes.length });
  }
  const raw: Array<Omit<ElfSection, 'name'> & { nameOff: number }> = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * SHDR_SIZE;
    const sec = {
      index: i,
      nameOff: r.u32(o),
      type: r.u32(o + 4),
      flags: r.u64(o + 8, `section ${i} sh_flags`),
      offset: r.u64(o + 24, `section ${i} sh_offset`),
      size: r.u64(o + 32, `section ${i} sh_size`),
      link: r.u32(o + 40),
      info: r.u32(o + 44),
      addralign: r.u64(o + 48, `section ${i} sh_addralign`),
      entsize: r.u64(o + 56, `section ${i} sh_entsize`),
    };
    if (i > 0 && sec.type !== SHT_NOBITS && sec.type !== SHT_NULL && sec.offset + sec.size > bytes.length) {
      fail(ElfCode.SectionOutOfBounds, file, `section ${i}: data at byte ${sec.offset} (${sec.size} bytes) is past the end of the file (${bytes.length} bytes)`, {
        section: `#${i}`,
        offset: sec.offset,
        size: sec.size,
      });
    }
    raw.push(sec);
  }
  if (shstrndx >= shnum) fail(ElfCode.BadSectionIndex, file, `e_shstrndx ${shstrndx} names no section (${shnum} sections)`, { offset: 62, got: shstrndx });
  const shstr = raw[shstrndx];
  if (shstr.type !== SHT_STRTAB) fail(ElfCode.BadTable, file, `section name table (section ${shstrndx}) is not a string table`, { section: `#${shstrndx}`, what: 'type', got: shstr.type });
  const sections: ElfSection[] = raw.map((s) => {
    const { nameOff, ...rest } = s;
    const name = s.index === 0 && nameOff === 0 ? '' : cString(bytes, shstr, nameOff, file, `section ${s.index} name`);
    return { ...rest, name };
  });

  const symbols = readSymbols(r, sections);
  const relocations = readRelocations(r, sections, symbols.length);
  return { file, bytes, machine, sections, symbols, relocations };
}

function sectionLabel(s: ElfSection): string {
  return s.name !== '' ? s.name : `#${s.index}`;
}

function readSymbols(r: Reader, sections: readonly ElfSection[]): ElfSymbol[] {
  const tabs = sections.filter((s) => s.type === SHT_SYMTAB);
  if (tabs.length === 0) return [];
  if (tabs.length > 1) fail(ElfCode.BadTable, r.file, `${tabs.length} symbol tables (want one)`, { what: 'symtab count', got: tabs.length });
  const tab = tabs[0];
  const label = sectionLabel(tab);
  if (tab.entsize !== SYM_SIZE || tab.size % SYM_SIZE !== 0) {
    fail(ElfCode.BadTable, r.file, `section ${label}: symbol entry size ${tab.entsize} / table size ${tab.size} is not a multiple of ${SYM_SIZE}`, { section: label, what: 'entsize', got: tab.entsize });
  }
  if (tab.link >= sections.length || sections[tab.link].type !== SHT_STRTAB) {
    fail(ElfCode.BadSectionIndex, r.file, `section ${label}: sh_link ${tab.link} is not a string table`, { section: label, got: tab.link });
  }
  const strtab = sections[tab.link];
  const out: ElfSymbol[] = [];
  for (let i = 0, o = tab.offset; o < tab.offset + tab.size; i++, o += SYM_SIZE) {
    const nameOff = r.u32(o);
    const info = r.u8(o + 4);
    const shndx = r.u16(o + 6);
    if (shndx !== SHN_UNDEF && shndx < SHN_LORESERVE && shndx >= sections.length) {
      fail(ElfCode.BadSectionIndex, r.file, `symbol ${i}: section index ${shndx} names no section (${sections.length} sections)`, { section: label, offset: o + 6, got: shndx });
    }
    out.push({
      index: i,
      name: nameOff === 0 ? '' : cString(r.bytes, strtab, nameOff, r.file, `symbol ${i} name`),
      type: info & 0xf,
      bind: info >> 4,
      shndx,
      value: r.u64(o + 8, `symbol ${i} st_value`),
      size: r.u64(o + 16, `symbol ${i} st_size`),
    });
  }
  return out;
}

function readRelocations(r: Reader, sections: readonly ElfSection[], nsyms: number): Map<number, ElfReloc[]> {
  const out = new Map<number, ElfReloc[]>();
  for (const s of sections) {
    if (s.type !== SHT_REL && s.type !== SHT_RELA) continue;
    const label = sectionLabel(s);
    const entsize = s.type === SHT_REL ? REL_SIZE : RELA_SIZE;
    if (s.size % entsize !== 0 || (s.entsize !== 0 && s.entsize !== entsize)) {
      fail(ElfCode.BadTable, r.file, `section ${label}: relocation table size ${s.size} / entry size ${s.entsize} does not match ${entsize}-byte entries`, { section: label, what: 'entsize', got: s.entsize });
    }
    if (s.info === 0 || s.info >= sections.length) {
      fail(ElfCode.BadSectionIndex, r.file, `section ${label}: sh_info ${s.info} names no section to relocate`, { section: label, got: s.info });
    }
    const target = sections[s.info];
    const list = out.get(s.info) ?? [];
    for (let o = s.offset; o < s.offset + s.size; o += entsize) {
      const offset = r.u64(o, `${label} r_offset`);
      const type = r.u32(o + 8);
      const symbol = r.u32(o + 12);
      if (symbol >= nsyms) {
        fail(ElfCode.BadSymbolIndex, r.file, `section ${label}: relocation at byte ${o} names symbol ${symbol}, but there are ${nsyms}`, { section: label, offset: o, got: symbol, count: nsyms });
      }
      if (target.type !== SHT_NOBITS && offset >= target.size) {
        fail(ElfCode.BadTable, r.file, `section ${label}: relocation at byte ${o} patches offset ${offset}, past the end of ${sectionLabel(target)} (${target.size} bytes)`, {
          section: label,
          offset: o,
          what: 'r_offset',
          got: offset,
        });
      }
      const addend = s.type === SHT_RELA ? r.s64(o + 16, `${label} r_addend`) : 0;
      list.push({ offset, type, symbol, addend });
    }
    out.set(s.info, list);
  }
  return out;
}

/** sectionData returns the bytes of a section (zeros for SHT_NOBITS), bounds already checked. */
export function sectionData(elf: ElfFile, s: ElfSection): Uint8Array {
  if (s.type === SHT_NOBITS) {
    if (s.size > MAX_NOBITS) {
      fail(ElfCode.TooLarge, elf.file, `section ${sectionLabel(s)}: ${s.size} bytes of zero-fill is more than ${MAX_NOBITS}`, { section: sectionLabel(s), what: 'sh_size' });
    }
    return new Uint8Array(s.size);
  }
  return elf.bytes.subarray(s.offset, s.offset + s.size);
}
