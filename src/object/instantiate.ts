/**
 * instantiate — ObjectSpec + VM memory + map registry → live maps and runnable ProgramSpecs, the
 * load step that follows the pure parse (cilium/ebpf's NewCollection after LoadCollectionSpec).
 *
 * What happens here, in the kernel's order (bpf_object__load):
 *   - externs: a strong __kconfig extern without a value, or a chosen program that needs CO-RE, a
 *     kfunc or a __ksym, stops the load with its error;
 *   - maps are created in the registry (maps referenced by another map's declarative slots first),
 *     PERF_EVENT_ARRAY max_entries 0 becoming the CPU count as libbpf does;
 *   - each program's lddw of a map gets the map's handle, an lddw of global data the address of
 *     value 0 plus the offset, and the pseudo source is cleared (convert_pseudo_ld_imm64());
 *   - a callback address (BPF_PSEUDO_FUNC lddw) becomes CODE_BASE + 8 * target instruction, the
 *     VM's code address convention (vm/program.ts);
 *   - the GPL rule: a program whose license is not GPL-compatible may not call a gpl_only helper
 *     (check_helper_call() in kernel/bpf/verifier.c);
 *   - every program is registered with the registry so PROG_ARRAY slots can name it;
 *     prepareObject then attaches each executable.
 * Environment-dependent inputs are explicit: LINUX_KERNEL_VERSION comes from uname(2) as in libbpf,
 * the kernel config only with `hostKconfig`.
 *
 * Layering note: this module sits in object/ but creates maps (maps/), uses the VM's code address
 * convention (vm/) and helper names (helpers/ids.ts): the one place where object/ reaches below
 * itself.
 */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { release } from 'node:os';
import { LoadError, UsageError, XdpsimError } from '../errors.js';
import type { Insn } from '../isa/insn.js';
import { BPF_PSEUDO_FUNC, OP_CALL, OP_LDDW } from '../isa/opcodes.js';
import { HELPER_NAMES } from '../helpers/ids.js';
import { MapRegistry } from '../maps/registry.js';
import { MapType, type BpfMap, type MapSpec } from '../maps/spec.js';
import { Memory } from '../vm/memory.js';
import { CODE_BASE, type Engine, type Executable } from '../vm/program.js';
import { kernelVersionCode, parseKconfigText, type KconfigValue } from './kconfig.js';
import { parseObject, type ObjectProgramSpec, type ObjectSpec, type ParseOptions } from './loader.js';

/**
 * GPL_ONLY_HELPERS lists helpers whose kernel func_proto has gpl_only = true, among those XDP and
 * TC programs can reach (kernel/trace/bpf_trace.c, net/core/filter.c, kernel/bpf/helpers.c).
 */
export const GPL_ONLY_HELPERS: ReadonlySet<string> = new Set([
  'probe_read',
  'trace_printk',
  'perf_event_output',
  'get_current_task',
  'probe_read_str',
  'skb_output',
  'probe_read_user',
  'probe_read_kernel',
  'probe_read_user_str',
  'probe_read_kernel_str',
  'xdp_output',
  'snprintf',
  'trace_vprintk',
]);

/** LoadObjectOptions configure loadObject. */
export interface LoadObjectOptions extends ParseOptions {
  /** VM memory to place maps in; a fresh Memory when absent. */
  mem?: Memory;
  /** Registry to create maps in; a new one over `mem` when absent. */
  registry?: MapRegistry;
  /** Simulated CPUs for a new registry (default 1). */
  cpus?: number;
  /** Fill __kconfig externs from this machine's kernel config (/proc/config.gz), as libbpf does. */
  hostKconfig?: boolean;
  /**
   * Load only these programs (libbpf's bpf_program__set_autoload(false) for the others); the
   * others are neither resolved nor registered, so one unsupported program does not stop the rest.
   */
  only?: readonly string[];
}

