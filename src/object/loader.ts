/**
 * loader — ELF bytes → ObjectSpec: the pure, deterministic parse of a BPF object, in the shape
 * of cilium/ebpf's CollectionSpec. Nothing here touches VM memory; `instantiate.ts` turns the
 * spec into live maps and runnable programs.
 *
 * The phases, one function each, in order:
 *   classifySections  sort sections by what they hold (programs, .text, .maps, legacy maps, data)
 *   parseLicense      the "license" section and the kernel's GPL-compatibility rule
 *   parseBtfSections  .BTF and .BTF.ext (types, func_info, line_info, CO-RE records)
 *   collectFunctions  split every executable section into functions by their FUNC symbols
 *   parseBtfMaps      BTF-defined maps in .maps (libbpf parse_btf_map_def)
 *   parseLegacyMaps   iproute2's struct bpf_elf_map entries in "maps"
 *   parseDataMaps     .data/.rodata/.bss(.*) as one-value array maps (libbpf internal maps)
 *   kconfigLayout     `__kconfig` externs in one read-only .kconfig map (kconfig.ts)
 *   linkPrograms      each entry function plus the subprograms it calls (libbpf
 *                     bpf_object__reloc_code), its map and data references, its line info;
 *                     a program needing CO-RE, a kfunc or a __ksym is kept, unlinked, with the
 *                     NotSupportedError that stops its load (libbpf too fails at load, not open)
 *   parseSlotInit     declarative `.values` initialisation and iproute2 "<id>/<key>" sections
 *
 * References to maps stay symbolic (ProgramMapRef); instantiation patches the lddw immediates.
 * Relocation tables of data sections (.data, .rodata, debug info) are ignored, as libbpf's
 * bpf_object__elf_collect skips every relocation section that patches neither code nor .maps.
 */
import { LoadError, NotSupportedError, UsageError, VerifyError, type ErrorFields } from '../errors.js';
import { decodeInsns } from '../isa/decode.js';
import type { Insn } from '../isa/insn.js';
import { BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, OP_CALL, OP_LDDW } from '../isa/opcodes.js';
import { validateProgram } from '../isa/validate.js';
import { log } from '../log.js';
import { MapFlag, MapType, PIN_BY_NAME, PIN_NONE, type MapSpec } from '../maps/spec.js';
import type { ProgramSpec } from '../vm/program.js';
import { btfStringsOf, parseBtfExt, type BtfExt, type CoreRelo, type LineInfo } from './btf/ext.js';
import { Btf } from './btf/types.js';
import { BtfKind, parseBtf, type BtfMember, type BtfType } from './btf/wire.js';
import {
  parseElf,
  R_BPF_64_32,
  R_BPF_64_64,
  R_BPF_64_ABS64,
  sectionData,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHN_UNDEF,
  SHT_NOBITS,
  SHT_PROGBITS,
  STT_FUNC,
  STT_SECTION,
  STB_LOCAL,
  type ElfFile,
  type ElfReloc,
  type ElfSection,
  type ElfSymbol,
} from './elf.js';
import { kconfigLayout, type KconfigLayout, type KconfigValue } from './kconfig.js';
import { iproute2TailCallSlot, kindDef, sectionDef, type ProgramKind, type SectionDef } from './sections.js';

/** LoaderCode lists the stable codes of LoadErrors and NotSupportedErrors raised by the loader. */
export const LoaderCode = {
  /** A relocation or reference the loader cannot resolve (fields: section, insn, symbol). */
  BadRelocation: 'E_OBJ_RELOCATION',
  /** A call or jump target outside any function (fields: section, insn). */
  BadCallTarget: 'E_OBJ_CALL_TARGET',
  /** A map definition libbpf/iproute2 would refuse (fields: symbol, what). */
  BadMapDef: 'E_OBJ_MAP_DEF',
  /** The license section is malformed (fields: section). */
  BadLicense: 'E_OBJ_LICENSE',
  /** A program section's bytes are not whole instructions (fields: section). */
  BadProgramSection: 'E_OBJ_PROGRAM_SECTION',
  /** Two maps or programs share a name (fields: symbol). */
  DuplicateName: 'E_OBJ_DUPLICATE',
  /** A libbpf feature xdpsim does not implement (fields: feature, symbol). */
  Unsupported: 'E_NOT_SUPPORTED',
  /** A `rodata` override names no variable or has the wrong size (fields: symbol). */
  BadGlobal: 'E_OBJ_GLOBAL',
} as const;

/** GPL_COMPATIBLE_LICENSES are the strings license_is_gpl_compatible() accepts (include/linux/license.h). */
export const GPL_COMPATIBLE_LICENSES: readonly string[] = [
  'GPL',
  'GPL v2',
  'GPL and additional rights',
  'Dual BSD/GPL',
  'Dual MIT/GPL',
  'Dual MPL/GPL',
];

/** isGplCompatible mirrors the kernel's license_is_gpl_compatible(). */
export function isGplCompatible(license: string): boolean {
  return GPL_COMPATIBLE_LICENSES.includes(license);
}

/** ProgramMapRef is an lddw of a map (`map`) or of an address inside a data map (`value`). */
export interface ProgramMapRef {
  /** Instruction index of the lddw within the linked program. */
  readonly insn: number;
  readonly kind: 'map' | 'value';
  /** MapSpec.name of the referenced map. */
  readonly map: string;
  /** For 'value': byte offset inside value 0. */
  readonly offset: number;
  /** The ELF symbol the relocation named. */
  readonly symbol: string;
}

/** FunctionSpan is one function placed in a linked program. */
export interface FunctionSpan {
  readonly name: string;
  readonly section: string;
  /** First instruction index in the linked program. */
  readonly start: number;
  readonly length: number;
}

/** ObjectProgramSpec is a program of an object: a ProgramSpec plus where everything came from. */
export interface ObjectProgramSpec extends ProgramSpec {
  readonly section: string;
  readonly kind: ProgramKind;
  readonly progType: number;
  readonly attachType: number;
  /** The section definition says the program may see multi-buffer frames (xdp.frags). */
  readonly frags: boolean;
  readonly license: string;
  readonly gplCompatible: boolean;
  /** lddw references to patch at instantiation. The insns hold 0 in their immediates. */
  readonly mapRefs: readonly ProgramMapRef[];
  /** The entry function and each appended subprogram, in order. */
  readonly functions: readonly FunctionSpan[];
  /** BTF line records by the instruction index where each starts. */
  readonly lines: ReadonlyMap<number, LineInfo>;
  /**
   * Why the program cannot be loaded, when it cannot: a feature xdpsim lacks (a kfunc, a CO-RE
   * relocation, a __ksym: NotSupportedError; insns are then the unlinked entry function) or
   * bytecode the kernel's verifier refuses (VerifyError). Parsing succeeds, instantiation refuses it.
   */
  readonly refused?: NotSupportedError | VerifyError;
}

/** FunctionSpec is one function as it sits in its section, before linking (for disassembly). */
export interface FunctionSpec {
  readonly name: string;
  readonly section: string;
  /** Index of the first instruction within the section. */
  readonly start: number;
  readonly insns: readonly Insn[];
  /** Whether this is an entry program (false for .text subprograms). */
  readonly entry: boolean;
  /** BTF line records by instruction index relative to the function. */
  readonly lines: ReadonlyMap<number, LineInfo>;
}

/** CodeLabel is a symbol that names an instruction of an executable section. */
export interface CodeLabel {
  readonly section: string;
  /** Instruction index within the section. */
  readonly index: number;
  readonly name: string;
}

/** GlobalVarSpec locates a global variable inside a data map. */
export interface GlobalVarSpec {
  readonly name: string;
  readonly map: string;
  readonly section: string;
  readonly offset: number;
  readonly size: number;
  /** The variable's C type from BTF (`const volatile __u32`, `__u64[4]`), when the object has BTF. */
  readonly type?: string;
}

