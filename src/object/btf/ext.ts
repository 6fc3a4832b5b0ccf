/**
 * btf/ext — the .BTF.ext section: func_info, line_info and CO-RE relocation records, grouped by
 * the ELF section they describe (tools/lib/bpf/libbpf_internal.h, struct btf_ext_header).
 *
 * Header: u16 magic 0xeB9F, u8 version 1, u8 flags, u32 hdr_len, then (offset, length) pairs for
 * func_info, line_info and, when hdr_len >= 32, core_relo — offsets relative to the header's end.
 * Each info area starts with a u32 record size, then blocks of { u32 sec_name_off; u32 num_info;
 * records[num_info] }. In an object file every insn_off is a byte offset within its ELF section.
 * bpf_line_info: { insn_off, file_name_off, line_off, line_col (line << 10 | column) }.
 * bpf_func_info: { insn_off, type_id }. bpf_core_relo: { insn_off, type_id, access_str_off, kind }.
 */
import { BtfCode, btfFail, btfString, type BtfContext } from './wire.js';

/** FuncInfo names the BTF FUNC that starts at a byte offset of a section. */
export interface FuncInfo {
  readonly insnOff: number;
  readonly typeId: number;
}

/** LineInfo maps a byte offset of a section to its C source position and text. */
export interface LineInfo {
  readonly insnOff: number;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The source line's text as clang recorded it (may be empty). */
  readonly text: string;
}

/** CoreRelo is one CO-RE relocation record (kept so the loader can refuse it by name). */
export interface CoreRelo {
  readonly insnOff: number;
  readonly typeId: number;
  readonly access: string;
  readonly kind: number;
}

/** BtfExt is the decoded .BTF.ext, keyed by ELF section name. */
export interface BtfExt {
  readonly funcInfo: ReadonlyMap<string, readonly FuncInfo[]>;
  readonly lineInfo: ReadonlyMap<string, readonly LineInfo[]>;
  readonly coreRelos: ReadonlyMap<string, readonly CoreRelo[]>;
}

/** BtfStrings resolves offsets into the string section of the companion .BTF. */
export type BtfStrings = (off: number, what: string) => string;

/** btfStringsOf returns a resolver over a .BTF string section. */
export function btfStringsOf(ctx: BtfContext, strings: Uint8Array): BtfStrings {
  return (off, what) => (off === 0 ? '' : btfString(ctx, strings, off, 0, what));
}

/** parseBtfExt decodes a .BTF.ext section; names come from the .BTF string section. */
export function parseBtfExt(bytes: Uint8Array, ctx: BtfContext, str: BtfStrings): BtfExt {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) btfFail(ctx, BtfCode.Truncated, `BTF.ext header needs 24 bytes, section has ${bytes.length}`, { offset: 0 });
  const magic = view.getUint16(0, true);
  if (magic !== 0xeb9f) btfFail(ctx, BtfCode.BadMagic, `bad BTF.ext magic 0x${magic.toString(16)}`, { offset: 0 });
  if (bytes[2] !== 1) btfFail(ctx, BtfCode.BadVersion, `BTF.ext version ${bytes[2]} (want 1)`, { offset: 2 });
  const hdrLen = view.getUint32(4, true);
  if (hdrLen < 24 || hdrLen > bytes.length) btfFail(ctx, BtfCode.BadExt, `BTF.ext hdr_len ${hdrLen} is invalid`, { offset: 4, what: 'hdr_len' });
  const area = (offField: number, name: string): { start: number; len: number } | undefined => {
    if (offField + 8 > hdrLen) return undefined;
    const off = view.getUint32(offField, true);
    const len = view.getUint32(offField + 4, true);
    if (len === 0) return undefined;
    const start = hdrLen + off;
    if (start + len > bytes.length || start < hdrLen) btfFail(ctx, BtfCode.BadExt, `${name} area [${off}, +${len}) is outside the section`, { offset: offField, what: name });
    return { start, len };
  };

  /** Walks one info area, calling `rec` with (section name, record offset) per record. */
  const walk = (a: { start: number; len: number } | undefined, name: string, minRec: number, rec: (sec: string, p: number) => void): void => {
    if (a === undefined) return;
    const end = a.start + a.len;
    if (a.len < 4) btfFail(ctx, BtfCode.BadExt, `${name} area has no record size`, { offset: a.start, what: name });
    const recSize = view.getUint32(a.start, true);
    if (recSize < minRec || recSize % 4 !== 0 || recSize > 1024) btfFail(ctx, BtfCode.BadExt, `${name} record size ${recSize} is invalid (minimum ${minRec})`, { offset: a.start, what: name });
    let p = a.start + 4;
    while (p < end) {
      if (p + 8 > end) btfFail(ctx, BtfCode.Truncated, `${name} block header extends past its area`, { offset: p });
      const sec = str(view.getUint32(p, true), `${name} section name`);
      const num = view.getUint32(p + 4, true);
      p += 8;
      if (num === 0) btfFail(ctx, BtfCode.BadExt, `${name} block for section ${sec} has no records`, { offset: p - 4, what: name });
      if (num > (end - p) / recSize) btfFail(ctx, BtfCode.Truncated, `${name} block for section ${sec}: ${num} records of ${recSize} bytes extend past the area`, { offset: p });
      for (let i = 0; i < num; i++, p += recSize) rec(sec, p);
    }
  };

  const funcInfo = new Map<string, FuncInfo[]>();
  const lineInfo = new Map<string, LineInfo[]>();
  const coreRelos = new Map<string, CoreRelo[]>();
  const push = <T>(m: Map<string, T[]>, k: string, v: T): void => {
    const l = m.get(k);
    if (l === undefined) m.set(k, [v]);
    else l.push(v);
  };
  walk(area(8, 'func_info'), 'func_info', 8, (sec, p) => {
    push(funcInfo, sec, { insnOff: view.getUint32(p, true), typeId: view.getUint32(p + 4, true) });
  });
  walk(area(16, 'line_info'), 'line_info', 16, (sec, p) => {
    const lc = view.getUint32(p + 12, true);
    push(lineInfo, sec, {
      insnOff: view.getUint32(p, true),
      file: str(view.getUint32(p + 4, true), 'line_info file name'),
      text: str(view.getUint32(p + 8, true), 'line_info source line'),
      line: lc >>> 10,
      column: lc & 0x3ff,
    });
  });
  walk(area(24, 'core_relo'), 'core_relo', 16, (sec, p) => {
    push(coreRelos, sec, {
      insnOff: view.getUint32(p, true),
      typeId: view.getUint32(p + 4, true),
      access: str(view.getUint32(p + 8, true), 'core_relo access string'),
      kind: view.getUint32(p + 12, true),
    });
  });
  return { funcInfo, lineInfo, coreRelos };
}
