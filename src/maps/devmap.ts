/**
 * devmap — BPF_MAP_TYPE_DEVMAP and BPF_MAP_TYPE_DEVMAP_HASH (kernel/bpf/devmap.c): targets for
 * bpf_redirect_map. A value is `struct bpf_devmap_val { u32 ifindex; u32 bpf_prog (fd/id); }`
 * (value_size 4 or 8). The user API stores an ifindex and optionally a program id from
 * MapRegistry.registerProgram (a SEC("xdp/devmap") program the datapath runs on redirect).
 * Interfaces are checked through the registry's `ifindexExists` when the datapath provides it.
 */
import { BPF_EXIST, BPF_NOEXIST, MapFlag, MapType, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';
import { MapBase, SlotArena, checkFlagMask, keyString, mapCreateError, u32At, u32Bytes, type MapHost } from './base.js';
import { SlotArrayMap } from './slot-array.js';

/** DevmapHost is a MapHost that may know which interfaces exist. */
export interface DevmapHost extends MapHost {
  ifindexExists?: (ifindex: number) => boolean;
}

/** checkDevmapSpec is dev_map_alloc_check + dev_map_init_map. */
export function checkDevmapSpec(spec: MapSpec): void {
  if (spec.maxEntries === 0 || spec.keySize !== 4 || (spec.valueSize !== 4 && spec.valueSize !== 8)) {
    throw mapCreateError(spec, Errno.EINVAL, 'devmaps need key_size 4, value_size 4 or 8, max_entries > 0');
  }
  checkFlagMask(spec, MapFlag.NUMA_NODE | MapFlag.RDONLY | MapFlag.WRONLY);
  if (spec.type === MapType.DEVMAP_HASH && spec.maxEntries > 0x8000_0000) {
    throw mapCreateError(spec, Errno.EINVAL, 'max_entries too large for a hash devmap');
  }
}

/** devmapValueErr is __dev_map_alloc_node's validation: the device must exist, a program id must be registered. */
function devmapValueErr(host: DevmapHost, spec: MapSpec, value: Uint8Array): MapErrno {
  const ifindex = u32At(value);
  if (host.ifindexExists !== undefined && !host.ifindexExists(ifindex)) return -Errno.EINVAL;
  if (spec.valueSize === 8) {
    const prog = u32At(value, 4);
    if (prog !== 0 && host.programById(prog) === undefined) return -Errno.EINVAL;
  }
  return 0;
}

/** DevmapMap is a DEVMAP (array of devices). */
export class DevmapMap extends SlotArrayMap {
  constructor(
    override readonly host: DevmapHost,
    spec: MapSpec,
    id: number,
  ) {
    checkDevmapSpec(spec);
    super(host, spec, id);
  }

  /** dev_map_update_elem: flags > BPF_EXIST -EINVAL, index -E2BIG, BPF_NOEXIST -EEXIST; ifindex 0 empties the slot. */
  update(key: Uint8Array, value: Uint8Array, flags: number, _cpu?: number): MapErrno {
    this.checkKeySize(key);
    this.checkValueSize(value);
    if (flags > BPF_EXIST) return -Errno.EINVAL;
    const index = u32At(key);
    if (index >= this.spec.maxEntries) return -Errno.E2BIG;
    if (flags === BPF_NOEXIST) return -Errno.EEXIST;
    if (u32At(value) === 0) {
      if (this.spec.valueSize === 8 && u32At(value, 4) !== 0) return -Errno.EINVAL;
      this.clear(index);
      return 0;
    }
    const err = devmapValueErr(this.host, this.spec, value);
    if (err !== 0) return err;
    this.store(index, value);
    return 0;
  }

  /** ifindex returns the device stored in slot `index`, or 0. */
  ifindex(index: number): number {
    const v = this.valueAt(index);
    return v === undefined ? 0 : u32At(v);
  }
}

interface DevEntry {
  key: Uint8Array;
  addr: number;
}

/** DevmapHashMap is a DEVMAP_HASH (devices by arbitrary u32 key, insertion-order iteration). */
export class DevmapHashMap extends MapBase {
  private readonly table = new Map<string, DevEntry>();
  private readonly arena: SlotArena;

  constructor(
    override readonly host: DevmapHost,
    spec: MapSpec,
    id: number,
  ) {
    checkDevmapSpec(spec);
    super(host, spec, id);
    this.arena = new SlotArena(this.mem, this.valueKind(), spec.name, 8, spec.maxEntries, { readable: true, writable: false });
  }

  get count(): number {
    return this.table.size;
  }

  lookupAddr(key: Uint8Array, _cpu: number): number {
    return this.table.get(keyString(key, 4))?.addr ?? 0;
  }

  /** __dev_map_hash_update_elem: flags > BPF_EXIST or ifindex 0 -EINVAL, BPF_NOEXIST on a present key -EEXIST, full -E2BIG. */
  update(key: Uint8Array, value: Uint8Array, flags: number, _cpu?: number): MapErrno {
    this.checkKeySize(key);
    this.checkValueSize(value);
    if (flags > BPF_EXIST || u32At(value) === 0) return -Errno.EINVAL;
    const ks = keyString(key, 4);
    const old = this.table.get(ks);
    if (old !== undefined && flags === BPF_NOEXIST) return -Errno.EEXIST;
    const err = devmapValueErr(this.host, this.spec, value);
    if (err !== 0) return err;
    if (old === undefined && this.table.size >= this.spec.maxEntries) return -Errno.E2BIG;
    const v = value.slice(0, this.spec.valueSize);
    const k = key.slice(0, 4);
    let e = old;
    if (e === undefined) {
      const addr = this.arena.alloc();
      if (addr === 0) return -Errno.E2BIG;
      e = { key: k, addr };
      this.table.set(ks, e);
    }
    this.zeroValue(e.addr, 8);
    this.mem.write(e.addr, v);
    return 0;
  }

  delete(key: Uint8Array): MapErrno {
    this.checkKeySize(key);
    const ks = keyString(key, 4);
    const e = this.table.get(ks);
    if (e === undefined) return -Errno.ENOENT;
    this.table.delete(ks);
    this.arena.release(e.addr);
    return 0;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    this.checkKeySize(key);
    const e = this.table.get(keyString(key, 4));
    return e === undefined ? undefined : this.mem.copy(e.addr, this.spec.valueSize);
  }

  *keys(): IterableIterator<Uint8Array> {
    for (const e of this.table.values()) yield e.key.slice();
  }

  /** dev_map_hash_get_next_key: absent key → first; -ENOENT at the end. */
  getNextKey(key: Uint8Array | undefined): Uint8Array | MapErrno {
    const all = [...this.table.values()];
    const at = key === undefined ? -1 : all.findIndex((e) => keyString(e.key) === keyString(key, 4));
    const next = all[at + 1];
    return next === undefined ? -Errno.ENOENT : next.key.slice();
  }

  /** ifindex returns the device stored under `key` (a u32), or 0. */
  ifindex(key: number): number {
    const e = this.table.get(keyString(u32Bytes(key)));
    return e === undefined ? 0 : this.mem.dv.getUint32(e.addr, true);
  }
}
