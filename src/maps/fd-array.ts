/**
 * fd-array — what PROG_ARRAY, PERF_EVENT_ARRAY, CGROUP_ARRAY and ARRAY_OF_MAPS share
 * (kernel/bpf/arraymap.c, the fd_array_map_* ops): u32 keys below max_entries, slots that hold a
 * reference to a kernel object (user space passes an fd, reads back an id), BPF_ANY only.
 *
 * In xdpsim the user API passes and reads ids: program ids from MapRegistry.registerProgram,
 * map ids, CPU numbers for perf event readers, cgroup ids.
 */
import { BPF_ANY, MapFlag, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';
import { MapBase, mapCreateError, u32At, u32Bytes, type MapHost } from './base.js';
import { checkArraySpec } from './array.js';

/** checkFdArraySpec is fd_array_map_alloc_check: value_size 4, no program-side access flags, then the array checks. */
export function checkFdArraySpec(spec: MapSpec): void {
  if (spec.valueSize !== 4) throw mapCreateError(spec, Errno.EINVAL, `value_size ${spec.valueSize}, fd arrays need 4`);
  if ((spec.flags & (MapFlag.RDONLY_PROG | MapFlag.WRONLY_PROG)) !== 0) {
    throw mapCreateError(spec, Errno.EINVAL, 'BPF_F_RDONLY_PROG/BPF_F_WRONLY_PROG on an fd array');
  }
  checkArraySpec(spec, false);
}

/** FdArrayMap is the common implementation; T is what a slot holds. */
export abstract class FdArrayMap<T> extends MapBase {
  protected readonly slots: Array<T | undefined>;

  constructor(host: MapHost, spec: MapSpec, id: number) {
    checkFdArraySpec(spec);
    super(host, spec, id);
    this.slots = new Array<T | undefined>(spec.maxEntries).fill(undefined);
  }

  /** resolve turns a user-API u32 (an id) into a slot object, or a negative errno. */
  protected abstract resolve(value: number): T | MapErrno;
  /** idOf is the u32 the user API reads back for a slot object. */
  protected abstract idOf(obj: T): number;

  get count(): number {
    let n = 0;
    for (const s of this.slots) if (s !== undefined) n++;
    return n;
  }

  /** slot returns what slot `index` holds. */
  slot(index: number): T | undefined {
    return index < this.slots.length ? this.slots[index] : undefined;
  }

  /** setSlot stores an object (undefined clears); returns 0, or -E2BIG past max_entries. */
  setSlot(index: number, obj: T | undefined): MapErrno {
    if (index >= this.slots.length) return -Errno.E2BIG;
    this.slots[index] = obj;
    return 0;
  }

  lookupAddr(_key: Uint8Array, _cpu: number): number {
    return 0;
  }

  /** bpf_fd_array_map_update_elem: flags other than BPF_ANY -EINVAL, index past the end -E2BIG. */
  update(key: Uint8Array, value: Uint8Array, flags: number, _cpu?: number): MapErrno {
    this.checkKeySize(key);
    if (flags !== BPF_ANY) return -Errno.EINVAL;
    const index = u32At(key);
    if (index >= this.spec.maxEntries) return -Errno.E2BIG;
    this.checkValueSize(value);
    const obj = this.resolve(u32At(value));
    if (typeof obj === 'number') return obj;
    this.slots[index] = obj;
    return 0;
  }

  /** fd_array_map_delete_elem: index past the end -EINVAL, empty slot -ENOENT. */
  delete(key: Uint8Array): MapErrno {
    this.checkKeySize(key);
    const index = u32At(key);
    if (index >= this.spec.maxEntries) return -Errno.EINVAL;
    if (this.slots[index] === undefined) return -Errno.ENOENT;
    this.slots[index] = undefined;
    return 0;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    this.checkKeySize(key);
    const obj = this.slot(u32At(key));
    return obj === undefined ? undefined : u32Bytes(this.idOf(obj));
  }

  /** keys lists the occupied slots (the kernel's get_next_key walks every index; lookups of empty ones fail). */
  *keys(): IterableIterator<Uint8Array> {
    for (let i = 0; i < this.slots.length; i++) if (this.slots[i] !== undefined) yield u32Bytes(i);
  }

  /** array_map_get_next_key, shared by every array type. */
  getNextKey(key: Uint8Array | undefined): Uint8Array | MapErrno {
    const index = key === undefined ? this.spec.maxEntries : u32At(key);
    if (index >= this.spec.maxEntries) return u32Bytes(0);
    if (index === this.spec.maxEntries - 1) return -Errno.ENOENT;
    return u32Bytes(index + 1);
  }
}
