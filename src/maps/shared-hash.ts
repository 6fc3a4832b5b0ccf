/**
 * shared-hash — BPF_MAP_TYPE_HASH and BPF_MAP_TYPE_PERCPU_HASH for a shared-mode Memory
 * (`xdpsim replay --workers N`): the whole table — buckets, keys, the iteration list, the free
 * list, the element count and the lock — lives in the shared WebAssembly.Memory, so every worker
 * thread sees one map, as every CPU sees one htab in the kernel.
 *
 * Layout, all preallocated at creation (the kernel's default, without BPF_F_NO_PREALLOC) and valid
 * when all zero, so a thread that builds the same map over memory another thread already filled
 * changes nothing:
 *   index region (not program-accessible): a header of HEADER_WORDS i32 (lock, count, free stack
 *   depth, next never-used element, iteration head and tail), the buckets (element number + 1,
 *   0 for none), the free stack (element numbers), then one record per element: chain next,
 *   iteration prev and next (element number + 1), the key's hash, the key bytes;
 *   value region: element e's value at valueBase + e * slotSize (per-CPU: one copy per CPU).
 *
 * Concurrency: one lock per map, an i32 taken with Atomics.compareExchange and released with
 * Atomics.store, around every operation that changes the index or walks it for user space, in
 * the role of the kernel's bucket locks. The programs' lookup (the hot path, the kernel's RCU
 * read side) takes no lock: it is a seqlock reader — writers make a sequence word odd while they
 * change the index, a lookup walks the chain (bounded, indexes checked) between two reads of that
 * word and walks again, or takes the lock after a few tries, when a writer was at work. Measured
 * reason: with two workers every locked lookup moved the lock's cache line between the cores.
 * Values are not locked: a program writes them
 * through the pointer a lookup returned, as in the kernel. Freed elements are reused last in,
 * first out; a program on another worker still holding a deleted element's pointer may see the
 * slot reused — the kernel's preallocated htab has the same property (hashtab.c, "the element may
 * be reused").
 *
 * Iteration order is insertion order, like HashMap (hash.ts), so a one-worker run dumps like the
 * single-threaded path.
 */
import { BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';
import { mapCreateError, valueRegionAccess, type ForEachEntry, type MapHost } from './base.js';
import { HashMap } from './hash.js';
import { RegionKind, type Region } from '../vm/memory.js';

/** Header words of the index region. */
const H_LOCK = 0;
const H_COUNT = 1;
const H_FREE = 2;
const H_FRESH = 3;
const H_HEAD = 4;
const H_TAIL = 5;
const H_SEQ = 6;
const HEADER_WORDS = 8;
/** READ_TRIES is how many lock-free walks a lookup tries before it takes the lock. */
const READ_TRIES = 4;

/** Words of an element record before its key. */
const E_CHAIN = 0;
const E_PREV = 1;
const E_NEXT = 2;
const E_HASH = 3;
const E_WORDS = 4;

/** hashBytes is 32-bit FNV-1a over `len` bytes of `b` from `off`. */
function hashBytes(b: Uint8Array, off: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ b[off + i], 0x01000193);
  return h | 0;
}

/** SharedHashMap is HASH or PERCPU_HASH with its state in shared memory (see the module comment). */
export class SharedHashMap extends HashMap {
  /** index is the region of the header, buckets, free stack and element records. */
  readonly index: Region;
  /** values is the region of the value slots. */
  readonly values: Region;
  private readonly i32: Int32Array;
  /** Word index of the header. */
  private readonly hdr: number;
  private readonly buckets: number;
  private readonly mask: number;
  private readonly freeBase: number;
  private readonly elemBase: number;
  /** Words per element record. */
  private readonly elemWords: number;
  private readonly slotSize: number;
  private readonly keyBytes: Uint8Array;

