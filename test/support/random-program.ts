/**
 * random-program — a seeded generator of random *valid* eBPF instruction sequences, for
 * differential testing (xdpsim against the kernel, and engine against engine).
 *
 * "Valid" means the Linux verifier (6.x, privileged) accepts the program as a BPF-to-BPF
 * subprogram or as a whole program, so every generated program obeys the verifier's rules:
 *  - every register r0..r9 is written before it is read (a prologue initialises them all) and
 *    holds a scalar; r10 is only ever a load/store base with a constant offset;
 *  - the stack area the body touches is fully initialised by the prologue (no uninitialised
 *    reads), and every stack access is aligned to its size (check_ptr_alignment is strict for
 *    the stack);
 *  - division and modulo by an immediate never divide by zero (check_alu_op refuses it); by a
 *    register they may, and then the runtime rule applies (div -> 0, mod -> dst unchanged);
 *  - shift immediates are in range (< 32 for ALU, < 64 for ALU64; check_alu_op refuses others);
 *  - jumps go forward only (bounded loops aside: their backward jne runs a fixed count), never
 *    into the second slot of a lddw, and every instruction stays structurally reachable
 *    (check_cfg refuses unreachable code): an unconditional `ja`/`gotol` always follows a
 *    conditional jump that skips over it, and every subprogram is called;
 *  - reserved fields are zero (the kernel refuses non-zero unused src/dst/off/imm).
 *
 * Layout: the main function, then 0..3 subprograms (BPF-to-BPF calls go only to later ones, so
 * there is no recursion); each function is prologue (registers, its own stack frame), body,
 * epilogue. Every forward jump lands inside its function's body or at its epilogue. Bodies mix
 * ALU, stack accesses, forward jumps, local calls (after which r1..r5 are re-initialised, since
 * the verifier marks them unreadable; r6..r9 must survive the call) and bounded loops (a
 * counter nobody else writes, a backward jne).
 *
 * Optional modes add memory the program works on through pointers kept in registers that random
 * instructions never touch: packet mode (PACKET_REG, the frame; the program is then an XDP or TC
 * program itself and may also write and read context fields) and map-value mode (MAP_REG, a value
 * from bpf_map_lookup_elem, with atomics).
 *
 * With `foldState` (the default) each epilogue folds r1..r9 and every stack slot (and the packet
 * and map value) into r0 — xor, then an xorshift-multiply step, so a difference reaches every
 * bit — and a wrong register or stored byte anywhere shows up in the one 64-bit result.
 *
 * Without packet mode the program is self-contained: it ignores r1..r5 on entry and returns r0.
 * Reproducible: the same seed and options give the same instructions on every platform.
 *
 * Usage: `randomProgram(seed, opts).insns` — e.g. engine-vs-engine fuzzing runs the same
 * instructions on two engines and compares r0 (test/vm/engine-diff.test.ts); kernel parity wraps
 * them with test/kernel/wrap.ts (test/parity/random-diff.test.ts).
 */
import { makeInsn, type Insn } from '../../src/isa/insn.js';

/** Rng is a small deterministic PRNG (splitmix32-style); integers only, no floating state. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** u32 returns a uniform 32-bit unsigned integer. */
  u32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** below returns an integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n);
  }

  /** range returns an integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  /** pick returns one element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }

  /** chance is true with probability p. */
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
}

