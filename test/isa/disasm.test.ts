/**
 * disasm tests: every row of the golden llvm-objdump output (test/isa/fixtures/objdump.tsv) is
 * disassembled and compared with the text llvm-objdump printed; when llvm-objdump-16/-19 are on
 * PATH, the golden rows are regenerated from the same corpus and must be unchanged.
 *
 * The reference for a row (see src/isa/disasm.ts for why) is LLVM 16's text, except where LLVM 16
 * prints `<unknown>` or misdecodes a v4 instruction (sdiv/smod, movsx, callx), then LLVM 19's; a
 * 32-bit atomic other than plain add, which neither decodes without +alu32, takes the +alu32 text.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/isa/asm/index.js';
import { decodeInsns } from '../../src/isa/decode.js';
import { disasmInsn, disasmLines, disasmProgram, UNKNOWN } from '../../src/isa/disasm.js';
import { makeInsn, type Insn } from '../../src/isa/insn.js';
import {
  buildRows,
  corpus,
  FIXTURE_PATH,
  hasTool,
  parseFixture,
  TOOLS,
  type Column,
  type FixtureRow,
} from '../../scripts/gen-objdump-fixture.js';

type Row = FixtureRow['texts'] & { index: number; hex: string };

const FIXTURE = readFileSync(FIXTURE_PATH, 'utf8');
const ROWS: Row[] = parseFixture(FIXTURE).map((r) => ({ index: r.index, hex: r.hex, ...r.texts }));

function insnsOf(row: Row): Insn[] {
  return decodeInsns(Uint8Array.from(row.hex.match(/../g) ?? [], (b) => parseInt(b, 16)));
}

const stripAnnotation = (s: string): string => s.replace(/ <[^<>]*>$/, '');

/** llvm16Misdecodes: valid v4 encodings LLVM 16 prints with their pre-v4 meaning. */
function llvm16Misdecodes(insn: Insn): boolean {
  const cls = insn.opcode & 0x07;
  const isAlu = cls === 0x04 || cls === 0x07;
  const op = insn.opcode & 0xf0;
  if (isAlu && (op === 0x30 || op === 0x90) && insn.off === 1) return true;
  if (isAlu && op === 0xb0 && (insn.opcode & 0x08) !== 0 && [8, 16, ...(cls === 0x07 ? [32] : [])].includes(insn.off)) return true;
  return insn.opcode === 0x8d;
}

/** expected picks the reference text for a row, following the rule in the file comment. */
function expected(row: Row, insn: Insn, alu32: boolean): string {
  const mis16 = llvm16Misdecodes(insn);
  // Without +alu32 both LLVM versions show every 32-bit atomic as `lock ... +=` or `<unknown>`.
  const misDefault = insn.opcode === 0xc3 && insn.imm !== 0;
  const chain = alu32
    ? [mis16 ? undefined : row.llvm16_alu32, row.llvm19_alu32]
    : [mis16 || misDefault ? undefined : row.llvm16, misDefault ? undefined : row.llvm19, mis16 ? undefined : row.llvm16_alu32, row.llvm19_alu32];
  return chain.find((t) => t !== undefined && t !== UNKNOWN) ?? UNKNOWN;
}

describe('golden fixture', () => {
  it('covers every opcode byte and thousands of instructions', () => {
    expect(ROWS.length).toBeGreaterThan(4000);
    const opcodes = new Set(ROWS.map((r) => parseInt(r.hex.slice(0, 2), 16)));
    expect(opcodes.size).toBe(256);
  });

  const tools = TOOLS.filter((t) => hasTool(t.bin));
  it.skipIf(tools.length === 0)(
    `matches a fresh llvm-objdump run (${tools.length === 0 ? 'skipped: no llvm-objdump-16/-19 on PATH' : tools.map((t) => t.column).join(', ')})`,
    () => {
      const fresh = buildRows(corpus(), tools);
      expect(fresh.map((r) => [r.index, r.hex])).toEqual(ROWS.map((r) => [r.index, r.hex]));
      for (const t of tools) {
        expect(fresh.map((r) => r.texts[t.column]), t.column).toEqual(ROWS.map((r) => r[t.column]));
      }
    },
  );
});

