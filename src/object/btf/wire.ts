/**
 * btf/wire — the BTF wire format (include/uapi/linux/btf.h): header, string section, and the
 * type records of every kind, decoded into plain BtfType objects indexed by type id.
 *
 * Layout: struct btf_header { u16 magic = 0xeB9F; u8 version = 1; u8 flags; u32 hdr_len;
 * u32 type_off, type_len, str_off, str_len } — offsets relative to the end of the header. Each
 * type is struct btf_type { u32 name_off; u32 info (vlen:16, kind:5 at bit 24, kind_flag bit 31);
 * u32 size_or_type } followed by kind-specific data. Type id 0 is void; ids count from 1.
 *
 * Everything is checked as the kernel's btf_parse() would (btf_parse_hdr, btf_check_all_metas,
 * btf_check_all_types): offsets inside the blob, names inside the string section, referenced type
 * ids below the type count. Cycles are caught later, when types are resolved (btf/types.ts).
 */
import { DecodeError, type ErrorFields } from '../../errors.js';

/** BtfCode lists the stable codes of the DecodeErrors raised for malformed BTF. */
export const BtfCode = {
  /** Header or record extends past the end of the section (fields: offset). */
  Truncated: 'E_BTF_TRUNCATED',
  BadMagic: 'E_BTF_MAGIC',
  BadVersion: 'E_BTF_VERSION',
  /** Type or string area outside the blob, or overlapping (fields: what). */
  BadLayout: 'E_BTF_LAYOUT',
  /** A name or string offset outside the string section (fields: offset). */
  BadString: 'E_BTF_STRING',
  /** Unknown kind (fields: typeId, got). */
  BadKind: 'E_BTF_KIND',
  /** A referenced type id does not exist (fields: typeId, got). */
  BadTypeId: 'E_BTF_TYPE_ID',
  /** A type chain loops back on itself or nests deeper than the kernel allows (fields: typeId). */
  Cycle: 'E_BTF_CYCLE',
  /** A type is invalid for the use made of it (fields: typeId, what). */
  BadType: 'E_BTF_TYPE',
  /** BTF.ext record size or section is inconsistent (fields: what, offset). */
  BadExt: 'E_BTF_EXT',
} as const;

/** BtfKind enumerates BTF_KIND_* values. */
export const BtfKind = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;
export type BtfKind = (typeof BtfKind)[keyof typeof BtfKind];

/** btfKindName returns the kernel's name of a kind (as bpftool btf dump prints it). */
export function btfKindName(kind: number): string {
  for (const [name, value] of Object.entries(BtfKind)) if (value === kind) return name;
  return `KIND${kind}`;
}

/** BtfMember is a STRUCT/UNION member; bitOffset from the start of the aggregate. */
export interface BtfMember {
  readonly name: string;
  readonly type: number;
  readonly bitOffset: number;
  /** Bitfield width when the aggregate has kind_flag set; 0 otherwise. */
  readonly bitfieldSize: number;
}

/** BtfVarSecinfo is one variable of a DATASEC. */
export interface BtfVarSecinfo {
  readonly type: number;
  readonly offset: number;
  readonly size: number;
}

/** BtfType is one decoded type record. Kind-specific fields are present for their kinds only. */
export interface BtfType {
  readonly id: number;
  readonly kind: number;
  readonly name: string;
  readonly kindFlag: boolean;
  readonly vlen: number;
  /** size for INT, STRUCT, UNION, ENUM, ENUM64, DATASEC, FLOAT; 0 otherwise. */
  readonly size: number;
  /** referenced type for PTR, TYPEDEF, modifiers, FUNC, FUNC_PROTO (return), VAR, DECL_TAG, TYPE_TAG. */
  readonly type: number;
  readonly intInfo?: { readonly encoding: number; readonly offset: number; readonly bits: number };
  readonly array?: { readonly type: number; readonly indexType: number; readonly nelems: number };
  readonly members?: readonly BtfMember[];
  readonly enumValues?: ReadonlyArray<{ readonly name: string; readonly value: bigint }>;
  readonly params?: ReadonlyArray<{ readonly name: string; readonly type: number }>;
  /** VAR linkage (btf_var.linkage) and FUNC linkage (vlen). */
  readonly linkage?: number;
  readonly secinfo?: readonly BtfVarSecinfo[];
  /** DECL_TAG component_idx (-1: the declaration itself). */
  readonly componentIdx?: number;
}

