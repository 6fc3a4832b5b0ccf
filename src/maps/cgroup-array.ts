/**
 * cgroup-array — BPF_MAP_TYPE_CGROUP_ARRAY (kernel/bpf/arraymap.c, cgroup_array_map_ops): slots
 * hold cgroups for bpf_skb_under_cgroup / bpf_current_task_under_cgroup. xdpsim has no cgroup
 * hierarchy; a slot stores the u32 cgroup id the user gives, for the datapath helpers to compare.
 */
import type { MapErrno, MapSpec } from './spec.js';
import { Errno } from './errno.js';
import type { MapHost } from './base.js';
import { FdArrayMap } from './fd-array.js';

/** CgroupArrayMap is a CGROUP_ARRAY. */
export class CgroupArrayMap extends FdArrayMap<number> {
  constructor(host: MapHost, spec: MapSpec, id: number) {
    super(host, spec, id);
  }

  protected resolve(value: number): number {
    return value;
  }

  protected idOf(obj: number): number {
    return obj;
  }

  /** lookupErrno: the kernel has no syscall lookup for cgroup arrays (-ENOTSUPP). */
  override lookupErrno(_key: Uint8Array): MapErrno {
    return -Errno.ENOTSUPP;
  }
}
