/**
 * wasm — a minimal WebAssembly binary writer: just what the compiler emits (one imported memory,
 * imported globals and functions, internal globals, functions with i32/i64/f64 locals, exports).
 *
 * Encoding per the WebAssembly core specification 2.0 (§5 binary format): LEB128 integers,
 * sections in id order, one code entry per defined function.
 */

/** ValType is a WebAssembly value type byte. */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const F64 = 0x7c;
export type ValType = typeof I32 | typeof I64 | typeof F64;

/** Op holds the opcode bytes the compiler uses (core spec §5.4). */
export const Op = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  brTable: 0x0e,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  globalGet: 0x23,
  globalSet: 0x24,
  i32Load: 0x28,
  i64Load: 0x29,
  i32Load8U: 0x2d,
  i32Load16U: 0x2f,
  i64Load8S: 0x30,
  i64Load8U: 0x31,
  i64Load16S: 0x32,
  i64Load16U: 0x33,
  i64Load32S: 0x34,
  i64Load32U: 0x35,
  i32Store: 0x36,
  i64Store: 0x37,
  i64Store8: 0x3c,
  i64Store16: 0x3d,
  i64Store32: 0x3e,
  i32Const: 0x41,
  i64Const: 0x42,
  f64Const: 0x44,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtS: 0x4a,
  i32GtU: 0x4b,
  i32LeS: 0x4c,
  i32LeU: 0x4d,
  i32GeS: 0x4e,
  i32GeU: 0x4f,
  i64Eqz: 0x50,
  i64Eq: 0x51,
  i64Ne: 0x52,
  i64LtS: 0x53,
  i64LtU: 0x54,
  i64GtS: 0x55,
  i64GtU: 0x56,
  i64LeS: 0x57,
  i64LeU: 0x58,
  i64GeS: 0x59,
  i64GeU: 0x5a,
  f64Ne: 0x62,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32DivS: 0x6d,
  i32DivU: 0x6e,
  i32RemS: 0x6f,
  i32RemU: 0x70,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrS: 0x75,
  i32ShrU: 0x76,
  i32Rotl: 0x77,
  i32Rotr: 0x78,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Mul: 0x7e,
  i64DivS: 0x7f,
  i64DivU: 0x80,
  i64RemS: 0x81,
  i64RemU: 0x82,
  i64And: 0x83,
  i64Or: 0x84,
  i64Xor: 0x85,
  i64Shl: 0x86,
  i64ShrS: 0x87,
  i64ShrU: 0x88,
  i64Rotl: 0x89,
  i64Rotr: 0x8a,
  i32WrapI64: 0xa7,
  i64ExtendI32S: 0xac,
  i64ExtendI32U: 0xad,
  i64TruncF64S: 0xb0,
  f64ConvertI64S: 0xb9,
  i32Extend8S: 0xc0,
  i32Extend16S: 0xc1,
  i64Extend8S: 0xc2,
  i64Extend16S: 0xc3,
  i64Extend32S: 0xc4,
} as const;

/** BLOCK_VOID is the empty block type. */
export const BLOCK_VOID = 0x40;

