/**
 * lru-hash — BPF_MAP_TYPE_LRU_HASH and BPF_MAP_TYPE_LRU_PERCPU_HASH (kernel/bpf/hashtab.c over
 * kernel/bpf/bpf_lru_list.c): a hash that never fails with -E2BIG; inserting into a full map
 * evicts the least recently used element.
 *
 * Model: an exact LRU order. A program's lookup and an update of an existing key make the
 * element most recently used; the syscall lookup does not (htab_lru_map_lookup_elem_sys).
 * As in htab_lru_map_update_elem, a free element is taken *before* the key is looked up, so
 * updating an existing key of a full map still evicts the least recently used element (which
 * may be that very key: then BPF_EXIST fails with -ENOENT). LRU_PERCPU_HASH skips the
 * allocation for BPF_EXIST and updates in place, as htab_lru_percpu_map_update_elem does.
 *
 * Where the kernel differs: its LRU is an approximation (active/inactive lists with reference
 * bits, second chance on shrink) and, with the default common LRU, each CPU keeps a local free
 * list refilled target_free = clamp(max_entries / nr_cpus / 2, 1, 128) nodes at a time, so on
 * a many-CPU system it can evict before the map looks full. For single-CPU sequences without
 * program lookups both orders are FIFO of last update, and tests compare them with the kernel.
 * BPF_F_NO_COMMON_LRU: max_entries is rounded up to a multiple of the CPU count and every CPU
 * owns max_entries / cpus elements; an insert on CPU c evicts from CPU c's own list (user-API
 * updates count as CPU 0), as bpf_percpu_lru_pop_free does.
 */
import { BPF_EXIST, BPF_NOEXIST, MapFlag, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';
import { keyString, type MapHost } from './base.js';
import { HashMap, type HashEntry } from './hash.js';

/** effectiveMaxEntries is htab_map_alloc's rounding for per-CPU LRU lists. */
export function effectiveMaxEntries(spec: MapSpec, cpus: number): number {
  if ((spec.flags & MapFlag.NO_COMMON_LRU) === 0) return spec.maxEntries;
  const up = Math.ceil(spec.maxEntries / cpus) * cpus;
  return up >= spec.maxEntries && up <= 0xffff_ffff ? up : Math.floor(spec.maxEntries / cpus) * cpus;
}

/** LruHashMap is LRU_HASH (perCpu false) or LRU_PERCPU_HASH (perCpu true). */
export class LruHashMap extends HashMap {
  /** lists[c]: elements of CPU c's LRU list (one list unless BPF_F_NO_COMMON_LRU), least recent first. */
  private readonly lists: Array<Map<string, HashEntry>>;
  private readonly listCap: number;
  private readonly commonLru: boolean;

  constructor(host: MapHost, spec: MapSpec, id: number, perCpu: boolean) {
    const effective = effectiveMaxEntries(spec, host.cpus);
    super(host, effective === spec.maxEntries ? spec : { ...spec, maxEntries: effective }, id, perCpu, true);
    this.commonLru = (spec.flags & MapFlag.NO_COMMON_LRU) === 0;
    const n = this.commonLru ? 1 : host.cpus;
    this.lists = Array.from({ length: n }, () => new Map<string, HashEntry>());
    this.listCap = this.commonLru ? effective : effective / host.cpus;
  }

  /** A program lookup references the element: it becomes most recently used. */
  protected override touched(e: HashEntry): void {
    const list = this.lists[e.lruCpu];
    list.delete(e.ks);
    list.set(e.ks, e);
  }

  protected override unlink(e: HashEntry): void {
    this.lists[e.lruCpu].delete(e.ks);
    super.unlink(e);
  }

  /** reserve is prealloc_lru_pop: make room in list `c`, evicting its least recently used element. */
  private reserve(c: number): void {
    const list = this.lists[c];
    if (list.size < this.listCap) return;
    const victim = list.values().next().value as HashEntry;
    this.unlink(victim);
  }

  override update(key: Uint8Array, value: Uint8Array, flags: number, cpu?: number): MapErrno {
    this.checkKeySize(key);
    if (flags > BPF_EXIST) return -Errno.EINVAL;
    if (!this.perCpu || cpu !== undefined) this.checkValueSize(value);
    else this.splitPerCpu(value);
    const c = this.commonLru ? 0 : Math.min(cpu ?? 0, this.lists.length - 1);
    if (!(this.perCpu && flags === BPF_EXIST)) this.reserve(c);
    const k = key.slice(0, this.spec.keySize);
    const v = value.slice();
    const old = this.table.get(keyString(k));
    if (old !== undefined && flags === BPF_NOEXIST) return -Errno.EEXIST;
    if (old === undefined && flags === BPF_EXIST) return -Errno.ENOENT;
    if (old !== undefined) {
      this.copyIn(old, v, false, cpu, 0);
      if (!this.perCpu && old.lruCpu !== c) {
        this.lists[old.lruCpu].delete(old.ks);
        old.lruCpu = c;
      }
      this.touched(old);
      return 0;
    }
    const addr = this.arena.alloc();
    if (addr === 0) return -Errno.ENOMEM;
    const e: HashEntry = { key: k, ks: keyString(k), addr, prev: undefined, next: undefined, lruCpu: c };
    this.copyIn(e, v, true, cpu, 0);
    this.link(e);
    this.lists[c].set(e.ks, e);
    return 0;
  }

  /** lruOrder lists keys least recently used first (all lists concatenated, CPU order). */
  lruOrder(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const list of this.lists) for (const e of list.values()) out.push(e.key.slice());
    return out;
  }
}
