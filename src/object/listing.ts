/**
 * listing — the disassembly of an object in the layout of `llvm-objdump -d --no-show-raw-insn`
 * (with `source: true`, the C source line above each block, like `llvm-objdump -S`, from BTF
 * line info rather than DWARF). Instruction text comes from isa/disasm.ts; this module adds what
 * depends on the object: sections, symbol headers, and `<label>` annotations of jump targets.
 */
import { disasmInsn, slotCount } from '../isa/disasm.js';
import type { Insn } from '../isa/insn.js';
import type { LineInfo } from './btf/ext.js';
import type { CodeLabel, ObjectProgramSpec, ObjectSpec } from './loader.js';

/** ListingOptions select what objectListing prints. */
export interface ListingOptions {
  /** Print `; <source line>` above each block that starts a new line record. */
  source?: boolean;
  /** Only the section holding this program (its entry function), or this .text function. */
  program?: string;
}

function hexAddr(byteOff: number): string {
  return byteOff.toString(16).padStart(16, '0');
}

/** objectListing renders the executable sections of an object as llvm-objdump does. */
export function objectListing(spec: ObjectSpec, opts: ListingOptions = {}): string[] {
  const out: string[] = [];
  const sections: string[] = [];
  for (const f of spec.functions) if (!sections.includes(f.section)) sections.push(f.section);
  let only: { section: string; start: number; end: number } | undefined;
  if (opts.program !== undefined) {
    const f = spec.functions.find((x) => x.name === opts.program);
    if (f === undefined) return [];
    only = { section: f.section, start: f.start, end: f.start + f.insns.length };
  }
  for (const section of sections) {
    if (only !== undefined && only.section !== section) continue;
    const funcs = spec.functions.filter((f) => f.section === section).sort((a, b) => a.start - b.start);
    const length = funcs.reduce((n, f) => Math.max(n, f.start + f.insns.length), 0);
    const insns: Insn[] = new Array<Insn>(length);
    const lines = new Map<number, LineInfo>();
    for (const f of funcs) {
      f.insns.forEach((x, i) => (insns[f.start + i] = x));
      for (const [i, l] of f.lines) lines.set(f.start + i, l);
    }
    for (let i = 0; i < length; i++) if (insns[i] === undefined) insns[i] = { opcode: 0, dst: 0, src: 0, off: 0, imm: 0 };
    const labels = spec.labels.filter((l) => l.section === section).sort((a, b) => a.index - b.index);
    const labelAt = new Map<number, CodeLabel>();
    for (const l of labels) if (!labelAt.has(l.index)) labelAt.set(l.index, l);
    const symbolize = (target: number): string | undefined => {
      const exact = labelAt.get(target);
      if (exact !== undefined) return exact.name;
      let best: CodeLabel | undefined;
      for (const l of labels) if (l.index <= target) best = l;
      return best !== undefined ? `${best.name}+0x${((target - best.index) * 8).toString(16)}` : `${section}+0x${(target * 8).toString(16)}`;
    };
    out.push(`Disassembly of section ${section}:`);
    let last: LineInfo | undefined;
    for (let i = 0; i < length; i += slotCount(insns, i)) {
      if (only !== undefined && (i < only.start || i >= only.end)) continue;
      const label = labelAt.get(i);
      if (label !== undefined) out.push('', `${hexAddr(i * 8)} <${label.name}>:`);
      const li = lines.get(i);
      if (opts.source === true && li !== undefined && (last === undefined || last.line !== li.line || last.file !== li.file)) {
        if (li.text.trim() !== '') out.push(`; ${li.text}`);
        last = li;
      }
      out.push(`${String(i).padStart(8)}:\t${disasmInsn(insns, i, { symbolize })}`);
    }
    out.push('');
  }
  return out;
}

/** programListing renders a linked program as xdpsim runs it (subprograms appended). */
export function programListing(p: ObjectProgramSpec, opts: { source?: boolean } = {}): string[] {
  const out: string[] = [];
  const starts = new Map(p.functions.map((f) => [f.start, f]));
  const symbolize = (target: number): string | undefined => {
    let best: { name: string; start: number } | undefined;
    for (const f of p.functions) if (f.start <= target) best = f;
    if (best === undefined) return undefined;
    return target === best.start ? best.name : `${best.name}+0x${((target - best.start) * 8).toString(16)}`;
  };
  const refs = new Map(p.mapRefs.map((r) => [r.insn, r]));
  let last: LineInfo | undefined;
  for (let i = 0; i < p.insns.length; i += slotCount(p.insns, i)) {
    const f = starts.get(i);
    if (f !== undefined) out.push(...(i > 0 ? [''] : []), `${hexAddr(i * 8)} <${f.name}>:${f.section !== p.section ? ` (${f.section})` : ''}`);
    const li = p.lines.get(i);
    if (opts.source === true && li !== undefined && (last === undefined || last.line !== li.line || last.file !== li.file)) {
      out.push(`; ${li.text}`);
      last = li;
    }
    const r = refs.get(i);
    const note = r === undefined ? '' : r.kind === 'map' ? `\t; map ${r.map}` : `\t; ${r.map}+0x${r.offset.toString(16)} (${r.symbol})`;
    out.push(`${String(i).padStart(8)}:\t${disasmInsn(p.insns, i, { symbolize })}${note}`);
  }
  return out;
}
