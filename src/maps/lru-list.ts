/**
 * lru-list — the kernel's BPF LRU (kernel/bpf/bpf_lru_list.c), re-implemented so LRU_HASH
 * evicts exactly the elements the kernel evicts for the same sequence of operations on the same
 * CPUs. It is an approximate LRU:
 *
 * - a global list set (active, inactive, free) per map — or one per CPU with
 *   BPF_F_NO_COMMON_LRU — and, for the common LRU, a per-CPU local free list and a per-CPU
 *   pending list where freshly inserted nodes wait until the CPU next refills its free list;
 * - a reference bit set by program lookups (and by replacing an element); referenced nodes get
 *   a second chance: rotation and shrinking move them to the active list instead of evicting;
 * - a CPU whose local free list is empty flushes its pending nodes into the global lists,
 *   rotates them, and takes up to target_free = clamp(max_entries / nr_cpus / 2, 1, 128) free
 *   nodes, shrinking (evicting) the inactive tail when the global free list runs short
 *   (bpf_lru_list_pop_free_to_local, Linux ≥ 6.16's target_free); when even that fails it
 *   steals from other CPUs' local lists (bpf_lru_pop_free).
 * - with per-CPU lists each CPU owns max_entries / nr_cpus nodes, refilled PERCPU_FREE_TARGET (4)
 *   at a time, and new nodes go straight to the inactive list (bpf_percpu_lru_pop_free).
 *
 * Lists are circular doubly linked with a sentinel, like list_head: "head" is the most recent
 * end, iteration "from the tail" visits the oldest first.
 */

/** LruListType mirrors enum bpf_lru_list_type. */
export const LruListType = { ACTIVE: 0, INACTIVE: 1, FREE: 2, LOCAL_FREE: 3, LOCAL_PENDING: 4 } as const;
type LruListType = (typeof LruListType)[keyof typeof LruListType];

const LOCAL_FREE_TARGET = 128;
const LOCAL_NR_SCANS = LOCAL_FREE_TARGET;
const PERCPU_FREE_TARGET = 4;

/** Link is a list_head. */
class Link {
  prev: Link = this;
  next: Link = this;
}

/** LruNode is one preallocated element slot with its LRU state. */
export class LruNode extends Link {
  type: LruListType = LruListType.FREE;
  ref = false;
  cpu = 0;
  /** Whatever the map stores in this node (its hash element), or undefined. */
  owner: unknown = undefined;
  constructor(readonly addr: number) {
    super();
  }
}

function listDel(n: Link): void {
  n.prev.next = n.next;
  n.next.prev = n.prev;
  n.prev = n;
  n.next = n;
}
function listAdd(n: Link, head: Link): void {
  n.next = head.next;
  n.prev = head;
  head.next.prev = n;
  head.next = n;
}
function listMove(n: Link, head: Link): void {
  listDel(n);
  listAdd(n, head);
}
/** Nodes from the tail (oldest) to the head, captured first so moves during the walk are safe. */
function reverse(head: Link): LruNode[] {
  const out: LruNode[] = [];
  for (let c = head.prev; c !== head; c = c.prev) out.push(c as LruNode);
  return out;
}

/** LruList is struct bpf_lru_list: active, inactive and free lists with counts. */
class LruList {
  readonly lists: [Link, Link, Link] = [new Link(), new Link(), new Link()];
  readonly counts = [0, 0];
  nextInactiveRotation: Link;
  /** Free nodes not yet materialised (bpf_lru_populate puts all nodes on the free list up front). */
  virgin: number;
  constructor(nodes: number) {
    this.virgin = nodes;
    this.nextInactiveRotation = this.lists[LruListType.INACTIVE];
  }
}

/** LocalList is struct bpf_lru_locallist: a CPU's free and pending lists. */
class LocalList {
  readonly free = new Link();
  readonly pending = new Link();
  constructor(public nextSteal: number) {}
}

/** BpfLru is struct bpf_lru for one map. */
export class BpfLru {
  private readonly common: LruList | undefined;
  private readonly local: LocalList[] = [];
  private readonly percpu: LruList[] = [];
  private readonly targetFree: number;