  constructor(host: MapHost, spec: MapSpec, id: number, perCpu: boolean) {
    super(host, spec, id, perCpu);
    if (this.mem.shared === undefined) throw new Error(`map ${spec.name}: SharedHashMap needs a shared-mode Memory`);
    let nb = 1;
    while (nb < spec.maxEntries && nb < 1 << 22) nb <<= 1;
    this.mask = nb - 1;
    this.elemWords = E_WORDS + ((spec.keySize + 3) >>> 2);
    this.slotSize = this.stride * (perCpu ? host.cpus : 1);
    const indexWords = HEADER_WORDS + nb + spec.maxEntries + spec.maxEntries * this.elemWords;
    try {
      this.index = this.mem.map(RegionKind.MapValue, `${spec.name} (index)`, indexWords * 4, { readable: false, writable: false });
      this.values = this.mem.map(this.valueKind(), spec.name, spec.maxEntries * this.slotSize, valueRegionAccess(spec));
    } catch (e) {
      if (e instanceof RangeError) throw mapCreateError(spec, Errno.ENOMEM, e.message);
      throw e;
    }
    this.i32 = new Int32Array(this.mem.wasm.buffer);
    this.hdr = this.index.start >>> 2;
    this.buckets = this.hdr + HEADER_WORDS;
    this.freeBase = this.buckets + nb;
    this.elemBase = this.freeBase + spec.maxEntries;
    this.keyBytes = new Uint8Array(this.mem.wasm.buffer);
  }

  private lock(): void {
    const i32 = this.i32;
    const at = this.hdr + H_LOCK;
    let spins = 0;
    while (Atomics.compareExchange(i32, at, 0, 1) !== 0) {
      // Critical sections are a few hundred instructions: spin, then yield the core now and then.
      if (++spins > 64) Atomics.wait(i32, at, 1, 0.05);
    }
  }

  private unlock(): void {
    Atomics.store(this.i32, this.hdr + H_LOCK, 0);
  }

  /** writeLock takes the lock and makes the sequence word odd (index changes follow). */
  private writeLock(): void {
    this.lock();
    Atomics.add(this.i32, this.hdr + H_SEQ, 1);
  }

  /** writeUnlock makes the sequence word even again and releases the lock. */
  private writeUnlock(): void {
    Atomics.add(this.i32, this.hdr + H_SEQ, 1);
    this.unlock();
  }

  /**
   * findRacy is find without the lock, for a seqlock reader: every index read is checked and the
   * walk is bounded, since a writer may change the chain under it; the caller discards the answer
   * unless the sequence word did not move.
   */
  private findRacy(b: Uint8Array, off: number, h: number): number {
    const i32 = this.i32;
    const ks = this.spec.keySize;
    const kb = this.keyBytes;
    const max = this.spec.maxEntries;
    let n = i32[this.buckets + (h & this.mask)];
    for (let steps = 0; n > 0 && n <= max && steps <= max; steps++) {
      const e = n - 1;
      const r = this.rec(e);
      if (i32[r + E_HASH] === h) {
        const k = (r + E_WORDS) << 2;
        let i = 0;
        while (i < ks && kb[k + i] === b[off + i]) i++;
        if (i === ks) return e;
      }
      n = i32[r + E_CHAIN];
    }
    return -1;
  }

  private rec(e: number): number {
    return this.elemBase + e * this.elemWords;
  }

  private valueAddr(e: number): number {
    return this.values.start + e * this.slotSize;
  }

  /**
   * find returns the element number holding the key at `off` in `b`, or -1, with the lock held.
   * It is findRacy's walk: under the lock the chain is consistent and the bounds never cut it.
   */
  private find(b: Uint8Array, off: number, h: number): number {
    return this.findRacy(b, off, h);
  }

  private keyOf(e: number): Uint8Array {
    const k = (this.rec(e) + E_WORDS) << 2;
    return this.keyBytes.slice(k, k + this.spec.keySize);
  }

  override get count(): number {
    return Atomics.load(this.i32, this.hdr + H_COUNT);
  }

  override lookupAddr(key: Uint8Array, cpu: number): number {
    return this.lookupAddrAt(key, 0, cpu);
  }

