/**
 * hash — BPF_MAP_TYPE_HASH and BPF_MAP_TYPE_PERCPU_HASH (kernel/bpf/hashtab.c); the LRU
 * variants extend it in lru-hash.ts.
 *
 * Elements: a JS Map from key bytes to an entry holding the VM address of its value slot
 * (per-CPU: `cpus` copies of round_up(value_size, 8) bytes). Entries are also on a doubly linked
 * list so BPF_MAP_GET_NEXT_KEY is O(1).
 *
 * Iteration order (get_next_key, dumps, for_each_map_elem): insertion order. The kernel walks its
 * buckets, so its order depends on jhash with a random seed per map (fixed only with
 * BPF_F_ZERO_SEED) — no order is stable across kernel runs, so we keep the simplest one. Where
 * the kernel replaces an element on update (a new element at the head of the bucket), we
 * overwrite in place and keep the position; a program still holding the old value pointer sees
 * the new value instead of the kernel's stale copy.
 */
import { BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, MapFlag, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';
import {
  BPF_F_ACCESS_MASK,
  KMALLOC_MAX_SIZE,
  MAX_BPF_STACK,
  PCPU_MIN_UNIT_SIZE,
  MapBase,
  checkAccessFlags,
  checkFlagMask,
  mapKey,
  mapCreateError,
  roundUp8,
  type ForEachEntry,
  type MapHost,
  type MapKey,
  type SlotArena,
} from './base.js';

/** HTAB_CREATE_FLAG_MASK of hashtab.c. */
const HTAB_CREATE_FLAG_MASK =
  MapFlag.NO_PREALLOC | MapFlag.NO_COMMON_LRU | MapFlag.NUMA_NODE | BPF_F_ACCESS_MASK | MapFlag.ZERO_SEED;

/**
 * checkHashSpec is htab_map_alloc_check: flag mask, NO_COMMON_LRU only for LRU maps, LRU needs
 * preallocation (-ENOTSUPP), no NUMA node with per-CPU LRU, sizes nonzero, key_size ≤ 512 and
 * key+value below KMALLOC_MAX_SIZE (-E2BIG), per-CPU values ≤ 32 KiB (-E2BIG).
 */
export function checkHashSpec(spec: MapSpec, perCpu: boolean, lru: boolean): void {
  const percpuLru = (spec.flags & MapFlag.NO_COMMON_LRU) !== 0;
  const prealloc = (spec.flags & MapFlag.NO_PREALLOC) === 0;
  checkFlagMask(spec, HTAB_CREATE_FLAG_MASK);
  checkAccessFlags(spec);
  if (!lru && percpuLru) throw mapCreateError(spec, Errno.EINVAL, 'BPF_F_NO_COMMON_LRU on a non-LRU hash');
  if (lru && !prealloc) throw mapCreateError(spec, Errno.ENOTSUPP, 'LRU maps need preallocation (BPF_F_NO_PREALLOC given)');
  if ((spec.flags & MapFlag.NUMA_NODE) !== 0 && (perCpu || percpuLru)) {
    throw mapCreateError(spec, Errno.EINVAL, 'BPF_F_NUMA_NODE with per-CPU values or per-CPU LRU');
  }
  if (spec.maxEntries === 0 || spec.keySize === 0 || spec.valueSize === 0) {
    throw mapCreateError(spec, Errno.EINVAL, 'max_entries, key_size and value_size must be nonzero');
  }
  if (spec.keySize > MAX_BPF_STACK) throw mapCreateError(spec, Errno.E2BIG, `key_size ${spec.keySize} above ${MAX_BPF_STACK}`);
  if (spec.valueSize >= KMALLOC_MAX_SIZE - MAX_BPF_STACK - 48) {
    throw mapCreateError(spec, Errno.E2BIG, `value_size ${spec.valueSize} too large`);
  }
  if (perCpu && roundUp8(spec.valueSize) > PCPU_MIN_UNIT_SIZE) {
    throw mapCreateError(spec, Errno.E2BIG, `per-CPU value_size ${spec.valueSize} above ${PCPU_MIN_UNIT_SIZE}`);
  }
}

/** HashEntry is one element. */
export interface HashEntry {
  readonly key: Uint8Array;
  readonly ks: MapKey;
  /** VM address of the value (CPU 0's copy for per-CPU maps). */
  addr: number;
  prev: HashEntry | undefined;
  next: HashEntry | undefined;
  /** The LRU node holding this element (LRU maps only). */
  node?: import('./lru-list.js').LruNode;
}

/** HashMap is HASH or PERCPU_HASH; LruHashMap overrides allocation and access. */
export class HashMap extends MapBase {
  override readonly perCpu: boolean;
  /** stride is round_up(value_size, 8): distance between per-CPU copies. */
  readonly stride: number;
  protected readonly table = new Map<MapKey, HashEntry>();
  protected head: HashEntry | undefined;
  protected tail: HashEntry | undefined;
  protected readonly arena: SlotArena;

  constructor(host: MapHost, spec: MapSpec, id: number, perCpu: boolean, lru = false) {
    checkHashSpec(spec, perCpu, lru);
    super(host, spec, id);
    this.perCpu = perCpu;
    this.stride = roundUp8(spec.valueSize);
    this.arena = this.newArena(this.stride * (perCpu ? host.cpus : 1), spec.maxEntries);
  }

  get count(): number {
    return this.table.size;
  }

  /** entry finds the element for a key (the first key_size bytes of `key`). */
  protected entry(key: Uint8Array): HashEntry | undefined {
    return this.table.get(mapKey(key, 0, this.spec.keySize));
  }

  /** touched is called when a program looks an element up (LRU reference). */
  protected touched(_e: HashEntry): void {}

  lookupAddr(key: Uint8Array, cpu: number): number {
    return this.lookupAddrAt(key, 0, cpu);
  }

  override lookupAddrAt(u8: Uint8Array, off: number, cpu: number): number {
    const e = this.table.get(mapKey(u8, off, this.spec.keySize));
    if (e === undefined) return 0;
    this.touched(e);
    return this.perCpu ? e.addr + cpu * this.stride : e.addr;
  }

  /** copyIn stores a value into an element: all CPUs (user), one CPU (program), or the single copy. */
  protected copyIn(e: HashEntry, value: Uint8Array, isNew: boolean, cpu: number | undefined, flags: number): void {
    if (!this.perCpu) {
      this.checkValueSize(value);
      if ((flags & BPF_F_LOCK) !== 0 && !isNew) {
        this.writeValue(e.addr, value);
      } else {
        if (isNew) this.zeroValue(e.addr, this.stride);
        this.writeValue(e.addr, value);
      }
      return;
    }
    if (cpu !== undefined) {
      // pcpu_init_value: a new element from a program gets zeroes on every other CPU.
      this.checkValueSize(value);
      if (isNew) this.zeroValue(e.addr, this.stride * this.cpus);
      this.writeValue(e.addr + cpu * this.stride, value);
      return;
    }
    const values = this.splitPerCpu(value);
    for (let c = 0; c < this.cpus; c++) this.writeValue(e.addr + c * this.stride, values[c]);
  }

  /** link appends an entry to the iteration list and the table. */
  protected link(e: HashEntry): void {
    this.table.set(e.ks, e);
    e.prev = this.tail;
    e.next = undefined;
    if (this.tail !== undefined) this.tail.next = e;
    else this.head = e;
    this.tail = e;
  }

  /** unlink removes an entry from the table and list and frees its slot. */
  protected unlink(e: HashEntry): void {
    this.detach(e);
    this.arena.release(e.addr);
  }

  /** detach removes an entry from the table and the iteration list, keeping its slot. */
  protected detach(e: HashEntry): void {
    this.table.delete(e.ks);
    if (e.prev !== undefined) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next !== undefined) e.next.prev = e.prev;
    else this.tail = e.prev;
  }

  /**
   * update is htab_map_update_elem / htab_percpu_map_update_elem: flags beyond BPF_EXIST|BPF_F_LOCK
   * -EINVAL, check_flags (-EEXIST, -ENOENT), -E2BIG when a new key finds the map full.
   */
  update(key: Uint8Array, value: Uint8Array, flags: number, cpu?: number): MapErrno {
    this.checkKeySize(key);
    if ((flags & ~BPF_F_LOCK) > BPF_EXIST) return -Errno.EINVAL;
    if (this.lockFlagInvalid(flags) || (this.perCpu && (flags & BPF_F_LOCK) !== 0)) return -Errno.EINVAL;
    if (!this.perCpu || cpu !== undefined) this.checkValueSize(value);
    else this.splitPerCpu(value);
    const old = this.entry(key);
    const mode = flags & ~BPF_F_LOCK;
    if (old !== undefined && mode === BPF_NOEXIST) return -Errno.EEXIST;
    if (old === undefined && mode === BPF_EXIST) return -Errno.ENOENT;
    if (old !== undefined) {
      this.copyIn(old, value, false, cpu, flags);
      return 0;
    }
    if (this.table.size >= this.spec.maxEntries) return -Errno.E2BIG;
    const k = key.slice(0, this.spec.keySize);
    const v = value.slice();
    const addr = this.arena.alloc();
    if (addr === 0) return -Errno.E2BIG;
    const e: HashEntry = { key: k, ks: mapKey(k, 0, k.length), addr, prev: undefined, next: undefined };
    this.copyIn(e, v, true, cpu, flags);
    this.link(e);
    return 0;
  }

  /** updatePerCpu stores one value per CPU (user API of per-CPU hashes). */
  updatePerCpu(key: Uint8Array, values: readonly Uint8Array[], flags: number): MapErrno {
    if (!this.perCpu || values.length !== this.cpus) return -Errno.EINVAL;
    const joined = new Uint8Array(this.stride * this.cpus);
    values.forEach((v, c) => joined.set(v.subarray(0, this.spec.valueSize), c * this.stride));
    return this.update(key, joined, flags);
  }

  delete(key: Uint8Array): MapErrno {
    this.checkKeySize(key);
    const e = this.entry(key);
    if (e === undefined) return -Errno.ENOENT;
    this.unlink(e);
    return 0;
  }

  lookup(key: Uint8Array): Uint8Array | Uint8Array[] | undefined {
    this.checkKeySize(key);
    const e = this.entry(key);
    if (e === undefined) return undefined;
    if (!this.perCpu) return this.mem.copy(e.addr, this.spec.valueSize);
    return Array.from({ length: this.cpus }, (_, c) => this.mem.copy(e.addr + c * this.stride, this.spec.valueSize));
  }

  override lookupAndDelete(key: Uint8Array): Uint8Array | Uint8Array[] | MapErrno {
    const v = this.lookup(key);
    if (v === undefined) return -Errno.ENOENT;
    this.delete(key);
    return v;
  }

  *keys(): IterableIterator<Uint8Array> {
    for (let e = this.head; e !== undefined; e = e.next) yield e.key.slice();
  }

  /** htab_map_get_next_key: an absent key restarts from the first element; -ENOENT at the end. */
  getNextKey(key: Uint8Array | undefined): Uint8Array | MapErrno {
    const cur = key === undefined ? undefined : this.entry(key);
    const next = cur === undefined ? this.head : cur.next;
    return next === undefined ? -Errno.ENOENT : next.key.slice();
  }

  override forEachEntries(cpu: number): ForEachEntry[] {
    const out: ForEachEntry[] = [];
    for (let e = this.head; e !== undefined; e = e.next) {
      out.push({ key: e.key, valueAddr: this.perCpu ? e.addr + cpu * this.stride : e.addr });
    }
    return out;
  }

  /** has tells whether a key is present (for_each callbacks skip elements deleted meanwhile). */
  has(key: Uint8Array): boolean {
    return this.entry(key) !== undefined;
  }
}
