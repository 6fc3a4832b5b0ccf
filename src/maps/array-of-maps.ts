/**
 * array-of-maps — BPF_MAP_TYPE_ARRAY_OF_MAPS (kernel/bpf/arraymap.c + map_in_map.c). Slots hold
 * inner maps; a program's lookup returns the inner map's handle, which it passes to further map
 * helpers. The user API stores and reads inner map ids (setInner also takes a map or its name).
 * Every inner map must match the template (spec.inner) as bpf_map_meta_equal requires.
 */
import { MapFlag, MapType, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';
import { mapCreateError, u32At, type MapBase, type MapHost } from './base.js';
import { FdArrayMap } from './fd-array.js';

/** checkInnerTemplate is bpf_map_meta_alloc: an inner template is needed and cannot itself hold maps. */
export function checkInnerTemplate(spec: MapSpec): MapSpec {
  const inner = spec.inner;
  if (inner === undefined) throw mapCreateError(spec, Errno.EBADF, 'map-in-map needs an inner map template');
  if (inner.type === MapType.ARRAY_OF_MAPS || inner.type === MapType.HASH_OF_MAPS) {
    throw mapCreateError(spec, Errno.EINVAL, 'inner maps cannot hold maps (one level only)');
  }
  if (inner.type === MapType.PROG_ARRAY) throw mapCreateError(spec, Errno.ENOTSUPP, 'PROG_ARRAY cannot be an inner map');
  return inner;
}

/**
 * innerMatches is bpf_map_meta_equal (+ array_map_meta_equal): same type, key size, value size
 * and flags; arrays also the same max_entries unless the template has BPF_F_INNER_MAP.
 */
export function innerMatches(template: MapSpec, map: MapBase): boolean {
  const s = map.spec;
  if (s.type !== template.type || s.keySize !== template.keySize || s.valueSize !== template.valueSize) return false;
  if (s.flags !== template.flags) return false;
  const isArray = s.type === MapType.ARRAY || s.type === MapType.PERCPU_ARRAY;
  if (isArray && (template.flags & MapFlag.INNER_MAP) === 0 && s.maxEntries !== template.maxEntries) return false;
  return true;
}

/** ArrayOfMapsMap is an ARRAY_OF_MAPS. */
export class ArrayOfMapsMap extends FdArrayMap<MapBase> {
  readonly template: MapSpec;

  constructor(host: MapHost, spec: MapSpec, id: number) {
    const template = checkInnerTemplate(spec);
    super(host, spec, id);
    this.template = template;
  }

  protected resolve(value: number): MapBase | MapErrno {
    const map = this.host.mapById(value);
    if (map === undefined) return -Errno.EBADF;
    return innerMatches(this.template, map) ? map : -Errno.EINVAL;
  }

  protected idOf(obj: MapBase): number {
    return obj.id;
  }

  /** lookupAddr returns the inner map's handle (what bpf_map_lookup_elem gives a program), or 0. */
  override lookupAddr(key: Uint8Array, _cpu: number): number {
    return this.slot(u32At(key))?.handle ?? 0;
  }

  /** setInner stores an inner map (object, id or name); returns 0 or the errno the update would. */
  setInner(index: number, inner: MapBase | number | string): MapErrno {
    const map = typeof inner === 'number' ? this.host.mapById(inner) : typeof inner === 'string' ? this.host.byName(inner) : inner;
    if (map === undefined) return -Errno.EBADF;
    if (!innerMatches(this.template, map)) return -Errno.EINVAL;
    return this.setSlot(index, map);
  }

  override setSlotRef(index: number, ref: string): string | undefined {
    const err = this.setInner(index, ref);
    return err === 0 ? undefined : `errno ${-err} (inner map missing or not matching the template)`;
  }
}
