/**
 * lexer — splits bpf_conformance assembly text into lines of words (FORMAT.md §3).
 *
 * A line is cut at its first `#` (comment), then split on whitespace; a trailing `,` is dropped
 * from every word. A first word ending in `:` is a label definition. Line numbers are 1-based
 * and refer to the text given to the assembler.
 */

/** SourceLine is one non-empty line: its label (if any), then its words. */
export interface SourceLine {
  /** 1-based line number in the assembled text. */
  readonly line: number;
  /** Label defined at the start of the line (`name:`), without the colon. */
  readonly label?: string;
  /** Mnemonic and operands, commas removed; empty for a label-only line. */
  readonly words: readonly string[];
}

/** lexAsm splits `text` into SourceLines, skipping blank and comment-only lines. */
export function lexAsm(text: string): SourceLine[] {
  const out: SourceLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let t = lines[i];
    const hash = t.indexOf('#');
    if (hash >= 0) t = t.slice(0, hash);
    const words = t
      .split(/\s+/)
      .filter((w) => w.length > 0)
      .map((w) => (w.endsWith(',') ? w.slice(0, -1) : w))
      .filter((w) => w.length > 0);
    if (words.length === 0) continue;
    if (words[0].endsWith(':') && words[0].length > 1) {
      out.push({ line: i + 1, label: words[0].slice(0, -1), words: words.slice(1) });
    } else {
      out.push({ line: i + 1, words });
    }
  }
  return out;
}
