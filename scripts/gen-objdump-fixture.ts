/**
 * gen-objdump-fixture — builds the disassembler's golden file from the real llvm-objdump.
 *
 * Run: `npx tsx scripts/gen-objdump-fixture.ts` (needs llvm-objdump-16 and llvm-objdump-19 on PATH;
 * Debian: apt-get install llvm-16 llvm-19). It
 *   1. builds a deterministic corpus of instruction slots: every opcode byte 0x00..0xff, every legal
 *      opcode with its register/offset/immediate edge values, each unused field set nonzero on its own,
 *      every lddw pseudo form, and 800 seeded
 *      random instructions drawn from the opcode table;
 *   2. wraps them as the `.text` section of a minimal ELF64 relocatable object for EM_BPF (the tiny
 *      writer below; test tooling only, not part of xdpsim);
 *   3. runs `llvm-objdump-{16,19} -d --no-show-raw-insn`, each without and with `--mattr=+alu32`;
 *   4. writes test/isa/fixtures/objdump.tsv: one row per instruction llvm-objdump printed, with the
 *      slot index, the instruction's bytes (16 for lddw) and the four texts, verbatim.
 * test/isa/disasm.test.ts compares src/isa/disasm.ts with these rows, and regenerates them live when
 * the tools are present.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { encodeInsns } from '../src/isa/encode.js';
import { makeInsn, type Insn } from '../src/isa/insn.js';
import { OPCODE_TABLE, OpcodeKind } from '../src/isa/mnemonic.js';

/** FIXTURE_PATH is where the golden rows live, relative to the repository root. */
export const FIXTURE_PATH = 'test/isa/fixtures/objdump.tsv';

/** TOOLS are the llvm-objdump runs recorded per instruction, in column order. */
export const TOOLS = [
  { column: 'llvm16', bin: 'llvm-objdump-16', args: [] as string[] },
  { column: 'llvm16_alu32', bin: 'llvm-objdump-16', args: ['--mattr=+alu32'] },
  { column: 'llvm19', bin: 'llvm-objdump-19', args: [] as string[] },
  { column: 'llvm19_alu32', bin: 'llvm-objdump-19', args: ['--mattr=+alu32'] },
] as const;

const IMMS = [0, 1, -1, 2, 0x7f, 0x80, 0xff, 0x7fff, -0x8000, 0x10000, 0x7fffffff, -0x80000000, 0x12345678, -0x12345678];
const OFFS = [0, 1, -1, 2, 0x7f, 0x7fff, -0x8000, 8, -8, 0x100];
const REGS = [0, 1, 2, 5, 9, 10];

