/**
 * base — what every map type shares: the handle region, value arenas in VM memory, key encoding,
 * the kernel's common map_create checks, and the MapBase class the map types extend.
 *
 * Value storage: each map reserves value slots in VM memory (RegionKind.MapValue, or GlobalData
 * for libbpf's .data/.bss/.rodata/.kconfig maps) so a program writes through the pointer a lookup
 * returns. The kernel preallocates hash elements unless BPF_F_NO_PREALLOC; here arenas grow on
 * demand in geometrically sized chunks (few regions, no up-front cost for max_entries = 1M) —
 * the difference is invisible to programs and users except for memory use.
 */
import { LoadError, UsageError } from '../errors.js';
import { RegionKind, type Memory, type Region } from '../vm/memory.js';
import type { Executable } from '../vm/program.js';
import { BPF_F_LOCK, MapFlag, type BpfMap, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';

/** MAX_BPF_STACK bounds hash keys: programs build keys on their 512-byte stack. */
export const MAX_BPF_STACK = 512;
/** KMALLOC_MAX_SIZE on x86_64 with 4 KiB pages (MAX_PAGE_ORDER 10): 4 MiB. */
export const KMALLOC_MAX_SIZE = 1 << 22;
/** PCPU_MIN_UNIT_SIZE bounds per-CPU values (include/linux/percpu.h): 32 KiB. */
export const PCPU_MIN_UNIT_SIZE = 32 << 10;
/** BPF_F_ACCESS_MASK: RDONLY | WRONLY | RDONLY_PROG | WRONLY_PROG. */
export const BPF_F_ACCESS_MASK = MapFlag.RDONLY | MapFlag.WRONLY | MapFlag.RDONLY_PROG | MapFlag.WRONLY_PROG;

/** MapHost is what a map needs from its registry: memory, CPU count, other maps, programs. */
export interface MapHost {
  readonly mem: Memory;
  readonly cpus: number;
  /** mapById resolves a map id (the user API's name for inner maps). */
  mapById(id: number): MapBase | undefined;
  /** byName resolves a map name (declarative map-in-map slots). */
  byName(name: string): MapBase | undefined;
  /**
   * registerProgram returns the id of a program name, registering it when new (PROG_ARRAY slots),
   * and attaches `exe` to it when given.
   */
  registerProgram(name: string, exe?: Executable): number;
  /** programById returns a registered program's name and executable. */
  programById(id: number): { readonly id: number; readonly name: string; readonly exe: Executable | undefined } | undefined;
  /** tailCallsChanged says a PROG_ARRAY slot changed (tail-call resolvers drop what they cached). */
  tailCallsChanged(): void;
}

/** mapCreateError builds the LoadError that map creation raises: code E_MAP_CREATE, the kernel's errno. */
export function mapCreateError(spec: MapSpec, errno: number, reason: string): LoadError {
  return new LoadError('E_MAP_CREATE', `map ${spec.name}: ${reason}`, {
    symbol: spec.name,
    mapType: spec.type,
    errno: -errno,
  });
}

/** checkAccessFlags is bpf_map_flags_access_ok: RDONLY with WRONLY (user or prog side) is -EINVAL. */
export function checkAccessFlags(spec: MapSpec): void {
  const f = spec.flags;
  if ((f & MapFlag.RDONLY) !== 0 && (f & MapFlag.WRONLY) !== 0) {
    throw mapCreateError(spec, Errno.EINVAL, 'BPF_F_RDONLY and BPF_F_WRONLY together');
  }
  if ((f & MapFlag.RDONLY_PROG) !== 0 && (f & MapFlag.WRONLY_PROG) !== 0) {
    throw mapCreateError(spec, Errno.EINVAL, 'BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together');
  }
}

/** checkFlagMask refuses map flags outside `allowed` with -EINVAL, naming the bits. */
export function checkFlagMask(spec: MapSpec, allowed: number): void {
  const bad = spec.flags & ~allowed;
  if (bad !== 0) {
    throw mapCreateError(spec, Errno.EINVAL, `map_flags 0x${bad.toString(16)} not allowed for this map type`);
  }
}

/** roundUp8 is round_up(n, 8), the per-element stride the kernel uses for array and per-CPU values. */
export function roundUp8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * keyString encodes key bytes as a JS string (one char per byte) for use as a Map key.
 * Measured cheaper than hex for the 4-16 byte keys packet programs use.
 */
export function keyString(key: Uint8Array, len: number = key.length): string {
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(key[i]);
  return s;
}

/** MapKey is how hash-like maps index keys: a number for keys up to 6 bytes, a string otherwise. */
export type MapKey = string | number;

/**
 * mapKey encodes key bytes [off, off+len) of `b` as a MapKey: keys of at most 6 bytes (every
 * 4-byte IPv4/u32 key) as an exact integer, which a Map hashes without building a string.
 * Measured on the lookup helper path: about half the cost of keyString for 4-byte keys.
 */
export function mapKey(b: Uint8Array, off: number, len: number): MapKey {
  if (len === 4) return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
  if (len <= 6) {
    let v = 0;
    for (let i = len - 1; i >= 0; i--) v = v * 256 + b[off + i];
    return v;
  }
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(b[off + i]);
  return s;
}

/** u32At reads a little-endian u32 from the start of `b` (array indexes, ids). */
export function u32At(b: Uint8Array, off = 0): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

/** u32Bytes encodes a u32 little-endian. */
export function u32Bytes(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/** isGlobalDataName tells whether a map name is one of libbpf's global-data maps (x.bss, x.rodata.str1.1, ...). */
export function isGlobalDataName(name: string): boolean {
  return /\.(bss|data|rodata|kconfig)(\.|$)/.test(name);
}

/** valueRegionAccess gives the program-side permissions of a map's value regions. */
export function valueRegionAccess(spec: MapSpec): { readable: boolean; writable: boolean } {
  const rdonly = spec.readonlyForProgram === true || (spec.flags & MapFlag.RDONLY_PROG) !== 0;
  const wronly = (spec.flags & MapFlag.WRONLY_PROG) !== 0;
  return { readable: !wronly, writable: !rdonly };
}

/**
 * SlotArena hands out fixed-size value slots in VM memory. Chunks grow geometrically (the first
 * holds up to 64 KiB of slots, each next one as many slots as all before it) up to `capacity`.
 * Released slots are reused last-in first-out, like the kernel's per-CPU freelists.
 */
export class SlotArena {
  readonly regions: Region[] = [];
  private readonly free: number[] = [];
  private allocated = 0;
  private nextInChunk = 0;
  private chunkEnd = 0;

  constructor(
    private readonly mem: Memory,
    private readonly kind: RegionKind,
    private readonly name: string,
    readonly slotSize: number,
    readonly capacity: number,
    private readonly access: { readable: boolean; writable: boolean },
  ) {}

  /** alloc returns a zeroed-at-first-use slot address, or 0 when all `capacity` slots are in use. */
  alloc(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.nextInChunk >= this.chunkEnd) {
      if (this.allocated >= this.capacity) return 0;
      const first = Math.max(1, Math.floor(0x10000 / this.slotSize));
      const want = this.allocated === 0 ? first : Math.max(first, this.allocated);
      const slots = Math.min(this.capacity - this.allocated, want);
      const region = this.mem.map(this.kind, this.name, slots * this.slotSize, this.access);
      this.regions.push(region);
      this.allocated += slots;
      this.nextInChunk = region.start;
      this.chunkEnd = region.start + slots * this.slotSize;
    }
    const addr = this.nextInChunk;
    this.nextInChunk += this.slotSize;
    return addr;
  }

  /** release returns a slot for reuse. */
  release(addr: number): void {
    this.free.push(addr);
  }
}

/** ForEachEntry is one element as bpf_for_each_map_elem hands it to a callback. */
export interface ForEachEntry {
  key: Uint8Array;
  /** VM address of the value (this CPU's copy for per-CPU maps). */
  valueAddr: number;
}

/**
 * MapBase is the common implementation of BpfMap. Subclasses implement the kernel's map ops;
 * the user API (lookup/update/delete/keys/getNextKey) and the program side (lookupAddr, update
 * with `cpu`) share them, as the kernel's syscall and helper paths share map->ops.
 */
export abstract class MapBase implements BpfMap {
  readonly handle: number;
  readonly mem: Memory;
  readonly cpus: number;
  /** perCpu is true for PERCPU_* and LRU_PERCPU_HASH maps. */
  readonly perCpu: boolean = false;

  constructor(
    readonly host: MapHost,
    readonly spec: MapSpec,
    /** id is the map's id, unique in its registry, as the kernel's map ids are (bpftool "id"). */
    readonly id: number,
  ) {
    this.mem = host.mem;
    this.cpus = host.cpus;
    this.handle = host.mem.map(RegionKind.MapValue, `${spec.name} (map)`, 8, { readable: false, writable: false }).start;
  }

  /** valueKind is the region kind of this map's values. */
  protected valueKind(): RegionKind {
    return isGlobalDataName(this.spec.name) ? RegionKind.GlobalData : RegionKind.MapValue;
  }

  /** newArena creates a value arena with this map's program-side permissions. */
  protected newArena(slotSize: number, capacity: number): SlotArena {
    return new SlotArena(this.mem, this.valueKind(), this.spec.name, slotSize, capacity, valueRegionAccess(this.spec));
  }

  abstract lookupAddr(key: Uint8Array, cpu: number): number;

  /**
   * lookupAddrAt is lookupAddr for a key that sits at `off` in `u8` (VM memory), without making a
   * view of it: the map helpers' fast path. Maps override it where it saves work.
   */
  lookupAddrAt(u8: Uint8Array, off: number, cpu: number): number {
    return this.lookupAddr(u8.subarray(off, off + this.spec.keySize), cpu);
  }
  abstract update(key: Uint8Array, value: Uint8Array, flags: number, cpu?: number): MapErrno;
  abstract delete(key: Uint8Array): MapErrno;
  abstract lookup(key: Uint8Array): Uint8Array | Uint8Array[] | undefined;
  abstract keys(): IterableIterator<Uint8Array>;

  /**
   * getNextKey is BPF_MAP_GET_NEXT_KEY: the key after `key` in iteration order, the first key when
   * `key` is undefined (or, for most types, absent), or a negative errno (-ENOENT at the end).
   */
  abstract getNextKey(key: Uint8Array | undefined): Uint8Array | MapErrno;

  /** count is the number of present entries. */
  abstract get count(): number;

  /**
   * forEachEntries lists the elements bpf_for_each_map_elem visits, or undefined when the map
   * type has no map_for_each_callback (the verifier refuses the helper for it).
   */
  forEachEntries(_cpu: number): ForEachEntry[] | undefined {
    return undefined;
  }

  /**
   * writeValue copies a value into a slot the way copy_map_value does: value_size bytes, except
   * the 4-byte bpf_spin_lock word, which updates never overwrite.
   */
  protected writeValue(addr: number, value: Uint8Array): void {
    const size = this.spec.valueSize;
    const lock = this.spec.spinLockOffset;
    const u8 = this.mem.u8;
    if (lock === undefined) {
      u8.set(value.subarray(0, size), addr);
      return;
    }
    u8.set(value.subarray(0, lock), addr);
    u8.set(value.subarray(lock + 4, size), addr + lock + 4);
  }

  /** zeroValue clears a slot (zero_map_value), keeping nothing. */
  protected zeroValue(addr: number, size = this.spec.valueSize): void {
    this.mem.u8.fill(0, addr, addr + size);
  }

  /**
   * splitPerCpu turns a user-API value for a per-CPU map into one value per CPU. It accepts the
   * kernel's syscall layout (round_up(value_size, 8) bytes per possible CPU, concatenated) or one
   * value_size value, which is stored on every CPU (as `bpftool map update` does).
   */
  protected splitPerCpu(value: Uint8Array): Uint8Array[] {
    const size = this.spec.valueSize;
    const stride = roundUp8(size);
    if (value.length >= stride * this.cpus) {
      return Array.from({ length: this.cpus }, (_, c) => value.subarray(c * stride, c * stride + size));
    }
    this.checkValueSize(value);
    return Array.from({ length: this.cpus }, () => value.subarray(0, size));
  }

  /** lockFlagInvalid is the BPF_F_LOCK rule: allowed only when the value holds a bpf_spin_lock. */
  protected lockFlagInvalid(flags: number): boolean {
    return (flags & BPF_F_LOCK) !== 0 && this.spec.spinLockOffset === undefined;
  }

  /**
   * setSlotRef applies one declarative slot (libbpf `.values`): a program name for PROG_ARRAY, a
   * map name for map-in-map. Returns undefined on success or why it failed.
   */
  setSlotRef(_index: number, _ref: string): string | undefined {
    return `map type ${this.spec.type} has no declarative slots`;
  }

  /**
   * lookupAndDelete is BPF_MAP_LOOKUP_AND_DELETE_ELEM: the value(s) of `key`, removed from the
   * map; -ENOENT when absent, -ENOTSUPP for map types without it (the kernel has it for the hash
   * family and, as pop, for queues and stacks).
   */
  lookupAndDelete(_key: Uint8Array): Uint8Array | Uint8Array[] | MapErrno {
    return -Errno.ENOTSUPP;
  }

  /** lookupErrno is the user lookup with the kernel's errno for misses (-ENOENT by default). */
  lookupErrno(key: Uint8Array): Uint8Array | Uint8Array[] | MapErrno {
    return this.lookup(key) ?? -Errno.ENOENT;
  }

  /** checkKeySize throws UsageError when a user-API key has the wrong size (a host bug, not a map errno). */
  protected checkKeySize(key: Uint8Array): void {
    if (key.length < this.spec.keySize) {
      throw new UsageError('E_MAP_KEY_SIZE', `map ${this.spec.name}: key of ${key.length} bytes, key_size is ${this.spec.keySize}`, {
        symbol: this.spec.name,
      });
    }
  }

  /** checkValueSize throws UsageError when a user-API value has the wrong size. */
  protected checkValueSize(value: Uint8Array, size = this.spec.valueSize): void {
    if (value.length < size) {
      throw new UsageError('E_MAP_VALUE_SIZE', `map ${this.spec.name}: value of ${value.length} bytes, value_size is ${size}`, {
        symbol: this.spec.name,
      });
    }
  }
}
