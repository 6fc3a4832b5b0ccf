/**
 * kconfig — `extern ... __kconfig` variables: libbpf gathers them into one read-only array map
 * (`<obj>.kconfig`) filled at load time from the kernel configuration, LINUX_KERNEL_VERSION and
 * friends. Here the values come from the caller (ParseOptions.kconfig); loadObject supplies
 * LINUX_KERNEL_VERSION from the host's uname as libbpf does.
 *
 * Layout as libbpf's bpf_object__collect_externs(): externs sorted by descending alignment, then
 * ascending size, then name (cmp_externs), each at the next offset aligned for its type. Types
 * as libbpf's find_kcfg_type(): bool, char, enum libbpf_tristate, integers, enums, char arrays.
 * A weak extern with no value reads as zero; a strong one is listed in `missing`, and loading
 * (not parsing) fails naming it (bpf_object__resolve_externs: "extern (kcfg) '%s': value not found").
 */
import { LoadError, UsageError } from '../errors.js';
import { MapFlag, MapType, PIN_NONE, type MapSpec } from '../maps/spec.js';
import type { Btf } from './btf/types.js';
import { BtfKind, type BtfType } from './btf/wire.js';
import { SHN_UNDEF, STB_WEAK, type ElfSymbol } from './elf.js';

/** KconfigValue is what callers give for one option: y/n/m strings, booleans, integers, strings, raw bytes. */
export type KconfigValue = boolean | number | bigint | string | Uint8Array;

/** KconfigExtern is one __kconfig extern placed in the .kconfig map. */
export interface KconfigExtern {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly weak: boolean;
  readonly kind: 'bool' | 'tristate' | 'char' | 'int' | 'enum' | 'string';
}

/** KconfigLayout is the .kconfig map of an object and where each extern lives in it. */
export interface KconfigLayout {
  readonly map: MapSpec;
  readonly externs: ReadonlyMap<string, KconfigExtern>;
  /** Strong (non-weak) externs with no value: loading fails on them, parsing does not (as libbpf). */
  readonly missing: readonly string[];
}

/** BTF_INT_BOOL and BTF_INT_CHAR are INT encoding bits (include/uapi/linux/btf.h). */
const BTF_INT_CHAR = 1 << 1;
const BTF_INT_BOOL = 1 << 2;

/** alignOf mirrors libbpf's btf__align_of for the types a kconfig extern can have. */
function alignOf(btf: Btf, id: number): number {
  const t = btf.skipModifiers(id);
  switch (t.kind) {
    case BtfKind.INT:
    case BtfKind.ENUM:
    case BtfKind.ENUM64:
    case BtfKind.FLOAT:
      return Math.min(t.size, 8);
    case BtfKind.PTR:
      return 8;
    case BtfKind.ARRAY:
      return alignOf(btf, t.array?.type ?? 0);
    default:
      return 1;
  }
}

function kindOf(btf: Btf, t: BtfType): KconfigExtern['kind'] | undefined {
  if (t.kind === BtfKind.INT) {
    const enc = t.intInfo?.encoding ?? 0;
    if ((enc & BTF_INT_BOOL) !== 0 && t.size === 1) return 'bool';
    if ((enc & BTF_INT_CHAR) !== 0 && t.size === 1) return 'char';
    return t.size <= 8 ? 'int' : undefined;
  }
  if (t.kind === BtfKind.ENUM || t.kind === BtfKind.ENUM64) return t.name === 'libbpf_tristate' ? 'tristate' : 'enum';
  if (t.kind === BtfKind.ARRAY && t.array !== undefined) {
    const e = btf.skipModifiers(t.array.type);
    if (e.kind === BtfKind.INT && e.size === 1) return 'string';
  }
  return undefined;
}

/**
 * kconfigLayout lays out the object's .kconfig externs and fills their values; undefined when the
 * object declares none.
 */