for (const alu32 of [false, true]) {
  describe(`disasmInsn vs llvm-objdump${alu32 ? ' --mattr=+alu32' : ''}`, () => {
    it('prints the reference text for every golden row', () => {
      const mismatches: string[] = [];
      for (const row of ROWS) {
        const insns = insnsOf(row);
        const want = stripAnnotation(expected(row, insns[0], alu32));
        const got = disasmInsn(insns, 0, { alu32 });
        if (got !== want) mismatches.push(`slot ${row.index} ${row.hex}: want ${JSON.stringify(want)} got ${JSON.stringify(got)}`);
      }
      expect(mismatches.slice(0, 200)).toEqual([]);
    });

    it('prints LLVM 16 text unchanged wherever LLVM 16 decodes a valid non-v4 instruction', () => {
      let same = 0;
      const mismatches: string[] = [];
      for (const row of ROWS) {
        const insns = insnsOf(row);
        const l16 = alu32 ? row.llvm16_alu32 : row.llvm16;
        if (l16 === UNKNOWN || llvm16Misdecodes(insns[0]) || (!alu32 && insns[0].opcode === 0xc3 && insns[0].imm !== 0)) continue;
        const got = disasmInsn(insns, 0, { alu32 });
        if (got !== stripAnnotation(l16)) mismatches.push(`${row.hex}: ${JSON.stringify(l16)} vs ${JSON.stringify(got)}`);
        same++;
      }
      expect(mismatches.slice(0, 50)).toEqual([]);
      expect(same).toBeGreaterThan(3000);
    });
  });
}

describe('jump annotations', () => {
  // Mimic llvm-objdump on an object without symbols: `<.text>` or `<.text+0xN>` (N as u64 bytes).
  const section = (rowIndex: number) => (t: number): string => {
    const slot = rowIndex + t;
    if (slot === 0) return '.text';
    return `.text+0x${BigInt.asUintN(64, BigInt(slot) * 8n).toString(16)}`;
  };
  it('appends `<name>` from symbolize exactly where llvm-objdump annotates', () => {
    let annotated = 0;
    const mismatches: string[] = [];
    for (const row of ROWS) {
      const insns = insnsOf(row);
      const want = expected(row, insns[0], false);
      // Offsets are relative to slot 0 of the one-instruction view; shift them to the row's slot.
      const got = disasmInsn(insns, 0, { symbolize: section(row.index) });
      if (got !== want) mismatches.push(`${row.hex}: want ${JSON.stringify(want)} got ${JSON.stringify(got)}`);
      if (want.endsWith('>')) annotated++;
    }
    expect(mismatches.slice(0, 50)).toEqual([]);
    expect(annotated).toBeGreaterThan(500);
  });
});

describe('disasmProgram', () => {
  it('lays out the corpus like llvm-objdump, lddw taking two slots', () => {
    const insns = corpus();
    const lines = disasmProgram(insns);
    const byIndex = new Map(disasmLines(insns).map((l) => [l.index, l.text]));
    // llvm-objdump skips all-zero slots (it prints `...`); every row it printed is one of ours.
    expect(ROWS.filter((row) => !byIndex.has(row.index)).map((row) => row.index)).toEqual([]);
    expect(lines.length).toBe(byIndex.size);
    expect(lines[0]).toBe(`       0:\t${UNKNOWN}`);
    const lddwAt = insns.findIndex((x) => x.opcode === 0x18 && x.src === 0 && x.dst === 9);
    expect(byIndex.get(lddwAt)).toBe('r9 = 0x1122334455667788 ll');
    expect(byIndex.has(lddwAt + 1)).toBe(false);
  });

  it('prints a small program', () => {
    const prog = [
      makeInsn(0x61, 2, 1, 0), // r2 = *(u32 *)(r1 + 0x0)
      makeInsn(0x61, 3, 1, 4),
      makeInsn(0xbf, 4, 2),
      makeInsn(0x07, 4, 0, 0, 14),
      makeInsn(0x2d, 4, 3, 2),
      makeInsn(0x18, 0, 0, 0, 2),
      makeInsn(0, 0, 0, 0, 0),
      makeInsn(0x95),
    ];
    expect(disasmProgram(prog)).toEqual([
      '       0:\tr2 = *(u32 *)(r1 + 0x0)',
      '       1:\tr3 = *(u32 *)(r1 + 0x4)',
      '       2:\tr4 = r2',
      '       3:\tr4 += 0xe',
      '       4:\tif r4 > r3 goto +0x2',
      '       5:\tr0 = 0x2 ll',
      '       7:\texit',
    ]);
    expect(disasmProgram(prog, { alu32: true })[0]).toBe('       0:\tw2 = *(u32 *)(r1 + 0x0)');
  });

  it('prints a truncated lddw in the last slot as <unknown>', () => {
    expect(disasmProgram([makeInsn(0x95), makeInsn(0x18, 1, 0, 0, 1)])).toEqual(['       0:\texit', `       1:\t${UNKNOWN}`]);
  });
});

/** findObjects lists the committed clang-built objects under a directory (their C sources sit next to them). */
function findObjects(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findObjects(p));
    else if (name.endsWith('.o')) out.push(p);
  }
  return out.sort();
}

interface ObjdumpSection {
  name: string;
  /** address → symbol name, from the `0000000000000030 <LBB0_2>:` headers. */
  symbols: Array<[number, string]>;
  /** slot index → instruction text, verbatim. */
  lines: Map<number, string>;
}