/** ByteWriter is a growable byte buffer with LEB128 writers. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  length = 0;

  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  /** byte appends one byte. */
  byte(b: number): this {
    this.grow(1);
    this.buf[this.length++] = b & 0xff;
    return this;
  }

  /** bytes appends raw bytes. */
  bytes(b: Uint8Array | readonly number[]): this {
    this.grow(b.length);
    for (let i = 0; i < b.length; i++) this.buf[this.length++] = b[i] & 0xff;
    return this;
  }

  /** u32 appends an unsigned LEB128 value (0 <= v < 2^32). */
  u32(v: number): this {
    let x = v >>> 0;
    do {
      let b = x & 0x7f;
      x >>>= 7;
      if (x !== 0) b |= 0x80;
      this.byte(b);
    } while (x !== 0);
    return this;
  }

  /** s32 appends a signed LEB128 value (int32). */
  s32(v: number): this {
    let x = v | 0;
    for (;;) {
      const b = x & 0x7f;
      x >>= 7;
      if ((x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0)) {
        this.byte(b);
        return this;
      }
      this.byte(b | 0x80);
    }
  }

  /** s64 appends a signed LEB128 value given as 32-bit halves (hi:lo). */
  s64(hi: number, lo: number): this {
    // Work on the two halves as a 64-bit two's complement shift register, 7 bits at a time.
    let h = hi | 0;
    let l = lo >>> 0;
    for (;;) {
      const b = l & 0x7f;
      l = ((l >>> 7) | (h << 25)) >>> 0;
      h >>= 7;
      const done = (h === 0 && l === 0 && (b & 0x40) === 0) || (h === -1 && l === 0xffffffff && (b & 0x40) !== 0);
      if (done) {
        this.byte(b);
        return this;
      }
      this.byte(b | 0x80);
    }
  }

  /** name appends a length-prefixed UTF-8 string. */
  name(s: string): this {
    const b = new TextEncoder().encode(s);
    this.u32(b.length);
    return this.bytes(b);
  }

  /** vec appends another writer's bytes prefixed with their length. */
  sized(w: ByteWriter): this {
    this.u32(w.length);
    return this.bytes(w.finish());
  }

  /** finish returns the written bytes. */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** FuncType is a function signature. */
export interface FuncType {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

interface ImportFunc {
  readonly module: string;
  readonly name: string;
  readonly type: number;
}

interface ImportGlobal {
  readonly module: string;
  readonly name: string;
  readonly type: ValType;
  readonly mutable: boolean;
}

interface DefinedGlobal {
  readonly type: ValType;
  readonly init: number;
}

interface DefinedFunc {
  readonly type: number;
  readonly locals: readonly ValType[];
  readonly body: Uint8Array;
}

/**
 * ModuleBuilder assembles a module. Function indexes: imported functions first, then defined
 * ones in the order they are declared; global indexes likewise.
 */
export class ModuleBuilder {
  private readonly types: FuncType[] = [];
  private readonly typeKeys = new Map<string, number>();
  private readonly importFuncs: ImportFunc[] = [];
  private readonly importGlobals: ImportGlobal[] = [];
  private memoryImport: { module: string; name: string; sharedPages?: number } | undefined;
  private readonly globals: DefinedGlobal[] = [];
  private readonly funcs: Array<DefinedFunc | undefined> = [];
  private readonly exports: Array<{ name: string; kind: number; index: number }> = [];
  private funcsFrozen = false;

  /** type returns the index of a signature, adding it once. */
  type(params: readonly ValType[], results: readonly ValType[]): number {
    const key = `${params.join(',')}>${results.join(',')}`;
    let i = this.typeKeys.get(key);
    if (i === undefined) {
      i = this.types.length;
      this.types.push({ params, results });
      this.typeKeys.set(key, i);
    }
    return i;
  }

  /**
   * importMemory imports the linear memory: any size and no maximum, or, with `sharedPages`, a
   * shared memory of at most that many 64 KiB pages (threads require shared memories to declare
   * their maximum, and an import matches only a memory of the same sharedness).
   */
  importMemory(module: string, name: string, sharedPages?: number): void {
    this.memoryImport = { module, name, sharedPages };
  }

  /** importFunc imports a function; call before declaring defined functions. Returns its index. */
  importFunc(module: string, name: string, params: readonly ValType[], results: readonly ValType[]): number {
    if (this.funcsFrozen) throw new Error('wasm: imports must come before defined functions');
    this.importFuncs.push({ module, name, type: this.type(params, results) });
    return this.importFuncs.length - 1;
  }

  /** importGlobal imports a global; call before defining globals. Returns its index. */
  importGlobal(module: string, name: string, type: ValType, mutable: boolean): number {
    if (this.globals.length > 0) throw new Error('wasm: global imports must come before defined globals');
    this.importGlobals.push({ module, name, type, mutable });
    return this.importGlobals.length - 1;
  }