/** BtfWire is a decoded .BTF section: types by id (index 0 is void) and the string section. */
export interface BtfWire {
  readonly types: readonly BtfType[];
  readonly strings: Uint8Array;
}

/** UTF8 decodes names; one shared decoder (constructing one per string dominated parse time). */
const UTF8 = new TextDecoder();

const HDR_MIN = 24;
const TYPE_SIZE = 12;
/** MAX_TYPES bounds the type count like the kernel's BTF_MAX_TYPE (0x000fffff). */
export const BTF_MAX_TYPE = 0xfffff;

/** BtfContext names where BTF bytes came from, for error messages. */
export interface BtfContext {
  readonly file: string;
  readonly section: string;
  /** Byte offset of the section in the file, so errors can give absolute offsets. */
  readonly base: number;
}

/** btfFail throws a DecodeError located in a BTF section. */
export function btfFail(ctx: BtfContext, code: string, message: string, fields: ErrorFields = {}): never {
  const where = fields.offset !== undefined ? ` at byte ${Number(fields.offset)} of the section` : '';
  throw new DecodeError(code, `${ctx.file}: section ${ctx.section}${where}: ${message}`, {
    file: ctx.file,
    section: ctx.section,
    ...fields,
    ...(fields.offset !== undefined ? { offset: ctx.base + Number(fields.offset) } : {}),
  });
}

/** btfString reads a NUL-terminated string at `off` of a BTF string section. */
export function btfString(ctx: BtfContext, strings: Uint8Array, off: number, stringsBase: number, what: string): string {
  if (off >= strings.length) btfFail(ctx, BtfCode.BadString, `${what}: string offset ${off} is outside the string section (${strings.length} bytes)`, { offset: stringsBase + off });
  let end = off;
  let ascii = true;
  while (end < strings.length && strings[end] !== 0) {
    if (strings[end] >= 0x80) ascii = false;
    end++;
  }
  if (end >= strings.length) btfFail(ctx, BtfCode.BadString, `${what}: string at offset ${off} is not NUL-terminated`, { offset: stringsBase + off });
  // Names are ASCII in practice; String.fromCharCode beats TextDecoder on short strings by far.
  return ascii && end - off <= 4096 ? String.fromCharCode(...strings.subarray(off, end)) : UTF8.decode(strings.subarray(off, end));
}

