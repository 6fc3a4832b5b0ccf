/**
 * setup — from what the user gave (interfaces or a topology file, programs per hook) to a ready
 * Pipeline: programs loaded through one ProgramSet and attached per interface. Programs given as
 * flags attach to every interface unless they name one with `@IFACE` (`OBJ[:PROG][@IFACE]`);
 * a topology file attaches per interface.
 */
import { UsageError } from '../errors.js';
import type { Engine } from '../vm/program.js';
import type { Memory } from '../vm/memory.js';
import type { HelperServices } from '../helpers/services.js';
import { parseInterfaceSpec } from './interfaces.js';
import { loadTopology, simpleTopology, type Topology } from './topology.js';
import { ProgramSet, parseProgramRef, type HookKind } from './programs.js';
import { Pipeline, type Attachment } from './pipeline.js';

/** HookFlags are the programs given on the command line, each `OBJ[:PROG][@IFACE]`. */
export interface HookFlags {
  readonly xdp: readonly string[];
  readonly tcIngress: readonly string[];
  readonly tcEgress: readonly string[];
}

/** DatapathOptions describe a datapath to build. */
export interface DatapathOptions {
  /** `--iface` specs (ignored when a topology file is given, which then must declare the interfaces). */
  readonly ifaces: readonly string[];
  readonly topologyFile?: string;
  readonly hooks: HookFlags;
  readonly engine: Engine;
  readonly services: HelperServices;
  /** Simulated CPUs; default: the most rx queues of any interface. */
  readonly cpus?: number;
  readonly maxHops?: number;
  /** VM memory for every object and hook (a shared-mode one for replay --workers); a new one when absent. */
  readonly mem?: Memory;
}

/** Datapath is a built pipeline with what it was built from. */
export interface Datapath {
  readonly topology: Topology;
  readonly programs: ProgramSet;
  readonly attach: Map<number, Attachment>;
  readonly pipeline: Pipeline;
  readonly cpus: number;
}

/** splitIface splits `REF@IFACE`; the interface part may not contain '/' or ':'. */
export function splitIface(text: string): { ref: string; iface?: string } {
  const at = text.lastIndexOf('@');
  if (at > 0 && /^[A-Za-z0-9_.-]{1,15}$/.test(text.slice(at + 1))) return { ref: text.slice(0, at), iface: text.slice(at + 1) };
  return { ref: text };
}

/** buildDatapath loads the programs and wires the pipeline. */
export function buildDatapath(opts: DatapathOptions): Datapath {
  if (opts.topologyFile !== undefined && opts.ifaces.length > 0) {
    throw new UsageError('E_USAGE', '--iface and --topology exclude each other (declare interfaces in the topology file)', {});
  }
  const topology = opts.topologyFile !== undefined ? loadTopology(opts.topologyFile) : simpleTopology(opts.ifaces.map(parseInterfaceSpec));
  const cpus = opts.cpus ?? Math.max(1, ...topology.interfaces.map((d) => d.rxQueues));
  const known = new Set(topology.interfaces.map((d) => d.ifindex));
  const programs = new ProgramSet({ engine: opts.engine, services: opts.services, cpus, ifindexExists: (i) => known.has(i), mem: opts.mem });
  const attach = new Map<number, Attachment>();
  for (const d of topology.interfaces) attach.set(d.ifindex, { tcIngress: [], tcEgress: [] });
  const place = (text: string, kind: HookKind, hook: 'xdp' | 'tcIngress' | 'tcEgress', flag: string): void => {
    const { ref, iface } = splitIface(text);
    const targets = iface === undefined ? topology.interfaces : topology.interfaces.filter((d) => d.name === iface);
    if (targets.length === 0) {
      throw new UsageError('E_USAGE', `${flag} ${text}: no interface ${iface} (interfaces: ${topology.interfaces.map((d) => d.name).join(', ')})`, { spec: text });
    }
    const prog = programs.load(parseProgramRef(ref), kind);
    for (const d of targets) {
      const a = attach.get(d.ifindex) as Attachment;
      if (hook === 'xdp') {
        if (a.xdp !== undefined) throw new UsageError('E_USAGE', `${flag} ${text}: ${d.name} already runs XDP program ${a.xdp.name} (one XDP program per interface)`, { spec: text });
        a.xdp = prog;
      } else {
        a[hook].push(prog);
      }
    }
  };
  for (const [name, spec] of topology.attach) {
    if (spec.xdp !== undefined) place(`${spec.xdp}@${name}`, 'xdp', 'xdp', 'topology xdp');
    for (const t of spec.tcIngress) place(`${t}@${name}`, 'tc', 'tcIngress', 'topology tc_ingress');
    for (const t of spec.tcEgress) place(`${t}@${name}`, 'tc', 'tcEgress', 'topology tc_egress');
  }
  for (const t of opts.hooks.xdp) place(t, 'xdp', 'xdp', '--xdp');
  for (const t of opts.hooks.tcIngress) place(t, 'tc', 'tcIngress', '--tc-ingress');
  for (const t of opts.hooks.tcEgress) place(t, 'tc', 'tcEgress', '--tc-egress');
  const pipeline = new Pipeline({ topology, programs, attach, cpus, maxHops: opts.maxHops });
  return { topology, programs, attach, pipeline, cpus };
}