export function kconfigLayout(
  file: string,
  mapName: string,
  btf: Btf | undefined,
  symbols: readonly ElfSymbol[],
  values: Readonly<Record<string, KconfigValue>>,
): KconfigLayout | undefined {
  const sec = btf?.byName('.kconfig', BtfKind.DATASEC);
  if (btf === undefined || sec === undefined) return undefined;
  const bad = (name: string, msg: string): LoadError => new LoadError('E_OBJ_KCONFIG', `${file}: extern ${name} (kconfig): ${msg}`, { file, symbol: name });
  const raw: Array<{ name: string; type: number; size: number; align: number; weak: boolean; kind: KconfigExtern['kind'] }> = [];
  for (const vsi of sec.secinfo ?? []) {
    const v = btf.get(vsi.type);
    if (v.kind !== BtfKind.VAR) throw bad(`[${vsi.type}]`, 'DATASEC entry is not a variable');
    const sym = symbols.find((y) => y.name === v.name && y.shndx === SHN_UNDEF);
    const t = btf.skipModifiers(v.type);
    const kind = kindOf(btf, t);
    if (kind === undefined) throw bad(v.name, `type ${btf.describe(v.type)} is not one libbpf accepts for __kconfig`);
    raw.push({ name: v.name, type: v.type, size: btf.sizeOf(v.type), align: alignOf(btf, v.type), weak: sym?.bind === STB_WEAK, kind });
  }
  if (raw.length === 0) return undefined;
  // libbpf cmp_externs: alignment descending, size ascending, name.
  raw.sort((a, b) => b.align - a.align || a.size - b.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const externs = new Map<string, KconfigExtern>();
  let off = 0;
  for (const e of raw) {
    off = Math.ceil(off / e.align) * e.align;
    externs.set(e.name, { name: e.name, offset: off, size: e.size, weak: e.weak, kind: e.kind });
    off += e.size;
  }
  const data = new Uint8Array(off);
  const missing: string[] = [];
  for (const e of externs.values()) {
    const v = values[e.name];
    if (v === undefined) {
      if (!e.weak) missing.push(e.name);
      continue;
    }
    data.set(encode(file, e, v), e.offset);
  }
  const map: MapSpec = {
    name: mapName,
    type: MapType.ARRAY,
    keySize: 4,
    valueSize: off,
    maxEntries: 1,
    flags: MapFlag.MMAPABLE | MapFlag.RDONLY_PROG,
    pinning: PIN_NONE,
    readonlyForProgram: true,
    initialValue: data,
  };
  return { map, externs, missing };
}

function encode(file: string, e: KconfigExtern, v: KconfigValue): Uint8Array {
  const bad = (msg: string): UsageError => new UsageError('E_OBJ_KCONFIG', `${file}: kconfig ${e.name} (${e.kind}, ${e.size} bytes): ${msg}`, { file, symbol: e.name });
  if (v instanceof Uint8Array) {
    if (v.length !== e.size) throw bad(`got ${v.length} bytes`);
    return v;
  }
  let n: bigint;
  if (typeof v === 'string') {
    if (e.kind === 'string') {
      const bytes = new TextEncoder().encode(v);
      if (bytes.length >= e.size) throw bad(`string "${v}" does not fit with its NUL`);
      const out = new Uint8Array(e.size);
      out.set(bytes);
      return out;
    }
    const tri: Record<string, bigint> = { y: 1n, n: 0n, m: 2n };
    if (tri[v] === undefined || (v === 'm' && e.kind !== 'tristate')) throw bad(`"${v}" is not y/n${e.kind === 'tristate' ? '/m' : ''}`);
    n = tri[v];
  } else if (typeof v === 'boolean') {
    n = v ? 1n : 0n;
  } else if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw bad(`${v} is not an integer`);
    n = BigInt(v);
  } else {
    n = v;
  }
  if (e.kind === 'string') throw bad('wants a string or bytes');
  if (e.kind === 'bool' && n !== 0n && n !== 1n) throw bad(`${n} is not a boolean`);
  const bits = BigInt(e.size * 8);
  if (n >= 1n << bits || n < -(1n << (bits - 1n))) throw bad(`${n} does not fit`);
  const u = BigInt.asUintN(e.size * 8, n);
  const out = new Uint8Array(e.size);
  for (let i = 0; i < e.size; i++) out[i] = Number((u >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** kernelVersionCode encodes a release string like "6.18.44-x" as KERNEL_VERSION(6, 18, 44) (patch capped at 255). */
export function kernelVersionCode(release: string): number | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (m === null) return undefined;
  return (Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(Number(m[3] ?? 0), 255);
}

/**
 * parseKconfigText reads a kernel .config: `CONFIG_X=y|m|n`, `="string"`, numbers (decimal or
 * 0x hex), and `# CONFIG_X is not set` as n, as libbpf's bpf_object__read_kconfig_file does.
 */
export function parseKconfigText(text: string): Record<string, KconfigValue> {
  const out: Record<string, KconfigValue> = {};
  for (const line of text.split('\n')) {
    const unset = /^# (CONFIG_\w+) is not set$/.exec(line);
    if (unset !== null) {
      out[unset[1]] = 'n';
      continue;
    }
    const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (m === null) continue;
    const v = m[2];
    if (v === 'y' || v === 'n' || v === 'm') out[m[1]] = v;
    else if (/^"(.*)"$/.test(v)) out[m[1]] = v.slice(1, -1).replace(/\\(.)/g, '$1');
    else if (/^-?\d+$/.test(v) || /^0x[0-9a-fA-F]+$/.test(v)) out[m[1]] = BigInt(v);
  }
  return out;
}