/** RandomProgramOptions shapes what the generator emits. */
export interface RandomProgramOptions {
  /** Number of body items (one instruction, or a short pattern like `jcc; ja`). Default 24..64. */
  readonly bodyItems?: number;
  /** Emit ISA v4 instructions (sdiv/smod, movsx, ldsx, bswap, gotol). Default true. */
  readonly v4?: boolean;
  /** Emit atomics on the stack. Default true. */
  readonly atomics?: boolean;
  /** Bytes of stack the body uses below r10, a multiple of 8 (≤ 256). Default 64. */
  readonly stackBytes?: number;
  /** Fold r1..r9 and the stack into r0 before exit (see the module comment). Default true. */
  readonly foldState?: boolean;
  /** Subprograms called with BPF-to-BPF calls (0..3; each may call later ones). Default 0..2. */
  readonly subprograms?: number;
  /** Emit bounded loops (a counter register, a short body, a backward jne). Default true. */
  readonly loops?: boolean;
  /**
   * Packet mode (run directly as the XDP or TC program, no wrapper): the main function reads
   * data/data_end from the context in r1 on entry (see packetCtx), returns XDP_DROP early unless `packetBytes` bytes
   * are there, and keeps the data pointer in PACKET_REG (never used otherwise); its body then
   * also loads and stores (any size, any alignment) inside those bytes, the epilogue folds them
   * into r0 and finally stores r0 at packet offset 0, so data_out carries the full 64-bit result.
   * 0 (default) = off. At most 256.
   */
  readonly packetBytes?: number;
  /** Context the packet-mode prologue reads data/data_end from: xdp_md (default) or __sk_buff. */
  readonly packetCtx?: 'xdp' | 'skb';
  /**
   * Map-value mode: the main function looks up key 0 of an array map (u32 key, `bytes`-byte value)
   * with bpf_map_lookup_elem, keeps the value pointer in MAP_REG (never used otherwise), and its
   * body also loads, stores (any size, any alignment) and runs atomics (aligned) on the value; the
   * epilogue folds the value into r0. The map is referenced as lddw src = BPF_PSEUDO_MAP_FD,
   * imm = `index` (the kernel bridge's map index; xdpsim callers patch it to the map's handle).
   */
  readonly mapValue?: { readonly index: number; readonly bytes: number };
  /**
   * Context fields (packet mode only): the prologue writes a few writable fields of the context
   * (__sk_buff: mark, queue_mapping, priority, tc_index, cb, tc_classid, tstamp; xdp_md has none)
   * with STX (32-bit or full 64-bit register values, often near the u16 and NO_QUEUE_MAPPING
   * limits) or ST (immediate), then reads a few readable ones (every size and sub-offset the
   * kernel allows, sign-extending too with v4) into stack slots, which the epilogue folds into r0
   * like the rest of the stack. Reads after writes cover the kernel's read-back of the narrower
   * fields it stores (src/hooks/skb.ts skbTcCtxPlan).
   */
  readonly ctxFields?: boolean;
}

/** Readable __sk_buff fields for SCHED_CLS (tc_cls_act_is_valid_access): [offset, size of the field]. */
const SKB_READS: ReadonlyArray<readonly [number, number]> = [
  [0, 4], [4, 4], [8, 4], [12, 4], [16, 4], [20, 4], [24, 4], [28, 4], [32, 4], [36, 4], [40, 4],
  [44, 4], [48, 4], [52, 4], [56, 4], [60, 4], [64, 4], [68, 4], [72, 4], [84, 4], [160, 4],
  [164, 4], [176, 4], [152, 8], [184, 8],
];
/** Writable __sk_buff fields for SCHED_CLS: [offset, size]. cb[] also takes 1/2/8-byte stores. */
const SKB_WRITES: ReadonlyArray<readonly [number, number]> = [
  [8, 4], [12, 4], [32, 4], [44, 4], [48, 4], [52, 4], [56, 4], [60, 4], [64, 4], [72, 4], [152, 8],
  [48, 8], [56, 8], [50, 2], [62, 2], [49, 1], [67, 1],
];
/** Readable xdp_md fields besides the packet pointers: ingress_ifindex, rx_queue_index. */
const XDP_READS: ReadonlyArray<readonly [number, number]> = [[12, 4], [16, 4]];
const SIZE_CODE: Record<number, number> = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 };

/** MAP_REG holds the map value pointer in map-value mode. */
export const MAP_REG = 8;

/** PACKET_CTX_OFFSETS: where data and data_end sit in xdp_md and in __sk_buff (include/uapi/linux/bpf.h). */
export const PACKET_CTX_OFFSETS = { xdp: { data: 0, dataEnd: 4 }, skb: { data: 76, dataEnd: 80 } } as const;

/** PACKET_REG holds the packet's data pointer in packet mode. */
export const PACKET_REG = 9;
/** SHORT_FRAME_RETVAL is what a packet-mode program returns when the frame is shorter than packetBytes. */
export const SHORT_FRAME_RETVAL = 1;

/** RandomProgram is one generated program with what produced it. */
export interface RandomProgram {
  readonly seed: number;
  readonly insns: Insn[];
  /** Stack bytes used below r10 (callers wrapping it as a subprogram add their own). */
  readonly stackBytes: number;
}

