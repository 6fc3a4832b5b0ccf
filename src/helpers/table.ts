/**
 * table — the helper registry: one declarative list of HelperDef {id, name, gplOnly,
 * progTypes, make}, one entry per kernel helper xdpsim implements, assembled once into a by-id
 * table. `makeHelperTable` binds every implementation to a MapRegistry and HelperServices and
 * returns the HelperTable engines call through (src/vm/program.ts).
 *
 * Families live in their own files (map, time, random, trace, ringbuf, perf, lock, loop, csum,
 * misc); the datapath's packet helpers (xdp_adjust_head, skb_*, redirect...) join through
 * `extra` definitions of the same shape.
 *
 * The GPL rule: a helper whose kernel bpf_func_proto has gpl_only = true is not offered to a
 * program whose license is not GPL-compatible (the kernel refuses such a program at load with
 * "cannot call GPL-restricted function from non-GPL compatible program"; the loader checks with
 * `helperInfo` and `isGplCompatible`).
 */
import type { HelperImpl, HelperTable } from '../vm/program.js';
import type { Insn } from '../isa/insn.js';
import { OP_CALL, OP_LDDW } from '../isa/opcodes.js';
import type { MapRegistry } from '../maps/registry.js';
import type { HelperServices } from './services.js';
import { helperName } from './ids.js';
import { MAP_HELPERS } from './map.js';
import { TIME_HELPERS } from './time.js';
import { RANDOM_HELPERS } from './random.js';
import { TRACE_HELPERS } from './trace.js';
import { RINGBUF_HELPERS } from './ringbuf.js';
import { PERF_HELPERS } from './perf.js';
import { LOCK_HELPERS } from './lock.js';
import { LOOP_HELPERS } from './loop.js';
import { CSUM_HELPERS } from './csum.js';
import { MISC_HELPERS } from './misc.js';

/** BPF_PROG_TYPE_* numbers of the hooks xdpsim runs (enum bpf_prog_type). */
export const BpfProgType = { SCHED_CLS: 3, SCHED_ACT: 4, XDP: 6 } as const;

/** HelperContext is what a helper implementation is bound to. */
export interface HelperContext {
  readonly registry: MapRegistry;
  readonly services: HelperServices;
}

/** HelperDef declares one helper. */
export interface HelperDef {
  /** enum bpf_func_id. */
  readonly id: number;
  /** Kernel name without the bpf_ prefix. */
  readonly name: string;
  /** gpl_only of the kernel's bpf_func_proto. */
  readonly gplOnly: boolean;
  /** BPF_PROG_TYPE_* the kernel offers it to; undefined: every program type xdpsim runs. */
  readonly progTypes?: readonly number[];
  /** make binds the implementation to a registry and services. */
  readonly make: (ctx: HelperContext) => HelperImpl;
}

/** HELPER_DEFS is every helper of this package, by family. */
export const HELPER_DEFS: readonly HelperDef[] = [
  ...MAP_HELPERS,
  ...TIME_HELPERS,
  ...RANDOM_HELPERS,
  ...TRACE_HELPERS,
  ...RINGBUF_HELPERS,
  ...PERF_HELPERS,
  ...LOCK_HELPERS,
  ...LOOP_HELPERS,
  ...CSUM_HELPERS,
  ...MISC_HELPERS,
];

const BY_ID: ReadonlyMap<number, HelperDef> = (() => {
  const m = new Map<number, HelperDef>();
  for (const d of HELPER_DEFS) {
    if (m.has(d.id)) throw new Error(`helpers: duplicate helper id ${d.id} (${d.name})`);
    if (helperName(d.id) !== `bpf_${d.name}`) throw new Error(`helpers: id ${d.id} is ${helperName(d.id)}, not bpf_${d.name}`);
    m.set(d.id, d);
  }
  return m;
})();

/** helperInfo returns the declaration of helper `id` (name, gplOnly, program types), or undefined. */
export function helperInfo(id: number): HelperDef | undefined {
  return BY_ID.get(id);
}

/**
 * isGplCompatible is license_is_gpl_compatible (include/linux/license.h): the licenses the
 * kernel accepts for GPL-only helpers.
 */
export function isGplCompatible(license: string): boolean {
  return ['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL', 'Dual MIT/GPL', 'Dual MPL/GPL'].includes(license);
}

/** HelperTableOptions select which helpers a table offers. */
export interface HelperTableOptions {
  /** The program's license section; GPL-only helpers are left out unless it is GPL-compatible. */
  license: string;
  /** The program type; helpers not offered to it are left out. Undefined: no filtering. */
  progType?: number;
  /** More helper families (the datapath's packet helpers); they may not reuse an id. */
  extra?: readonly HelperDef[];
}

/** makeHelperTable builds the by-id table of bound helper implementations. */
export function makeHelperTable(registry: MapRegistry, services: HelperServices, opts: HelperTableOptions): HelperTable {
  const ctx: HelperContext = { registry, services };
  const gpl = isGplCompatible(opts.license);
  const table = new Map<number, HelperImpl>();
  for (const d of [...HELPER_DEFS, ...(opts.extra ?? [])]) {
    if (table.has(d.id)) throw new Error(`helpers: helper ${helperName(d.id)} defined twice`);
    if (d.gplOnly && !gpl) continue;
    if (opts.progType !== undefined && d.progTypes !== undefined && !d.progTypes.includes(opts.progType)) continue;
    table.set(d.id, d.make(ctx));
  }
  return table;
}

/** BPF_FUNC_TAIL_CALL (12) is run by the engines themselves. */
const BPF_FUNC_TAIL_CALL = 12;

/** UnavailableHelperCall is a call instruction to a helper a table does not offer. */
export interface UnavailableHelperCall {
  readonly insn: number;
  readonly helper: number;
  readonly name: string;
}

/**
 * findUnavailableHelperCall returns the first `call` of a helper id `table` does not offer —
 * one xdpsim lacks, one the program type may not use, or a GPL-only one from a non-GPL program —
 * or undefined. The kernel refuses such a program at load (check_helper_call: "unknown func",
 * "program of this type cannot use helper", "cannot call GPL-restricted function"), so hooks
 * refuse it when they bind the table rather than when a packet reaches the call.
 */
export function findUnavailableHelperCall(insns: readonly Insn[], table: HelperTable): UnavailableHelperCall | undefined {
  for (let i = 0; i < insns.length; i++) {
    const insn = insns[i];
    if (insn.opcode === OP_LDDW) {
      i++;
      continue;
    }
    // bpf_tail_call is the engines' own (src/vm/interp.ts BPF_FUNC_TAIL_CALL), never in a table.
    if (insn.opcode === OP_CALL && insn.src === 0 && insn.imm !== BPF_FUNC_TAIL_CALL && !table.has(insn.imm)) return { insn: i, helper: insn.imm, name: helperName(insn.imm) };
  }
  return undefined;
}