function objdumpSections(bin: string, obj: string, args: readonly string[]): ObjdumpSection[] {
  const text = execFileSync(bin, ['-d', '--no-show-raw-insn', ...args, obj], { encoding: 'utf8' });
  const sections: ObjdumpSection[] = [];
  for (const line of text.split('\n')) {
    const sec = /^Disassembly of section (.*):$/.exec(line);
    if (sec !== null) {
      sections.push({ name: sec[1], symbols: [], lines: new Map() });
      continue;
    }
    const cur = sections[sections.length - 1];
    const sym = /^([0-9a-f]{16}) <(.*)>:$/.exec(line);
    if (sym !== null && cur !== undefined) cur.symbols.push([parseInt(sym[1], 16), sym[2]]);
    const ins = /^\s*(\d+):\t(.*)$/.exec(line);
    if (ins !== null && cur !== undefined) cur.lines.set(Number(ins[1]), ins[2]);
  }
  return sections;
}

/** symbolizer names a target like llvm-objdump: the nearest symbol at or below it, plus an offset. */
function symbolizer(symbols: Array<[number, string]>): (t: number) => string | undefined {
  return (t) => {
    const addr = t * 8;
    let best: [number, string] | undefined;
    for (const s of symbols) if (s[0] <= addr && (best === undefined || s[0] >= best[0])) best = s;
    if (best === undefined) return undefined;
    return best[0] === addr ? best[1] : `${best[1]}+0x${(addr - best[0]).toString(16)}`;
  };
}

describe('clang-compiled objects (programs/**/*.o, test/isa/fixtures/*.o)', () => {
  const haveTools = hasTool('llvm-objdump-16') && hasTool('llvm-objcopy-16');
  const have19 = hasTool('llvm-objdump-19');
  const objects = [...findObjects('programs'), ...findObjects('test/isa/fixtures')];
  // The reference per line is the same as for the golden rows (`expected`); lines whose reference
  // would come from LLVM 19 are skipped when llvm-objdump-19 is not installed.
  it.skipIf(!haveTools)('disassemble like llvm-objdump, labels included (skipped without llvm-objdump-16/llvm-objcopy-16)', () => {
    expect(objects.length).toBeGreaterThan(0);
    const dir = mkdtempSync(join(tmpdir(), 'xdpsim-disasm-'));
    let compared = 0;
    const mismatches: string[] = [];
    try {
      for (const obj of objects) {
        const runs = TOOLS.filter((t) => t.bin === 'llvm-objdump-16' || have19).map(
          (t) => [t.column, new Map(objdumpSections(t.bin, obj, t.args).map((sec) => [sec.name, sec]))] as const,
        );
        const byColumn = new Map(runs);
        for (const sec of byColumn.get('llvm16')?.values() ?? []) {
          const out = join(dir, 'section.bin');
          execFileSync('llvm-objcopy-16', [`--dump-section=${sec.name}=${out}`, obj, join(dir, 'scratch.o')]);
          const insns = decodeInsns(new Uint8Array(readFileSync(out)));
          for (const alu32 of [false, true]) {
            const ours = new Map(disasmLines(insns, { alu32, symbolize: symbolizer(sec.symbols) }).map((l) => [l.index, l.text]));
            expect([...ours.keys()], `${obj} ${sec.name}`).toEqual([...sec.lines.keys()]);
            for (const index of sec.lines.keys()) {
              const text = (c: Column): string => byColumn.get(c)?.get(sec.name)?.lines.get(index) ?? UNKNOWN;
              const row: Row = { index, hex: '', llvm16: text('llvm16'), llvm16_alu32: text('llvm16_alu32'), llvm19: text('llvm19'), llvm19_alu32: text('llvm19_alu32') };
              const insn = insns[index];
              const needs19 = llvm16Misdecodes(insn) || (alu32 ? row.llvm16_alu32 : row.llvm16) === UNKNOWN || (!alu32 && insn.opcode === 0xc3 && insn.imm !== 0);
              if (needs19 && !have19) continue;
              const want = expected(row, insn, alu32);
              if (ours.get(index) !== want) {
                mismatches.push(`${obj} ${sec.name} slot ${index}${alu32 ? ' +alu32' : ''}: ${JSON.stringify(want)} vs ${JSON.stringify(ours.get(index))}`);
              }
              compared++;
            }
          }
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(mismatches.slice(0, 50)).toEqual([]);
    expect(compared).toBeGreaterThan(100);
  }, 300_000);
});

describe('bpf_conformance programs', () => {
  it('every instruction of the 313 positive tests has a text (no <unknown>), in both flavours', () => {
    const dir = '/work/shared/conformance/tests';
    const files = readdirSync(dir).filter((f) => f.endsWith('.data'));
    expect(files.length).toBe(313);
    for (const f of files) {
      const text = readFileSync(join(dir, f), 'utf8');
      const asm = text.slice(text.indexOf('-- asm') + 6).split(/^.*--.*$/m)[0];
      const insns = assemble(asm);
      for (const alu32 of [false, true]) {
        const unknown = disasmLines(insns, { alu32 }).filter((l) => l.text === UNKNOWN);
        expect(unknown, f).toEqual([]);
      }
    }
  });
});
