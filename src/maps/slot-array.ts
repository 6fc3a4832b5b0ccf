/**
 * slot-array — storage shared by DEVMAP, CPUMAP and XSKMAP: u32 keys below max_entries, each
 * slot empty or holding a small value kept in a VM region that programs may read but not write
 * (the kernel forces BPF_F_RDONLY_PROG on these maps), as bpf_map_lookup_elem hands programs a
 * pointer to it. get_next_key walks every index like array_map_get_next_key.
 */
import type { MapErrno, MapSpec } from './spec.js';
import { Errno } from './errno.js';
import { MapBase, roundUp8, u32At, u32Bytes, type MapHost } from './base.js';
import type { Region } from '../vm/memory.js';

/** SlotArrayMap keeps present flags in JS and value bytes in VM memory. */
export abstract class SlotArrayMap extends MapBase {
  protected readonly present: Uint8Array;
  protected readonly region: Region;
  protected readonly stride: number;

  constructor(host: MapHost, spec: MapSpec, id: number) {
    super(host, spec, id);
    this.stride = roundUp8(spec.valueSize);
    this.present = new Uint8Array(spec.maxEntries);
    this.region = this.mem.map(this.valueKind(), spec.name, spec.maxEntries * this.stride, { readable: true, writable: false });
  }

  get count(): number {
    let n = 0;
    for (const p of this.present) n += p;
    return n;
  }

  /** slotAddr is the VM address of slot `index`'s value. */
  protected slotAddr(index: number): number {
    return this.region.start + index * this.stride;
  }

  /** store fills slot `index` with a value (value_size bytes). */
  protected store(index: number, value: Uint8Array): void {
    this.zeroValue(this.slotAddr(index), this.stride);
    this.mem.write(this.slotAddr(index), value.subarray(0, this.spec.valueSize));
    this.present[index] = 1;
  }

  /** clear empties slot `index`. */
  protected clear(index: number): void {
    this.present[index] = 0;
    this.zeroValue(this.slotAddr(index), this.stride);
  }

  lookupAddr(key: Uint8Array, _cpu: number): number {
    const index = u32At(key);
    return index < this.spec.maxEntries && this.present[index] === 1 ? this.slotAddr(index) : 0;
  }

  /** valueAt returns the stored value of slot `index`, or undefined when empty. */
  valueAt(index: number): Uint8Array | undefined {
    return index < this.spec.maxEntries && this.present[index] === 1 ? this.mem.copy(this.slotAddr(index), this.spec.valueSize) : undefined;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    this.checkKeySize(key);
    return this.valueAt(u32At(key));
  }

  /** delete clears a slot: index past the end -EINVAL, otherwise 0 even when empty (dev_map/cpu_map/xsk_map delete). */
  delete(key: Uint8Array): MapErrno {
    this.checkKeySize(key);
    const index = u32At(key);
    if (index >= this.spec.maxEntries) return -Errno.EINVAL;
    this.clear(index);
    return 0;
  }

  /** keys lists the occupied slots. */
  *keys(): IterableIterator<Uint8Array> {
    for (let i = 0; i < this.spec.maxEntries; i++) if (this.present[i] === 1) yield u32Bytes(i);
  }

  getNextKey(key: Uint8Array | undefined): Uint8Array | MapErrno {
    const index = key === undefined ? this.spec.maxEntries : u32At(key);
    if (index >= this.spec.maxEntries) return u32Bytes(0);
    if (index === this.spec.maxEntries - 1) return -Errno.ENOENT;
    return u32Bytes(index + 1);
  }
}