/** parseBtf decodes a .BTF section. */
export function parseBtf(bytes: Uint8Array, ctx: BtfContext): BtfWire {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < HDR_MIN) btfFail(ctx, BtfCode.Truncated, `BTF header needs ${HDR_MIN} bytes, section has ${bytes.length}`, { offset: 0 });
  const magic = view.getUint16(0, true);
  if (magic !== 0xeb9f) btfFail(ctx, BtfCode.BadMagic, `bad BTF magic 0x${magic.toString(16)} (want 0xeb9f; big-endian BTF is not supported)`, { offset: 0 });
  if (bytes[2] !== 1) btfFail(ctx, BtfCode.BadVersion, `BTF version ${bytes[2]} (want 1)`, { offset: 2 });
  const hdrLen = view.getUint32(4, true);
  if (hdrLen < HDR_MIN || hdrLen > bytes.length) btfFail(ctx, BtfCode.BadLayout, `BTF hdr_len ${hdrLen} is invalid`, { offset: 4, what: 'hdr_len' });
  // btf_parse_hdr: bytes of a longer header than we know must be zero.
  for (let i = HDR_MIN; i < hdrLen; i++) {
    if (bytes[i] !== 0) btfFail(ctx, BtfCode.BadLayout, 'unknown non-zero BTF header field', { offset: i, what: 'hdr' });
  }
  const typeOff = view.getUint32(8, true);
  const typeLen = view.getUint32(12, true);
  const strOff = view.getUint32(16, true);
  const strLen = view.getUint32(20, true);
  const body = bytes.length - hdrLen;
  if (typeOff + typeLen > body || typeOff % 4 !== 0) btfFail(ctx, BtfCode.BadLayout, `type area [${typeOff}, +${typeLen}) is outside the BTF data (${body} bytes) or misaligned`, { offset: 8, what: 'type area' });
  if (strOff + strLen > body) btfFail(ctx, BtfCode.BadLayout, `string area [${strOff}, +${strLen}) is outside the BTF data (${body} bytes)`, { offset: 16, what: 'string area' });
  if (typeOff < strOff + strLen && strOff < typeOff + typeLen) btfFail(ctx, BtfCode.BadLayout, 'type and string areas overlap', { offset: 8, what: 'overlap' });
  const strBase = hdrLen + strOff;
  const strings = bytes.subarray(strBase, strBase + strLen);
  if (strLen === 0 || strings[0] !== 0) btfFail(ctx, BtfCode.BadString, 'string section must start with an empty string', { offset: strBase });
  const name = (off: number, what: string): string => (off === 0 ? '' : btfString(ctx, strings, off, strBase, what));

  const types: BtfType[] = [{ id: 0, kind: BtfKind.UNKN, name: '', kindFlag: false, vlen: 0, size: 0, type: 0 }];
  let p = hdrLen + typeOff;
  const end = p + typeLen;
  const need = (n: number, id: number): void => {
    if (p + n > end) btfFail(ctx, BtfCode.Truncated, `type [${id}] extends past the end of the type area`, { offset: p, typeId: id });
  };
  while (p < end) {
    const id = types.length;
    if (id > BTF_MAX_TYPE) btfFail(ctx, BtfCode.BadLayout, `more than ${BTF_MAX_TYPE} types`, { offset: p, what: 'type count' });
    need(TYPE_SIZE, id);
    const at = p;
    const nameOff = view.getUint32(p, true);
    const info = view.getUint32(p + 4, true);
    const sizeOrType = view.getUint32(p + 8, true);
    p += TYPE_SIZE;
    const vlen = info & 0xffff;
    const kind = (info >>> 24) & 0x1f;
    const kindFlag = info >>> 31 === 1;
    const tname = name(nameOff, `type [${id}] name`);
    const base = { id, kind, name: tname, kindFlag, vlen };
    const sized = { ...base, size: sizeOrType, type: 0 };
    const referring = { ...base, size: 0, type: sizeOrType };
    switch (kind) {
      case BtfKind.INT: {
        need(4, id);
        const v = view.getUint32(p, true);
        p += 4;
        const bits = v & 0xff;
        const offset = (v >>> 16) & 0xff;
        if (bits > 128 || offset + bits > sizeOrType * 8) btfFail(ctx, BtfCode.BadType, `INT [${id}] has ${bits} bits at offset ${offset} in ${sizeOrType} bytes`, { offset: at, typeId: id, what: 'int' });
        types.push({ ...sized, intInfo: { encoding: (v >>> 24) & 0xf, offset, bits } });
        break;
      }
      case BtfKind.PTR:
      case BtfKind.TYPEDEF:
      case BtfKind.VOLATILE:
      case BtfKind.CONST:
      case BtfKind.RESTRICT:
      case BtfKind.TYPE_TAG:
      case BtfKind.FUNC:
        types.push(kind === BtfKind.FUNC ? { ...referring, linkage: vlen } : referring);
        break;
      case BtfKind.FWD:
        types.push({ ...base, size: 0, type: 0 });
        break;
      case BtfKind.ARRAY: {
        need(12, id);
        const array = { type: view.getUint32(p, true), indexType: view.getUint32(p + 4, true), nelems: view.getUint32(p + 8, true) };
        p += 12;
        types.push({ ...base, size: 0, type: 0, array });
        break;
      }
      case BtfKind.STRUCT:
      case BtfKind.UNION: {
        need(12 * vlen, id);
        const members: BtfMember[] = [];
        for (let i = 0; i < vlen; i++, p += 12) {
          const off = view.getUint32(p + 8, true);
          members.push({
            name: name(view.getUint32(p, true), `type [${id}] member ${i} name`),
            type: view.getUint32(p + 4, true),
            bitOffset: kindFlag ? off & 0xffffff : off,
            bitfieldSize: kindFlag ? off >>> 24 : 0,
          });
        }
        types.push({ ...sized, members });
        break;
      }
      case BtfKind.ENUM: {
        need(8 * vlen, id);
        const enumValues: Array<{ name: string; value: bigint }> = [];
        for (let i = 0; i < vlen; i++, p += 8) {
          const raw = kindFlag ? view.getInt32(p + 4, true) : view.getUint32(p + 4, true);
          enumValues.push({ name: name(view.getUint32(p, true), `type [${id}] enumerator ${i}`), value: BigInt(raw) });
        }
        types.push({ ...sized, enumValues });
        break;
      }
      case BtfKind.ENUM64: {
        need(12 * vlen, id);
        const enumValues: Array<{ name: string; value: bigint }> = [];
        for (let i = 0; i < vlen; i++, p += 12) {
          const u = (BigInt(view.getUint32(p + 8, true)) << 32n) | BigInt(view.getUint32(p + 4, true));
          enumValues.push({ name: name(view.getUint32(p, true), `type [${id}] enumerator ${i}`), value: kindFlag ? BigInt.asIntN(64, u) : u });
        }
        types.push({ ...sized, enumValues });
        break;
      }
      case BtfKind.FUNC_PROTO: {
        need(8 * vlen, id);
        const params: Array<{ name: string; type: number }> = [];
        for (let i = 0; i < vlen; i++, p += 8) {
          params.push({ name: name(view.getUint32(p, true), `type [${id}] param ${i}`), type: view.getUint32(p + 4, true) });
        }
        types.push({ ...referring, params });
        break;
      }
      case BtfKind.VAR: {
        need(4, id);
        const linkage = view.getUint32(p, true);
        p += 4;
        types.push({ ...referring, linkage });
        break;
      }
      case BtfKind.DATASEC: {
        need(12 * vlen, id);
        const secinfo: BtfVarSecinfo[] = [];
        for (let i = 0; i < vlen; i++, p += 12) {
          secinfo.push({ type: view.getUint32(p, true), offset: view.getUint32(p + 4, true), size: view.getUint32(p + 8, true) });
        }
        types.push({ ...sized, secinfo });
        break;
      }
      case BtfKind.FLOAT:
        types.push(sized);
        break;
      case BtfKind.DECL_TAG: {
        need(4, id);
        const componentIdx = view.getInt32(p, true);
        p += 4;
        types.push({ ...referring, componentIdx });
        break;
      }
      default:
        btfFail(ctx, BtfCode.BadKind, `type [${id}] has unknown kind ${kind}`, { offset: at, typeId: id, got: kind });
    }
  }
  checkReferences(types, ctx);
  return { types, strings };
}