// Opcode pieces (src/isa/opcodes.ts has the same values; spelled here once for the tables below).
const ALU = 0x04;
const ALU64 = 0x07;
const JMP = 0x05;
const JMP32 = 0x06;
const K = 0x00;
const X = 0x08;
const OP = {
  add: 0x00, sub: 0x10, mul: 0x20, div: 0x30, or: 0x40, and: 0x50, lsh: 0x60, rsh: 0x70,
  neg: 0x80, mod: 0x90, xor: 0xa0, mov: 0xb0, arsh: 0xc0, end: 0xd0,
} as const;
const BINARY_OPS = [OP.add, OP.sub, OP.mul, OP.or, OP.and, OP.xor, OP.mov] as const;
const SHIFT_OPS = [OP.lsh, OP.rsh, OP.arsh] as const;
const DIV_OPS = [OP.div, OP.mod] as const;
const COND_JUMPS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0] as const; // jeq..jsle
const SIZES = [
  { code: 0x18, bytes: 8 },
  { code: 0x00, bytes: 4 },
  { code: 0x08, bytes: 2 },
  { code: 0x10, bytes: 1 },
] as const;
const ATOMIC_OPS = [0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1] as const; // add or and xor, |fetch, xchg, cmpxchg
const ODD_MIX = 0x2545f491 | 1;

/**
 * mixR0 is one xorshift-multiply step on r0 (r1 as scratch): a multiply alone only carries
 * differences upward, the shift brings high-bit differences down into the low 32 bits (the XDP
 * retval).
 */
function mixR0(): Insn[] {
  return [
    makeInsn(ALU64 | OP.mul | K, 0, 0, 0, ODD_MIX),
    makeInsn(ALU64 | OP.mov | X, 1, 0, 0, 0),
    makeInsn(ALU64 | OP.rsh | K, 1, 0, 0, 29),
    makeInsn(ALU64 | OP.xor | X, 0, 1, 0, 0),
  ];
}

/** Interesting 32-bit immediates: boundaries where wrap, sign and width bugs live. */
const EDGE_IMM32 = [
  0, 1, -1, 2, 3, 7, 8, 15, 16, 31, 32, 33, 63, 64, 255, 256, 0x7fff, -0x8000, 0xffff, 0x10000,
  0x7fffffff, -0x80000000, -2, 0x12345678, -0x12345678,
] as const;

/** Interesting 64-bit values as [lo, hi] 32-bit halves. */
const EDGE_IMM64: ReadonlyArray<readonly [number, number]> = [
  [0, 0], [1, 0], [-1, -1], [0, -0x80000000], [-1, 0x7fffffff], [-0x80000000, 0], [-0x80000000, -1],
  [0x7fffffff, 0], [-1, 0], [0, 1], [0, -1], [0xffff, 0], [-0x10000, -1], [0x89abcdef, 0x01234567],
];

/** Item is one body element: instruction slots plus, for jumps, the body item it targets. */
interface Item {
  insns: Insn[];
  /** For jumps: index of the target item (items.length = the epilogue); which slot holds the jump. */
  target?: number;
  jumpSlot?: number;
  /** The jump's offset lives in imm (gotol) instead of off. */
  offInImm?: boolean;
  /** For `call local`: the subprogram called (its imm is patched when all functions are placed). */
  callee?: number;
}

/** Laid-out function: its slots and the local calls to patch (slot within the function, callee). */
interface Placed {
  insns: Insn[];
  calls: Array<{ slot: number; callee: number }>;
}

/** GenConfig holds the options every function of one program shares. */
interface GenConfig {
  readonly v4: boolean;
  readonly atomics: boolean;
  readonly loops: boolean;
  readonly stackBytes: number;
  readonly subprograms: number;
  readonly packetBytes: number;
  readonly packetCtx: 'xdp' | 'skb';
  readonly mapValue: { readonly index: number; readonly bytes: number } | undefined;
  readonly ctxFields: boolean;
}

class Generator {
  private readonly items: Item[] = [];
  /** Registers that must not be written (a loop counter while its loop body is generated). */
  private readonly reserved = new Set<number>();
  /** Registers random instructions never touch (the packet pointer in packet mode). */
  private readonly hidden = new Set<number>();
  /** Bytes at PACKET_REG this function may access (0: no packet access). */
  private readonly pkt: number;
  /** Bytes at MAP_REG this function may access (0: no map value). */
  private readonly val: number;
  /** Stack slots the prologue filled with context fields (the stack init leaves them alone). */
  private readonly ctxSlots = new Set<number>();
  private readonly v4: boolean;
  private readonly atomics: boolean;
  private readonly stackBytes: number;

