/**
 * ctx-plan — what a program's access to a context struct (xdp_md, __sk_buff, bpf_sock) does,
 * decided statically per (offset, size, kind), the way the kernel's verifier decides it once per
 * instruction: the program type's is_valid_access says whether the access is allowed, then
 * convert_ctx_accesses (kernel/bpf/verifier.c) rewrites it with the type's convert_ctx_access
 * (net/core/filter.c) into loads and stores of the kernel's own structs.
 *
 * Here a context region is a mirror: VM memory holding every field's current value, zero-extended
 * into its uapi slot, written by the hook before the program runs (and after helpers). An access
 * resolves to one CtxAccess:
 *  - refuse: the verifier would reject the program; the engine faults with the memory model's
 *    message (Memory.check);
 *  - load {off, size, signed}: read `size` bytes of the mirror at region offset `off`,
 *    zero-extended (signed: sign-extended) to 64 bits; a BPF_MEMSX instruction then sign-extends
 *    that from its own width (convert_ctx_accesses appends a movsx). Usually (off, size) is the
 *    instruction's own; a plan differs where the kernel does something a plain mirror read would
 *    not: the verifier's narrow-load rewrite (a 1/2-byte read inside a 4-byte field) shifts and
 *    masks only when the read is narrower than the kernel's storage of the field (size <
 *    target_size), so a read at least that wide returns the whole field whatever its offset
 *    inside the slot — a load at the field's start;
 *  - store {off, size, hook}: write the value's low `size` bytes at `off`, or, with a hook, let the
 *    hook put into the mirror exactly what the kernel's converted store leaves in the field
 *    (truncated to the field's width, or ignored), so that a later load stays a plain read.
 *
 * Engines resolve an access once per instruction site (CtxPlan.resolve is memoised) and cache the
 * result keyed by the accessed address; a plan never depends on run-time state, only on (offset,
 * size, kind). The effective address of an access is `region.lo + access.off`.
 */

/** CtxKind is the kind of instruction making a context access. */
export const CtxKind = {
  /** BPF_LDX | BPF_MEM. */
  Load: 0,
  /** BPF_LDX | BPF_MEMSX (the verifier refuses it on packet pointer fields). */
  LoadSx: 1,
  /** BPF_STX | BPF_MEM (value from a register, all 64 bits known to the converted store). */
  Store: 2,
  /** BPF_ST | BPF_MEM (value is the sign-extended 32-bit immediate; allowed into ctx since 6.3). */
  StoreImm: 3,
  /** BPF_STX | BPF_ATOMIC (the verifier refuses atomics on ctx: check_atomic). */
  Atomic: 4,
} as const;
export type CtxKind = (typeof CtxKind)[keyof typeof CtxKind];

/**
 * CtxStoreHook performs a converted store: `at` is the field's mirror address, (lo, hi) the 64-bit
 * value as int32 halves (for BPF_ST: the immediate and its sign). It writes the mirror with `dv`.
 */
export type CtxStoreHook = (dv: DataView, at: number, lo: number, hi: number, kind: CtxKind) => void;

/** CtxAccess is the resolved plan of one access (see the module comment). */
export type CtxAccess =
  | { readonly op: 'refuse' }
  | { readonly op: 'load'; readonly off: number; readonly size: 1 | 2 | 4 | 8; readonly signed: boolean }
  | { readonly op: 'store'; readonly off: number; readonly size: 1 | 2 | 4 | 8; readonly hook: CtxStoreHook | undefined };

/** CtxPlanFn decides one access; CtxPlan memoises it. Offsets are relative to the region's lo. */
export type CtxPlanFn = (off: number, size: number, kind: CtxKind) => CtxAccess;

/** CtxAccessPolicy is the boolean form of a plan: may a program touch [off, off+size) of the struct. */
export type CtxAccessPolicy = (off: number, size: number, write: boolean) => boolean;

/** REFUSE is the one refused access. */
export const REFUSE: CtxAccess = { op: 'refuse' };

