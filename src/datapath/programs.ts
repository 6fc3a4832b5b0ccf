/**
 * programs — the BPF objects of a replay and the programs taken from them: `OBJ[:PROG]`
 * references resolved by program or section name, each object loaded once (libbpf would load a
 * file once and attach its programs where asked), every program prepared by the chosen engine
 * with its own RunEnv (helpers bound to its object's maps, its license and program type).
 *
 * All objects share one VM Memory, so the xdp_buff / sk_buff regions a hook builds are valid for
 * every program; each object keeps its own MapRegistry (maps of different objects are different
 * maps, as in the kernel, even when they share a name). Programs run through `BoundProgram.exec`,
 * which adopts the calling env's hook state and CPU and runs on the program's own env — so one
 * TC chain may mix programs of several objects.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError, VerifyError } from '../errors.js';
import { VerifyCode } from '../isa/validate.js';
import { progTypeName } from '../object/sections.js';
import { loadObject, type LoadedObject } from '../object/instantiate.js';
import type { ObjectProgramSpec } from '../object/loader.js';
import { Memory } from '../vm/memory.js';
import { createRunEnv } from '../vm/run.js';
import type { Engine, Executable, RunEnv, RunResult } from '../vm/program.js';
import type { VmFault } from '../vm/fault.js';
import { findUnavailableHelperCall, makeHelperTable } from '../helpers/table.js';
import { makeTailCallResolver } from '../helpers/tail-call.js';
import { packetHelperDefs } from '../helpers/skb.js';
import type { HelperServices } from '../helpers/services.js';
import { hookPacketBytes } from '../hooks/state.js';
import { ProgType } from '../hooks/tc.js';
import type { BpfMap } from '../maps/spec.js';
import type { MapRegistry } from '../maps/registry.js';
import { releaseHeldLock } from '../helpers/lock.js';

/** ProgramRef is a parsed `OBJ[:PROG]`. */
export interface ProgramRef {
  readonly file: string;
  /** Program name or section name; absent: the first program of the wanted kind. */
  readonly program?: string;
}

/** HookKind is what a program is attached as. */
export type HookKind = 'xdp' | 'tc';

/**
 * parseProgramRef splits `OBJ[:PROG]`: when the whole text names an existing file it is the
 * object; otherwise the part after the last ':' is the program or section name.
 */
export function parseProgramRef(text: string): ProgramRef {
  if (existsSync(text)) return { file: text };
  const colon = text.lastIndexOf(':');
  if (colon <= 0 || colon === text.length - 1) return { file: text };
  return { file: text.slice(0, colon), program: text.slice(colon + 1) };
}

/** BoundProgram is one program ready to attach. */
export interface BoundProgram {
  readonly name: string;
  readonly section: string;
  readonly progType: number;
  readonly spec: ObjectProgramSpec;
  readonly object: LoadedObject;
  /** The program's own env (helpers of its object and type). */
  readonly env: RunEnv;
  /** Runs on `env`, taking hook state and CPU from whichever env the hook passes. */
  readonly exec: Executable;
}

/** ProgramSetOptions configure a ProgramSet. */
export interface ProgramSetOptions {
  readonly engine: Engine;
  readonly services: HelperServices;
  /** Simulated CPUs (per-CPU maps, cpumap targets). */
  readonly cpus: number;
  /** Tells devmap updates which ifindexes exist. */
  readonly ifindexExists?: (ifindex: number) => boolean;
  /** VM memory to use (a shared-mode one for replay --workers); a new Memory when absent. */
  readonly mem?: Memory;
}

interface ObjectEntry {
  readonly obj: LoadedObject;
  readonly raw: Map<string, Executable>;
  readonly bound: Map<string, BoundProgram>;
}

const PACKET_TYPES: readonly number[] = [ProgType.XDP, ProgType.SCHED_CLS, ProgType.SCHED_ACT];

/** ProgramSet owns the loaded objects of a replay and their programs. */
export class ProgramSet {
  /** mem is the VM memory every object and hook shares. */
  readonly mem: Memory;
  private readonly objects = new Map<string, ObjectEntry>();
  private readonly services: HelperServices;

  constructor(private readonly opts: ProgramSetOptions) {
    this.mem = opts.mem ?? new Memory();
    this.services = { ...opts.services, packetBytes: hookPacketBytes };
  }

  /** loaded lists the loaded objects in load order. */
  loaded(): LoadedObject[] {
    return [...this.objects.values()].map((e) => e.obj);
  }

  /** registries lists every object's map registry. */
  registries(): MapRegistry[] {
    return this.loaded().map((o) => o.registry);
  }

  /** resolveMap finds the map behind a handle in any object. */
  resolveMap(handle: number): BpfMap | undefined {
    for (const e of this.objects.values()) {
      const m = e.obj.registry.byHandle(handle);
      if (m !== undefined) return m;
    }
    return undefined;
  }

  /** registryOf returns the registry holding `map`. */
  registryOf(map: BpfMap): MapRegistry | undefined {
    for (const e of this.objects.values()) if (e.obj.registry.byHandle(map.handle) === map) return e.obj.registry;
    return undefined;
  }

  /** programById returns the bound program a devmap/cpumap value names by id, in `registry`'s object. */
  programById(registry: MapRegistry, id: number): BoundProgram | undefined {
    for (const e of this.objects.values()) {
      if (e.obj.registry !== registry) continue;
      const slot = registry.programById(id);
      return slot === undefined ? undefined : this.bind(e, slot.name);
    }
    return undefined;
  }

