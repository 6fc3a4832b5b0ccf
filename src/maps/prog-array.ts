/**
 * prog-array — BPF_MAP_TYPE_PROG_ARRAY (kernel/bpf/arraymap.c, prog_array_map_ops): slots hold
 * programs for bpf_tail_call. A slot names a program registered in the MapRegistry (by name or
 * id); its executable may be attached later (MapRegistry.registerProgram), so objects whose
 * PROG_ARRAY is initialised declaratively can be wired before their programs are prepared.
 */
import type { Executable } from '../vm/program.js';
import type { MapErrno, MapSpec } from './spec.js';
import { Errno } from './errno.js';
import type { MapHost } from './base.js';
import { FdArrayMap } from './fd-array.js';

/** ProgRef is what a PROG_ARRAY slot holds: a registered program id. */
export interface ProgRef {
  readonly id: number;
}

/** ProgArrayMap is a PROG_ARRAY. */
export class ProgArrayMap extends FdArrayMap<ProgRef> {
  constructor(host: MapHost, spec: MapSpec, id: number) {
    super(host, spec, id);
  }

  protected resolve(value: number): ProgRef | MapErrno {
    return this.host.programById(value) === undefined ? -Errno.EBADF : { id: value };
  }

  protected idOf(obj: ProgRef): number {
    return obj.id;
  }

  /** setProgram stores a program (by name, registering it, or as an executable) in slot `index`. */
  setProgram(index: number, prog: string | Executable): MapErrno {
    const id = typeof prog === 'string' ? this.host.registerProgram(prog) : this.host.registerProgram(prog.spec.name, prog);
    return this.setSlot(index, { id });
  }

  // Every slot change goes through these three (FdArrayMap writes `slots` nowhere else); each
  // tells the host, so tail-call resolvers (helpers/tail-call.ts) drop their cached results.
  override setSlot(index: number, obj: ProgRef | undefined): MapErrno {
    const r = super.setSlot(index, obj);
    this.host.tailCallsChanged();
    return r;
  }

  override update(key: Uint8Array, value: Uint8Array, flags: number, cpu?: number): MapErrno {
    const r = super.update(key, value, flags, cpu);
    this.host.tailCallsChanged();
    return r;
  }

  override delete(key: Uint8Array): MapErrno {
    const r = super.delete(key);
    this.host.tailCallsChanged();
    return r;
  }

  /** programName returns the name of the program in slot `index`. */
  programName(index: number): string | undefined {
    const ref = this.slot(index);
    return ref === undefined ? undefined : this.host.programById(ref.id)?.name;
  }

  /** executable returns the executable in slot `index`, undefined when empty or not yet prepared. */
  executable(index: number): Executable | undefined {
    const ref = this.slot(index);
    return ref === undefined ? undefined : this.host.programById(ref.id)?.exe;
  }

  override setSlotRef(index: number, ref: string): string | undefined {
    if (index >= this.spec.maxEntries) return `index past max_entries ${this.spec.maxEntries}`;
    this.setProgram(index, ref);
    return undefined;
  }
}
