/**
 * array — BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY (kernel/bpf/arraymap.c).
 *
 * One VM region holds max_entries elements of round_up(value_size, 8) bytes (per-CPU: one copy
 * per simulated CPU, element-major), all present and zeroed from creation. Global data
 * (.data/.rodata/.bss/.kconfig) are ARRAY maps with one element whose value 0 the loader
 * initialises; `valueAddress(0) + off` is the pointer BPF_PSEUDO_MAP_VALUE loads.
 */
import { BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, MapFlag, MapType, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';
import {
  BPF_F_ACCESS_MASK,
  KMALLOC_MAX_SIZE,
  PCPU_MIN_UNIT_SIZE,
  MapBase,
  checkAccessFlags,
  checkFlagMask,
  mapCreateError,
  roundUp8,
  u32At,
  u32Bytes,
  valueRegionAccess,
  type ForEachEntry,
  type MapHost,
} from './base.js';
import type { Region } from '../vm/memory.js';

/** ARRAY_CREATE_FLAG_MASK of arraymap.c. */
const ARRAY_CREATE_FLAG_MASK =
  MapFlag.NUMA_NODE | MapFlag.MMAPABLE | BPF_F_ACCESS_MASK | MapFlag.PRESERVE_ELEMS | MapFlag.INNER_MAP;

/**
 * checkArraySpec is array_map_alloc_check: key_size 4, value_size > 0, max_entries > 0, the
 * array flag mask, no NUMA node or mmap for per-CPU arrays, size limits (-E2BIG).
 */
export function checkArraySpec(spec: MapSpec, perCpu: boolean): void {
  const plainArray = spec.type === MapType.ARRAY;
  if (spec.maxEntries === 0) throw mapCreateError(spec, Errno.EINVAL, 'max_entries is 0');
  if (spec.keySize !== 4) throw mapCreateError(spec, Errno.EINVAL, `key_size ${spec.keySize}, arrays need 4`);
  if (spec.valueSize === 0) throw mapCreateError(spec, Errno.EINVAL, 'value_size is 0');
  checkFlagMask(spec, ARRAY_CREATE_FLAG_MASK);
  checkAccessFlags(spec);
  if (perCpu && (spec.flags & MapFlag.NUMA_NODE) !== 0) {
    throw mapCreateError(spec, Errno.EINVAL, 'BPF_F_NUMA_NODE on a per-CPU array');
  }
  if (perCpu && (spec.flags & MapFlag.MMAPABLE) !== 0) {
    throw mapCreateError(spec, Errno.EINVAL, 'BPF_F_MMAPABLE on a per-CPU array');
  }
  if (!plainArray && (spec.flags & (MapFlag.MMAPABLE | MapFlag.INNER_MAP)) !== 0) {
    throw mapCreateError(spec, Errno.EINVAL, 'BPF_F_MMAPABLE and BPF_F_INNER_MAP are for plain arrays');
  }
  if (spec.type !== MapType.PERF_EVENT_ARRAY && (spec.flags & MapFlag.PRESERVE_ELEMS) !== 0) {
    throw mapCreateError(spec, Errno.EINVAL, 'BPF_F_PRESERVE_ELEMS is for perf event arrays');
  }
  if (spec.valueSize > KMALLOC_MAX_SIZE) throw mapCreateError(spec, Errno.E2BIG, `value_size ${spec.valueSize} too large`);
  if (perCpu && roundUp8(spec.valueSize) > PCPU_MIN_UNIT_SIZE) {
    throw mapCreateError(spec, Errno.E2BIG, `per-CPU value_size ${spec.valueSize} above ${PCPU_MIN_UNIT_SIZE}`);
  }
}

/** ArrayMap is ARRAY (perCpu false) or PERCPU_ARRAY (perCpu true). */
export class ArrayMap extends MapBase {
  override readonly perCpu: boolean;
  /** elemSize is round_up(value_size, 8), the kernel's element stride. */
  readonly elemSize: number;
  /** region holds every value. */
  readonly region: Region;
  private readonly copies: number;
  /**
   * indexStride and cpuStride give the direct address of a value, region.start + index *
   * indexStride + cpu * cpuStride (cpuStride 0 for a plain array): what bpf_map_lookup_elem
   * computes without a call per lookup (src/helpers/map.ts), like the verifier's inlined
   * array_map_gen_lookup / percpu_array_map_gen_lookup.
   */
  readonly indexStride: number;
  readonly cpuStride: number;

  constructor(host: MapHost, spec: MapSpec, id: number, perCpu: boolean) {
    checkArraySpec(spec, perCpu);
    super(host, spec, id);
    this.perCpu = perCpu;
    this.elemSize = roundUp8(spec.valueSize);
    this.copies = perCpu ? host.cpus : 1;
    this.indexStride = this.elemSize * this.copies;
    this.cpuStride = perCpu ? this.elemSize : 0;
    const bytes = spec.maxEntries * this.elemSize * this.copies;
    if (bytes >= 0xffff_f000) throw mapCreateError(spec, Errno.ENOMEM, `${bytes} bytes of values`);
    try {
      this.region = this.mem.map(this.valueKind(), spec.name, bytes, valueRegionAccess(spec));
    } catch (e) {
      if (e instanceof RangeError) throw mapCreateError(spec, Errno.ENOMEM, e.message);
      throw e;
    }
    if (spec.initialValue !== undefined) {
      if (spec.initialValue.length > spec.valueSize) {
        throw mapCreateError(spec, Errno.EINVAL, `initial value of ${spec.initialValue.length} bytes, value_size is ${spec.valueSize}`);
      }
      this.mem.write(this.region.start, spec.initialValue);
    }
  }

  /** valueAddress is the VM address of element `index` (its copy on `cpu` for per-CPU arrays). */
  valueAddress(index: number, cpu = 0): number {
    return this.region.start + (index * this.copies + cpu) * this.elemSize;
  }

  get count(): number {
    return this.spec.maxEntries;
  }

  lookupAddr(key: Uint8Array, cpu: number): number {
    return this.lookupAddrAt(key, 0, cpu);
  }

  override lookupAddrAt(u8: Uint8Array, off: number, cpu: number): number {
    const index = u32At(u8, off);
    if (index >= this.spec.maxEntries) return 0;
    return this.region.start + (index * this.copies + (this.perCpu ? cpu : 0)) * this.elemSize;
  }

  /** array_map_update_elem / bpf_percpu_array_update: flags > BPF_EXIST -EINVAL, NOEXIST -EEXIST, index -E2BIG. */
  update(key: Uint8Array, value: Uint8Array, flags: number, cpu?: number): MapErrno {
    this.checkKeySize(key);
    if ((flags & ~BPF_F_LOCK) > BPF_EXIST) return -Errno.EINVAL;
    const index = u32At(key);
    if (index >= this.spec.maxEntries) return -Errno.E2BIG;
    if ((flags & BPF_NOEXIST) !== 0) return -Errno.EEXIST;
    if (this.lockFlagInvalid(flags)) return -Errno.EINVAL;
    if (this.perCpu && (flags & BPF_F_LOCK) !== 0) return -Errno.EINVAL;
    if (!this.perCpu) {
      this.checkValueSize(value);
      this.writeValue(this.valueAddress(index), value);
    } else if (cpu !== undefined) {
      this.checkValueSize(value);
      this.writeValue(this.valueAddress(index, cpu), value);
    } else {
      const values = this.splitPerCpu(value);
      for (let c = 0; c < this.cpus; c++) this.writeValue(this.valueAddress(index, c), values[c]);
    }
    return 0;
  }

  /** updatePerCpu stores one value per CPU (user API of per-CPU arrays). */
  updatePerCpu(key: Uint8Array, values: readonly Uint8Array[], flags: number): MapErrno {
    if (values.length !== this.cpus) return -Errno.EINVAL;
    const joined = new Uint8Array(this.elemSize * this.cpus);
    values.forEach((v, c) => joined.set(v.subarray(0, this.spec.valueSize), c * this.elemSize));
    return this.update(key, joined, flags);
  }

  /** delete is refused for arrays (array_map_delete_elem: -EINVAL). */
  delete(_key: Uint8Array): MapErrno {
    return -Errno.EINVAL;
  }

  lookup(key: Uint8Array): Uint8Array | Uint8Array[] | undefined {
    this.checkKeySize(key);
    const index = u32At(key);
    if (index >= this.spec.maxEntries) return undefined;
    if (!this.perCpu) return this.mem.copy(this.valueAddress(index), this.spec.valueSize);
    return Array.from({ length: this.cpus }, (_, c) => this.mem.copy(this.valueAddress(index, c), this.spec.valueSize));
  }

  *keys(): IterableIterator<Uint8Array> {
    for (let i = 0; i < this.spec.maxEntries; i++) yield u32Bytes(i);
  }

  /** array_map_get_next_key: absent or out-of-range key → 0; last → -ENOENT. */
  getNextKey(key: Uint8Array | undefined): Uint8Array | MapErrno {
    const index = key === undefined ? this.spec.maxEntries : u32At(key);
    if (index >= this.spec.maxEntries) return u32Bytes(0);
    if (index === this.spec.maxEntries - 1) return -Errno.ENOENT;
    return u32Bytes(index + 1);
  }

  override forEachEntries(cpu: number): ForEachEntry[] {
    const out: ForEachEntry[] = [];
    for (let i = 0; i < this.spec.maxEntries; i++) {
      out.push({ key: u32Bytes(i), valueAddr: this.valueAddress(i, this.perCpu ? cpu : 0) });
    }
    return out;
  }
}
