/**
 * btf/types — the BTF type graph: lookups by id and name, modifier skipping and sizes, with the
 * kernel's limits. A chain of typedefs/modifiers/pointers that loops, or an aggregate that contains
 * itself by value, is reported as E_BTF_CYCLE instead of recursing forever; nesting deeper than
 * MAX_RESOLVE_DEPTH (kernel/bpf/btf.c) is refused the same way.
 */
import { BtfCode, BtfKind, btfFail, btfKindName, type BtfContext, type BtfType, type BtfWire } from './wire.js';

/** MAX_RESOLVE_DEPTH is the kernel's limit on type nesting (kernel/bpf/btf.c). */
export const MAX_RESOLVE_DEPTH = 32;

const MODIFIERS: ReadonlySet<number> = new Set([BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT, BtfKind.TYPE_TAG]);

/** Btf is a parsed .BTF section with navigation helpers. */
export class Btf {
  readonly types: readonly BtfType[];
  readonly strings: Uint8Array;
  private readonly sizes = new Map<number, number>();

  constructor(
    wire: BtfWire,
    readonly ctx: BtfContext,
  ) {
    this.types = wire.types;
    this.strings = wire.strings;
  }

  /** get returns the type with `id`, failing with E_BTF_TYPE_ID when there is none. */
  get(id: number): BtfType {
    const t = this.types[id];
    if (t === undefined) btfFail(this.ctx, BtfCode.BadTypeId, `no type [${id}]`, { got: id });
    return t;
  }

  /** byName returns the first type of `kind` named `name`. */
  byName(name: string, kind: number): BtfType | undefined {
    for (const t of this.types) if (t.kind === kind && t.name === name) return t;
    return undefined;
  }

  /** skipModifiers follows typedef/const/volatile/restrict/type_tag to the underlying type. */
  skipModifiers(id: number): BtfType {
    let t = this.get(id);
    for (let depth = 0; MODIFIERS.has(t.kind); depth++) {
      if (depth >= MAX_RESOLVE_DEPTH) btfFail(this.ctx, BtfCode.Cycle, `type [${id}]: modifier chain loops or is deeper than ${MAX_RESOLVE_DEPTH}`, { typeId: id });
      t = this.get(t.type);
    }
    return t;
  }

  /** sizeOf returns the byte size of a type as btf__resolve_size does (pointers are 8 bytes). */
  sizeOf(id: number): number {
    return this.resolveSize(id, 0, new Set());
  }

  private resolveSize(id: number, depth: number, active: Set<number>): number {
    const cached = this.sizes.get(id);
    if (cached !== undefined) return cached;
    if (depth > MAX_RESOLVE_DEPTH || active.has(id)) {
      btfFail(this.ctx, BtfCode.Cycle, `type [${id}] contains itself or nests deeper than ${MAX_RESOLVE_DEPTH}`, { typeId: id });
    }
    active.add(id);
    const t = this.get(id);
    let size: number;
    switch (t.kind) {
      case BtfKind.INT:
      case BtfKind.STRUCT:
      case BtfKind.UNION:
      case BtfKind.ENUM:
      case BtfKind.ENUM64:
      case BtfKind.DATASEC:
      case BtfKind.FLOAT:
        size = t.size;
        break;
      case BtfKind.PTR:
        size = 8;
        break;
      case BtfKind.TYPEDEF:
      case BtfKind.VOLATILE:
      case BtfKind.CONST:
      case BtfKind.RESTRICT:
      case BtfKind.TYPE_TAG:
      case BtfKind.VAR:
        size = this.resolveSize(t.type, depth + 1, active);
        break;
      case BtfKind.ARRAY: {
        const arr = t.array;
        if (arr === undefined) btfFail(this.ctx, BtfCode.BadType, `ARRAY [${id}] without element data`, { typeId: id, what: 'array' });
        const elem = this.resolveSize(arr.type, depth + 1, active);
        size = elem * arr.nelems;
        if (size > 0xffffffff) btfFail(this.ctx, BtfCode.BadType, `ARRAY [${id}] is larger than 4 GiB`, { typeId: id, what: 'array size' });
        break;
      }
      default:
        btfFail(this.ctx, BtfCode.BadType, `type [${id}] (${btfKindName(t.kind)}) has no size`, { typeId: id, what: 'size' });
    }
    active.delete(id);
    this.sizes.set(id, size);
    return size;
  }