/** mulberry32 is a small seeded PRNG so the corpus is the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** corpus returns the instruction slots to disassemble; lddw always comes with a second slot. */
export function corpus(): Insn[] {
  const out: Insn[] = [];
  const I = (op: number, dst = 0, src = 0, off = 0, imm = 0): void => {
    out.push(makeInsn(op, dst, src, off, imm));
    if (op === 0x18) out.push(makeInsn(0, 0, 0, 0, 0));
  };
  const lddw = (dst: number, src: number, lo: number, hi: number, hiSlot: Partial<Insn> = {}): void => {
    out.push(makeInsn(0x18, dst, src, 0, lo));
    out.push(makeInsn(hiSlot.opcode ?? 0, hiSlot.dst ?? 0, hiSlot.src ?? 0, hiSlot.off ?? 0, hi));
  };
  // Every opcode byte with small nonzero fields.
  for (let op = 0; op < 256; op++) {
    I(op, 1, 2, 3, 4);
    I(op, 0, 0, 0, 0);
  }
  // Every legal opcode with its fields at edge values, then each unused field nonzero alone.
  const opcodes = [...OPCODE_TABLE.values()].sort((a, b) => a.opcode - b.opcode);
  for (const { opcode: op, kind } of opcodes) {
    const isX = (op & 0x08) !== 0;
    const aluOp = op & 0xf0;
    switch (kind) {
      case OpcodeKind.Alu:
        if (isX) {
          for (const d of REGS) for (const s of REGS) I(op, d, s);
          if (aluOp === 0xb0) for (const off of [8, 16, 32]) for (const d of [0, 3]) I(op, d, 9 - d, off);
          if (aluOp === 0x30 || aluOp === 0x90) for (const d of [0, 3]) I(op, d, 9 - d, 1);
          I(op, 1, 2, 0, 5); // imm set
          I(op, 1, 2, 2); // off set
          I(op, 1, 2, -1); // off set
        } else {
          for (const imm of IMMS) I(op, REGS[out.length % REGS.length], 0, 0, imm);
          if (aluOp === 0x30 || aluOp === 0x90) for (const imm of [-1, 3, 0, -0x80000000]) I(op, 4, 0, 1, imm);
          I(op, 1, 2, 0, 5); // src set
          I(op, 1, 0, 2, 5); // off set
          if (aluOp === 0xb0) I(op, 1, 0, 8, 5);
        }
        I(op, 11, 1, 0, 0);
        I(op, 12, 1, 0, 0);
        I(op, 1, 11, 0, 0);
        break;
      case OpcodeKind.Neg:
        for (const d of REGS) I(op, d);
        I(op, 1, 2);
        I(op, 1, 0, 1);
        I(op, 1, 0, 0, 1);
        break;
      case OpcodeKind.End:
        for (const w of [16, 32, 64]) for (const d of [0, 4, 9]) I(op, d, 0, 0, w);
        for (const w of [0, 8, 128, -16]) I(op, 1, 0, 0, w);
        I(op, 1, 2, 0, 16);
        I(op, 1, 0, 1, 16);
        break;
      case OpcodeKind.CondJump:
        for (const off of OFFS) {
          if (isX) I(op, REGS[(off & 0xff) % REGS.length], REGS[(off >>> 3) % REGS.length], off);
          else for (const imm of [0, -1, 0x7fffffff, -0x80000000, 5]) I(op, 3, 0, off, imm);
        }
        if (isX) I(op, 1, 2, 1, 5);
        else I(op, 1, 2, 1, 5);
        I(op, 11, 0, 1, 0);
        break;
      case OpcodeKind.Ja:
        if (op === 0x05) {
          for (const off of OFFS) I(op, 0, 0, off);
          I(op, 1, 0, 1);
          I(op, 0, 1, 1);
          I(op, 0, 0, 1, 1);
        } else {
          for (const imm of IMMS) I(op, 0, 0, 0, imm);
          I(op, 1, 0, 0, 1);
          I(op, 0, 1, 0, 1);
          I(op, 0, 0, 1, 1);
        }
        break;
      case OpcodeKind.Call:
        for (const src of [0, 1, 2]) for (const imm of [0, 1, 5, -1, -3, 0x7fffffff, -0x80000000]) I(op, 0, src, 0, imm);
        I(op, 1, 0, 0, 5);
        I(op, 0, 0, 1, 5);
        I(op, 0, 3, 0, 5);
        I(op, 0, 2, 7, 5);
        break;
      case OpcodeKind.Callx:
        for (const d of REGS) I(op, d);
        I(op, 0, 0, 0, 2);
        I(op, 3, 0, 0, 2);
        I(op, 1, 1);
        I(op, 1, 0, 1);
        break;
      case OpcodeKind.Exit:
        I(op);
        I(op, 1);
        I(op, 0, 1);
        I(op, 0, 0, 1);
        I(op, 0, 0, 0, 1);
        break;
      case OpcodeKind.Lddw:
        for (const src of [0, 1, 2, 3, 4, 5, 6, 7, 15]) {
          for (const [lo, hi] of [
            [0, 0],
            [-1, -1],
            [0x55667788, 0x11223344],
            [-0x80000000, 0x7fffffff],
            [1, -1],
            [5, 0],
          ]) {
            lddw(REGS[(lo & 0xff) % REGS.length], src, lo, hi);
          }
        }
        lddw(1, 0, 1, 2, { off: 1 });
        lddw(1, 0, 1, 2, { dst: 1 });
        lddw(1, 0, 1, 2, { opcode: 0x95 });
        out.push(makeInsn(0x18, 1, 0, 5, 1), makeInsn(0, 0, 0, 0, 0));
        lddw(11, 0, 1, 2);
        break;
      case OpcodeKind.LdAbs:
        for (const imm of IMMS) I(op, 0, 0, 0, imm);
        I(op, 1, 0, 0, 4);
        I(op, 0, 1, 0, 4);
        I(op, 0, 0, 1, 4);
        break;
      case OpcodeKind.LdInd:
        for (const s of REGS) I(op, 0, s, 0, IMMS[s]);
        I(op, 1, 2, 0, 4);
        I(op, 0, 2, 1, 4);
        break;
      case OpcodeKind.Ldx:
      case OpcodeKind.Stx:
        for (const off of OFFS) I(op, REGS[(off & 0xff) % REGS.length], REGS[(off >>> 2) % REGS.length], off);
        I(op, 1, 2, 0, 1);
        I(op, 11, 1);
        I(op, 1, 11);
        break;
      case OpcodeKind.St:
        for (const off of OFFS) for (const imm of [0, -1, 0x7fffffff, -0x80000000]) I(op, 10, 0, off, imm);
        I(op, 1, 2, 0, 1);
        break;
      case OpcodeKind.Atomic:
      case OpcodeKind.Unsupported:
        if (op === 0xe5) {
          for (const off of OFFS) I(op, 0, 0, off);
          I(op, 1, 0, 1);
          I(op, 0, 1, 1);
          I(op, 0, 0, 1, 1);
          break;
        }
        for (const imm of [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1, 0xe0, 0xf0, 0x10, 0x100, 0x110]) {
          for (const [d, s, off] of [
            [1, 2, 0],
            [10, 0, -8],
            [3, 4, 0x7fff],
          ]) {
            I(op, d, s, off, imm);
          }
        }
        break;
    }
  }
  // Random instructions from the table with random fields (seeded).
  const rnd = mulberry32(0x5eed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const s32 = (): number => (rnd() < 0.5 ? pick(IMMS) : Math.floor(rnd() * 4294967296) | 0);
  const s16 = (): number => (rnd() < 0.5 ? pick(OFFS) : (Math.floor(rnd() * 65536) << 16) >> 16);
  for (let n = 0; n < 800; n++) {
    const { opcode: op, kind } = pick(opcodes);
    const d = Math.floor(rnd() * 11);
    const s = Math.floor(rnd() * 11);
    switch (kind) {
      case OpcodeKind.Alu: {
        const aluOp = op & 0xf0;
        let off = 0;
        if ((aluOp === 0x30 || aluOp === 0x90) && rnd() < 0.5) off = 1;
        if (aluOp === 0xb0 && (op & 0x08) !== 0 && rnd() < 0.5) off = pick((op & 7) === 7 ? [8, 16, 32] : [8, 16]);
        I(op, d, (op & 0x08) !== 0 ? s : 0, off, (op & 0x08) !== 0 ? 0 : s32());
        break;
      }
      case OpcodeKind.End:
        I(op, d, 0, 0, pick([16, 32, 64]));
        break;
      case OpcodeKind.CondJump:
        I(op, d, (op & 0x08) !== 0 ? s : 0, s16(), (op & 0x08) !== 0 ? 0 : s32());
        break;
      case OpcodeKind.Ja:
        if (op === 0x05) I(op, 0, 0, s16());
        else I(op, 0, 0, 0, s32());
        break;
      case OpcodeKind.Call:
        I(op, 0, pick([0, 1]), 0, s32());
        break;
      case OpcodeKind.Lddw:
        lddw(d, pick([0, 1, 2, 3, 4, 5, 6]), s32(), s32());
        break;
      case OpcodeKind.Ldx:
      case OpcodeKind.Stx:
        I(op, d, s, s16());
        break;
      case OpcodeKind.St:
        I(op, d, 0, s16(), s32());
        break;
      case OpcodeKind.Atomic:
        I(op, d, s, s16(), pick([0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1]));
        break;
      case OpcodeKind.LdAbs:
        I(op, 0, 0, 0, s32());
        break;
      case OpcodeKind.LdInd:
        I(op, 0, s, 0, s32());
        break;
      case OpcodeKind.Callx:
        I(op, d);
        break;
      default:
        I(op, d);
    }
  }
  out.push(makeInsn(0x95));
  return out;
}

/**
 * bpfRelocatable wraps `text` as the `.text` section of an ELF64 little-endian relocatable object for
 * EM_BPF (247): ELF header, .text, .shstrtab, section headers. No symbols: llvm-objdump then labels
 * the section `<.text>` and annotates jump targets as `<.text+0xN>`.
 */
export function bpfRelocatable(text: Uint8Array): Uint8Array {
  const shstrtab = new TextEncoder().encode('\0.text\0.shstrtab\0');
  const textOff = 64;
  const strOff = textOff + text.length;
  const shOff = (strOff + shstrtab.length + 7) & ~7;
  const out = new Uint8Array(shOff + 3 * 64);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2 /* ELFCLASS64 */, 1 /* LSB */, 1 /* EV_CURRENT */], 0);
  v.setUint16(16, 1, true); // ET_REL
  v.setUint16(18, 247, true); // EM_BPF
  v.setUint32(20, 1, true); // e_version
  v.setBigUint64(40, BigInt(shOff), true); // e_shoff
  v.setUint16(52, 64, true); // e_ehsize
  v.setUint16(58, 64, true); // e_shentsize
  v.setUint16(60, 3, true); // e_shnum
  v.setUint16(62, 2, true); // e_shstrndx
  out.set(text, textOff);
  out.set(shstrtab, strOff);
  const section = (i: number, name: number, type: number, flags: number, off: number, size: number, align: number): void => {
    const p = shOff + i * 64;
    v.setUint32(p, name, true);
    v.setUint32(p + 4, type, true);
    v.setBigUint64(p + 8, BigInt(flags), true);
    v.setBigUint64(p + 24, BigInt(off), true);
    v.setBigUint64(p + 32, BigInt(size), true);
    v.setBigUint64(p + 48, BigInt(align), true);
  };
  section(1, 1, 1 /* SHT_PROGBITS */, 6 /* SHF_ALLOC|SHF_EXECINSTR */, textOff, text.length, 8);
  section(2, 7, 3 /* SHT_STRTAB */, 0, strOff, shstrtab.length, 1);
  return out;
}