  override lookupAddrAt(u8: Uint8Array, off: number, cpu: number): number {
    const h = hashBytes(u8, off, this.spec.keySize);
    const i32 = this.i32;
    const seq = this.hdr + H_SEQ;
    let e = -2;
    for (let t = 0; t < READ_TRIES && e === -2; t++) {
      const s0 = Atomics.load(i32, seq);
      if ((s0 & 1) !== 0) continue;
      const found = this.findRacy(u8, off, h);
      if (Atomics.load(i32, seq) === s0) e = found;
    }
    if (e === -2) {
      this.lock();
      e = this.find(u8, off, h);
      this.unlock();
    }
    if (e < 0) return 0;
    return this.valueAddr(e) + (this.perCpu ? cpu * this.stride : 0);
  }

  /** insert takes an element for a new key and links it (lock held); -1 when the map is full. */
  private insert(key: Uint8Array, h: number): number {
    const i32 = this.i32;
    const hd = this.hdr;
    if (i32[hd + H_COUNT] >= this.spec.maxEntries) return -1;
    let e: number;
    if (i32[hd + H_FREE] > 0) {
      i32[hd + H_FREE]--;
      e = i32[this.freeBase + i32[hd + H_FREE]];
    } else {
      e = i32[hd + H_FRESH]++;
    }
    const r = this.rec(e);
    this.keyBytes.set(key.subarray(0, this.spec.keySize), (r + E_WORDS) << 2);
    i32[r + E_HASH] = h;
    const b = this.buckets + (h & this.mask);
    i32[r + E_CHAIN] = i32[b];
    i32[b] = e + 1;
    const tail = i32[hd + H_TAIL];
    i32[r + E_PREV] = tail;
    i32[r + E_NEXT] = 0;
    if (tail !== 0) i32[this.rec(tail - 1) + E_NEXT] = e + 1;
    else i32[hd + H_HEAD] = e + 1;
    i32[hd + H_TAIL] = e + 1;
    i32[hd + H_COUNT]++;
    return e;
  }

  /** remove unlinks element `e` and frees it (lock held). */
  private remove(e: number): void {
    const i32 = this.i32;
    const hd = this.hdr;
    const r = this.rec(e);
    const b = this.buckets + (i32[r + E_HASH] & this.mask);
    if (i32[b] === e + 1) {
      i32[b] = i32[r + E_CHAIN];
    } else {
      let n = i32[b];
      while (n !== 0) {
        const pr = this.rec(n - 1);
        if (i32[pr + E_CHAIN] === e + 1) {
          i32[pr + E_CHAIN] = i32[r + E_CHAIN];
          break;
        }
        n = i32[pr + E_CHAIN];
      }
    }
    const prev = i32[r + E_PREV];
    const next = i32[r + E_NEXT];
    if (prev !== 0) i32[this.rec(prev - 1) + E_NEXT] = next;
    else i32[hd + H_HEAD] = next;
    if (next !== 0) i32[this.rec(next - 1) + E_PREV] = prev;
    else i32[hd + H_TAIL] = prev;
    i32[this.freeBase + i32[hd + H_FREE]] = e;
    i32[hd + H_FREE]++;
    i32[hd + H_COUNT]--;
  }

  /** store writes a value into element `e` as HashMap.copyIn does (lock held). */
  private store(e: number, value: Uint8Array, isNew: boolean, cpu: number | undefined): void {
    const addr = this.valueAddr(e);
    if (!this.perCpu) {
      if (isNew) this.zeroValue(addr, this.stride);
      this.writeValue(addr, value);
      return;
    }
    if (cpu !== undefined) {
      if (isNew) this.zeroValue(addr, this.slotSize);
      this.writeValue(addr + cpu * this.stride, value);
      return;
    }
    const values = this.splitPerCpu(value);
    for (let c = 0; c < this.cpus; c++) this.writeValue(addr + c * this.stride, values[c]);
  }

