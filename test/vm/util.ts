/**
 * util — running assembler text on an engine, for the VM tests.
 */
import { assemble } from '../../src/isa/asm/index.js';
import { Memory, RegionKind, type Region } from '../../src/vm/memory.js';
import type { Engine, HelperTable, ProgramSpec, RunResult, TailCallResolver } from '../../src/vm/program.js';
import { createRunEnv } from '../../src/vm/run.js';

/** RunOptions for runAsm. */
export interface RunOptions {
  /** Bytes of a writable scratch region; r1 points at it, r2 is its length. */
  mem?: Uint8Array;
  /** Map the scratch region read-only. */
  readOnly?: boolean;
  helpers?: HelperTable;
  insnBudget?: number;
  tailCall?: TailCallResolver;
  lineInfo?: ReadonlyMap<number, string>;
}

/** Ran is a run's result plus the memory it ran in. */
export interface Ran {
  res: RunResult;
  mem: Memory;
  region?: Region;
}

/** runAsm assembles `src` and runs it once on `engine`. */
export function runAsm(engine: Engine, src: string, opts: RunOptions = {}): Ran {
  const mem = new Memory(1 << 17);
  let region: Region | undefined;
  if (opts.mem !== undefined) {
    region = mem.map(RegionKind.Scratch, 'mem', opts.mem.length, { writable: opts.readOnly !== true });
    mem.write(region.start, opts.mem);
  }
  const env = createRunEnv(mem, { helpers: opts.helpers, insnBudget: opts.insnBudget, tailCall: opts.tailCall });
  const spec: ProgramSpec = { name: 'test', insns: assemble(src), lineInfo: opts.lineInfo };
  const res = engine.prepare(spec).run(env, region?.start ?? 0, opts.mem?.length ?? 0);
  return { res, mem, region };
}

/** r0Of returns r0 of a successful run, or throws with the fault. */
export function r0Of(r: RunResult): bigint {
  if (!r.ok) throw new Error(`run faulted: ${r.fault.code} ${r.fault.message}`);
  return r.r0;
}

/** u64 is a bigint modulo 2^64. */
export const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
