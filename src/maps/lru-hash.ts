/**
 * lru-hash — BPF_MAP_TYPE_LRU_HASH and BPF_MAP_TYPE_LRU_PERCPU_HASH (kernel/bpf/hashtab.c over
 * the kernel's LRU, re-implemented in lru-list.ts): a hash that never fails with -E2BIG;
 * inserting into a full map evicts what the kernel's LRU would evict.
 *
 * As in htab_lru_map_update_elem, a free node is taken *before* the key is looked up, so
 * updating an existing key of a full map may evict another element (or that very key: then
 * BPF_EXIST fails with -ENOENT), and the replaced element moves to the new node with its
 * reference bit set. LRU_PERCPU_HASH takes no node for BPF_EXIST and updates in place
 * (htab_lru_percpu_map_update_elem). A program's lookup sets the reference bit; a syscall lookup
 * does not (htab_lru_map_lookup_elem_sys). User-API operations run as if on CPU 0, programs on
 * env.cpu — the CPU matters because the common LRU keeps per-CPU free and pending lists.
 * BPF_F_NO_COMMON_LRU rounds max_entries up to a multiple of the CPU count (htab_map_alloc).
 */
import { BPF_EXIST, BPF_NOEXIST, MapFlag, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';
import { mapKey, type MapHost } from './base.js';
import { HashMap, type HashEntry } from './hash.js';
import { BpfLru, LruNode } from './lru-list.js';

/** effectiveMaxEntries is htab_map_alloc's rounding for per-CPU LRU lists. */
export function effectiveMaxEntries(spec: MapSpec, cpus: number): number {
  if ((spec.flags & MapFlag.NO_COMMON_LRU) === 0) return spec.maxEntries;
  const up = Math.ceil(spec.maxEntries / cpus) * cpus;
  return up <= 0xffff_ffff ? up : Math.floor(spec.maxEntries / cpus) * cpus;
}

/** LruHashMap is LRU_HASH (perCpu false) or LRU_PERCPU_HASH (perCpu true). */
export class LruHashMap extends HashMap {
  private readonly lru: BpfLru;

  constructor(host: MapHost, spec: MapSpec, id: number, perCpu: boolean) {
    const effective = effectiveMaxEntries(spec, host.cpus);
    super(host, effective === spec.maxEntries ? spec : { ...spec, maxEntries: effective }, id, perCpu, true);
    this.lru = new BpfLru(
      effective,
      host.cpus,
      (spec.flags & MapFlag.NO_COMMON_LRU) !== 0,
      () => new LruNode(this.arena.alloc()),
      (node) => {
        const e = node.owner as HashEntry | undefined;
        if (e === undefined) return false;
        this.detach(e);
        node.owner = undefined;
        return true;
      },
    );
  }

  /** A program lookup sets the element's reference bit. */
  protected override touched(e: HashEntry): void {
    if (e.node !== undefined) BpfLru.setRef(e.node);
  }

  /** Deleting an element frees its node back to the LRU (htab_lru_push_free). */
  protected override unlink(e: HashEntry): void {
    this.detach(e);
    if (e.node !== undefined) this.lru.pushFree(e.node);
  }

  private cpuOf(cpu: number | undefined): number {
    return Math.min(cpu ?? 0, this.cpus - 1);
  }

  override update(key: Uint8Array, value: Uint8Array, flags: number, cpu?: number): MapErrno {
    this.checkKeySize(key);
    if (flags > BPF_EXIST) return -Errno.EINVAL;
    if (!this.perCpu || cpu !== undefined) this.checkValueSize(value);
    else this.splitPerCpu(value);
    const k = key.slice(0, this.spec.keySize);
    const v = value.slice();
    const ks = mapKey(k, 0, k.length);
    const c = this.cpuOf(cpu);
    let node: LruNode | undefined;
    if (!(this.perCpu && flags === BPF_EXIST)) {
      node = this.lru.popFree(c);
      if (node === undefined) return -Errno.ENOMEM;
    }
    const old = this.table.get(ks);
    const err = old !== undefined && flags === BPF_NOEXIST ? -Errno.EEXIST : old === undefined && flags === BPF_EXIST ? -Errno.ENOENT : 0;
    if (err !== 0) {
      if (node !== undefined) this.lru.pushFree(node);
      return err;
    }
    if (old !== undefined && this.perCpu) {
      this.touched(old);
      this.copyIn(old, v, false, cpu, 0);
      if (node !== undefined) this.lru.pushFree(node);
      return 0;
    }
    const n = node as LruNode;
    if (old !== undefined) {
      const oldNode = old.node as LruNode;
      old.node = n;
      old.addr = n.addr;
      n.owner = old;
      BpfLru.setRef(n);
      this.copyIn(old, v, true, cpu, 0);
      this.lru.pushFree(oldNode);
      return 0;
    }
    const e: HashEntry = { key: k, ks, addr: n.addr, prev: undefined, next: undefined, node: n };
    n.owner = e;
    this.copyIn(e, v, true, cpu, 0);
    this.link(e);
    return 0;
  }

  /** lruOrder lists keys in the order the kernel's LRU would evict them (inactive tail first). */
  lruOrder(): Uint8Array[] {
    return this.lru.order().map((n) => (n.owner as HashEntry).key.slice());
  }
}