  /**
   * @param fn index of this function: -1 for the main program, else the subprogram's index;
   *   a function calls only subprograms with a higher index, so calls never recurse.
   */
  constructor(
    private readonly rng: Rng,
    private readonly cfg: GenConfig,
    private readonly fn: number,
  ) {
    this.v4 = cfg.v4;
    this.atomics = cfg.atomics;
    this.stackBytes = cfg.stackBytes;
    this.pkt = fn < 0 ? cfg.packetBytes : 0;
    if (this.pkt > 0) this.hidden.add(PACKET_REG);
    this.val = fn < 0 ? (cfg.mapValue?.bytes ?? 0) : 0;
    if (this.val > 0) this.hidden.add(MAP_REG);
  }

  imm32(): number {
    const r = this.rng;
    if (r.chance(0.5)) return r.pick(EDGE_IMM32) | 0;
    if (r.chance(0.5)) return r.range(-300, 300);
    return r.u32() | 0;
  }

  imm64(): readonly [number, number] {
    const r = this.rng;
    if (r.chance(0.4)) return r.pick(EDGE_IMM64);
    if (r.chance(0.3)) return [this.imm32(), r.chance(0.5) ? 0 : -1];
    return [r.u32() | 0, r.u32() | 0];
  }

  /** reg picks a register to read (never a hidden one). */
  reg(): number {
    for (;;) {
      const r = this.rng.below(10);
      if (!this.hidden.has(r)) return r;
    }
  }

  /** wreg picks a register to write (never a reserved loop counter or a hidden register). */
  wreg(): number {
    for (;;) {
      const r = this.rng.below(10);
      if (!this.reserved.has(r) && !this.hidden.has(r)) return r;
    }
  }

  /** stackOff returns a negative r10 offset aligned to `size` inside the used area. */
  stackOff(size: number): number {
    return -size * this.rng.range(1, this.stackBytes / size);
  }

  lddw(dst: number, [lo, hi]: readonly [number, number]): Insn[] {
    return [makeInsn(0x18, dst, 0, 0, lo), makeInsn(0, 0, 0, 0, hi)];
  }

  /**
   * prologue initialises registers and the stack area. A subprogram receives r1..r5 from its
   * caller (scalars) and must initialise r0 and r6..r9 itself (the verifier marks them unreadable).
   */
  prologue(): Insn[] {
    const out: Insn[] = [];
    if (this.pkt > 0) {
      // PACKET_REG = ctx->data; r3 = ctx->data_end; if data + pkt > data_end: return XDP_DROP.
      const at = PACKET_CTX_OFFSETS[this.cfg.packetCtx];
      out.push(makeInsn(0x61, PACKET_REG, 1, at.data, 0));
      out.push(makeInsn(0x61, 3, 1, at.dataEnd, 0));
      out.push(makeInsn(ALU64 | OP.mov | X, 2, PACKET_REG, 0, 0));
      out.push(makeInsn(ALU64 | OP.add | K, 2, 0, 0, this.pkt));
      out.push(makeInsn(JMP | 0xb0 | X, 2, 3, 2, 0)); // if r2 <= r3 goto +2
      out.push(makeInsn(ALU64 | OP.mov | K, 0, 0, 0, SHORT_FRAME_RETVAL));
      out.push(makeInsn(0x95));
    }
    if (this.pkt > 0 && this.cfg.ctxFields) out.push(...this.ctxAccesses());
    if (this.val > 0) {
      // *(u32 *)(r10 - 8) = 0; r1 = map; r2 = r10 - 8; r0 = bpf_map_lookup_elem(r1, r2);
      // if r0 == 0 return; MAP_REG = r0. (The stack slot is initialised again below.)
      out.push(makeInsn(0x62, 10, 0, -8, 0));
      out.push(makeInsn(0x18, 1, 1, 0, this.cfg.mapValue?.index ?? 0), makeInsn(0, 0, 0, 0, 0));
      out.push(makeInsn(ALU64 | OP.mov | X, 2, 10, 0, 0));
      out.push(makeInsn(ALU64 | OP.add | K, 2, 0, 0, -8));
      out.push(makeInsn(JMP | 0x80, 0, 0, 0, 1)); // call bpf_map_lookup_elem
      out.push(makeInsn(JMP | 0x50 | K, 0, 0, 2, 0)); // if r0 != 0 goto +2
      out.push(makeInsn(ALU64 | OP.mov | K, 0, 0, 0, SHORT_FRAME_RETVAL));
      out.push(makeInsn(0x95));
      out.push(makeInsn(ALU64 | OP.mov | X, MAP_REG, 0, 0, 0));
    }
    for (let r = 0; r <= 9; r++) {
      if (this.fn >= 0 && r >= 1 && r <= 5) continue;
      if (this.hidden.has(r)) continue;
      const kind = this.rng.below(3);
      if (kind === 0) out.push(makeInsn(ALU64 | OP.mov | K, r, 0, 0, this.imm32()));
      else if (kind === 1) out.push(makeInsn(ALU | OP.mov | K, r, 0, 0, this.imm32()));
      else out.push(...this.lddw(r, this.imm64()));
    }
    for (let off = -8; off >= -this.stackBytes; off -= 8) {
      if (this.ctxSlots.has(off)) continue;
      out.push(makeInsn(0x7b, 10, this.reg(), off, 0)); // stxdw [r10+off], rN
    }
    return out;
  }

