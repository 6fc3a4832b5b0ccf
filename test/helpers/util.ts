/** util — running small assembled programs with the real helper table on the reference interpreter. */
import { assemble } from '../../src/isa/asm/index.js';
import { Memory, RegionKind } from '../../src/vm/memory.js';
import { createRunEnv } from '../../src/vm/run.js';
import { interpEngine } from '../../src/vm/interp.js';
import { engineNames, getEngine } from '../../src/vm/engines.js';
import type { Engine, RunEnv, RunResult } from '../../src/vm/program.js';
import { CODE_BASE } from '../../src/vm/program.js';
import { MapRegistry } from '../../src/maps/registry.js';
import { makeHelperTable } from '../../src/helpers/table.js';
import { makeTailCallResolver } from '../../src/helpers/tail-call.js';
import { deterministicServices, type HelperServices, type TraceRecord } from '../../src/helpers/services.js';

/** Rig is a registry, services capturing trace lines, and a way to run assembly. */
export interface Rig {
  mem: Memory;
  reg: MapRegistry;
  services: HelperServices;
  traces: TraceRecord[];
  env: RunEnv;
  /** run assembles `text` (with {{name}} replaced by map handles) and runs it with r1 = ctx. */
  run(text: string, opts?: { cpu?: number; ctx?: number }): RunResult;
}

/** rig builds a Rig; `license` selects GPL-only helpers. */
export function rig(opts: { cpus?: number; license?: string; services?: HelperServices; engine?: Engine } = {}): Rig {
  const engine = opts.engine ?? interpEngine;
  const mem = new Memory(1 << 20);
  const reg = new MapRegistry(mem, { cpus: opts.cpus ?? 2 });
  const traces: TraceRecord[] = [];
  const services = opts.services ?? deterministicServices({ trace: (r) => traces.push(r) });
  const ctx = mem.map(RegionKind.Scratch, 'ctx', 64);
  let env: RunEnv | undefined;
  const self: Rig = {
    mem,
    reg,
    services,
    traces,
    get env(): RunEnv {
      if (env === undefined) {
        env = createRunEnv(mem, {
          helpers: makeHelperTable(reg, services, { license: opts.license ?? 'GPL' }),
          tailCall: makeTailCallResolver(reg),
        });
      }
      return env;
    },
    run(text, o = {}) {
      const src = text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
        if (name.startsWith('cb_')) return `0x${(CODE_BASE + 8 * Number(name.slice(3))).toString(16)}`;
        const m = reg.byName(name);
        if (m === undefined) throw new Error(`no map ${name}`);
        return `0x${m.handle.toString(16)}`;
      });
      const exe = engine.prepare({ name: 'prog', insns: assemble(src) });
      const e = self.env;
      e.cpu = o.cpu ?? 0;
      return exe.run(e, o.ctx ?? ctx.start);
    },
  };
  return self;
}

/** r0 returns a run's r0 as a signed bigint, failing on a fault. */
export function r0(res: RunResult): bigint {
  if (!res.ok) throw new Error(`unexpected fault: ${res.fault.code} ${res.fault.message}`);
  return BigInt.asIntN(64, res.r0);
}

/** faultCode returns a run's fault code, failing when it did not fault. */
export function faultCode(res: RunResult): string {
  if (res.ok) throw new Error(`expected a fault, got r0 = ${res.r0}`);
  return res.fault.code;
}

/** ENGINES lists every registered engine, so program-level helper tests run on each. */
export const ENGINES: Engine[] = engineNames().map(getEngine);