  /**
   * @param nodes       max_entries (already rounded for per-CPU lists)
   * @param cpus        possible CPUs
   * @param percpuLru   BPF_F_NO_COMMON_LRU
   * @param newNode     materialises a node (allocates its value slot)
   * @param delFromHtab removes the element a node holds from the map; false when it holds none
   */
  constructor(
    nodes: number,
    private readonly cpus: number,
    readonly percpuLru: boolean,
    private readonly newNode: (cpu: number) => LruNode,
    private readonly delFromHtab: (node: LruNode) => boolean,
  ) {
    this.targetFree = Math.min(LOCAL_FREE_TARGET, Math.max(1, Math.floor(Math.floor(nodes / cpus) / 2)));
    if (percpuLru) {
      for (let c = 0; c < cpus; c++) this.percpu.push(new LruList(Math.floor(nodes / cpus)));
    } else {
      this.common = new LruList(nodes);
      for (let c = 0; c < cpus; c++) this.local.push(new LocalList(c));
    }
  }

  /** setRef is bpf_lru_node_set_ref: a program looked the element up. */
  static setRef(node: LruNode): void {
    node.ref = true;
  }

  private countInc(l: LruList, t: LruListType): void {
    if (t <= LruListType.INACTIVE) l.counts[t]++;
  }
  private countDec(l: LruList, t: LruListType): void {
    if (t <= LruListType.INACTIVE) l.counts[t]--;
  }

  /** takeFree removes the first node of a list's free list, materialising one when only virgin nodes remain. */
  private firstFree(l: LruList, cpu: number): LruNode | undefined {
    const head = l.lists[LruListType.FREE];
    if (head.next !== head) return head.next as LruNode;
    if (l.virgin > 0) {
      l.virgin--;
      const n = this.newNode(cpu);
      n.type = LruListType.FREE;
      listAdd(n, head);
      return n;
    }
    return undefined;
  }

  private moveToFree(l: LruList, node: LruNode, freeList: Link, tgt: LruListType): void {
    if (node === l.nextInactiveRotation) l.nextInactiveRotation = l.nextInactiveRotation.prev;
    this.countDec(l, node.type);
    node.type = tgt;
    listMove(node, freeList);
  }

  private moveIn(l: LruList, node: LruNode, tgt: LruListType): void {
    this.countInc(l, tgt);
    node.type = tgt;
    node.ref = false;
    listMove(node, l.lists[tgt as 0 | 1 | 2]);
  }

  private move(l: LruList, node: LruNode, tgt: LruListType): void {
    if (node.type !== tgt) {
      this.countDec(l, node.type);
      this.countInc(l, tgt);
      node.type = tgt;
    }
    node.ref = false;
    if (node === l.nextInactiveRotation) l.nextInactiveRotation = l.nextInactiveRotation.prev;
    listMove(node, l.lists[tgt as 0 | 1 | 2]);
  }

  private rotateActive(l: LruList): void {
    const active = l.lists[LruListType.ACTIVE];
    const first = active.next;
    let i = 0;
    for (const node of reverse(active)) {
      this.move(l, node, node.ref ? LruListType.ACTIVE : LruListType.INACTIVE);
      if (++i === LOCAL_NR_SCANS || node === first) break;
    }
  }

  private rotateInactive(l: LruList): void {
    const inactive = l.lists[LruListType.INACTIVE];
    if (inactive.next === inactive) return;
    let last = l.nextInactiveRotation.next;
    if (last === inactive) last = last.next;
    let cur = l.nextInactiveRotation;
    let next: Link = cur;
    let i = 0;
    while (i < LOCAL_NR_SCANS) {
      if (cur === inactive) {
        cur = cur.prev;
        continue;
      }
      const node = cur as LruNode;
      next = cur.prev;
      if (node.ref) this.move(l, node, LruListType.ACTIVE);
      if (cur === last) break;
      cur = next;
      i++;
    }
    l.nextInactiveRotation = next;
  }

  private rotate(l: LruList): void {
    if (l.counts[LruListType.INACTIVE] < l.counts[LruListType.ACTIVE]) this.rotateActive(l);
    this.rotateInactive(l);
  }

  private shrinkInactive(l: LruList, target: number, freeList: Link, tgt: LruListType): number {
    const inactive = l.lists[LruListType.INACTIVE];
    let n = 0;
    let i = 0;
    for (const node of reverse(inactive)) {
      if (node.ref) this.move(l, node, LruListType.ACTIVE);
      else if (this.delFromHtab(node)) {
        this.moveToFree(l, node, freeList, tgt);
        if (++n === target) break;
      }
      if (++i === LOCAL_NR_SCANS) break;
    }
    return n;
  }