/** ObjectSpec is everything an object declares, parsed and checked, and nothing loaded. */
export interface ObjectSpec {
  /** The object name (file basename up to the first '.', as libbpf names it). */
  readonly name: string;
  readonly file: string;
  readonly license: string;
  readonly gplCompatible: boolean;
  /** The "version" section's u32, when present. */
  readonly kernelVersion?: number;
  readonly programs: readonly ObjectProgramSpec[];
  /** Maps in creation order: BTF maps, legacy maps, then global data. */
  readonly maps: readonly MapSpec[];
  readonly functions: readonly FunctionSpec[];
  readonly globals: readonly GlobalVarSpec[];
  /** Named code locations (functions and clang's LBB labels) for disassembly, by section. */
  readonly labels: readonly CodeLabel[];
  readonly btf?: Btf;
  readonly hasLineInfo: boolean;
  /** The `__kconfig` externs and where they sit in the .kconfig map, when the object has any. */
  readonly kconfig?: KconfigLayout;
}

/** GlobalValue is what `rodata` overrides accept: raw bytes or an integer (little-endian). */
export type GlobalValue = Uint8Array | number | bigint;

/** ParseOptions tune parseObject. */
export interface ParseOptions {
  /** File name for messages; default "<bytes>". */
  file?: string;
  /** Object name (map name prefix); default derived from `file` as libbpf does. */
  name?: string;
  /** Program kind for sections whose name says nothing (iproute2's `sec S`). */
  sectionKinds?: Readonly<Record<string, ProgramKind>>;
  /** Kind for every unclaimed executable section (default 'unspec'). */
  defaultKind?: ProgramKind;
  /** Values for `const volatile` globals in .rodata (and any other data section), set before load. */
  rodata?: Readonly<Record<string, GlobalValue>>;
  /** Values of `extern ... __kconfig` variables (CONFIG_*, LINUX_KERNEL_VERSION). */
  kconfig?: Readonly<Record<string, KconfigValue>>;
}

/** BPF_OBJ_NAME_LEN is the kernel's object name buffer (16, so 15 characters). */
export const BPF_OBJ_NAME_LEN = 16;

/** objectNameFromFile names an object as libbpf's bpf_object__new does: basename, cut at the first '.', 15 chars. */
export function objectNameFromFile(file: string): string {
  const base = file.split('/').pop() ?? file;
  const truncated = base.slice(0, BPF_OBJ_NAME_LEN - 1);
  const dot = truncated.indexOf('.');
  return dot >= 0 ? truncated.slice(0, dot) : truncated;
}

/**
 * internalMapName names a global-data map as libbpf's internal_map_name() does: the object
 * name cut so that name + section fit in 15 characters with at least 7 for the section; a
 * section with a second dot (".rodata.str1.1") is used alone; characters the kernel refuses
 * become '_'.
 */
export function internalMapName(objName: string, section: string): string {
  const sfxLen = Math.min(Math.max(7, section.length), BPF_OBJ_NAME_LEN - 1);
  const pfxLen = section.indexOf('.', 1) >= 0 ? 0 : Math.min(BPF_OBJ_NAME_LEN - sfxLen - 1, objName.length);
  const raw = objName.slice(0, pfxLen) + section.slice(0, sfxLen);
  return raw.slice(0, BPF_OBJ_NAME_LEN - 1).replace(/[^A-Za-z0-9_.]/g, '_');
}

interface Ctx {
  readonly elf: ElfFile;
  readonly file: string;
  readonly opts: ParseOptions;
}

/** where renders the location fields of an error: "file: section S, symbol Y, insn N: ". */
function where(ctx: Ctx, fields: ErrorFields): string {
  const parts: string[] = [];
  if (fields.program !== undefined) parts.push(`program ${String(fields.program)}`);
  if (fields.section !== undefined) parts.push(`section ${String(fields.section)}`);
  if (fields.symbol !== undefined && fields.symbol !== '') parts.push(`symbol ${String(fields.symbol)}`);
  if (fields.insn !== undefined) parts.push(`insn ${Number(fields.insn)}`);
  return `${ctx.file}: ${parts.length > 0 ? `${parts.join(', ')}: ` : ''}`;
}

function err(ctx: Ctx, code: string, msg: string, fields: ErrorFields = {}): LoadError {
  return new LoadError(code, `${where(ctx, fields)}${msg}`, { file: ctx.file, ...fields });
}

function unsupported(ctx: Ctx, feature: string, msg: string, fields: ErrorFields = {}): NotSupportedError {
  return new NotSupportedError(LoaderCode.Unsupported, `${where(ctx, fields)}${msg} (not supported: ${feature})`, { file: ctx.file, feature, ...fields });
}

// ---------------------------------------------------------------------------------------------
// Phase 1: classify sections

interface Classified {
  readonly exec: ElfSection[];
  readonly text?: ElfSection;
  readonly btfMaps?: ElfSection;
  readonly legacyMaps?: ElfSection;
  readonly data: ElfSection[];
  readonly license?: ElfSection;
  readonly version?: ElfSection;
  readonly btf?: ElfSection;
  readonly btfExt?: ElfSection;
}

/** classifySections sorts the sections of an object by what they hold. */
export function classifySections(elf: ElfFile): Classified {
  const out: {
    exec: ElfSection[];
    data: ElfSection[];
    text?: ElfSection;
    btfMaps?: ElfSection;
    legacyMaps?: ElfSection;
    license?: ElfSection;
    version?: ElfSection;
    btf?: ElfSection;
    btfExt?: ElfSection;
  } = { exec: [], data: [] };
  for (const s of elf.sections) {
    const n = s.name;
    if (n === 'license') out.license = s;
    else if (n === 'version') out.version = s;
    else if (n === '.BTF') out.btf = s;
    else if (n === '.BTF.ext') out.btfExt = s;
    else if (n === '.maps') out.btfMaps = s;
    else if (n === 'maps') out.legacyMaps = s;
    else if (s.type === SHT_PROGBITS && (s.flags & SHF_EXECINSTR) !== 0) {
      if (n === '.text') out.text = s;
      else out.exec.push(s);
    } else if ((s.flags & SHF_ALLOC) !== 0 && (s.type === SHT_PROGBITS || s.type === SHT_NOBITS) && isDataSection(n, s.type)) {
      out.data.push(s);
    }
  }
  return out;
}