/** plainLoad is a load of the instruction's own bytes. */
export function plainLoad(off: number, size: number): CtxAccess {
  return { op: 'load', off, size: size as 1 | 2 | 4 | 8, signed: false };
}

/** plainStore is a store of the instruction's own bytes (hook: see CtxStoreHook). */
export function plainStore(off: number, size: number, hook?: CtxStoreHook): CtxAccess {
  return { op: 'store', off, size: size as 1 | 2 | 4 | 8, hook };
}

/** CtxPlan is the access plan of one context struct, resolved lazily and memoised per access. */
export class CtxPlan {
  private readonly memo = new Map<number, CtxAccess>();

  constructor(
    /** name is the struct's name, for messages. */
    readonly name: string,
    private readonly decide: CtxPlanFn,
  ) {}

  /** resolve returns the plan of an access of `size` bytes at `off` by an instruction of `kind`. */
  resolve(off: number, size: number, kind: CtxKind): CtxAccess {
    if (off < 0 || off > 0xffffff || (size !== 1 && size !== 2 && size !== 4 && size !== 8)) return REFUSE;
    const key = (off * 16 + size) * 8 + kind;
    let p = this.memo.get(key);
    if (p === undefined) {
      p = this.decide(off, size, kind);
      this.memo.set(key, p);
    }
    return p;
  }

  /** permits is the boolean policy: a plain LDX (write false) or STX (write true) is allowed. */
  permits(off: number, size: number, write: boolean): boolean {
    return this.resolve(off, size, write ? CtxKind.Store : CtxKind.Load).op !== 'refuse';
  }

  /** policy returns `permits` as a CtxAccessPolicy. */
  policy(): CtxAccessPolicy {
    return (off, size, write) => this.permits(off, size, write);
  }
}

/**
 * planFromPolicy makes a plan where every access the policy permits is a plain access of the
 * mirror, any kind (atomics follow writes, sign-extending loads follow reads): for test regions
 * and simple structs with no conversion.
 */
export function planFromPolicy(name: string, policy: CtxAccessPolicy): CtxPlan {
  return new CtxPlan(name, (off, size, kind) => {
    const write = kind >= CtxKind.Store;
    if (!policy(off, size, write)) return REFUSE;
    return write ? plainStore(off, size) : plainLoad(off, size);
  });
}

/** isPlainAt tells whether an access plan reads or writes exactly the instruction's own bytes, with no hook. */
export function isPlainAt(p: CtxAccess, off: number, size: number): boolean {
  if (p.op === 'refuse' || p.off !== off || p.size !== size) return false;
  return p.op === 'load' ? !p.signed : p.hook === undefined;
}

/**
 * readPlanned performs a planned load: `n` bytes at `at`, zero- or (signed) sign-extended, then,
 * for a BPF_MEMSX instruction (sx), sign-extended from the instruction's width `insnSize`. The
 * 64-bit result goes to out[i] (low half) and out[i + 1] (high half).
 */
export function readPlanned(dv: DataView, at: number, n: number, signed: boolean, insnSize: number, sx: boolean, out: Int32Array, i: number): void {
  let lo: number;
  let hi = 0;
  if (n === 8) {
    lo = dv.getInt32(at, true);
    hi = dv.getInt32(at + 4, true);
  } else {
    lo = n === 4 ? dv.getInt32(at, true) : n === 2 ? (signed ? dv.getInt16(at, true) : dv.getUint16(at, true)) : signed ? dv.getInt8(at) : dv.getUint8(at);
    if (signed) hi = lo >> 31;
  }
  if (sx) {
    // convert_ctx_accesses appends a movsx from the instruction's width.
    if (insnSize === 2) lo = (lo << 16) >> 16;
    else if (insnSize === 1) lo = (lo << 24) >> 24;
    if (insnSize !== 8) hi = lo >> 31;
  }
  out[i] = lo;
  out[i + 1] = hi;
}