  /** update is htab_map_update_elem / htab_percpu_map_update_elem, as HashMap.update. */
  override update(key: Uint8Array, value: Uint8Array, flags: number, cpu?: number): MapErrno {
    this.checkKeySize(key);
    if ((flags & ~BPF_F_LOCK) > BPF_EXIST) return -Errno.EINVAL;
    if (this.lockFlagInvalid(flags) || (this.perCpu && (flags & BPF_F_LOCK) !== 0)) return -Errno.EINVAL;
    if (!this.perCpu || cpu !== undefined) this.checkValueSize(value);
    else this.splitPerCpu(value);
    const mode = flags & ~BPF_F_LOCK;
    const h = hashBytes(key, 0, this.spec.keySize);
    this.writeLock();
    try {
      const old = this.find(key, 0, h);
      if (old >= 0 && mode === BPF_NOEXIST) return -Errno.EEXIST;
      if (old < 0 && mode === BPF_EXIST) return -Errno.ENOENT;
      if (old >= 0) {
        this.store(old, value, false, cpu);
        return 0;
      }
      const e = this.insert(key, h);
      if (e < 0) return -Errno.E2BIG;
      this.store(e, value, true, cpu);
      return 0;
    } finally {
      this.writeUnlock();
    }
  }

  override delete(key: Uint8Array): MapErrno {
    this.checkKeySize(key);
    const h = hashBytes(key, 0, this.spec.keySize);
    this.writeLock();
    const e = this.find(key, 0, h);
    if (e >= 0) this.remove(e);
    this.writeUnlock();
    return e >= 0 ? 0 : -Errno.ENOENT;
  }

  override lookup(key: Uint8Array): Uint8Array | Uint8Array[] | undefined {
    this.checkKeySize(key);
    const h = hashBytes(key, 0, this.spec.keySize);
    this.lock();
    try {
      const e = this.find(key, 0, h);
      if (e < 0) return undefined;
      const addr = this.valueAddr(e);
      if (!this.perCpu) return this.mem.copy(addr, this.spec.valueSize);
      return Array.from({ length: this.cpus }, (_, c) => this.mem.copy(addr + c * this.stride, this.spec.valueSize));
    } finally {
      this.unlock();
    }
  }

  override lookupAndDelete(key: Uint8Array): Uint8Array | Uint8Array[] | MapErrno {
    this.checkKeySize(key);
    const h = hashBytes(key, 0, this.spec.keySize);
    this.writeLock();
    try {
      const e = this.find(key, 0, h);
      if (e < 0) return -Errno.ENOENT;
      const addr = this.valueAddr(e);
      const v = !this.perCpu
        ? this.mem.copy(addr, this.spec.valueSize)
        : Array.from({ length: this.cpus }, (_, c) => this.mem.copy(addr + c * this.stride, this.spec.valueSize));
      this.remove(e);
      return v;
    } finally {
      this.writeUnlock();
    }
  }

  /** list returns the elements in iteration order (a snapshot taken under the lock). */
  private list(): number[] {
    const out: number[] = [];
    this.lock();
    for (let n = this.i32[this.hdr + H_HEAD]; n !== 0; n = this.i32[this.rec(n - 1) + E_NEXT]) out.push(n - 1);
    this.unlock();
    return out;
  }

  override *keys(): IterableIterator<Uint8Array> {
    for (const e of this.list()) yield this.keyOf(e);
  }

  /** htab_map_get_next_key: an absent key restarts from the first element; -ENOENT at the end. */
  override getNextKey(key: Uint8Array | undefined): Uint8Array | MapErrno {
    this.lock();
    try {
      const e = key === undefined ? -1 : this.find(key, 0, hashBytes(key, 0, this.spec.keySize));
      const next = e < 0 ? this.i32[this.hdr + H_HEAD] : this.i32[this.rec(e) + E_NEXT];
      return next === 0 ? -Errno.ENOENT : this.keyOf(next - 1);
    } finally {
      this.unlock();
    }
  }

  override forEachEntries(cpu: number): ForEachEntry[] {
    return this.list().map((e) => ({ key: this.keyOf(e), valueAddr: this.valueAddr(e) + (this.perCpu ? cpu * this.stride : 0) }));
  }

  override has(key: Uint8Array): boolean {
    const h = hashBytes(key, 0, this.spec.keySize);
    this.lock();
    const e = this.find(key, 0, h);
    this.unlock();
    return e >= 0;
  }
}