function isDataSection(name: string, type: number): boolean {
  // libbpf bpf_object__elf_collect: .data(.*), .rodata(.*) as PROGBITS, .bss(.*) as NOBITS.
  const is = (base: string): boolean => name === base || name.startsWith(base + '.');
  if (is('.data') || is('.rodata')) return type === SHT_PROGBITS;
  if (is('.bss')) return type === SHT_NOBITS;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Phase 2: license

/** parseLicense reads the NUL-terminated license string and the optional kernel version. */
export function parseLicense(ctx: Ctx, c: Classified): { license: string; kernelVersion?: number } {
  let license = '';
  if (c.license !== undefined) {
    const data = sectionData(ctx.elf, c.license);
    const nul = data.indexOf(0);
    if (nul < 0) throw err(ctx, LoaderCode.BadLicense, 'license string is not NUL-terminated', { section: 'license', offset: c.license.offset });
    license = new TextDecoder().decode(data.subarray(0, nul));
  }
  let kernelVersion: number | undefined;
  if (c.version !== undefined) {
    const data = sectionData(ctx.elf, c.version);
    if (data.length !== 4) throw err(ctx, LoaderCode.BadLicense, `version section is ${data.length} bytes, want 4`, { section: 'version', offset: c.version.offset });
    kernelVersion = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
  }
  return kernelVersion !== undefined ? { license, kernelVersion } : { license };
}

// ---------------------------------------------------------------------------------------------
// Phase 3: BTF

/** parseBtfSections decodes .BTF and .BTF.ext when present. */
export function parseBtfSections(ctx: Ctx, c: Classified): { btf?: Btf; ext?: BtfExt } {
  if (c.btf === undefined) {
    if (c.btfExt !== undefined) log.warn({ file: ctx.file }, '.BTF.ext without .BTF: ignored');
    return {};
  }
  const bctx = { file: ctx.file, section: '.BTF', base: c.btf.offset };
  const wire = parseBtf(sectionData(ctx.elf, c.btf), bctx);
  const btf = new Btf(wire, bctx);
  btf.checkAcyclic();
  if (c.btfExt === undefined) return { btf };
  const ectx = { file: ctx.file, section: '.BTF.ext', base: c.btfExt.offset };
  const ext = parseBtfExt(sectionData(ctx.elf, c.btfExt), ectx, btfStringsOf(bctx, wire.strings));
  return { btf, ext };
}

// ---------------------------------------------------------------------------------------------
// Phase 4: functions

interface SectionCode {
  readonly section: ElfSection;
  readonly insns: Insn[];
  /** Relocations by instruction index within the section. */
  readonly relocs: Map<number, ElfReloc>;
  /** Functions sorted by start. */
  readonly funcs: Array<{ name: string; start: number; length: number; entry: boolean; symbol?: ElfSymbol }>;
  readonly def: SectionDef;
}

/** collectFunctions decodes each executable section and splits it by FUNC symbols. */
export function collectFunctions(ctx: Ctx, c: Classified): Map<number, SectionCode> {
  const out = new Map<number, SectionCode>();
  const all = c.text !== undefined ? [c.text, ...c.exec] : c.exec;
  for (const s of all) {
    const data = sectionData(ctx.elf, s);
    if (data.length % 8 !== 0) throw err(ctx, LoaderCode.BadProgramSection, `size ${data.length} is not a multiple of 8`, { section: s.name, offset: s.offset });
    const insns = decodeInsns(data);
    const relocs = new Map<number, ElfReloc>();
    for (const r of ctx.elf.relocations.get(s.index) ?? []) {
      if (r.offset % 8 !== 0) throw err(ctx, LoaderCode.BadRelocation, `relocation at byte ${r.offset} is not on an instruction boundary`, { section: s.name, offset: s.offset + r.offset });
      relocs.set(r.offset / 8, r);
    }
    const syms = ctx.elf.symbols
      .filter((y) => y.shndx === s.index && y.type === STT_FUNC)
      .sort((a, b) => a.value - b.value || a.index - b.index);
    const funcs: SectionCode['funcs'] = [];
    const isText = s === c.text;
    for (const y of syms) {
      if (y.value % 8 !== 0 || y.size % 8 !== 0 || y.value + y.size > data.length) {
        throw err(ctx, LoaderCode.BadProgramSection, `function at byte ${y.value} (${y.size} bytes) is misaligned or outside its section (${data.length} bytes)`, {
          section: s.name,
          symbol: y.name,
          offset: s.offset + Math.min(y.value, data.length),
        });
      }
      const start = y.value / 8;
      const prev = funcs[funcs.length - 1];
      if (prev !== undefined && start < prev.start + prev.length) {
        throw err(ctx, LoaderCode.BadProgramSection, `function overlaps ${prev.name}`, { section: s.name, symbol: y.name });
      }
      // A FUNC of size 0 (hand-written assembly) runs to the next function or the section end.
      funcs.push({ name: y.name, start, length: y.size / 8, entry: !isText, symbol: y });
    }
    for (let i = 0; i < funcs.length; i++) {
      if (funcs[i].length === 0) funcs[i].length = (i + 1 < funcs.length ? funcs[i + 1].start : insns.length) - funcs[i].start;
    }
    if (funcs.length === 0 && insns.length > 0) {
      // Objects without symbols: the whole section is one program named after it.
      funcs.push({ name: isText ? '.text' : s.name, start: 0, length: insns.length, entry: !isText });
    }
    if (!isText) {
      for (const f of funcs) {
        if (f.symbol !== undefined && f.symbol.bind === STB_LOCAL) {
          // libbpf bpf_object__add_programs: static entry programs are refused.
          throw unsupported(ctx, 'static program', `program ${f.name} is static; entry programs must be global (as libbpf requires)`, { section: s.name, symbol: f.name });
        }
      }
    }
    const kinds = ctx.opts.sectionKinds ?? {};
    const def = kinds[s.name] !== undefined ? kindDef(kinds[s.name]) : sectionDef(s.name);
    const finalDef = def.kind === 'unspec' && ctx.opts.defaultKind !== undefined ? kindDef(ctx.opts.defaultKind) : def;
    out.set(s.index, { section: s, insns, relocs, funcs, def: finalDef });
  }
  // iproute2 loads its "<map id>/<key>" tail-call sections with the type of the object's
  // programs (the command's type); take it from the first section whose name says one.
  const named = [...out.values()].find((x) => x.def.kind !== 'unspec' && iproute2TailCallSlot(x.section.name) === undefined);
  if (named !== undefined) {
    for (const [idx, x] of out) {
      if (x.def.kind === 'unspec' && iproute2TailCallSlot(x.section.name) !== undefined) out.set(idx, { ...x, def: named.def });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Phase 5: BTF maps

interface MapPlace {
  readonly spec: MapSpec;
  readonly offset: number;
  readonly size: number;
  /** Byte offset of the `values` array inside the definition, for declarative init. */
  readonly valuesOffset?: number;
  readonly valuesKind?: 'map' | 'prog';
}

/** MutableMapSpec is a MapSpec being filled in, plus what libbpf parses but xdpsim does not model (numa_node). */
type MutableMapSpec = MapSpec & { numaNode?: number };

/** parseBtfMaps reads the BTF-defined maps of the .maps section (libbpf parse_btf_map_def). */
export function parseBtfMaps(ctx: Ctx, c: Classified, btf: Btf | undefined): MapPlace[] {
  const sec = c.btfMaps;
  if (sec === undefined) return [];
  if (btf === undefined) throw err(ctx, LoaderCode.BadMapDef, 'BTF-defined maps need a .BTF section', { section: '.maps' });
  const datasec = btf.byName('.maps', BtfKind.DATASEC);
  if (datasec === undefined) throw err(ctx, LoaderCode.BadMapDef, 'no DATASEC .maps in BTF', { section: '.maps' });
  const syms = ctx.elf.symbols.filter((y) => y.shndx === sec.index && y.type !== STT_SECTION && y.name !== '');
  const out: MapPlace[] = [];
  for (const vsi of datasec.secinfo ?? []) {
    const v = btf.get(vsi.type);
    if (v.kind !== BtfKind.VAR) throw err(ctx, LoaderCode.BadMapDef, `.maps entry [${vsi.type}] is not a variable`, { section: '.maps' });
    const sym = syms.find((y) => y.name === v.name);
    if (sym === undefined) throw err(ctx, LoaderCode.BadMapDef, `map ${v.name} has no ELF symbol`, { section: '.maps', symbol: v.name });
    const def = btf.skipModifiers(v.type);
    if (def.kind !== BtfKind.STRUCT) throw err(ctx, LoaderCode.BadMapDef, `map ${v.name} is not a struct`, { section: '.maps', symbol: v.name });
    const parsed = parseMapDef(ctx, btf, def, v.name, false);
    const size = sym.size !== 0 ? sym.size : def.size;
    if (sym.value + size > sec.size && sec.type !== SHT_NOBITS) {
      throw err(ctx, LoaderCode.BadMapDef, `map ${v.name} at byte ${sym.value} lies outside .maps (${sec.size} bytes)`, { section: '.maps', symbol: v.name });
    }
    out.push({ spec: parsed.spec, offset: sym.value, size, ...(parsed.valuesOffset !== undefined ? { valuesOffset: parsed.valuesOffset, valuesKind: parsed.valuesKind } : {}) });
  }
  return out;
}

function parseMapDef(ctx: Ctx, btf: Btf, def: BtfType, name: string, inner: boolean): { spec: MapSpec; valuesOffset?: number; valuesKind?: 'map' | 'prog' } {
  const where = { section: '.maps', symbol: name };
  const bad = (what: string, msg: string): LoadError => err(ctx, LoaderCode.BadMapDef, `map ${name}: ${msg}`, { ...where, what });
  const spec: MutableMapSpec = { name, type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0, pinning: PIN_NONE };
  let keySize: number | undefined;
  let valueSize: number | undefined;
  let valuesOffset: number | undefined;
  let valuesKind: 'map' | 'prog' | undefined;
  let innerDef: BtfType | undefined;
  const members = def.members ?? [];
  /** `__uint(name, val)` is `int (*name)[val]`: a pointer to an array of val elements. */
  const intField = (m: BtfMember): number => {
    const p = btf.skipModifiers(m.type);
    if (p.kind !== BtfKind.PTR) throw bad(m.name, `field ${m.name} is not a __uint() pointer`);
    const a = btf.skipModifiers(p.type);
    if (a.kind !== BtfKind.ARRAY || a.array === undefined) throw bad(m.name, `field ${m.name} does not point to an array`);
    return a.array.nelems;
  };
  /** `__ulong(name, val)` (libbpf 1.3+) is an anonymous one-value enum whose value is val. */
  const longField = (m: BtfMember): bigint => {
    const t = btf.skipModifiers(m.type);
    if ((t.kind === BtfKind.ENUM || t.kind === BtfKind.ENUM64) && t.enumValues?.length === 1) return BigInt.asUintN(64, t.enumValues[0].value);
    return BigInt(intField(m));
  };
  /** `__type(name, T)` is `typeof(T) *name`. */
  const typeField = (m: BtfMember): { id: number; size: number } => {
    const p = btf.skipModifiers(m.type);
    if (p.kind !== BtfKind.PTR) throw bad(m.name, `field ${m.name} is not a __type() pointer`);
    return { id: p.type, size: btf.sizeOf(p.type) };
  };
  members.forEach((m, i) => {
    switch (m.name) {
      case 'type':
        spec.type = intField(m);
        break;
      case 'max_entries':
        spec.maxEntries = intField(m);
        break;
      case 'map_flags':
        spec.flags = intField(m);
        break;
      case 'numa_node':
        spec.numaNode = intField(m);
        break;
      case 'map_extra':
        spec.mapExtra = longField(m);
        break;
      case 'key_size': {
        const v = intField(m);
        if (keySize !== undefined && keySize !== v) throw bad('key_size', `key_size ${v} conflicts with key type size ${keySize}`);
        keySize = v;
        break;
      }
      case 'value_size': {
        const v = intField(m);
        if (valueSize !== undefined && valueSize !== v) throw bad('value_size', `value_size ${v} conflicts with value type size ${valueSize}`);
        valueSize = v;
        break;
      }
      case 'key': {
        const t = typeField(m);
        if (keySize !== undefined && keySize !== t.size) throw bad('key', `key type size ${t.size} conflicts with key_size ${keySize}`);
        keySize = t.size;
        spec.btfKeyTypeId = t.id;
        break;
      }
      case 'value': {
        const t = typeField(m);
        if (valueSize !== undefined && valueSize !== t.size) throw bad('value', `value type size ${t.size} conflicts with value_size ${valueSize}`);
        valueSize = t.size;
        spec.btfValueTypeId = t.id;
        break;
      }
      case 'pinning': {
        if (inner) throw bad('pinning', 'an inner map cannot be pinned');
        const v = intField(m);
        if (v !== PIN_NONE && v !== PIN_BY_NAME) throw bad('pinning', `invalid pinning value ${v}`);
        spec.pinning = v;
        break;
      }
      case 'values': {
        if (inner) throw bad('values', 'an inner map cannot have values');
        if (i !== members.length - 1) throw bad('values', '`values` must be the last field');
        const a = btf.skipModifiers(m.type);
        if (a.kind !== BtfKind.ARRAY || a.array === undefined) throw bad('values', '`values` is not an array');
        if (a.array.nelems !== 0) throw bad('values', '`values` must be a flexible array (0 elements)');
        const p = btf.skipModifiers(a.array.type);
        if (p.kind !== BtfKind.PTR) throw bad('values', '`values` elements are not pointers');
        const target = btf.skipModifiers(p.type);
        if (target.kind === BtfKind.STRUCT) {
          valuesKind = 'map';
          innerDef = target;
        } else if (target.kind === BtfKind.FUNC_PROTO) {
          valuesKind = 'prog';
        } else {
          throw bad('values', '`values` elements must point to a map definition or a function prototype');
        }
        if (m.bitOffset % 8 !== 0) throw bad('values', '`values` is not byte-aligned');
        valuesOffset = m.bitOffset / 8;
        if (valueSize !== undefined && valueSize !== 4) throw bad('values', `value size ${valueSize} with \`values\`, want 4`);
        valueSize = 4;
        break;
      }
      default:
        // libbpf's parse_btf_map_def refuses unknown fields unless opened with relaxed_maps.
        throw bad(m.name, `unknown field ${m.name} (libbpf refuses it too)`);
    }
  });
  spec.keySize = keySize ?? 0;
  spec.valueSize = valueSize ?? 0;
  if (valuesKind === 'map') {
    if (spec.type !== MapType.ARRAY_OF_MAPS && spec.type !== MapType.HASH_OF_MAPS) throw bad('values', 'map definitions in `values` need ARRAY_OF_MAPS or HASH_OF_MAPS');
    if (innerDef !== undefined) spec.inner = parseMapDef(ctx, btf, innerDef, `${name}.inner`, true).spec;
  } else if (valuesKind === 'prog') {
    if (spec.type !== MapType.PROG_ARRAY) throw bad('values', 'function pointers in `values` need PROG_ARRAY');
  } else if (spec.type === MapType.ARRAY_OF_MAPS || spec.type === MapType.HASH_OF_MAPS) {
    throw bad('values', 'a map of maps needs `__array(values, ...)` to describe its inner map');
  }
  // libbpf sets the sizes the kernel fixes for these types when the definition leaves them out.
  if ((spec.type === MapType.PERF_EVENT_ARRAY || spec.type === MapType.PROG_ARRAY) && keySize === undefined) spec.keySize = 4;
  if (spec.type === MapType.PERF_EVENT_ARRAY && valueSize === undefined) spec.valueSize = 4;
  return { spec: finishSpec(spec), ...(valuesOffset !== undefined && valuesKind !== undefined ? { valuesOffset, valuesKind } : {}) };
}

function finishSpec(m: MutableMapSpec): MapSpec {
  const out: MapSpec = {
    name: m.name,
    type: m.type,
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    flags: m.flags,
    pinning: m.pinning,
    ...(m.inner !== undefined ? { inner: m.inner } : {}),
    ...(m.initialValue !== undefined ? { initialValue: m.initialValue } : {}),
    ...(m.readonlyForProgram !== undefined ? { readonlyForProgram: m.readonlyForProgram } : {}),
    ...(m.initialSlots !== undefined ? { initialSlots: m.initialSlots } : {}),
    ...(m.elf !== undefined ? { elf: m.elf } : {}),
    ...(m.btfKeyTypeId !== undefined ? { btfKeyTypeId: m.btfKeyTypeId } : {}),
    ...(m.btfValueTypeId !== undefined ? { btfValueTypeId: m.btfValueTypeId } : {}),
    ...(m.mapExtra !== undefined ? { mapExtra: m.mapExtra } : {}),
  };
  return out;
}

// ---------------------------------------------------------------------------------------------
// Phase 6: legacy maps

/** BPF_ELF_MAP_FIELDS are the u32 fields of iproute2's struct bpf_elf_map, in order. */
const BPF_ELF_MAP_FIELDS = ['type', 'size_key', 'size_value', 'max_elem', 'flags', 'id', 'pinning', 'inner_id', 'inner_idx'] as const;

/** parseLegacyMaps reads the "maps" section: one struct bpf_elf_map (or a prefix of it) per symbol. */
export function parseLegacyMaps(ctx: Ctx, c: Classified): MapPlace[] {
  const sec = c.legacyMaps;
  if (sec === undefined) return [];
  const data = sectionData(ctx.elf, sec);
  const syms = ctx.elf.symbols.filter((y) => y.shndx === sec.index && y.type !== STT_SECTION && y.name !== '').sort((a, b) => a.value - b.value);
  if (syms.length === 0) {
    if (data.length === 0) return [];
    throw err(ctx, LoaderCode.BadMapDef, 'maps section has data but no symbols', { section: 'maps' });
  }
  // iproute2 and libbpf's legacy reader: every definition has the same size, section size / count.
  if (data.length % syms.length !== 0) throw err(ctx, LoaderCode.BadMapDef, `maps section size ${data.length} is not a multiple of its ${syms.length} definitions`, { section: 'maps' });
  const defSize = data.length / syms.length;
  if (defSize < 16 || defSize % 4 !== 0) throw err(ctx, LoaderCode.BadMapDef, `map definition size ${defSize} is not a struct bpf_elf_map`, { section: 'maps' });
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: MapPlace[] = [];
  for (const y of syms) {
    if (y.value % defSize !== 0 || y.value + defSize > data.length) throw err(ctx, LoaderCode.BadMapDef, `map at byte ${y.value} is not on a definition boundary`, { section: 'maps', symbol: y.name });
    const f: Record<(typeof BPF_ELF_MAP_FIELDS)[number], number> = { type: 0, size_key: 0, size_value: 0, max_elem: 0, flags: 0, id: 0, pinning: 0, inner_id: 0, inner_idx: 0 };
    BPF_ELF_MAP_FIELDS.forEach((name, i) => {
      if (i * 4 + 4 <= defSize) f[name] = view.getUint32(y.value + i * 4, true);
    });
    for (let o = BPF_ELF_MAP_FIELDS.length * 4; o < defSize; o++) {
      if (data[y.value + o] !== 0) throw err(ctx, LoaderCode.BadMapDef, `map ${y.name}: unknown non-zero bytes after struct bpf_elf_map`, { section: 'maps', symbol: y.name, what: 'size' });
    }
    const spec: MutableMapSpec = {
      name: y.name,
      type: f.type,
      keySize: f.size_key,
      valueSize: f.size_value,
      maxEntries: f.max_elem,
      flags: f.flags,
      pinning: f.pinning,
      elf: { id: f.id, innerId: f.inner_id, innerIdx: f.inner_idx },
    };
    out.push({ spec: finishSpec(spec), offset: y.value, size: defSize });
  }
  // Map in map: the outer names its template by inner_id; the map with that id goes to slot inner_idx.
  return out.map((p) => {
    const e = p.spec.elf;
    if (e === undefined || e.innerId === 0) return p;
    if (p.spec.type !== MapType.ARRAY_OF_MAPS && p.spec.type !== MapType.HASH_OF_MAPS) {
      throw err(ctx, LoaderCode.BadMapDef, `map ${p.spec.name} has inner_id ${e.innerId} but is not a map of maps`, { section: 'maps', symbol: p.spec.name });
    }
    const inners = out.filter((q) => q !== p && q.spec.elf !== undefined && q.spec.elf.id === e.innerId);
    if (inners.length === 0) throw err(ctx, LoaderCode.BadMapDef, `map ${p.spec.name}: no map has id ${e.innerId} (inner_id)`, { section: 'maps', symbol: p.spec.name });
    const slots = inners.map((q) => ({ index: q.spec.elf?.innerIdx ?? 0, ref: q.spec.name }));
    return { ...p, spec: { ...p.spec, inner: inners[0].spec, initialSlots: slots } };
  });
}

// ---------------------------------------------------------------------------------------------
// Phase 7: global data

/** parseDataMaps turns each non-empty data section into a one-value array map, as libbpf does. */
export function parseDataMaps(ctx: Ctx, c: Classified, objName: string, btf: Btf | undefined): { places: Map<number, MapSpec>; globals: GlobalVarSpec[] } {
  const places = new Map<number, MapSpec>();
  const globals: GlobalVarSpec[] = [];
  for (const s of c.data) {
    // The section's DATASEC names each variable's C type (offsets in an object come from symbols,
    // as libbpf's btf_fixup_datasec fills them in).
    const datasec = btf?.byName(s.name, BtfKind.DATASEC);
    const varType = new Map<string, number>();
    for (const vsi of datasec?.secinfo ?? []) {
      const v = btf?.types[vsi.type];
      if (v !== undefined && v.kind === BtfKind.VAR) varType.set(v.name, v.type);
    }
    if (s.size === 0) continue;
    const name = internalMapName(objName, s.name);
    const ro = s.name === '.rodata' || s.name.startsWith('.rodata.');
    const initial = s.type === SHT_NOBITS ? undefined : new Uint8Array(sectionData(ctx.elf, s));
    const spec: MutableMapSpec = {
      name,
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: s.size,
      maxEntries: 1,
      // libbpf bpf_object__init_internal_map: mmapable, and read-only for programs when .rodata.
      flags: MapFlag.MMAPABLE | (ro ? MapFlag.RDONLY_PROG : 0),
      pinning: PIN_NONE,
      readonlyForProgram: ro,
      ...(initial !== undefined ? { initialValue: initial } : {}),
    };
    places.set(s.index, finishSpec(spec));
    for (const y of ctx.elf.symbols) {
      if (y.shndx !== s.index || y.type === STT_SECTION || y.name === '' || y.size === 0) continue;
      if (y.value + y.size > s.size) throw err(ctx, LoaderCode.BadGlobal, `variable at byte ${y.value} (${y.size} bytes) lies outside ${s.name}`, { section: s.name, symbol: y.name });
      const typeId = varType.get(y.name);
      const type = btf !== undefined && typeId !== undefined ? btf.describe(typeId) : undefined;
      globals.push({ name: y.name, map: name, section: s.name, offset: y.value, size: y.size, ...(type !== undefined ? { type } : {}) });
    }
  }
  return { places, globals };
}

/** applyGlobalOverrides writes `rodata` option values into the data maps' initial values. */
export function applyGlobalOverrides(ctx: Ctx, maps: MapSpec[], globals: readonly GlobalVarSpec[], values: Readonly<Record<string, GlobalValue>>): MapSpec[] {
  const byName = new Map(maps.map((m, i) => [m.name, i]));
  const out = [...maps];
  for (const [name, value] of Object.entries(values)) {
    const matches = globals.filter((g) => g.name === name);
    const g = matches.find((x) => x.section === '.rodata' || x.section.startsWith('.rodata.')) ?? matches[0];
    if (g === undefined) {
      throw new UsageError(LoaderCode.BadGlobal, `${ctx.file}: no global variable ${name} to set (known: ${globals.map((x) => x.name).join(', ') || 'none'})`, { file: ctx.file, symbol: name });
    }
    const bytes = encodeGlobal(ctx, g, value);
    const idx = byName.get(g.map);
    if (idx === undefined) throw new Error(`host bug: global ${name} in unknown map ${g.map}`);
    const m = out[idx];
    const initial = new Uint8Array(m.initialValue ?? new Uint8Array(m.valueSize));
    initial.set(bytes, g.offset);
    out[idx] = { ...m, initialValue: initial };
  }
  return out;
}

function encodeGlobal(ctx: Ctx, g: GlobalVarSpec, value: GlobalValue): Uint8Array {
  const bad = (msg: string): UsageError => new UsageError(LoaderCode.BadGlobal, `${ctx.file}: global ${g.name} (${g.size} bytes): ${msg}`, { file: ctx.file, symbol: g.name, size: g.size });
  if (value instanceof Uint8Array) {
    if (value.length !== g.size) throw bad(`got ${value.length} bytes`);
    return value;
  }
  if (g.size > 8) throw bad('only byte arrays can set variables larger than 8 bytes');
  let v: bigint;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw bad(`${value} is not an integer`);
    v = BigInt(value);
  } else {
    v = value;
  }
  const bits = BigInt(g.size * 8);
  if (v >= 1n << bits || v < -(1n << (bits - 1n))) throw bad(`${value} does not fit`);
  v = BigInt.asUintN(g.size * 8, v);
  const out = new Uint8Array(g.size);
  for (let i = 0; i < g.size; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Phase 8: programs

interface Piece {
  readonly code: SectionCode;
  readonly func: SectionCode['funcs'][number];
  readonly linkStart: number;
}

/** Loc is where in a program the linker is: its name, the section and the section's instruction index. */
interface Loc {
  readonly program: string;
  readonly section: string;
  readonly insn: number;
}

interface Resolver {
  readonly mapsBySection: Map<number, MapPlace[]>;
  readonly dataMaps: Map<number, MapSpec>;
  readonly code: Map<number, SectionCode>;
  readonly ext?: BtfExt;
  readonly license: string;
  readonly gplCompatible: boolean;
  readonly textIndex?: number;
  readonly kconfig?: KconfigLayout;
  readonly btf?: Btf;
}

/** linkPrograms builds one ObjectProgramSpec per entry function (libbpf bpf_object__relocate). */
export function linkPrograms(ctx: Ctx, r: Resolver): ObjectProgramSpec[] {
  const out: ObjectProgramSpec[] = [];
  for (const code of r.code.values()) {
    if (code.section.index === r.textIndex) continue;
    for (const f of code.funcs) {
      if (!f.entry) continue;
      let spec: ObjectProgramSpec;
      try {
        spec = linkOne(ctx, r, code, f);
      } catch (e) {
        // libbpf opens such an object and fails at load; so does xdpsim: the program is listed,
        // unlinked, with the reason, and instantiation refuses it.
        if (!(e instanceof NotSupportedError)) throw e;
        out.push(unsupportedProgram(r, code, f, e));
        continue;
      }
      const refused = verifyLinked(ctx, spec);
      out.push(refused === undefined ? spec : { ...spec, refused });
    }
  }
  return out;
}

/**
 * verifyLinked returns why the kernel's verifier would refuse a linked program before running it
 * (bad encodings, jumps, r10 writes, unreachable code, registers read before any write: see
 * isa/validate.ts), naming the file, section, program and instruction; undefined when it would
 * not. Like libbpf, the object still opens and loading that program fails.
 */
function verifyLinked(ctx: Ctx, spec: ObjectProgramSpec): VerifyError | NotSupportedError | undefined {
  try {
    validateProgram(spec.insns, { name: spec.name, strict: true, regInit: true });
  } catch (e) {
    if (e instanceof VerifyError || e instanceof NotSupportedError) {
      return e.withContext(`${ctx.file}: section ${spec.section}`, { file: ctx.file, section: spec.section });
    }
    throw e;
  }
  return undefined;
}

function unsupportedProgram(r: Resolver, code: SectionCode, f: SectionCode['funcs'][number], reason: NotSupportedError): ObjectProgramSpec {
  const lines = new Map<number, LineInfo>();
  for (const li of sectionLines(r, code, f)) lines.set(li.idx, li.info);
  return {
    name: f.name,
    section: code.section.name,
    insns: code.insns.slice(f.start, f.start + f.length).map((x) => ({ ...x })),
    kind: code.def.kind,
    progType: code.def.progType,
    attachType: code.def.attachType,
    frags: code.def.frags,
    license: r.license,
    gplCompatible: r.gplCompatible,
    mapRefs: [],
    functions: [{ name: f.name, section: code.section.name, start: 0, length: f.length }],
    lines,
    refused: reason,
  };
}

function funcAt(code: SectionCode, idx: number): SectionCode['funcs'][number] | undefined {
  return code.funcs.find((f) => idx >= f.start && idx < f.start + f.length);
}

function linkOne(ctx: Ctx, r: Resolver, code: SectionCode, entry: SectionCode['funcs'][number]): ObjectProgramSpec {
  const insns: Insn[] = [];
  const pieces: Piece[] = [];
  const placed = new Map<string, number>();
  const mapRefs: ProgramMapRef[] = [];
  const lines = new Map<number, LineInfo>();
  const place = (c: SectionCode, f: SectionCode['funcs'][number]): number => {
    const key = `${c.section.index}:${f.start}`;
    const at = placed.get(key);
    if (at !== undefined) return at;
    const linkStart = insns.length;
    placed.set(key, linkStart);
    for (let j = 0; j < f.length; j++) insns.push({ ...c.insns[f.start + j] });
    pieces.push({ code: c, func: f, linkStart });
    return linkStart;
  };
  /** target resolves (section, index) to a linked instruction index, appending its function. */
  const target = (c: SectionCode, idx: number, from: Loc): number => {
    const f = funcAt(c, idx);
    if (f === undefined) throw err(ctx, LoaderCode.BadCallTarget, `call target ${idx} is outside every function of ${c.section.name}`, { ...from, target: idx });
    return place(c, f) + (idx - f.start);
  };
  place(code, entry);
  for (let pi = 0; pi < pieces.length; pi++) {
    const { code: c, func: f, linkStart } = pieces[pi];
    const sec = c.section.name;
    for (let j = 0; j < f.length; j++) {
      const i = linkStart + j;
      const secIdx = f.start + j;
      const insn = insns[i];
      const rel = c.relocs.get(secIdx);
      const loc = { program: entry.name, section: sec, insn: secIdx };
      const sym = rel !== undefined ? ctx.elf.symbols[rel.symbol] : undefined;
      checkCoreRelo(ctx, r, c, loc);
      if (insn.opcode === OP_LDDW) {
        if (j + 1 >= f.length) throw err(ctx, LoaderCode.BadRelocation, 'lddw in the last slot of a function', loc);
        if (rel !== undefined && sym !== undefined) {
          if (rel.type !== R_BPF_64_64) throw err(ctx, LoaderCode.BadRelocation, `relocation type ${rel.type} on lddw (want R_BPF_64_64)`, { ...loc, symbol: sym.name });
          resolveLddw(ctx, r, c, i, insns, sym, rel, loc, mapRefs, target);
        } else if (insn.src === BPF_PSEUDO_FUNC) {
          const t = target(c, secIdx + insn.imm + 1, loc);
          insn.imm = t - (i + 1);
        } else if (insn.src !== 0) {
          throw err(ctx, LoaderCode.BadRelocation, `lddw with pseudo source ${insn.src} has no relocation`, loc);
        }
        j++;
        continue;
      }
      if (insn.opcode === OP_CALL) {
        if (insn.src === BPF_PSEUDO_KFUNC_CALL || (insn.src === 0 && sym !== undefined && sym.shndx === SHN_UNDEF)) {
          throw unsupported(ctx, 'kfunc', `call to kernel function ${sym?.name ?? `btf id ${insn.imm}`}`, { ...loc, symbol: sym?.name ?? '' });
        }
        if (insn.src === BPF_PSEUDO_CALL) {
          let t: number;
          if (rel !== undefined && sym !== undefined) {
            if (rel.type !== R_BPF_64_32) throw err(ctx, LoaderCode.BadRelocation, `relocation type ${rel.type} on a call (want R_BPF_64_32)`, { ...loc, symbol: sym.name });
            if (sym.shndx === SHN_UNDEF) throw unsupported(ctx, 'kfunc', `call to kernel function ${sym.name} (a __ksym kfunc)`, { ...loc, symbol: sym.name });
            const tc = r.code.get(sym.shndx);
            if (tc === undefined) throw err(ctx, LoaderCode.BadRelocation, `call relocation against ${sym.name}, which is not in an executable section`, { ...loc, symbol: sym.name });
            if (sym.value % 8 !== 0) throw err(ctx, LoaderCode.BadRelocation, `call target ${sym.name} is misaligned`, { ...loc, symbol: sym.name });
            // libbpf: sub_insn_idx = sym_off / BPF_INSN_SZ + insn->imm + 1.
            t = target(tc, sym.value / 8 + insn.imm + 1, loc);
          } else {
            t = target(c, secIdx + insn.imm + 1, loc);
          }
          insn.imm = t - (i + 1);
        } else if (rel !== undefined && sym !== undefined) {
          throw err(ctx, LoaderCode.BadRelocation, `relocation against ${sym.name} on a helper call`, { ...loc, symbol: sym.name });
        }
        continue;
      }
      if (rel !== undefined) {
        throw err(ctx, LoaderCode.BadRelocation, `relocation against ${sym?.name ?? rel.symbol} on opcode 0x${insn.opcode.toString(16)} (only lddw and call are relocated)`, { ...loc, symbol: sym?.name ?? '' });
      }
    }
    for (const li of sectionLines(r, c, f)) lines.set(linkStart + li.idx, li.info);
  }
  const functions = pieces.map((p) => ({ name: p.func.name, section: p.code.section.name, start: p.linkStart, length: p.func.length }));
  const lineInfo = new Map<number, string>();
  if (lines.size > 0) {
    for (const p of pieces) {
      let cur: LineInfo | undefined;
      for (let j = 0; j < p.func.length; j++) {
        cur = lines.get(p.linkStart + j) ?? cur;
        if (cur !== undefined) lineInfo.set(p.linkStart + j, formatLine(cur));
      }
    }
  }
  const def = code.def;
  return {
    name: entry.name,
    section: code.section.name,
    insns,
    kind: def.kind,
    progType: def.progType,
    attachType: def.attachType,
    frags: def.frags,
    license: r.license,
    gplCompatible: r.gplCompatible,
    mapRefs,
    functions,
    lines,
    ...(lineInfo.size > 0 ? { lineInfo } : {}),
  };
}

/** formatLine renders a line record as `file:line:col: source`. */
export function formatLine(l: LineInfo): string {
  const text = l.text.trim();
  return `${l.file}:${l.line}:${l.column}${text !== '' ? `: ${text}` : ''}`;
}

function sectionLines(r: Resolver, c: SectionCode, f: SectionCode['funcs'][number]): Array<{ idx: number; info: LineInfo }> {
  const all = r.ext?.lineInfo.get(c.section.name);
  if (all === undefined) return [];
  const out: Array<{ idx: number; info: LineInfo }> = [];
  for (const l of all) {
    if (l.insnOff % 8 !== 0) continue;
    const idx = l.insnOff / 8;
    if (idx >= f.start && idx < f.start + f.length) out.push({ idx: idx - f.start, info: l });
  }
  return out;
}

/** CORE_RELO_KINDS names enum bpf_core_relo_kind (include/uapi/linux/bpf.h). */
const CORE_RELO_KINDS = [
  'FIELD_BYTE_OFFSET',
  'FIELD_BYTE_SIZE',
  'FIELD_EXISTS',
  'FIELD_SIGNED',
  'FIELD_LSHIFT_U64',
  'FIELD_RSHIFT_U64',
  'TYPE_ID_LOCAL',
  'TYPE_ID_TARGET',
  'TYPE_EXISTS',
  'TYPE_SIZE',
  'ENUMVAL_EXISTS',
  'ENUMVAL_VALUE',
  'TYPE_MATCHES',
];

/** coreAccessor renders a CO-RE access string ("0:1") as C: `struct foo::bar`. */
function coreAccessor(btf: Btf | undefined, typeId: number, access: string): string {
  if (btf === undefined || typeId >= btf.types.length) return `[${typeId}] ${access}`;
  let out = btf.describe(typeId);
  let t = btf.skipModifiers(typeId);
  const idx = access.split(':').map(Number);
  for (let i = 1; i < idx.length && Number.isInteger(idx[i]); i++) {
    if ((t.kind === BtfKind.STRUCT || t.kind === BtfKind.UNION) && t.members !== undefined && idx[i] < t.members.length) {
      const m = t.members[idx[i]];
      out += `${i === 1 ? '::' : '.'}${m.name !== '' ? m.name : `(anon ${idx[i]})`}`;
      t = btf.skipModifiers(m.type);
    } else if (t.kind === BtfKind.ARRAY && t.array !== undefined) {
      out += `[${idx[i]}]`;
      t = btf.skipModifiers(t.array.type);
    } else {
      return `${out} (access ${access})`;
    }
  }
  return out;
}

function checkCoreRelo(ctx: Ctx, r: Resolver, c: SectionCode, loc: Loc): void {
  const relos: readonly CoreRelo[] | undefined = r.ext?.coreRelos.get(c.section.name);
  if (relos === undefined) return;
  const hit = relos.find((x) => x.insnOff === loc.insn * 8);
  if (hit === undefined) return;
  const what = coreAccessor(r.btf, hit.typeId, hit.access);
  throw unsupported(ctx, 'CO-RE relocation', `CO-RE relocation ${CORE_RELO_KINDS[hit.kind] ?? `kind ${hit.kind}`} of ${what} needs the kernel's BTF`, { ...loc, symbol: what });
}

function resolveLddw(
  ctx: Ctx,
  r: Resolver,
  c: SectionCode,
  i: number,
  insns: Insn[],
  sym: ElfSymbol,
  rel: ElfReloc,
  loc: Loc,
  mapRefs: ProgramMapRef[],
  target: (c: SectionCode, idx: number, from: Loc) => number,
): void {
  const insn = insns[i];
  const fields = { ...loc, symbol: sym.name };
  if (sym.shndx === SHN_UNDEF) {
    const kc = r.kconfig;
    const ext = kc?.externs.get(sym.name);
    if (kc === undefined || ext === undefined) throw unsupported(ctx, 'extern variable', `lddw of extern ${sym.name} (only __kconfig externs are supported, not __ksym)`, fields);
    const offset = ext.offset + insn.imm + rel.addend;
    if (offset < 0 || offset >= kc.map.valueSize) throw err(ctx, LoaderCode.BadRelocation, `lddw of ${sym.name}+${insn.imm} points outside ${kc.map.name}`, fields);
    insn.imm = 0;
    insns[i + 1].imm = 0;
    mapRefs.push({ insn: i, kind: 'value', map: kc.map.name, offset, symbol: sym.name });
    return;
  }
  const addend = insn.imm + rel.addend;
  // Subprogram address (callback): BPF_PSEUDO_FUNC, imm = relative instruction offset.
  const tc = r.code.get(sym.shndx);
  if (tc !== undefined) {
    const byte = sym.value + addend;
    if (byte % 8 !== 0) throw err(ctx, LoaderCode.BadRelocation, `function address ${sym.name}+${addend} is misaligned`, fields);
    const t = target(tc, byte / 8, loc);
    insn.src = BPF_PSEUDO_FUNC;
    insn.imm = t - (i + 1);
    insns[i + 1].imm = 0;
    return;
  }
  const mapPlaces = r.mapsBySection.get(sym.shndx);
  if (mapPlaces !== undefined) {
    const off = sym.type === STT_SECTION ? sym.value + addend : sym.value;
    const place = mapPlaces.find((p) => off >= p.offset && off < p.offset + Math.max(p.size, 1));
    if (place === undefined || (sym.type !== STT_SECTION && addend !== 0) || off !== place.offset) {
      throw err(ctx, LoaderCode.BadRelocation, `lddw of ${sym.name}+${addend} does not name the start of a map`, fields);
    }
    insn.imm = 0;
    insns[i + 1].imm = 0;
    mapRefs.push({ insn: i, kind: 'map', map: place.spec.name, offset: 0, symbol: sym.name });
    return;
  }
  const data = r.dataMaps.get(sym.shndx);
  if (data !== undefined) {
    const off = sym.value + addend;
    if (off < 0 || off > data.valueSize) throw err(ctx, LoaderCode.BadRelocation, `lddw of ${sym.name}+${addend} points outside ${data.name} (${data.valueSize} bytes)`, fields);
    insn.imm = 0;
    insns[i + 1].imm = 0;
    mapRefs.push({ insn: i, kind: 'value', map: data.name, offset: off, symbol: sym.name });
    return;
  }
  const secName = sym.shndx < ctx.elf.sections.length ? ctx.elf.sections[sym.shndx].name : `#${sym.shndx}`;
  if (secName === '.kconfig' || secName === '.ksyms') throw unsupported(ctx, 'extern variable', `lddw of ${sym.name} in ${secName}`, fields);
  throw err(ctx, LoaderCode.BadRelocation, `lddw relocation against ${sym.name} in section ${secName}, which holds no map, data or code`, fields);
}

// ---------------------------------------------------------------------------------------------
// Phase 9: declarative slot initialisation

/** parseSlotInit fills initialSlots from `.values` relocations and iproute2 "<id>/<key>" sections. */
export function parseSlotInit(ctx: Ctx, c: Classified, btfMaps: MapPlace[], legacy: MapPlace[], programs: readonly ObjectProgramSpec[]): void {
  const sec = c.btfMaps;
  if (sec !== undefined) {
    for (const rel of ctx.elf.relocations.get(sec.index) ?? []) {
      const sym = ctx.elf.symbols[rel.symbol];
      const place = btfMaps.find((p) => rel.offset >= p.offset && rel.offset < p.offset + p.size);
      if (place === undefined || place.valuesOffset === undefined) {
        throw err(ctx, LoaderCode.BadRelocation, `relocation at byte ${rel.offset} of .maps is not inside a map's \`values\``, { section: '.maps', symbol: sym.name, offset: sec.offset + rel.offset });
      }
      if (rel.type !== R_BPF_64_64 && rel.type !== R_BPF_64_ABS64) throw err(ctx, LoaderCode.BadRelocation, `relocation type ${rel.type} in .maps (want R_BPF_64_ABS64)`, { section: '.maps', symbol: sym.name });
      const rel0 = rel.offset - place.offset - place.valuesOffset;
      if (rel0 < 0 || rel0 % 8 !== 0) throw err(ctx, LoaderCode.BadRelocation, `relocation at byte ${rel.offset} of .maps is not a \`values\` slot`, { section: '.maps', symbol: sym.name });
      const index = rel0 / 8;
      if (index >= place.spec.maxEntries) throw err(ctx, LoaderCode.BadMapDef, `map ${place.spec.name}: \`values\` slot ${index} is beyond max_entries ${place.spec.maxEntries}`, { section: '.maps', symbol: place.spec.name });
      if (place.valuesKind === 'prog') {
        const p = programs.find((q) => q.name === sym.name);
        if (p === undefined) throw err(ctx, LoaderCode.BadRelocation, `map ${place.spec.name}: slot ${index} names ${sym.name}, which is not an entry program`, { section: '.maps', symbol: sym.name });
      } else {
        const m = btfMaps.find((q) => q.spec.name === sym.name && sym.shndx === sec.index);
        if (m === undefined) throw err(ctx, LoaderCode.BadRelocation, `map ${place.spec.name}: slot ${index} names ${sym.name}, which is not a map`, { section: '.maps', symbol: sym.name });
      }
      const slots = [...(place.spec.initialSlots ?? []), { index, ref: sym.name }];
      replaceSpec(btfMaps, place, { ...place.spec, initialSlots: slots });
    }
  }
  for (const p of programs) {
    const slot = iproute2TailCallSlot(p.section);
    if (slot === undefined) continue;
    const target = legacy.find((m) => m.spec.elf !== undefined && m.spec.elf.id === slot.mapId && m.spec.type === MapType.PROG_ARRAY);
    if (target === undefined) {
      log.warn({ file: ctx.file, section: p.section }, 'iproute2 tail-call section names no PROG_ARRAY with that id');
      continue;
    }
    replaceSpec(legacy, target, { ...target.spec, initialSlots: [...(target.spec.initialSlots ?? []), { index: slot.key, ref: p.name }] });
  }
}

function replaceSpec(list: MapPlace[], place: MapPlace, spec: MapSpec): void {
  const i = list.indexOf(place);
  list[i] = { ...place, spec };
}

// ---------------------------------------------------------------------------------------------

/** parseObject runs every phase over ELF bytes and returns the ObjectSpec. */
export function parseObject(bytes: Uint8Array, opts: ParseOptions = {}): ObjectSpec {
  const file = opts.file ?? '<bytes>';
  const elf = parseElf(bytes, file);
  const ctx: Ctx = { elf, file, opts };
  const name = opts.name ?? (opts.file !== undefined ? objectNameFromFile(opts.file) : 'object');
  const c = classifySections(elf);
  const { license, kernelVersion } = parseLicense(ctx, c);
  const gplCompatible = isGplCompatible(license);
  const { btf, ext } = parseBtfSections(ctx, c);
  const code = collectFunctions(ctx, c);
  const btfMaps = parseBtfMaps(ctx, c, btf);
  const legacy = parseLegacyMaps(ctx, c);
  const { places: dataMaps, globals } = parseDataMaps(ctx, c, name, btf);
  const kconfig = kconfigLayout(file, internalMapName(name, '.kconfig'), btf, elf.symbols, opts.kconfig ?? {});
  const mapsBySection = new Map<number, MapPlace[]>();
  if (c.btfMaps !== undefined) mapsBySection.set(c.btfMaps.index, btfMaps);
  if (c.legacyMaps !== undefined) mapsBySection.set(c.legacyMaps.index, legacy);
  const programs = linkPrograms(ctx, {
    mapsBySection,
    dataMaps,
    code,
    license,
    gplCompatible,
    ...(ext !== undefined ? { ext } : {}),
    ...(c.text !== undefined ? { textIndex: c.text.index } : {}),
    ...(kconfig !== undefined ? { kconfig } : {}),
    ...(btf !== undefined ? { btf } : {}),
  });
  parseSlotInit(ctx, c, btfMaps, legacy, programs);
  let maps: MapSpec[] = [...btfMaps.map((p) => p.spec), ...legacy.map((p) => p.spec), ...dataMaps.values(), ...(kconfig !== undefined ? [kconfig.map] : [])];
  const seen = new Set<string>();
  for (const m of maps) {
    if (seen.has(m.name)) throw err(ctx, LoaderCode.DuplicateName, `two maps are named ${m.name}`, { symbol: m.name });
    seen.add(m.name);
  }
  const progNames = new Set<string>();
  for (const p of programs) {
    if (progNames.has(p.name)) throw err(ctx, LoaderCode.DuplicateName, `two programs are named ${p.name}`, { symbol: p.name });
    progNames.add(p.name);
  }
  if (opts.rodata !== undefined) maps = applyGlobalOverrides(ctx, maps, globals, opts.rodata);
  const functions = collectFunctionSpecs(code, ext);
  const labels: CodeLabel[] = [];
  for (const y of elf.symbols) {
    const c = code.get(y.shndx);
    if (c === undefined || y.name === '' || y.type === STT_SECTION || y.value % 8 !== 0) continue;
    labels.push({ section: c.section.name, index: y.value / 8, name: y.name });
  }
  return {
    name,
    file,
    license,
    gplCompatible,
    ...(kernelVersion !== undefined ? { kernelVersion } : {}),
    programs,
    maps,
    functions,
    globals,
    labels,
    ...(btf !== undefined ? { btf } : {}),
    hasLineInfo: ext !== undefined && ext.lineInfo.size > 0,
    ...(kconfig !== undefined ? { kconfig } : {}),
  };
}

function collectFunctionSpecs(code: Map<number, SectionCode>, ext: BtfExt | undefined): FunctionSpec[] {
  const out: FunctionSpec[] = [];
  for (const c of code.values()) {
    const all = ext?.lineInfo.get(c.section.name) ?? [];
    for (const f of c.funcs) {
      const lines = new Map<number, LineInfo>();
      for (const l of all) {
        const idx = l.insnOff / 8;
        if (Number.isInteger(idx) && idx >= f.start && idx < f.start + f.length) lines.set(idx - f.start, l);
      }
      out.push({ name: f.name, section: c.section.name, start: f.start, insns: c.insns.slice(f.start, f.start + f.length), entry: f.entry, lines });
    }
  }
  return out;
}