/** checkReferences verifies that every type id a record mentions exists (btf_check_all_types). */
function checkReferences(types: readonly BtfType[], ctx: BtfContext): void {
  const n = types.length;
  const check = (from: BtfType, id: number, what: string): void => {
    if (id >= n) btfFail(ctx, BtfCode.BadTypeId, `type [${from.id}] ${what} refers to type [${id}], but there are ${n - 1} types`, { typeId: from.id, got: id });
  };
  for (const t of types) {
    switch (t.kind) {
      case BtfKind.PTR:
      case BtfKind.TYPEDEF:
      case BtfKind.VOLATILE:
      case BtfKind.CONST:
      case BtfKind.RESTRICT:
      case BtfKind.TYPE_TAG:
      case BtfKind.FUNC:
      case BtfKind.VAR:
      case BtfKind.DECL_TAG:
      case BtfKind.FUNC_PROTO:
        check(t, t.type, 'type');
        break;
      default:
        break;
    }
    if (t.array) {
      check(t, t.array.type, 'element type');
      check(t, t.array.indexType, 'index type');
    }
    t.members?.forEach((m, i) => check(t, m.type, `member ${i}`));
    t.params?.forEach((m, i) => check(t, m.type, `param ${i}`));
    t.secinfo?.forEach((v, i) => check(t, v.type, `variable ${i}`));
    if (t.kind === BtfKind.FUNC && types[t.type] !== undefined && types[t.type].kind !== BtfKind.FUNC_PROTO && t.type < n) {
      btfFail(ctx, BtfCode.BadType, `FUNC [${t.id}] type [${t.type}] is not a FUNC_PROTO`, { typeId: t.id, what: 'func' });
    }
  }
}
