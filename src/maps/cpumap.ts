/**
 * cpumap — BPF_MAP_TYPE_CPUMAP (kernel/bpf/cpumap.c): targets for bpf_redirect_map that move a
 * frame to another CPU. A value is `struct bpf_cpumap_val { u32 qsize; u32 bpf_prog (fd/id); }`
 * (value_size 4 or 8); qsize 0 empties the slot. The datapath reads slots with `entry`.
 */
import { BPF_EXIST, BPF_NOEXIST, MapFlag, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';
import { checkFlagMask, mapCreateError, u32At, type MapHost } from './base.js';
import { SlotArrayMap } from './slot-array.js';

/** NR_CPUS of a typical x86_64 distribution kernel (CONFIG_NR_CPUS=8192): the cpumap size cap. */
export const NR_CPUS = 8192;
/** CPUMAP_QSIZE_MAX is cpu_map_update_elem's sanity limit on qsize. */
export const CPUMAP_QSIZE_MAX = 16384;

/** checkCpumapSpec is cpu_map_alloc's check. */
export function checkCpumapSpec(spec: MapSpec): void {
  if (spec.maxEntries === 0 || spec.keySize !== 4 || (spec.valueSize !== 4 && spec.valueSize !== 8)) {
    throw mapCreateError(spec, Errno.EINVAL, 'cpumaps need key_size 4, value_size 4 or 8, max_entries > 0');
  }
  checkFlagMask(spec, MapFlag.NUMA_NODE);
  if (spec.maxEntries > NR_CPUS) throw mapCreateError(spec, Errno.E2BIG, `max_entries above NR_CPUS ${NR_CPUS}`);
}

/** CpumapEntry is one configured CPU: its queue size and optional program id. */
export interface CpumapEntry {
  readonly qsize: number;
  readonly prog: number;
}

/** CpumapMap is a CPUMAP. */
export class CpumapMap extends SlotArrayMap {
  constructor(host: MapHost, spec: MapSpec, id: number) {
    checkCpumapSpec(spec);
    super(host, spec, id);
  }

  /**
   * cpu_map_update_elem: flags > BPF_EXIST -EINVAL, cpu ≥ max_entries -E2BIG, BPF_NOEXIST -EEXIST,
   * qsize > 16384 -EOVERFLOW, a cpu that is not possible -ENODEV, qsize 0 empties the slot.
   */
  update(key: Uint8Array, value: Uint8Array, flags: number, _cpu?: number): MapErrno {
    this.checkKeySize(key);
    this.checkValueSize(value);
    if (flags > BPF_EXIST) return -Errno.EINVAL;
    const cpu = u32At(key);
    if (cpu >= this.spec.maxEntries) return -Errno.E2BIG;
    if (flags === BPF_NOEXIST) return -Errno.EEXIST;
    const qsize = u32At(value);
    if (qsize > CPUMAP_QSIZE_MAX) return -Errno.EOVERFLOW;
    if (cpu >= this.cpus) return -Errno.ENODEV;
    if (qsize === 0) {
      this.clear(cpu);
      return 0;
    }
    if (this.spec.valueSize === 8) {
      const prog = u32At(value, 4);
      if (prog !== 0 && this.host.programById(prog) === undefined) return -Errno.EINVAL;
    }
    this.store(cpu, value);
    return 0;
  }

  /** entry returns the configuration of slot `cpu`, or undefined when empty. */
  entry(cpu: number): CpumapEntry | undefined {
    const v = this.valueAt(cpu);
    if (v === undefined) return undefined;
    return { qsize: u32At(v), prog: this.spec.valueSize === 8 ? u32At(v, 4) : 0 };
  }
}
