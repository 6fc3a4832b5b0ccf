/**
 * perf-event-array — BPF_MAP_TYPE_PERF_EVENT_ARRAY (kernel/bpf/arraymap.c) as bpf_perf_event_output
 * sees it (kernel/trace/bpf_trace.c, __bpf_perf_event_output).
 *
 * In the kernel user space opens one perf event per CPU and stores its fd in slot `cpu` (libbpf's
 * perf_buffer__new does exactly that). xdpsim starts in that state: slot i holds a reader on CPU i
 * for every simulated CPU, so programs work without setup; the user API stores a CPU number to
 * (re)attach a reader and deletes to detach. Records go to `records` and to listeners.
 */
import { MapFlag, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';
import type { MapHost } from './base.js';
import { FdArrayMap } from './fd-array.js';

/** PerfReader is what a slot holds: a perf event reading on one CPU. */
export interface PerfReader {
  readonly cpu: number;
}

/** PerfRecord is one sample as user space reads it from the per-CPU perf buffer. */
export interface PerfRecord {
  readonly cpu: number;
  readonly index: number;
  readonly data: Uint8Array;
}

/** BPF_F_INDEX_MASK / BPF_F_CURRENT_CPU / BPF_F_CTXLEN_MASK of include/uapi/linux/bpf.h. */
export const BPF_F_INDEX_MASK = 0xffffffffn;
export const BPF_F_CURRENT_CPU = 0xffffffffn;
export const BPF_F_CTXLEN_MASK = 0xfffffn << 32n;

/** PerfEventArrayMap is a PERF_EVENT_ARRAY with an in-memory sink. */
export class PerfEventArrayMap extends FdArrayMap<PerfReader> {
  /** records holds every sample output so far, in order. */
  readonly records: PerfRecord[] = [];
  private readonly listeners: Array<(r: PerfRecord) => void> = [];

  constructor(host: MapHost, spec: MapSpec, id: number) {
    super(host, spec, id);
    for (let c = 0; c < Math.min(host.cpus, spec.maxEntries); c++) this.slots[c] = { cpu: c };
  }

  protected resolve(value: number): PerfReader | MapErrno {
    return value < this.cpus ? { cpu: value } : -Errno.EINVAL;
  }

  protected idOf(obj: PerfReader): number {
    return obj.cpu;
  }

  /** lookupErrno: the kernel has no syscall lookup for perf event arrays (-ENOTSUPP). */
  override lookupErrno(_key: Uint8Array): MapErrno {
    return -Errno.ENOTSUPP;
  }

  /** onRecord registers a listener for new samples. */
  onRecord(listener: (r: PerfRecord) => void): void {
    this.listeners.push(listener);
  }

  /**
   * output is __bpf_perf_event_output after the helper parsed flags: slot `index` past the end
   * -E2BIG, empty -ENOENT, a reader on another CPU than the running one -EOPNOTSUPP.
   */
  output(index: number, cpu: number, data: Uint8Array): MapErrno {
    if (index >= this.spec.maxEntries) return -Errno.E2BIG;
    const reader = this.slots[index];
    if (reader === undefined) return -Errno.ENOENT;
    if (reader.cpu !== cpu) return -Errno.EOPNOTSUPP;
    const rec: PerfRecord = { cpu, index, data };
    this.records.push(rec);
    for (const l of this.listeners) l(rec);
    return 0;
  }

  /** preserveElems tells whether BPF_F_PRESERVE_ELEMS was set (slots survive the map's last user). */
  get preserveElems(): boolean {
    return (this.spec.flags & MapFlag.PRESERVE_ELEMS) !== 0;
  }
}