  /** sourceLine gives the C source line of instruction `insn` of program `name`, when BTF line info has it. */
  sourceLine(name: string, insn: number): string | undefined {
    for (const e of this.objects.values()) {
      const s = e.obj.programs.get(name);
      if (s?.lineInfo !== undefined) return s.lineInfo.get(insn);
    }
    return undefined;
  }

  /** describeFault fills in a fault's source line from BTF when the engine did not. */
  describeFault(f: VmFault): VmFault {
    if (f.source !== undefined) return f;
    const line = this.sourceLine(f.program, f.insn);
    return line === undefined ? f : { ...f, source: line };
  }

  /** load resolves `ref` to a program of the wanted kind, loading its object on first use. */
  load(ref: ProgramRef, kind: HookKind): BoundProgram {
    const entry = this.object(ref.file);
    const all = [...entry.obj.programs.values()];
    const fits = (p: ObjectProgramSpec): boolean =>
      kind === 'xdp' ? p.progType === ProgType.XDP : p.progType === ProgType.SCHED_CLS || p.progType === ProgType.SCHED_ACT || p.progType === 0;
    const list = all.map((p) => `${p.name} (section ${p.section})`).join(', ');
    let spec: ObjectProgramSpec | undefined;
    if (ref.program !== undefined) {
      spec = entry.obj.programs.get(ref.program) ?? all.find((p) => p.section === ref.program);
      if (spec === undefined) {
        throw new UsageError('E_PROGRAM_NOT_FOUND', `${ref.file}: no program or section "${ref.program}" (programs: ${list || 'none'})`, { file: ref.file, program: ref.program });
      }
      if (!fits(spec)) {
        throw new UsageError('E_PROGRAM_TYPE', `${ref.file}: ${spec.name} (section ${spec.section}) is not ${kind === 'xdp' ? 'an XDP' : 'a TC'} program`, { file: ref.file, program: spec.name });
      }
    } else {
      spec = all.find(fits);
      if (spec === undefined) {
        throw new UsageError('E_PROGRAM_NOT_FOUND', `${ref.file}: no ${kind === 'xdp' ? 'XDP' : 'TC'} program (programs: ${list || 'none'})`, { file: ref.file });
      }
    }
    return this.bind(entry, spec.name);
  }

  private object(file: string): ObjectEntry {
    const key = resolve(file);
    const have = this.objects.get(key);
    if (have !== undefined) return have;
    const obj = loadObject(file, { mem: this.mem, cpus: this.opts.cpus });
    if (this.opts.ifindexExists !== undefined) obj.registry.ifindexExists = this.opts.ifindexExists;
    const raw = new Map<string, Executable>();
    for (const [name, spec] of obj.programs) {
      const exec = this.opts.engine.prepare(spec);
      raw.set(name, exec);
      obj.registry.registerProgram(name, exec);
    }
    const e: ObjectEntry = { obj, raw, bound: new Map() };
    this.objects.set(key, e);
    return e;
  }

  private bind(e: ObjectEntry, name: string): BoundProgram {
    const have = e.bound.get(name);
    if (have !== undefined) return have;
    const spec = e.obj.programs.get(name);
    const raw = e.raw.get(name);
    if (spec === undefined || raw === undefined) throw new Error(`programs: ${name} is not in ${e.obj.spec.file}`);
    const progType = PACKET_TYPES.includes(spec.progType) ? spec.progType : ProgType.SCHED_CLS;
    const helpers = makeHelperTable(e.obj.registry, this.services, { license: spec.license, progType, extra: packetHelperDefs() });
    const bad = findUnavailableHelperCall(spec.insns, helpers);
    if (bad !== undefined) {
      const file = e.obj.spec.file;
      throw new VerifyError(
        VerifyCode.UnknownHelper,
        `${file}: section ${spec.section}: program ${name}: instruction ${bad.insn}: calls ${bad.name} (#${bad.helper}), which ${progTypeName(progType)} programs with license "${spec.license}" cannot call`,
        { file, section: spec.section, program: name, insn: bad.insn, helper: bad.helper },
      );
    }
    const env = createRunEnv(this.mem, { helpers, tailCall: makeTailCallResolver(e.obj.registry) });
    env.cpu = 0;
    const exec: Executable = {
      spec: raw.spec,
      run(caller: RunEnv, arg1: number, arg2?: number): RunResult {
        // Tail calls and callbacks re-enter with the program's own env: the outermost run releases.
        if (caller === env) return raw.run(env, arg1, arg2);
        env.hook = caller.hook;
        env.cpu = caller.cpu;
        const r = raw.run(env, arg1, arg2);
        env.hook = undefined;
        // r0 in the caller's register file too, as every Executable leaves it (r0u32).
        caller.regs[0] = env.regs[0];
        caller.regs[1] = env.regs[1];
        // A run that faulted holding a bpf_spin_lock (the helpers key it by this env) must not
        // leave it held for the next frame: the kernel's verifier never lets a program end so.
        if (!r.ok) releaseHeldLock(env);
        return r;
      },
    };
    const b: BoundProgram = { name, section: spec.section, progType, spec, object: e.obj, env, exec };
    e.bound.set(name, b);
    return b;
  }
}