  /**
   * ctxAccesses writes some context fields (STX from r2, or ST with an immediate: allowed into ctx
   * since Linux 6.3) and reads some (narrow reads at the kernel's allowed sub-offsets, ldsx with
   * v4) into stack slots below r10-8.
   */
  ctxAccesses(): Insn[] {
    const r = this.rng;
    const out: Insn[] = [];
    const skb = this.cfg.packetCtx === 'skb';
    if (skb) {
      for (let n = r.range(0, 3); n > 0; n--) {
        const [off, size] = r.pick(SKB_WRITES);
        if (r.chance(0.25)) {
          out.push(makeInsn(0x62 | SIZE_CODE[size], 1, 0, off, this.ctxValue32()));
          continue;
        }
        if (size === 8 || r.chance(0.2)) out.push(...this.lddw(2, r.chance(0.5) ? this.imm64() : [this.ctxValue32(), r.pick([0, 1, -1])]));
        else out.push(makeInsn(r.chance(0.5) ? ALU64 | OP.mov | K : ALU | OP.mov | K, 2, 0, 0, this.ctxValue32()));
        out.push(makeInsn(0x63 | SIZE_CODE[size], 1, 2, off, 0));
      }
    }
    const reads = skb ? SKB_READS : XDP_READS;
    const slots = Math.min(r.range(1, 6), this.stackBytes / 8 - 1);
    for (let i = 0; i < slots; i++) {
      const slot = -16 - 8 * i;
      let [off, size] = r.pick(reads);
      // Narrow reads of 4-byte __sk_buff fields: 1 or 2 bytes at an aligned offset inside the
      // field (bpf_ctx_narrow_access_ok); xdp_md allows only full 4-byte reads.
      if (skb && size === 4 && r.chance(0.4)) {
        const narrow = r.pick([1, 2]);
        off += narrow * r.below(4 / narrow);
        size = narrow;
      }
      const sx = this.v4 && size !== 8 && r.chance(0.2);
      out.push(makeInsn((sx ? 0x81 : 0x61) | SIZE_CODE[size], 2, 1, off, 0)); // r2 = *(size *)(r1 + off)
      out.push(makeInsn(0x7b, 10, 2, slot, 0));
      this.ctxSlots.add(slot);
    }
    return out;
  }

  /** ctxValue32 is a 32-bit value for a context store: often near the u16 and NO_QUEUE_MAPPING limits. */
  ctxValue32(): number {
    const r = this.rng;
    const k = r.below(4);
    if (k === 0) return r.below(0x10000);
    if (k === 1) return r.pick([0xfffe, 0xffff, 0x10000, 0x1fffe, -1, -0x10000, -0xffff]);
    return this.imm32();
  }