/** hasTool reports whether an executable answers `--version`. */
export function hasTool(bin: string): boolean {
  try {
    execFileSync(bin, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** objdumpTexts runs one llvm-objdump over the slots and returns slot index → instruction text. */
export function objdumpTexts(bin: string, args: readonly string[], insns: readonly Insn[]): Map<number, string> {
  const dir = mkdtempSync(join(tmpdir(), 'xdpsim-objdump-'));
  try {
    const obj = join(dir, 'corpus.o');
    writeFileSync(obj, bpfRelocatable(encodeInsns(insns)));
    const text = execFileSync(bin, ['-d', '--no-show-raw-insn', ...args, obj], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const rows = new Map<number, string>();
    for (const line of text.split('\n')) {
      const m = /^\s*(\d+):\t(.*)$/.exec(line);
      if (m !== null) rows.set(Number(m[1]), m[2]);
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** FixtureRow is one instruction as llvm-objdump printed it. */
export interface FixtureRow {
  index: number;
  /** The instruction's bytes as lowercase hex (16 bytes for opcode 0x18, else 8). */
  hex: string;
  texts: Record<Column, string>;
}

/**
 * buildRows runs the tools over the corpus and joins their outputs by slot index; columns of tools
 * not in `tools` are left empty.
 */
export function buildRows(insns: readonly Insn[], tools: readonly (typeof TOOLS)[number][] = TOOLS): FixtureRow[] {
  const outputs = tools.map((t) => objdumpTexts(t.bin, t.args, insns));
  const bytes = encodeInsns(insns);
  const rows: FixtureRow[] = [];
  for (const [index] of outputs[0]) {
    const texts = { llvm16: '', llvm16_alu32: '', llvm19: '', llvm19_alu32: '' } satisfies FixtureRow['texts'];
    tools.forEach((t, k) => {
      const s = outputs[k].get(index);
      if (s === undefined) throw new Error(`${t.bin} ${t.args.join(' ')} printed no row for slot ${index}`);
      texts[t.column] = s;
    });
    const len = insns[index].opcode === 0x18 && index + 1 < insns.length ? 16 : 8;
    const hex = Array.from(bytes.subarray(index * 8, index * 8 + len), (b) => b.toString(16).padStart(2, '0')).join('');
    rows.push({ index, hex, texts });
  }
  return rows;
}

/** BASE names, per column, the column a `=` in it stands for (the fixture stores repeats as `=`). */
const BASE: Readonly<Record<Column, Column | undefined>> = {
  llvm16: undefined,
  llvm16_alu32: 'llvm16',
  llvm19: 'llvm16',
  llvm19_alu32: 'llvm16_alu32',
};

/** Column is the name of one llvm-objdump run. */
export type Column = (typeof TOOLS)[number]['column'];

/** formatFixture renders rows as the committed TSV (header comments, then one row per instruction). */
export function formatFixture(rows: readonly FixtureRow[]): string {
  const version = (bin: string): string =>
    (execFileSync(bin, ['--version'], { encoding: 'utf8' }).match(/LLVM version [^\s]+/) ?? ['unknown'])[0];
  const head = [
    '# Golden llvm-objdump output for src/isa/disasm.ts; regenerate with `npx tsx scripts/gen-objdump-fixture.ts`.',
    `# llvm-objdump-16: ${version('llvm-objdump-16')}; llvm-objdump-19: ${version('llvm-objdump-19')}.`,
    '# Each tool ran `-d --no-show-raw-insn` (and again with `--mattr=+alu32`) on one EM_BPF object holding',
    '# the whole corpus in .text. Texts are verbatim, including `<.text+0xN>` jump annotations, except that a',
    '# tab inside a text (ld_pseudo) is written as the two characters \\t, and `=` stands for the same text as',
    '# llvm16 (in llvm16_alu32 and llvm19) or as llvm16_alu32 (in llvm19_alu32).',
    '# LLVM 16 prints `<unknown>` for st (BPF_ST), jset, bswap, gotol, ldsx and may_goto; decodes sdiv/smod as',
    '# div/mod and movsx as mov (it ignores off); reads the callx register from imm.',
    ['index', 'hex', ...TOOLS.map((t) => t.column)].join('\t'),
  ];
  const cell = (r: FixtureRow, c: Column): string => {
    const base = BASE[c];
    if (base !== undefined && r.texts[base] === r.texts[c]) return '=';
    return r.texts[c].replace(/\t/g, '\\t');
  };
  const body = rows.map((r) => [r.index, r.hex, ...TOOLS.map((t) => cell(r, t.column))].join('\t'));
  return [...head, ...body, ''].join('\n');
}

/** parseFixture reads the TSV written by formatFixture back into rows. */
export function parseFixture(text: string): FixtureRow[] {
  const rows: FixtureRow[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('index\t')) continue;
    const [index, hex, ...cells] = line.split('\t');
    if (cells.length !== TOOLS.length) throw new Error(`${FIXTURE_PATH}: bad row ${JSON.stringify(line)}`);
    const texts = {} as FixtureRow['texts'];
    TOOLS.forEach((t, k) => {
      const base = BASE[t.column];
      texts[t.column] = cells[k] === '=' && base !== undefined ? texts[base] : cells[k].replace(/\\t/g, '\t');
    });
    rows.push({ index: Number(index), hex, texts });
  }
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const missing = TOOLS.map((t) => t.bin).filter((b) => !hasTool(b));
  if (missing.length > 0) {
    process.stderr.write(`gen-objdump-fixture: missing ${[...new Set(missing)].join(', ')}\n`);
    process.exit(1);
  }
  const rows = buildRows(corpus());
  writeFileSync(FIXTURE_PATH, formatFixture(rows));
  process.stdout.write(`wrote ${rows.length} instructions to ${FIXTURE_PATH}\n`);
}
