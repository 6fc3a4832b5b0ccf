/**
 * queue-stack — BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK (kernel/bpf/queue_stack_maps.c).
 * No keys (key_size 0). A ring of max_entries + 1 slots with head (next push) and tail (oldest);
 * a queue pops from the tail, a stack from the head. BPF_EXIST on a full map overwrites the
 * oldest element (the tail) for both. Programs use push/pop/peek helpers; the syscall maps
 * BPF_MAP_UPDATE_ELEM to push, LOOKUP to peek and LOOKUP_AND_DELETE to pop — so do update(),
 * lookup() and pop() here. Values never live in VM memory: helpers copy them.
 */
import { BPF_EXIST, BPF_NOEXIST, MapFlag, MapType, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';
import { BPF_F_ACCESS_MASK, KMALLOC_MAX_SIZE, MapBase, checkAccessFlags, checkFlagMask, mapCreateError, type MapHost } from './base.js';

/** checkQueueStackSpec is queue_stack_map_alloc_check. */
export function checkQueueStackSpec(spec: MapSpec): void {
  if (spec.maxEntries === 0 || spec.keySize !== 0 || spec.valueSize === 0) {
    throw mapCreateError(spec, Errno.EINVAL, 'queue/stack maps need key_size 0, value_size > 0, max_entries > 0');
  }
  checkFlagMask(spec, MapFlag.NUMA_NODE | BPF_F_ACCESS_MASK);
  checkAccessFlags(spec);
  if (spec.valueSize > KMALLOC_MAX_SIZE) throw mapCreateError(spec, Errno.E2BIG, `value_size ${spec.valueSize} too large`);
}

/** QueueStackMap is a QUEUE (lifo false) or a STACK (lifo true). */
export class QueueStackMap extends MapBase {
  readonly lifo: boolean;
  private readonly ring: Array<Uint8Array | undefined>;
  private head = 0;
  private tail = 0;

  constructor(host: MapHost, spec: MapSpec, id: number) {
    checkQueueStackSpec(spec);
    super(host, spec, id);
    this.lifo = spec.type === MapType.STACK;
    this.ring = new Array<Uint8Array | undefined>(spec.maxEntries + 1).fill(undefined);
  }

  get count(): number {
    return (this.head - this.tail + this.ring.length) % this.ring.length;
  }

  /** push is queue_stack_map_push_elem: BPF_NOEXIST or unknown flags -EINVAL, full -E2BIG unless BPF_EXIST. */
  push(value: Uint8Array, flags: number): MapErrno {
    if ((flags & BPF_NOEXIST) !== 0 || flags > BPF_EXIST) return -Errno.EINVAL;
    this.checkValueSize(value);
    if (this.count === this.spec.maxEntries) {
      if ((flags & BPF_EXIST) === 0) return -Errno.E2BIG;
      this.ring[this.tail] = undefined;
      this.tail = (this.tail + 1) % this.ring.length;
    }
    this.ring[this.head] = value.slice(0, this.spec.valueSize);
    this.head = (this.head + 1) % this.ring.length;
    return 0;
  }

  /** peek returns the next element pop would return, or -ENOENT when empty. */
  peek(): Uint8Array | MapErrno {
    if (this.count === 0) return -Errno.ENOENT;
    const at = this.lifo ? (this.head - 1 + this.ring.length) % this.ring.length : this.tail;
    return (this.ring[at] as Uint8Array).slice();
  }

  /** pop removes and returns the next element (queue: oldest, stack: newest), or -ENOENT. */
  pop(): Uint8Array | MapErrno {
    if (this.count === 0) return -Errno.ENOENT;
    let at: number;
    if (this.lifo) {
      at = (this.head - 1 + this.ring.length) % this.ring.length;
      this.head = at;
    } else {
      at = this.tail;
      this.tail = (this.tail + 1) % this.ring.length;
    }
    const v = this.ring[at] as Uint8Array;
    this.ring[at] = undefined;
    return v;
  }

  /** lookupAndDelete is the syscall's BPF_MAP_LOOKUP_AND_DELETE_ELEM on a queue/stack: a pop. */
  override lookupAndDelete(_key: Uint8Array): Uint8Array | MapErrno {
    return this.pop();
  }

  /** values lists the elements oldest first. */
  values(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = this.tail; i !== this.head; i = (i + 1) % this.ring.length) out.push((this.ring[i] as Uint8Array).slice());
    return out;
  }

  lookupAddr(_key: Uint8Array, _cpu: number): number {
    return 0;
  }

  /** update is the syscall's BPF_MAP_UPDATE_ELEM on a queue/stack: a push. */
  update(_key: Uint8Array, value: Uint8Array, flags: number, _cpu?: number): MapErrno {
    return this.push(value, flags);
  }

  /** delete: queue_stack_map_delete_elem is -EINVAL. */
  delete(_key: Uint8Array): MapErrno {
    return -Errno.EINVAL;
  }

  /** lookup is the syscall's BPF_MAP_LOOKUP_ELEM on a queue/stack: a peek. */
  lookup(_key: Uint8Array): Uint8Array | undefined {
    const v = this.peek();
    return typeof v === 'number' ? undefined : v;
  }

  *keys(): IterableIterator<Uint8Array> {}

  /** getNextKey: queue_stack_map_get_next_key is -EINVAL. */
  getNextKey(_key: Uint8Array | undefined): MapErrno {
    return -Errno.EINVAL;
  }
}