  /** One random ALU instruction (or a short pattern ending in one). */
  alu(): Insn[] {
    const r = this.rng;
    const cls = r.chance(0.5) ? ALU64 : ALU;
    const width = cls === ALU64 ? 64 : 32;
    const dst = this.wreg();
    const choice = r.below(100);
    if (choice < 40) {
      const op = r.pick(BINARY_OPS);
      return r.chance(0.5)
        ? [makeInsn(cls | op | K, dst, 0, 0, this.imm32())]
        : [makeInsn(cls | op | X, dst, this.reg(), 0, 0)];
    }
    if (choice < 55) {
      const op = r.pick(SHIFT_OPS);
      return r.chance(0.5)
        ? [makeInsn(cls | op | K, dst, 0, 0, r.below(width))]
        : [makeInsn(cls | op | X, dst, this.reg(), 0, 0)];
    }
    if (choice < 75) {
      const op = r.pick(DIV_OPS);
      const signed = this.v4 && r.chance(0.4) ? 1 : 0; // sdiv/smod: off = 1
      if (r.chance(0.4)) {
        let imm = this.imm32();
        if (imm === 0) imm = r.pick([1, -1, 3, -0x80000000]);
        return [makeInsn(cls | op | K, dst, 0, signed, imm)];
      }
      const out: Insn[] = [];
      const zeroable = r.chance(0.4);
      const src = zeroable ? this.wreg() : this.reg();
      // A zero (or all-ones) divisor in a register is legal and has defined results; make it common.
      if (zeroable) out.push(makeInsn((r.chance(0.5) ? ALU : ALU64) | OP.mov | K, src, 0, 0, r.chance(0.6) ? 0 : -1));
      out.push(makeInsn(cls | op | X, dst, src, signed, 0));
      return out;
    }
    if (choice < 80) return [makeInsn(cls | OP.neg | K, dst, 0, 0, 0)];
    if (choice < 88) {
      // le/be conversions (ALU class), or v4 bswap (ALU64 class, imm = width).
      const bits = r.pick([16, 32, 64]);
      if (this.v4 && r.chance(0.35)) return [makeInsn(ALU64 | OP.end, dst, 0, 0, bits)];
      return [makeInsn(ALU | OP.end | (r.chance(0.5) ? X : K), dst, 0, 0, bits)];
    }
    if (choice < 94 && this.v4) {
      // movsx: ALU64 from 8/16/32, ALU32 from 8/16 (off = source width, register form only).
      const from = cls === ALU64 ? r.pick([8, 16, 32]) : r.pick([8, 16]);
      return [makeInsn(cls | OP.mov | X, dst, this.reg(), from, 0)];
    }
    return this.lddw(dst, this.imm64());
  }

  /** One random packet access at PACKET_REG + [0, pkt - size]: load, ldsx, store (no atomics). */
  packetAccess(): Insn[] {
    const r = this.rng;
    const size = r.pick(SIZES);
    const off = r.range(0, this.pkt - size.bytes);
    const choice = r.below(100);
    if (choice < 35) return [makeInsn(0x61 | size.code, this.wreg(), PACKET_REG, off, 0)];
    if (choice < 45 && this.v4 && size.bytes !== 8) return [makeInsn(0x81 | size.code, this.wreg(), PACKET_REG, off, 0)];
    if (choice < 75) return [makeInsn(0x63 | size.code, PACKET_REG, this.reg(), off, 0)];
    return [makeInsn(0x62 | size.code, PACKET_REG, 0, off, this.imm32())];
  }

  /** One random access to the map value at MAP_REG: load, ldsx, store, or (aligned) atomic. */
  valueAccess(): Insn[] {
    const r = this.rng;
    if (this.atomics && r.chance(0.25)) {
      const bytes = r.chance(0.5) ? 8 : 4;
      let op: number = r.pick(ATOMIC_OPS);
      if (op === 0xf1 && this.reserved.has(0)) op = 0xe1;
      const src = (op & 0x01) !== 0 ? this.wreg() : this.reg();
      return [makeInsn(bytes === 8 ? 0xdb : 0xc3, MAP_REG, src, bytes * r.range(0, this.val / bytes - 1), op)];
    }
    const size = r.pick(SIZES);
    const off = r.range(0, this.val - size.bytes);
    const choice = r.below(100);
    if (choice < 35) return [makeInsn(0x61 | size.code, this.wreg(), MAP_REG, off, 0)];
    if (choice < 45 && this.v4 && size.bytes !== 8) return [makeInsn(0x81 | size.code, this.wreg(), MAP_REG, off, 0)];
    if (choice < 75) return [makeInsn(0x63 | size.code, MAP_REG, this.reg(), off, 0)];
    return [makeInsn(0x62 | size.code, MAP_REG, 0, off, this.imm32())];
  }

  /** One random memory access: the stack (load, ldsx, store, atomic), the packet or the map value. */
  mem(): Insn[] {
    const r = this.rng;
    if (this.val > 0 && r.chance(0.3)) return this.valueAccess();
    if (this.pkt > 0 && r.chance(0.45)) return this.packetAccess();
    const size = r.pick(SIZES);
    const choice = r.below(100);
    if (choice < 30) return [makeInsn(0x61 | size.code, this.wreg(), 10, this.stackOff(size.bytes), 0)]; // ldx
    if (choice < 42 && this.v4 && size.bytes !== 8) {
      return [makeInsn(0x81 | size.code, this.wreg(), 10, this.stackOff(size.bytes), 0)]; // ldsx (MEMSX)
    }
    if (choice < 65) return [makeInsn(0x63 | size.code, 10, this.reg(), this.stackOff(size.bytes), 0)]; // stx
    if (choice < 80 || !this.atomics) return [makeInsn(0x62 | size.code, 10, 0, this.stackOff(size.bytes), this.imm32())]; // st
    const bytes = r.chance(0.5) ? 8 : 4;
    const code = bytes === 8 ? 0xdb : 0xc3;
    let op: number = r.pick(ATOMIC_OPS);
    if (op === 0xf1 && this.reserved.has(0)) op = 0xe1; // cmpxchg writes r0
    // Fetching atomics write their source register.
    const src = (op & 0x01) !== 0 ? this.wreg() : this.reg();
    return [makeInsn(code, 10, src, this.stackOff(bytes), op)];
  }

