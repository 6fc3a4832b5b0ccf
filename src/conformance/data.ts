/**
 * data — parser of bpf_conformance `.data` test files (shared/conformance/FORMAT.md §2).
 *
 * Line rules: a trailing `\r` is stripped, everything from the first `#` is removed, blank lines
 * are ignored, lines before the first directive are ignored. A line containing `--` is a section
 * directive chosen by substring, in this order: asm, result, mem, raw, "no register offset",
 * " c", error; any other directive makes the whole file skipped. `-- raw` overrides `-- asm`.
 * The result is the last non-empty line of its section (hex with 0x, else decimal), 64-bit.
 */
import { DecodeError } from '../errors.js';
import { decodeInsns } from '../isa/decode.js';
import type { Insn } from '../isa/insn.js';

/** ConformanceTest is one parsed `.data` file. */
export interface ConformanceTest {
  /** File name without directory, e.g. "add.data". */
  readonly name: string;
  /** `-- asm` text with non-asm lines blanked, so assembler line numbers are file line numbers. */
  readonly asm?: string;
  /** `-- raw` instruction slots (overrides asm when present). */
  readonly raw?: readonly Insn[];
  /** `-- mem` bytes; absent when the file has no mem section. */
  readonly mem?: Uint8Array;
  /** Expected full 64-bit r0 from `-- result`. */
  readonly result?: bigint;
  /** `-- error` text (last non-empty line, possibly ""); present iff the section exists. */
  readonly error?: string;
  /** Set when the file must be skipped (unknown directive). */
  readonly skip?: string;
}

type Section = 'asm' | 'result' | 'mem' | 'raw' | 'ignored' | 'error';

/** sectionOf picks the section a directive line opens, or undefined for an unknown directive. */
function sectionOf(line: string): Section | undefined {
  if (line.includes('asm')) return 'asm';
  if (line.includes('result')) return 'result';
  if (line.includes('mem')) return 'mem';
  if (line.includes('raw')) return 'raw';
  if (line.includes('no register offset')) return 'ignored';
  if (line.includes(' c')) return 'ignored';
  if (line.includes('error')) return 'error';
  return undefined;
}

/** parseU64 reads a result or raw token: hex when it contains 0x, else decimal (may be negative). */
function parseU64(token: string, file: string, line: number): bigint {
  const t = token.trim();
  const ok = t.includes('0x') ? /^-?0x[0-9a-fA-F]+$/.test(t) : /^-?\d+$/.test(t);
  if (!ok) throw new DecodeError('E_CONFORMANCE_NUMBER', `${file}:${line}: "${t}" is not a number`, { file, line });
  const neg = t.startsWith('-');
  const v = BigInt(neg ? t.slice(1) : t);
  return BigInt.asUintN(64, neg ? -v : v);
}

/**
 * rawSlots decodes `-- raw` lines. Each token is one 64-bit slot (opcode in the low byte). The
 * negative/unused-*.data files instead write 8 two-digit bytes per line in memory order
 * (FORMAT.md §2.4); a section where every line is exactly that is read as bytes.
 */
function rawSlots(lines: ReadonlyArray<{ text: string; line: number }>, file: string): Insn[] {
  const tokenLines = lines.map((l) => ({ line: l.line, tokens: l.text.split(/\s+/).filter((t) => t.length > 0) }));
  const byteRows = tokenLines.every((l) => l.tokens.length === 8 && l.tokens.every((t) => /^[0-9a-fA-F]{2}$/.test(t)));
  if (byteRows && tokenLines.length > 0) {
    const bytes = new Uint8Array(tokenLines.length * 8);
    tokenLines.forEach((l, i) => l.tokens.forEach((t, j) => (bytes[i * 8 + j] = parseInt(t, 16))));
    return decodeInsns(bytes);
  }
  const slots: bigint[] = [];
  for (const l of tokenLines) for (const t of l.tokens) slots.push(parseU64(t, file, l.line));
  const bytes = new Uint8Array(slots.length * 8);
  const view = new DataView(bytes.buffer);
  slots.forEach((s, i) => view.setBigUint64(i * 8, s, true));
  return decodeInsns(bytes);
}

/** parseConformanceData parses the text of one `.data` file named `name`. */
export function parseConformanceData(name: string, text: string): ConformanceTest {
  const sections = new Map<Section, Array<{ text: string; line: number }>>();
  let current: Section | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let l = lines[i];
    if (l.endsWith('\r')) l = l.slice(0, -1);
    const hash = l.indexOf('#');
    if (hash >= 0) l = l.slice(0, hash);
    if (l.trim().length === 0) continue;
    if (l.includes('--')) {
      const s = sectionOf(l);
      if (s === undefined) return { name, skip: `unknown directive "${l.trim()}" (line ${i + 1})` };
      current = s;
      if (!sections.has(s)) sections.set(s, []);
      continue;
    }
    if (current === undefined) continue;
    sections.get(current)?.push({ text: l, line: i + 1 });
  }
  const asmLines = sections.get('asm');
  let asm: string | undefined;
  if (asmLines !== undefined) {
    const padded = new Array<string>(lines.length).fill('');
    for (const a of asmLines) padded[a.line - 1] = a.text;
    asm = padded.join('\n');
  }
  const rawLines = sections.get('raw');
  const raw = rawLines === undefined ? undefined : rawSlots(rawLines, name);
  const memLines = sections.get('mem');
  let mem: Uint8Array | undefined;
  if (memLines !== undefined) {
    const bytes: number[] = [];
    for (const m of memLines) {
      for (const t of m.text.split(/\s+/).filter((x) => x.length > 0)) {
        if (!/^(0x)?[0-9a-fA-F]{1,2}$/.test(t)) {
          throw new DecodeError('E_CONFORMANCE_MEM', `${name}:${m.line}: "${t}" is not a hex byte`, { file: name, line: m.line });
        }
        bytes.push(parseInt(t, 16));
      }
    }
    mem = Uint8Array.from(bytes);
  }
  const resultLines = sections.get('result');
  const lastResult = resultLines?.[resultLines.length - 1];
  const result = lastResult === undefined ? undefined : parseU64(lastResult.text, name, lastResult.line);
  const errorLines = sections.get('error');
  const error = errorLines === undefined ? undefined : (errorLines[errorLines.length - 1]?.text.trimEnd() ?? '');
  return { name, asm, raw, mem, result, error };
}