/** readHostKconfig reads the running kernel's configuration, or undefined when it is not exposed. */
export function readHostKconfig(): Record<string, KconfigValue> | undefined {
  const gz = '/proc/config.gz';
  const plain = `/boot/config-${release()}`;
  try {
    if (existsSync(gz)) return parseKconfigText(gunzipSync(readFileSync(gz)).toString('utf8'));
    if (existsSync(plain)) return parseKconfigText(readFileSync(plain, 'utf8'));
  } catch {
    return undefined;
  }
  return undefined;
}

/** LoadedObject is a loaded object: its spec, live maps and runnable programs by name. */
export interface LoadedObject {
  readonly spec: ObjectSpec;
  readonly programs: Map<string, ObjectProgramSpec>;
  readonly maps: Map<string, BpfMap>;
  readonly registry: MapRegistry;
  readonly mem: Memory;
}

/** loadObject reads (when given a path), parses and instantiates a BPF object. */
export function loadObject(pathOrBytes: string | Uint8Array, options: LoadObjectOptions = {}): LoadedObject {
  let bytes: Uint8Array;
  let opts = options;
  if (typeof pathOrBytes === 'string') {
    try {
      bytes = readFileSync(pathOrBytes);
    } catch (e) {
      throw new UsageError('E_OBJ_READ', `${pathOrBytes}: cannot read object: ${e instanceof Error ? e.message : String(e)}`, { file: pathOrBytes }, { cause: e });
    }
    if (opts.file === undefined) opts = { ...opts, file: pathOrBytes };
  } else {
    bytes = pathOrBytes;
  }
  // libbpf fills LINUX_KERNEL_VERSION from uname(2) unless told otherwise; so does loadObject.
  const hostVersion = process.platform === 'linux' ? kernelVersionCode(release()) : undefined;
  const host = options.hostKconfig === true ? readHostKconfig() : undefined;
  if (options.hostKconfig === true && host === undefined) {
    throw new UsageError('E_OBJ_KCONFIG', 'hostKconfig: this machine exposes no kernel config (/proc/config.gz or /boot/config-$(uname -r))', {});
  }
  opts = {
    ...opts,
    kconfig: { ...(hostVersion !== undefined ? { LINUX_KERNEL_VERSION: hostVersion } : {}), ...host, ...opts.kconfig },
  };
  const spec = parseObject(bytes, opts);
  const mem = options.mem ?? options.registry?.mem ?? new Memory();
  const registry = options.registry ?? new MapRegistry(mem, { cpus: options.cpus ?? 1 });
  return instantiate(spec, registry, options.only);
}

/** instantiate creates the maps of `spec` in `registry` and resolves every program against them. */
export function instantiate(spec: ObjectSpec, registry: MapRegistry, only?: readonly string[]): LoadedObject {
  for (const name of only ?? []) {
    if (!spec.programs.some((p) => p.name === name)) {
      throw new UsageError('E_NO_PROGRAM', `${spec.file}: no program ${name} (programs: ${spec.programs.map((p) => p.name).join(', ')})`, { file: spec.file, program: name });
    }
  }
  const chosen = spec.programs.filter((p) => only === undefined || only.includes(p.name));
  const refused = chosen.find((p) => p.refused !== undefined);
  if (refused?.refused !== undefined) throw refused.refused;
  const missing = spec.kconfig?.missing ?? [];
  if (missing.length > 0) {
    throw new LoadError('E_OBJ_KCONFIG', `${spec.file}: extern ${missing[0]} (kconfig): value not found (pass it in the kconfig option)`, { file: spec.file, symbol: missing[0] });
  }
  const maps = new Map<string, BpfMap>();
  for (const m of creationOrder(spec)) {
    const fixed: MapSpec = m.type === MapType.PERF_EVENT_ARRAY && m.maxEntries === 0 ? { ...m, maxEntries: registry.cpus } : m;
    try {
      maps.set(m.name, registry.create(fixed));
    } catch (e) {
      if (e instanceof XdpsimError) throw e.withContext(spec.file, { file: spec.file, symbol: m.name });
      throw e;
    }
  }
  const programs = new Map<string, ObjectProgramSpec>();
  for (const p of chosen) {
    const resolved = resolveProgram(spec, p, maps);
    programs.set(p.name, resolved);
    registry.registerProgram(p.name);
  }
  return { spec, programs, maps, registry, mem: registry.mem };
}