  /** A conditional jump to a later item (target resolved at layout). */
  condJump(): Item {
    const r = this.rng;
    const cls = r.chance(0.5) ? JMP : JMP32;
    const op = r.pick(COND_JUMPS);
    const target = r.range(this.items.length + 1, this.bodyLen);
    const insn = r.chance(0.5)
      ? makeInsn(cls | op | K, this.reg(), 0, 0, this.imm32())
      : makeInsn(cls | op | X, this.reg(), this.reg(), 0, 0);
    return { insns: [insn], target, jumpSlot: 0 };
  }

  bodyLen = 0;

  /**
   * loop emits `rC = n; L: <straight-line body>; rC += -1; if rC != 0 goto L` with rC reserved
   * while the body is generated, so the loop runs exactly n times (the verifier walks each
   * iteration: counters are known constants).
   */
  loop(): Insn[] {
    const r = this.rng;
    const counter = this.wreg();
    this.reserved.add(counter);
    const body: Insn[] = [];
    const n = r.range(1, 4);
    for (let i = r.range(1, 6); i > 0; i--) body.push(...(r.chance(0.6) ? this.alu() : this.mem()));
    this.reserved.delete(counter);
    return [
      makeInsn(ALU | OP.mov | K, counter, 0, 0, n),
      ...body,
      makeInsn(ALU64 | OP.add | K, counter, 0, 0, -1),
      makeInsn(JMP | 0x50 | K, counter, 0, -(body.length + 2), 0), // jne counter, 0, <body start>
    ];
  }

  /** call emits `call local <sub>` then re-initialises r1..r5 (a call leaves them unreadable). */
  call(callee: number): Item {
    const insns = [makeInsn(JMP | 0x80, 0, 1, 0, 0)];
    for (let reg = 1; reg <= 5; reg++) insns.push(makeInsn(ALU64 | OP.mov | K, reg, 0, 0, this.imm32()));
    return { insns, callee };
  }

  body(n: number): void {
    this.bodyLen = n;
    const firstCallee = this.fn + 1;
    const canCall = firstCallee < this.cfg.subprograms;
    // Every subprogram must be called from somewhere (check_cfg refuses unreachable code): each
    // function calls the next one at least once, at a random point of its body.
    let mustCallAt = canCall ? this.rng.below(n) : n;
    while (this.items.length < n) {
      const choice = this.rng.below(100);
      if (this.items.length >= mustCallAt) {
        this.items.push(this.call(firstCallee));
        mustCallAt = n;
      }
      else if (choice < 4 && canCall) this.items.push(this.call(this.rng.range(firstCallee, this.cfg.subprograms - 1)));
      else if (choice < 8 && this.cfg.loops) this.items.push({ insns: this.loop() });
      else if (choice < 50) this.items.push({ insns: this.alu() });
      else if (choice < 75) this.items.push({ insns: this.mem() });
      else if (choice < 92 || this.items.length + 2 >= n) this.items.push(this.condJump());
      else {
        // jcc over the next item; then ja/gotol further on: both paths stay reachable.
        const here = this.items.length;
        const skip = this.condJump();
        skip.target = here + 2;
        this.items.push(skip);
        const target = this.rng.range(here + 2, n);
        const gotol = this.v4 && this.rng.chance(0.4);
        this.items.push({
          insns: [gotol ? makeInsn(JMP32, 0, 0, 0, 0) : makeInsn(JMP, 0, 0, 0, 0)],
          target,
          jumpSlot: 0,
          offInImm: gotol,
        });
      }
    }
  }

  /** layout places the items and fills in the jump offsets (relative to the next slot). */
  layout(calls: Placed['calls'], base: number): Insn[] {
    const start: number[] = [];
    let slot = 0;
    for (const it of this.items) {
      start.push(slot);
      slot += it.insns.length;
    }
    start.push(slot); // the epilogue
    const out: Insn[] = [];
    this.items.forEach((it, i) => {
      if (it.callee !== undefined) calls.push({ slot: base + start[i], callee: it.callee });
      for (let s = 0; s < it.insns.length; s++) {
        const insn = { ...it.insns[s] };
        if (it.target !== undefined && s === it.jumpSlot) {
          const rel = start[it.target] - (start[i] + s + 1);
          if (it.offInImm === true) insn.imm = rel;
          else insn.off = rel;
        }
        out.push(insn);
      }
    });
    return out;
  }