  /** checkAcyclic walks every type's references and fails on a loop not broken by a pointer. */
  checkAcyclic(): void {
    const state = new Uint8Array(this.types.length); // 0 new, 1 on stack, 2 done
    const visit = (start: number): void => {
      // Iterative DFS over by-value references (pointers break cycles, as in C).
      const stack: Array<{ id: number; refs: number[]; i: number }> = [];
      const push = (id: number): void => {
        state[id] = 1;
        stack.push({ id, refs: this.valueRefs(this.types[id]), i: 0 });
        if (stack.length > MAX_RESOLVE_DEPTH * 64) btfFail(this.ctx, BtfCode.Cycle, `type [${id}] nests too deeply`, { typeId: id });
      };
      push(start);
      while (stack.length > 0) {
        const top = stack[stack.length - 1];
        if (top.i >= top.refs.length) {
          state[top.id] = 2;
          stack.pop();
          continue;
        }
        const next = top.refs[top.i++];
        if (state[next] === 1) btfFail(this.ctx, BtfCode.Cycle, `type [${next}] refers back to itself through type [${top.id}]`, { typeId: next });
        if (state[next] === 0) push(next);
      }
    };
    for (let id = 1; id < this.types.length; id++) if (state[id] === 0) visit(id);
  }

  private valueRefs(t: BtfType): number[] {
    switch (t.kind) {
      case BtfKind.TYPEDEF:
      case BtfKind.VOLATILE:
      case BtfKind.CONST:
      case BtfKind.RESTRICT:
      case BtfKind.TYPE_TAG:
      case BtfKind.VAR:
        return t.type === 0 ? [] : [t.type];
      case BtfKind.ARRAY:
        return t.array !== undefined && t.array.type !== 0 ? [t.array.type] : [];
      case BtfKind.STRUCT:
      case BtfKind.UNION:
        return (t.members ?? []).map((m) => m.type).filter((x) => x !== 0);
      case BtfKind.DATASEC:
        return (t.secinfo ?? []).map((v) => v.type);
      default:
        return [];
    }
  }

  /**
   * describe renders a type as C: `struct foo`, `const volatile __u32`, `__u64[4]`, `char *`,
   * `int (*)(...)`; it stops at MAX_RESOLVE_DEPTH levels.
   */
  describe(id: number, depth = 0): string {
    if (depth > MAX_RESOLVE_DEPTH) return '...';
    const t = this.get(id);
    const inner = (x: number): string => (x === 0 ? 'void' : this.describe(x, depth + 1));
    switch (t.kind) {
      case BtfKind.UNKN:
        return 'void';
      case BtfKind.STRUCT:
        return `struct ${t.name || '(anon)'}`;
      case BtfKind.UNION:
        return `union ${t.name || '(anon)'}`;
      case BtfKind.ENUM:
      case BtfKind.ENUM64:
        return `enum ${t.name || '(anon)'}`;
      case BtfKind.FWD:
        return `${t.kindFlag ? 'union' : 'struct'} ${t.name}`;
      case BtfKind.CONST:
        return `const ${inner(t.type)}`;
      case BtfKind.VOLATILE:
        return `volatile ${inner(t.type)}`;
      case BtfKind.RESTRICT:
        return `${inner(t.type)} restrict`;
      case BtfKind.TYPE_TAG:
        return `${inner(t.type)} __tag(${t.name})`;
      case BtfKind.PTR:
        return this.get(t.type).kind === BtfKind.FUNC_PROTO ? `${inner(this.get(t.type).type)} (*)(...)` : `${inner(t.type)} *`;
      case BtfKind.ARRAY:
        return t.array !== undefined ? `${inner(t.array.type)}[${t.array.nelems}]` : 'array';
      case BtfKind.FUNC_PROTO:
        return `${inner(t.type)} (...)`;
      case BtfKind.VAR:
      case BtfKind.FUNC:
        return inner(t.type);
      default:
        return t.name !== '' ? t.name : `${btfKindName(t.kind)} [${id}]`;
    }
  }
}