/** creationOrder puts maps named in another map's slots before that map (libbpf creates them first too). */
function creationOrder(spec: ObjectSpec): MapSpec[] {
  const byName = new Map(spec.maps.map((m) => [m.name, m]));
  const out: MapSpec[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (m: MapSpec): void => {
    if (done.has(m.name)) return;
    if (visiting.has(m.name)) throw new LoadError('E_OBJ_MAP_DEF', `${spec.file}: map ${m.name} refers to itself through its slots`, { file: spec.file, symbol: m.name });
    visiting.add(m.name);
    if (m.type === MapType.ARRAY_OF_MAPS || m.type === MapType.HASH_OF_MAPS) {
      for (const s of m.initialSlots ?? []) {
        const dep = byName.get(s.ref);
        if (dep !== undefined) visit(dep);
      }
    }
    visiting.delete(m.name);
    done.add(m.name);
    out.push(m);
  };
  spec.maps.forEach(visit);
  return out;
}

/** resolveProgram patches a program's lddw immediates and checks the GPL rule. */
export function resolveProgram(spec: ObjectSpec, p: ObjectProgramSpec, maps: ReadonlyMap<string, BpfMap>): ObjectProgramSpec {
  const insns: Insn[] = p.insns.map((x) => ({ ...x }));
  const where = { file: spec.file, program: p.name, section: p.section };
  for (const ref of p.mapRefs) {
    const map = maps.get(ref.map);
    if (map === undefined) throw new LoadError('E_OBJ_RELOCATION', `${spec.file}: program ${p.name}: insn ${ref.insn}: map ${ref.map} was not created`, { ...where, insn: ref.insn, symbol: ref.symbol });
    let addr: number;
    if (ref.kind === 'map') {
      addr = map.handle;
    } else {
      const base = map.lookupAddr(new Uint8Array(4), 0);
      if (base === 0) throw new LoadError('E_OBJ_RELOCATION', `${spec.file}: program ${p.name}: insn ${ref.insn}: ${ref.map} has no value 0`, { ...where, insn: ref.insn, symbol: ref.symbol });
      addr = base + ref.offset;
    }
    setImm64(insns, ref.insn, addr);
  }
  for (let i = 0; i < insns.length; i++) {
    const insn = insns[i];
    if (insn.opcode === OP_LDDW) {
      if (insn.src === BPF_PSEUDO_FUNC) setImm64(insns, i, CODE_BASE + 8 * (i + insn.imm + 1));
      i++;
    } else if (insn.opcode === OP_CALL && insn.src === 0 && !p.gplCompatible) {
      const name = HELPER_NAMES[insn.imm];
      if (name !== undefined && GPL_ONLY_HELPERS.has(name)) {
        throw new LoadError('E_GPL_ONLY', `${spec.file}: program ${p.name}: insn ${i}: cannot call GPL-restricted function bpf_${name} from a program with license "${p.license}"`, {
          ...where,
          insn: i,
          symbol: `bpf_${name}`,
        });
      }
    }
  }
  return { ...p, insns };
}

/** setImm64 stores a 32-bit address in an lddw pair and clears its pseudo source. */
function setImm64(insns: Insn[], i: number, addr: number): void {
  insns[i] = { ...insns[i], src: 0, imm: addr | 0 };
  insns[i + 1] = { ...insns[i + 1], imm: 0 };
}

/**
 * prepareObject prepares every loaded program with `engine` and registers each executable with
 * the registry, so PROG_ARRAY slots (declarative or set later) resolve to runnable programs.
 */
export function prepareObject(loaded: LoadedObject, engine: Engine): Map<string, Executable> {
  const out = new Map<string, Executable>();
  for (const [name, spec] of loaded.programs) {
    const exe = engine.prepare(spec);
    loaded.registry.registerProgram(name, exe);
    out.set(name, exe);
  }
  return out;
}
