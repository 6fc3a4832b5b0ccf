/**
 * errors — the one error hierarchy of xdpsim.
 *
 * Every error carries a stable `code` (tests and callers compare codes, never message text) and
 * structured `fields` saying where (file, section, symbol, instruction index, byte offset), what
 * and why. Layers add context with `withContext`, which keeps the cause and prefixes one phrase,
 * the way cilium/ebpf wraps errors layer by layer.
 *
 * Host bugs throw plain Errors. Guest misbehaviour at run time (a program that faults) is a
 * result (`VmFault` objects are returned by engines, not thrown past the run boundary).
 */

/** ErrorFields holds the structured location and detail of an error. */
export interface ErrorFields {
  file?: string;
  section?: string;
  symbol?: string;
  program?: string;
  /** Instruction index (in 8-byte slots) within the program or section. */
  insn?: number;
  /** Byte offset within a file or buffer. */
  offset?: number;
  [key: string]: string | number | bigint | boolean | undefined;
}

/** XdpsimError is the base class of every error xdpsim raises on purpose. */
export class XdpsimError extends Error {
  readonly code: string;
  readonly fields: ErrorFields;

  constructor(code: string, message: string, fields: ErrorFields = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.fields = fields;
  }

  /** withContext returns a copy of this error with a location phrase prefixed and fields merged. */
  withContext(phrase: string, fields: ErrorFields = {}): this {
    const ctor = this.constructor as new (
      code: string,
      message: string,
      fields: ErrorFields,
      options?: { cause?: unknown },
    ) => this;
    return new ctor(this.code, `${phrase}: ${this.message}`, { ...this.fields, ...fields }, { cause: this });
  }
}

/** DecodeError reports bytecode or a file format that cannot be decoded (ISA, ELF, BTF, pcap). */
export class DecodeError extends XdpsimError {}

/** LoadError reports an object or program that cannot be loaded (relocations, maps, sections). */
export class LoadError extends XdpsimError {}

/** VerifyError reports a program refused before it runs (bad jumps, r10 writes, unknown helpers). */
export class VerifyError extends XdpsimError {}

/** NotSupportedError reports a valid input that xdpsim does not implement yet; it names the feature. */
export class NotSupportedError extends XdpsimError {}

/** UsageError reports bad command-line flags or API arguments. */
export class UsageError extends XdpsimError {}

/** CaptureError reports a truncated, hostile or unsupported capture file. */
export class CaptureError extends XdpsimError {}

/** isXdpsimError narrows an unknown thrown value to XdpsimError. */
export function isXdpsimError(e: unknown): e is XdpsimError {
  return e instanceof XdpsimError;
}
