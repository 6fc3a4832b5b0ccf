/**
 * program — the one interface every engine implements (DESIGN.md, "Engines"), and the run-time
 * environment a program and its helpers see.
 *
 * Registers are a file of 11 64-bit values stored as 32-bit halves in an Int32Array
 * (regs[2*i] = low half, regs[2*i+1] = high half): V8 keeps int32 arithmetic unboxed, while
 * BigInt allocates on every operation. Helpers read their arguments r1..r5 from this file and
 * return their r0.
 */
import type { Insn } from '../isa/insn.js';
import type { Memory, Region } from './memory.js';
import type { VmFault } from './fault.js';

/** ProgramSpec is a verified-for-loading program: its slots and where it came from. */
export interface ProgramSpec {
  /** Program name (the function symbol; for raw bytecode, a caller-chosen name). */
  readonly name: string;
  /** Instruction slots; lddw takes two. Subprograms (.text) are appended, calls are pc-relative. */
  readonly insns: readonly Insn[];
  /** Section the program came from, when loaded from an object. */
  readonly section?: string;
  /** C source line per instruction index, from BTF line info, when present. */
  readonly lineInfo?: ReadonlyMap<number, string>;
}

/**
 * HelperResult is a helper's r0: a number is taken as a signed integer (negative errno,
 * pointer, small count) and sign-extended to 64 bits; a bigint is taken modulo 2^64.
 */
export type HelperResult = number | bigint;

/** HelperImpl implements one helper function. It may throw GuestFault for bad arguments. */
export type HelperImpl = (env: RunEnv) => HelperResult;

/** HelperTable maps helper ids (enum bpf_func_id) to implementations. */
export type HelperTable = ReadonlyMap<number, HelperImpl>;

/**
 * TailCallTarget resolves bpf_tail_call(ctx, prog_array, index) to the executable to continue
 * with, or undefined when the slot is empty (the helper then returns and the program goes on).
 * Returning null instead of undefined says "index in range, slot empty": like the kernel
 * (kernel/bpf/core.c JMP_TAIL_CALL), that failed attempt still counts toward MAX_TAIL_CALL_CNT,
 * while an out-of-range index (undefined) does not.
 */
export type TailCallResolver = (mapAddr: number, index: number) => Executable | null | undefined;

/** RunEnv is everything one run of a program needs; hooks and helpers extend it through `hook`. */
export interface RunEnv {
  readonly mem: Memory;
  /**
   * Register file, as described in the module comment. Engines keep it current at helper calls,
   * and a run that ends without a fault leaves its r0 in regs[0..1] (see r0u32).
   */
  readonly regs: Int32Array;
  /** The stack region: MAX_CALL_FRAMES frames of MAX_BPF_STACK bytes. */
  readonly stack: Region;
  /** Helpers callable by id. */
  readonly helpers: HelperTable;
  /** Instructions one run may execute before it fails with E_INSN_BUDGET. */
  readonly insnBudget: number;
  /** Resolves tail calls; absent means every tail call fails (returns -EINVAL... as the helper would). */
  readonly tailCall?: TailCallResolver;
  /** Hook-specific state (xdp_buff, sk_buff, redirect target, ...), owned by src/hooks. */
  hook?: unknown;
  /** Set by an engine while a helper runs: the program and instruction index of the call. */
  current?: { program: string; insn: number };
  /** Simulated CPU this run is on (per-CPU maps, bpf_get_smp_processor_id); 0 when unset. */
  cpu?: number;
  /**
   * callSubprog runs the subprogram starting at instruction `insn` of the running program with
   * r1..r5 = args and returns its r0, for helpers that take callbacks (bpf_loop,
   * bpf_for_each_map_elem). Engines set it while a helper runs; it counts against the budget.
   */
  callSubprog?: (insn: number, args: readonly bigint[]) => bigint;
  /**
   * exitRequested, set by a helper, ends the run right after that helper returns, with the
   * helper's return value as r0. No kernel helper does this; the bpf_conformance suite's uBPF
   * "unwind" helper (src/conformance/helpers.ts) does. Engines clear it at the start of a run.
   */
  exitRequested?: boolean;
}

/**
 * CODE_BASE: a BPF_PSEUDO_FUNC lddw (a callback's address) loads CODE_BASE + 8 * insnIndex.
 * Helpers map it back with `insn = (addr - CODE_BASE) / 8`; the address is never mapped, so a
 * program that dereferences it faults.
 */
export const CODE_BASE = 0xf000_0000;

/** RunResult is the outcome of one run: r0, or the fault that ended it. */
export type RunResult =
  | { readonly ok: true; readonly r0: bigint; readonly insnCount: number }
  | { readonly ok: false; readonly fault: VmFault; readonly insnCount: number };

/**
 * r0u32 is the r0 of the run that just ended without a fault on `env`, as u32, read from the
 * register file: what hooks turn into a verdict, without the BigInt operations RunResult.r0
 * would cost per packet (measured: 30-60 ns of a ~100 ns XDP run). Equal to
 * Number(BigInt.asUintN(32, result.r0)).
 */
export function r0u32(env: RunEnv): number {
  return env.regs[0] >>> 0;
}

/** Executable is one program prepared by an engine. */
export interface Executable {
  readonly spec: ProgramSpec;
  /**
   * run executes from instruction 0 with r1 = arg1 (u32 address or value), r10 = top of frame 0.
   * A run that ends without a fault leaves r0 in env.regs[0..1] (r0u32), also when the program
   * ran in another env (wrappers copy it back).
   */
  run(env: RunEnv, arg1: number, arg2?: number): RunResult;
}

/** Engine turns program specs into executables. */
export interface Engine {
  readonly name: string;
  prepare(spec: ProgramSpec): Executable;
}

/** DEFAULT_INSN_BUDGET: generous (the kernel's verifier limit is 1M processed insns per program). */
export const DEFAULT_INSN_BUDGET = 10_000_000;
