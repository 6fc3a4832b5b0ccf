/**
 * hash-of-maps — BPF_MAP_TYPE_HASH_OF_MAPS (kernel/bpf/hashtab.c htab_of_maps_map_ops): hash
 * semantics for keys (flags, -E2BIG when full, insertion-order iteration as in hash.ts), values
 * are inner maps. A program's lookup returns the inner map's handle; the user API reads and
 * writes inner map ids (setInner also takes a map or its name).
 */
import { BPF_EXIST, BPF_NOEXIST, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';
import { MapBase, keyString, mapCreateError, u32At, u32Bytes, type MapHost } from './base.js';
import { checkHashSpec } from './hash.js';
import { checkInnerTemplate, innerMatches } from './array-of-maps.js';

/** HashOfMapsMap is a HASH_OF_MAPS. */
export class HashOfMapsMap extends MapBase {
  readonly template: MapSpec;
  private readonly table = new Map<string, { key: Uint8Array; map: MapBase }>();

  constructor(host: MapHost, spec: MapSpec, id: number) {
    if (spec.valueSize !== 4) throw mapCreateError(spec, Errno.EINVAL, `value_size ${spec.valueSize}, hash of maps needs 4`);
    checkHashSpec(spec, false, false);
    const template = checkInnerTemplate(spec);
    super(host, spec, id);
    this.template = template;
  }

  get count(): number {
    return this.table.size;
  }

  /** inner returns the map stored under `key`. */
  inner(key: Uint8Array): MapBase | undefined {
    return this.table.get(keyString(key, this.spec.keySize))?.map;
  }

  lookupAddr(key: Uint8Array, _cpu: number): number {
    return this.inner(key)?.handle ?? 0;
  }

  /** setInner stores an inner map (object, id or name) under `key` with update flags. */
  setInner(key: Uint8Array, inner: MapBase | number | string, flags = 0): MapErrno {
    this.checkKeySize(key);
    const map = typeof inner === 'number' ? this.host.mapById(inner) : typeof inner === 'string' ? this.host.byName(inner) : inner;
    if (map === undefined) return -Errno.EBADF;
    if (flags > BPF_EXIST) return -Errno.EINVAL;
    if (!innerMatches(this.template, map)) return -Errno.EINVAL;
    const ks = keyString(key, this.spec.keySize);
    const old = this.table.get(ks);
    if (old !== undefined && flags === BPF_NOEXIST) return -Errno.EEXIST;
    if (old === undefined && flags === BPF_EXIST) return -Errno.ENOENT;
    if (old === undefined && this.table.size >= this.spec.maxEntries) return -Errno.E2BIG;
    if (old !== undefined) old.map = map;
    else this.table.set(ks, { key: key.slice(0, this.spec.keySize), map });
    return 0;
  }

  update(key: Uint8Array, value: Uint8Array, flags: number, _cpu?: number): MapErrno {
    this.checkValueSize(value);
    return this.setInner(key, u32At(value), flags);
  }

  delete(key: Uint8Array): MapErrno {
    this.checkKeySize(key);
    return this.table.delete(keyString(key, this.spec.keySize)) ? 0 : -Errno.ENOENT;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    const m = this.inner(key);
    return m === undefined ? undefined : u32Bytes(m.id);
  }

  *keys(): IterableIterator<Uint8Array> {
    for (const e of this.table.values()) yield e.key.slice();
  }

  getNextKey(key: Uint8Array | undefined): Uint8Array | MapErrno {
    const all = [...this.table.values()];
    const at = key === undefined ? -1 : all.findIndex((e) => keyString(e.key) === keyString(key, this.spec.keySize));
    const next = all[at + 1];
    return next === undefined ? -Errno.ENOENT : next.key.slice();
  }

  override setSlotRef(index: number, ref: string): string | undefined {
    const err = this.setInner(u32Bytes(index).subarray(0, this.spec.keySize), ref);
    return err === 0 ? undefined : `errno ${-err} (inner map missing or not matching the template)`;
  }
}