  epilogue(fold: boolean): Insn[] {
    const out: Insn[] = [];
    if (fold) {
      for (let r = 1; r <= 9; r++) {
        if (this.hidden.has(r)) continue;
        out.push(makeInsn(ALU64 | OP.xor | X, 0, r, 0, 0));
        out.push(...mixR0());
      }
      for (let off = -8; off >= -this.stackBytes; off -= 8) {
        out.push(makeInsn(0x79, 1, 10, off, 0)); // ldxdw r1, [r10+off]
        out.push(makeInsn(ALU64 | OP.xor | X, 0, 1, 0, 0));
        out.push(...mixR0());
      }
      for (let off = 0; off + 8 <= this.val; off += 8) {
        out.push(makeInsn(0x79, 1, MAP_REG, off, 0)); // ldxdw r1, [MAP_REG+off]
        out.push(makeInsn(ALU64 | OP.xor | X, 0, 1, 0, 0));
        out.push(...mixR0());
      }
      for (let off = 0; off + 8 <= this.pkt; off += 8) {
        out.push(makeInsn(0x79, 1, PACKET_REG, off, 0)); // ldxdw r1, [PACKET_REG+off]
        out.push(makeInsn(ALU64 | OP.xor | X, 0, 1, 0, 0));
        out.push(...mixR0());
      }
    }
    if (this.pkt >= 8) out.push(makeInsn(0x7b, PACKET_REG, 0, 0, 0)); // *(u64 *)(PACKET_REG + 0) = r0
    out.push(makeInsn(0x95));
    return out;
  }
}

/** randomProgram generates one valid program from a seed (see the module comment). */
export function randomProgram(seed: number, opts: RandomProgramOptions = {}): RandomProgram {
  const rng = new Rng(seed);
  const stackBytes = opts.stackBytes ?? 64;
  if (stackBytes <= 0 || stackBytes % 8 !== 0 || stackBytes > 96) {
    throw new RangeError(`randomProgram: stackBytes must be a multiple of 8 in 8..96, got ${stackBytes}`);
  }
  const subprograms = opts.subprograms ?? rng.range(0, 2);
  if (!Number.isInteger(subprograms) || subprograms < 0 || subprograms > 3) {
    throw new RangeError(`randomProgram: subprograms must be 0..3, got ${subprograms}`);
  }
  const cfg: GenConfig = {
    v4: opts.v4 ?? true,
    atomics: opts.atomics ?? true,
    loops: opts.loops ?? true,
    stackBytes,
    subprograms,
    packetBytes: opts.packetBytes ?? 0,
    packetCtx: opts.packetCtx ?? 'xdp',
    mapValue: opts.mapValue,
    ctxFields: opts.ctxFields ?? false,
  };
  if (cfg.mapValue !== undefined && (cfg.mapValue.bytes < 8 || cfg.mapValue.bytes % 8 !== 0 || cfg.mapValue.bytes > 256)) {
    throw new RangeError(`randomProgram: mapValue.bytes must be a multiple of 8 in 8..256, got ${cfg.mapValue.bytes}`);
  }
  if (!Number.isInteger(cfg.packetBytes) || cfg.packetBytes < 0 || cfg.packetBytes > 256) {
    throw new RangeError(`randomProgram: packetBytes must be 0..256, got ${cfg.packetBytes}`);
  }
  const fold = opts.foldState ?? true;
  // Main program first (instruction 0 is its entry), then each subprogram; calls patched last.
  const insns: Insn[] = [];
  const calls: Placed['calls'] = [];
  const starts: number[] = [];
  for (let fn = -1; fn < subprograms; fn++) {
    if (fn >= 0) starts.push(insns.length);
    const gen = new Generator(rng, cfg, fn);
    const prologue = gen.prologue();
    gen.body(fn < 0 ? (opts.bodyItems ?? rng.range(24, 64)) : rng.range(6, 20));
    insns.push(...prologue);
    insns.push(...gen.layout(calls, insns.length));
    insns.push(...gen.epilogue(fold));
  }
  for (const c of calls) insns[c.slot] = { ...insns[c.slot], imm: starts[c.callee] - (c.slot + 1) };
  return { seed, insns, stackBytes };
}