  /** global defines a mutable global with a constant initial value (i32 or i64 from a number). */
  global(type: ValType, init: number): number {
    this.globals.push({ type, init });
    return this.importGlobals.length + this.globals.length - 1;
  }

  /** declareFunc reserves a function index; its body is supplied later by defineFunc. */
  declareFunc(): number {
    this.funcsFrozen = true;
    this.funcs.push(undefined);
    return this.importFuncs.length + this.funcs.length - 1;
  }

  /** defineFunc supplies the signature, extra locals and body (without the final `end`). */
  defineFunc(index: number, params: readonly ValType[], results: readonly ValType[], locals: readonly ValType[], body: Uint8Array): void {
    this.funcs[index - this.importFuncs.length] = { type: this.type(params, results), locals, body };
  }

  /** exportFunc exports function `index` as `name`. */
  exportFunc(name: string, index: number): void {
    this.exports.push({ name, kind: 0x00, index });
  }

  /** build encodes the module. */
  build(): Uint8Array<ArrayBuffer> {
    const out = new ByteWriter();
    out.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    const section = (id: number, w: ByteWriter): void => {
      out.byte(id).sized(w);
    };
    const types = new ByteWriter().u32(this.types.length);
    for (const t of this.types) {
      types.byte(0x60).u32(t.params.length).bytes(t.params as number[]).u32(t.results.length).bytes(t.results as number[]);
    }
    section(1, types);
    const imports = new ByteWriter();
    const nImports = this.importFuncs.length + this.importGlobals.length + (this.memoryImport !== undefined ? 1 : 0);
    imports.u32(nImports);
    if (this.memoryImport !== undefined) {
      const mi = this.memoryImport;
      imports.name(mi.module).name(mi.name).byte(0x02);
      // limits: 0x00 min (unshared, no maximum) or 0x03 min max (shared).
      if (mi.sharedPages === undefined) imports.byte(0x00).u32(0);
      else imports.byte(0x03).u32(0).u32(mi.sharedPages);
    }
    for (const f of this.importFuncs) imports.name(f.module).name(f.name).byte(0x00).u32(f.type);
    for (const g of this.importGlobals) imports.name(g.module).name(g.name).byte(0x03).byte(g.type).byte(g.mutable ? 1 : 0);
    section(2, imports);
    const funcs = new ByteWriter().u32(this.funcs.length);
    for (const [i, f] of this.funcs.entries()) {
      if (f === undefined) throw new Error(`wasm: function ${i + this.importFuncs.length} declared but not defined`);
      funcs.u32(f.type);
    }
    section(3, funcs);
    if (this.globals.length > 0) {
      const globals = new ByteWriter().u32(this.globals.length);
      for (const g of this.globals) {
        globals.byte(g.type).byte(1);
        if (g.type === I32) globals.byte(Op.i32Const).s32(g.init);
        else if (g.type === I64) globals.byte(Op.i64Const).s64(Math.floor(g.init / 0x1_0000_0000), g.init | 0);
        else throw new Error('wasm: only i32/i64 globals are supported');
        globals.byte(Op.end);
      }
      section(6, globals);
    }
    const exports = new ByteWriter().u32(this.exports.length);
    for (const e of this.exports) exports.name(e.name).byte(e.kind).u32(e.index);
    section(7, exports);
    const code = new ByteWriter().u32(this.funcs.length);
    for (const f of this.funcs) {
      const d = f as DefinedFunc;
      const body = new ByteWriter();
      // Locals, run-length encoded by type.
      const runs: Array<[number, ValType]> = [];
      for (const t of d.locals) {
        const last = runs[runs.length - 1];
        if (last !== undefined && last[1] === t) last[0]++;
        else runs.push([1, t]);
      }
      body.u32(runs.length);
      for (const [n, t] of runs) body.u32(n).byte(t);
      body.bytes(d.body).byte(Op.end);
      code.sized(body);
    }
    section(10, code);
    const bytes = new Uint8Array(out.length);
    bytes.set(out.finish());
    return bytes;
  }
}
