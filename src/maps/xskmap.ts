/**
 * xskmap — BPF_MAP_TYPE_XSKMAP (net/xdp/xskmap.c): AF_XDP sockets for bpf_redirect_map.
 * xdpsim has no AF_XDP sockets; a slot stores the u32 the user gives, which stands for the
 * socket and is read as the socket's queue_id (the one field of `struct bpf_xdp_sock` programs
 * may read through the pointer a lookup returns). The syscall lookup is -EOPNOTSUPP as in the
 * kernel (xsk_map_lookup_elem_sys); `socketAt` gives the datapath a slot's value.
 */
import { BPF_EXIST, BPF_NOEXIST, MapFlag, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';
import { checkFlagMask, mapCreateError, u32At, type MapHost } from './base.js';
import { SlotArrayMap } from './slot-array.js';

/** checkXskmapSpec is xsk_map_alloc's check. */
export function checkXskmapSpec(spec: MapSpec): void {
  if (spec.maxEntries === 0 || spec.keySize !== 4 || spec.valueSize !== 4) {
    throw mapCreateError(spec, Errno.EINVAL, 'xskmaps need key_size 4, value_size 4, max_entries > 0');
  }
  checkFlagMask(spec, MapFlag.NUMA_NODE | MapFlag.RDONLY | MapFlag.WRONLY);
}

/** XskmapMap is an XSKMAP. */
export class XskmapMap extends SlotArrayMap {
  constructor(host: MapHost, spec: MapSpec, id: number) {
    checkXskmapSpec(spec);
    super(host, spec, id);
  }

  /** xsk_map_update_elem: flags > BPF_EXIST -EINVAL, index -E2BIG, BPF_NOEXIST on a full slot -EEXIST, BPF_EXIST on an empty one -ENOENT. */
  update(key: Uint8Array, value: Uint8Array, flags: number, _cpu?: number): MapErrno {
    this.checkKeySize(key);
    this.checkValueSize(value);
    if (flags > BPF_EXIST) return -Errno.EINVAL;
    const index = u32At(key);
    if (index >= this.spec.maxEntries) return -Errno.E2BIG;
    const had = this.present[index] === 1;
    if (had && flags === BPF_NOEXIST) return -Errno.EEXIST;
    if (!had && flags === BPF_EXIST) return -Errno.ENOENT;
    this.store(index, value);
    return 0;
  }

  /** lookupErrno: xsk_map_lookup_elem_sys is -EOPNOTSUPP. */
  override lookupErrno(_key: Uint8Array): MapErrno {
    return -Errno.EOPNOTSUPP;
  }

  /** socketAt returns the u32 stored in slot `index`, or undefined when empty. */
  socketAt(index: number): number | undefined {
    const v = this.valueAt(index);
    return v === undefined ? undefined : u32At(v);
  }
}