  private shrink(l: LruList, target: number, freeList: Link, tgt: LruListType): number {
    const n = this.shrinkInactive(l, target, freeList, tgt);
    if (n !== 0) return n;
    const inactive = l.lists[LruListType.INACTIVE];
    const force = inactive.next !== inactive ? inactive : l.lists[LruListType.ACTIVE];
    for (const node of reverse(force)) {
      if (this.delFromHtab(node)) {
        this.moveToFree(l, node, freeList, tgt);
        return 1;
      }
    }
    return 0;
  }

  private flush(l: LruList, loc: LocalList): void {
    for (const node of reverse(loc.pending)) this.moveIn(l, node, node.ref ? LruListType.ACTIVE : LruListType.INACTIVE);
  }

  private popFreeToLocal(loc: LocalList, cpu: number): void {
    const l = this.common as LruList;
    this.flush(l, loc);
    this.rotate(l);
    let nfree = 0;
    while (nfree < this.targetFree) {
      const node = this.firstFree(l, cpu);
      if (node === undefined) break;
      this.moveToFree(l, node, loc.free, LruListType.LOCAL_FREE);
      nfree++;
    }
    if (nfree < this.targetFree) this.shrink(l, this.targetFree - nfree, loc.free, LruListType.LOCAL_FREE);
  }

  private addPending(loc: LocalList, cpu: number, node: LruNode): void {
    node.cpu = cpu;
    node.type = LruListType.LOCAL_PENDING;
    node.ref = false;
    listMove(node, loc.pending);
  }

  private popLocalFree(loc: LocalList): LruNode | undefined {
    const head = loc.free;
    if (head.next === head) return undefined;
    const node = head.next as LruNode;
    listDel(node);
    return node;
  }

  private popPending(loc: LocalList): LruNode | undefined {
    for (const force of [false, true]) {
      for (const node of reverse(loc.pending)) {
        if ((!node.ref || force) && this.delFromHtab(node)) {
          listDel(node);
          return node;
        }
      }
    }
    return undefined;
  }

  /** popFree is bpf_lru_pop_free on `cpu`: a node for a new element, evicting as the kernel does; undefined: -ENOMEM. */
  popFree(cpu: number): LruNode | undefined {
    if (this.percpuLru) {
      const l = this.percpu[cpu];
      this.rotate(l);
      const freeHead = l.lists[LruListType.FREE];
      if (freeHead.next === freeHead && l.virgin === 0) this.shrink(l, PERCPU_FREE_TARGET, freeHead, LruListType.FREE);
      const node = this.firstFree(l, cpu);
      if (node === undefined) return undefined;
      node.cpu = cpu;
      node.ref = false;
      this.move(l, node, LruListType.INACTIVE);
      return node;
    }
    const loc = this.local[cpu];
    let node = this.popLocalFree(loc);
    if (node === undefined) {
      this.popFreeToLocal(loc, cpu);
      node = this.popLocalFree(loc);
    }
    if (node !== undefined) {
      this.addPending(loc, cpu, node);
      return node;
    }
    const first = loc.nextSteal;
    let steal = first;
    do {
      const sl = this.local[steal];
      node = this.popLocalFree(sl) ?? this.popPending(sl);
      steal = (steal + 1) % this.cpus;
    } while (node === undefined && steal !== first);
    loc.nextSteal = steal;
    if (node !== undefined) this.addPending(loc, cpu, node);
    return node;
  }

  /** pushFree is bpf_lru_push_free: a node whose element was deleted or replaced. */
  pushFree(node: LruNode): void {
    node.owner = undefined;
    if (this.percpuLru) {
      this.move(this.percpu[node.cpu], node, LruListType.FREE);
      return;
    }
    if (node.type === LruListType.LOCAL_PENDING) {
      node.type = LruListType.LOCAL_FREE;
      node.ref = false;
      listMove(node, this.local[node.cpu].free);
      return;
    }
    this.move(this.common as LruList, node, LruListType.FREE);
  }

  /** order lists nodes holding elements from the first the kernel would evict to the last (for tests/debugging). */
  order(): LruNode[] {
    const lists = this.percpuLru ? this.percpu : [this.common as LruList];
    const out: LruNode[] = [];
    for (const l of lists) out.push(...reverse(l.lists[LruListType.INACTIVE]), ...reverse(l.lists[LruListType.ACTIVE]));
    for (const loc of this.local) out.push(...reverse(loc.pending));
    return out.filter((n) => n.owner !== undefined);
  }
}

