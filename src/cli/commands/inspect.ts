/**
 * inspect — `xdpsim inspect OBJ [--json] [--section-kind S=KIND]`: what an object holds, without
 * loading it: programs (name, section, type, instruction count), license, maps (name, type,
 * key/value size, max_entries, flags, pinning) and whether BTF and line info exist.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { UsageError } from '../../errors.js';
import { mapTypeName, type MapSpec } from '../../maps/spec.js';
import { parseObject, type ObjectSpec } from '../../object/loader.js';
import { progTypeName, type ProgramKind } from '../../object/sections.js';

/** InspectReport is the JSON shape `inspect --json` prints. */
export interface InspectReport {
  file: string;
  name: string;
  license: string;
  gplCompatible: boolean;
  btf: boolean;
  lineInfo: boolean;
  programs: Array<{ name: string; section: string; type: string; insns: number; subprograms: string[]; refused?: string }>;
  maps: Array<{
    name: string;
    type: string;
    keySize: number;
    valueSize: number;
    maxEntries: number;
    flags: number;
    pinning: number;
    inner?: string;
    initialSlots?: Array<{ index: number; ref: string }>;
    /** C types of key and value, from BTF (`__type(key, ...)`), when the map declares them. */
    keyType?: string;
    valueType?: string;
  }>;
  globals: Array<{ name: string; map: string; offset: number; size: number; type?: string }>;
  kconfig: Array<{ name: string; offset: number; size: number; weak: boolean }>;
}

function mapRow(m: MapSpec, spec: ObjectSpec): InspectReport['maps'][number] {
  const typeName = (id: number | undefined): string | undefined => (id !== undefined && id !== 0 && spec.btf !== undefined ? spec.btf.describe(id) : undefined);
  const keyType = typeName(m.btfKeyTypeId);
  const valueType = typeName(m.btfValueTypeId);
  return {
    name: m.name,
    type: mapTypeName(m.type),
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    flags: m.flags,
    pinning: m.pinning,
    ...(m.inner !== undefined ? { inner: `${mapTypeName(m.inner.type)} key ${m.inner.keySize} value ${m.inner.valueSize} max ${m.inner.maxEntries}` } : {}),
    ...(m.initialSlots !== undefined ? { initialSlots: m.initialSlots } : {}),
    ...(keyType !== undefined ? { keyType } : {}),
    ...(valueType !== undefined ? { valueType } : {}),
  };
}

/** inspectReport summarises an ObjectSpec. */
export function inspectReport(spec: ObjectSpec): InspectReport {
  return {
    file: spec.file,
    name: spec.name,
    license: spec.license,
    gplCompatible: spec.gplCompatible,
    btf: spec.btf !== undefined,
    lineInfo: spec.hasLineInfo,
    programs: spec.programs.map((p) => ({
      name: p.name,
      section: p.section,
      type: progTypeName(p.progType),
      insns: p.insns.length,
      subprograms: p.functions.slice(1).map((f) => f.name),
      ...(p.refused !== undefined ? { refused: p.refused.message } : {}),
    })),
    maps: spec.maps.map((m) => mapRow(m, spec)),
    globals: spec.globals.map((g) => ({ name: g.name, map: g.map, offset: g.offset, size: g.size, ...(g.type !== undefined ? { type: g.type } : {}) })),
    kconfig: [...(spec.kconfig?.externs.values() ?? [])].map((e) => ({ name: e.name, offset: e.offset, size: e.size, weak: e.weak })),
  };
}

/** formatInspect renders the report as aligned text. */
export function formatInspect(r: InspectReport): string {
  const lines: string[] = [];
  lines.push(`object ${r.name} (${r.file})`);
  lines.push(`license "${r.license}"${r.gplCompatible ? ' (GPL-compatible)' : ''}; BTF ${r.btf ? 'yes' : 'no'}; line info ${r.lineInfo ? 'yes' : 'no'}`);
  lines.push('', `programs (${r.programs.length}):`);
  for (const p of r.programs) {
    const subs = p.subprograms.length > 0 ? `  calls ${p.subprograms.join(', ')}` : '';
    lines.push(`  ${p.name.padEnd(20)} section ${p.section.padEnd(18)} type ${p.type.padEnd(10)} ${String(p.insns).padStart(5)} insns${subs}`);
    if (p.refused !== undefined) lines.push(`    cannot load: ${p.refused}`);
  }
  lines.push('', `maps (${r.maps.length}):`);
  for (const m of r.maps) {
    let line = `  ${m.name.padEnd(20)} ${m.type.padEnd(16)} key ${String(m.keySize).padStart(3)}B  value ${String(m.valueSize).padStart(5)}B  max_entries ${String(m.maxEntries).padStart(7)}  flags 0x${m.flags.toString(16)}  pinning ${m.pinning}`;
    if (m.keyType !== undefined || m.valueType !== undefined) line += `  (${m.keyType ?? '?'} -> ${m.valueType ?? '?'})`;
    if (m.inner !== undefined) line += `  inner ${m.inner}`;
    if (m.initialSlots !== undefined) line += `  slots ${m.initialSlots.map((s) => `[${s.index}]=${s.ref}`).join(' ')}`;
    lines.push(line);
  }
  if (r.globals.length > 0) {
    lines.push('', `globals (${r.globals.length}):`);
    for (const g of r.globals) lines.push(`  ${g.name.padEnd(20)} ${g.map}+0x${g.offset.toString(16)} (${g.size} bytes)${g.type !== undefined ? `  ${g.type}` : ''}`);
  }
  if (r.kconfig.length > 0) {
    lines.push('', `kconfig externs (${r.kconfig.length}):`);
    for (const k of r.kconfig) lines.push(`  ${k.name.padEnd(32)} +0x${k.offset.toString(16)} (${k.size} bytes${k.weak ? ', weak' : ''})`);
  }
  return lines.join('\n') + '\n';
}

/** parseSectionKinds reads repeated `--section-kind S=KIND` options. */
export function parseSectionKinds(list: readonly string[]): Record<string, ProgramKind> {
  const out: Record<string, ProgramKind> = {};
  for (const item of list) {
    const eq = item.lastIndexOf('=');
    const kind = item.slice(eq + 1);
    if (eq <= 0 || (kind !== 'xdp' && kind !== 'tc' && kind !== 'tc_act')) {
      throw new UsageError('E_USAGE', `--section-kind ${item}: want SECTION=xdp|tc|tc_act`, { value: item });
    }
    out[item.slice(0, eq)] = kind;
  }
  return out;
}

/** readObjectFile reads an object file or fails with a UsageError naming it. */
export function readObjectFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError('E_OBJ_READ', `${path}: cannot read object: ${e instanceof Error ? e.message : String(e)}`, { file: path });
  }
}

/** registerInspect adds the `inspect` command. */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('list the programs, maps and globals of a BPF object')
    .argument('<obj>', 'BPF object file (.o)')
    .option('--json', 'print JSON')
    .option('--section-kind <S=KIND>', 'program kind for a section (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action((obj: string, opts: { json?: boolean; sectionKind: string[] }) => {
      const spec = parseObject(readObjectFile(obj), { file: obj, sectionKinds: parseSectionKinds(opts.sectionKind) });
      const report = inspectReport(spec);
      process.stdout.write(opts.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatInspect(report));
    });
}
