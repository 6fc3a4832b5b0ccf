/**
 * ringbuf — BPF_MAP_TYPE_RINGBUF (kernel/bpf/ringbuf.c): a multi-producer, single-consumer
 * byte ring shared with user space.
 *
 * Layout as the kernel's: a data area of max_entries bytes (a power of two, page aligned);
 * records start 8-byte aligned with an 8-byte header `{ u32 len; u32 pg_off; }` where len carries
 * BPF_RINGBUF_BUSY_BIT (1 << 31) while reserved and BPF_RINGBUF_DISCARD_BIT (1 << 30) once
 * discarded; a record takes round_up(len + 8, 8) bytes. producer_pos and consumer_pos are
 * free-running counters; offset = pos & mask. pg_off is the record's page offset from the start of
 * `struct bpf_ringbuf` (3 meta pages before the data).
 *
 * The kernel maps the data pages twice in a row so a record that wraps is contiguous. Here the
 * region is 2 × max_entries bytes: reserving a wrapping sample first copies the start of the ring
 * into the second copy, the program writes there, and submit/discard copies the wrapped tail back
 * to the start — the consumer always reads the first copy, so both views agree whenever a record
 * is visible, unwritten bytes included. A reservation is refused when the
 * producer would get more than max_entries - 1 bytes ahead of the consumer or of the oldest
 * record not yet committed (pending_pos, __bpf_ringbuf_reserve since Linux 6.10).
 */
import { MapFlag, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';
import { MapBase, checkFlagMask, mapCreateError, type MapHost } from './base.js';
import { PAGE_SIZE, RegionKind, type Region } from '../vm/memory.js';

/** Header bits and size (include/uapi/linux/bpf.h). */
export const BPF_RINGBUF_BUSY_BIT = 0x8000_0000;
export const BPF_RINGBUF_DISCARD_BIT = 0x4000_0000;
export const BPF_RINGBUF_HDR_SZ = 8;
/** RINGBUF_META_PAGES: pages of struct bpf_ringbuf before the data (RINGBUF_PGOFF + RINGBUF_POS_PAGES). */
export const RINGBUF_META_PAGES = 3;
/** RINGBUF_MAX_RECORD_SZ is UINT_MAX / 4. */
export const RINGBUF_MAX_RECORD_SZ = Math.floor(0xffff_ffff / 4);
/** RINGBUF_MAX_DATA_SZ caps max_entries at (2^24 - 3) pages. */
export const RINGBUF_MAX_DATA_SZ = ((1 << 24) - RINGBUF_META_PAGES) * PAGE_SIZE;

/** bpf_ringbuf_query flags. */
export const RingbufQuery = { AVAIL_DATA: 0, RING_SIZE: 1, CONS_POS: 2, PROD_POS: 3 } as const;

/** checkRingbufSpec is ringbuf_map_alloc's check. */
export function checkRingbufSpec(spec: MapSpec): void {
  checkFlagMask(spec, MapFlag.NUMA_NODE);
  const n = spec.maxEntries;
  if (spec.keySize !== 0 || spec.valueSize !== 0 || n === 0 || (n & (n - 1)) !== 0 || n % PAGE_SIZE !== 0) {
    throw mapCreateError(spec, Errno.EINVAL, 'ringbufs need key_size 0, value_size 0 and a power-of-two, page-aligned max_entries');
  }
  if (n > RINGBUF_MAX_DATA_SZ) throw mapCreateError(spec, Errno.E2BIG, `max_entries ${n} too large`);
}

/** RingbufRecord is one committed record as a consumer sees it. */
export interface RingbufRecord {
  /** Position of the record header (the producer counter when it was reserved). */
  readonly pos: number;
  readonly data: Uint8Array;
  readonly discarded: boolean;
}

/** RingbufMap is a RINGBUF. */
export class RingbufMap extends MapBase {
  readonly region: Region;
  readonly size: number;
  readonly mask: number;
  private producer = 0;
  private consumer = 0;
  private pendingPos = 0;
  /** Sample addresses of reservations not yet submitted or discarded, to their header position. */
  private readonly reserved = new Map<number, number>();

  constructor(host: MapHost, spec: MapSpec, id: number) {
    checkRingbufSpec(spec);
    super(host, spec, id);
    this.size = spec.maxEntries;
    this.mask = spec.maxEntries - 1;
    try {
      this.region = this.mem.map(RegionKind.RingBuf, spec.name, 2 * spec.maxEntries, { readable: true, writable: true });
    } catch (e) {
      if (e instanceof RangeError) throw mapCreateError(spec, Errno.ENOMEM, e.message);
      throw e;
    }
  }

  /** producerPos / consumerPos are the kernel's free-running counters. */
  get producerPos(): number {
    return this.producer;
  }
  get consumerPos(): number {
    return this.consumer;
  }

  get count(): number {
    return 0;
  }

  private hdrAddr(pos: number): number {
    return this.region.start + (pos & this.mask);
  }

  /** reserve is __bpf_ringbuf_reserve: the sample's VM address, or 0 when it does not fit. */
  reserve(size: number): number {
    if (size > RINGBUF_MAX_RECORD_SZ) return 0;
    const len = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    if (len > this.size) return 0;
    const dv = this.mem.dv;
    let pend = this.pendingPos;
    while (pend < this.producer) {
      const hlen = dv.getUint32(this.hdrAddr(pend), true);
      if ((hlen & BPF_RINGBUF_BUSY_BIT) !== 0) break;
      pend += ((hlen & ~BPF_RINGBUF_DISCARD_BIT) + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    }
    this.pendingPos = pend;
    const next = this.producer + len;
    if (next - this.consumer > this.mask || next - pend > this.mask) return 0;
    const hdr = this.hdrAddr(this.producer);
    dv.setUint32(hdr, (size | BPF_RINGBUF_BUSY_BIT) >>> 0, true);
    dv.setUint32(hdr + 4, RINGBUF_META_PAGES + Math.floor((this.producer & this.mask) / PAGE_SIZE), true);
    const sample = hdr + BPF_RINGBUF_HDR_SZ;
    const end = (this.producer & this.mask) + len;
    if (end > this.size) {
      // The part past the end aliases the start of the ring in the kernel's double mapping: make
      // the second copy show what the first holds before the program writes into it.
      const base = this.region.start;
      this.mem.u8.copyWithin(base + this.size, base, base + end - this.size);
    }
    this.reserved.set(sample, this.producer);
    this.producer = next;
    return sample;
  }

  /** isReserved tells whether `addr` is a sample reserved and not yet committed. */
  isReserved(addr: number): boolean {
    return this.reserved.has(addr);
  }

  /** commit is bpf_ringbuf_commit: clears the busy bit (and sets discard); false for an unknown sample. */
  commit(sample: number, discard: boolean): boolean {
    const pos = this.reserved.get(sample);
    if (pos === undefined) return false;
    this.reserved.delete(sample);
    const hdr = sample - BPF_RINGBUF_HDR_SZ;
    const dv = this.mem.dv;
    const len = dv.getUint32(hdr, true) & ~BPF_RINGBUF_BUSY_BIT & ~BPF_RINGBUF_DISCARD_BIT;
    const end = (pos & this.mask) + BPF_RINGBUF_HDR_SZ + len;
    if (end > this.size) {
      const base = this.region.start;
      this.mem.u8.copyWithin(base, base + this.size, base + end);
    }
    dv.setUint32(hdr, ((len | (discard ? BPF_RINGBUF_DISCARD_BIT : 0)) >>> 0), true);
    return true;
  }

  /** output is bpf_ringbuf_output after flag checks: reserve, copy, submit; -EAGAIN when full. */
  output(data: Uint8Array): MapErrno {
    const copy = data.slice();
    const sample = this.reserve(copy.length);
    if (sample === 0) return -Errno.EAGAIN;
    this.mem.write(sample, copy);
    this.commit(sample, false);
    return 0;
  }

  /** query is bpf_ringbuf_query. */
  query(flag: number): number {
    switch (flag) {
      case RingbufQuery.AVAIL_DATA:
        return this.producer - this.consumer;
      case RingbufQuery.RING_SIZE:
        return this.size;
      case RingbufQuery.CONS_POS:
        return this.consumer;
      case RingbufQuery.PROD_POS:
        return this.producer;
      default:
        return 0;
    }
  }

  private readData(pos: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    const off = pos & this.mask;
    const first = Math.min(len, this.size - off);
    out.set(this.mem.view(this.region.start + off, first));
    if (first < len) out.set(this.mem.view(this.region.start, len - first), first);
    return out;
  }

  /**
   * records reads committed records from the consumer position without consuming them, stopping
   * at the first busy one (as libbpf's ringbuf__consume would, before it advances).
   */
  records(includeDiscarded = false): RingbufRecord[] {
    const out: RingbufRecord[] = [];
    let pos = this.consumer;
    while (pos < this.producer) {
      const hlen = this.mem.dv.getUint32(this.hdrAddr(pos), true);
      if ((hlen & BPF_RINGBUF_BUSY_BIT) !== 0) break;
      const len = hlen & ~BPF_RINGBUF_DISCARD_BIT;
      const discarded = (hlen & BPF_RINGBUF_DISCARD_BIT) !== 0;
      if (!discarded || includeDiscarded) out.push({ pos, data: this.readData(pos + BPF_RINGBUF_HDR_SZ, len), discarded });
      pos += (len + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    }
    return out;
  }

  /** consume returns the committed, non-discarded records and advances consumer_pos past them (libbpf ring_buffer__consume). */
  consume(): Uint8Array[] {
    const recs = this.records(true);
    if (recs.length > 0) {
      const last = recs[recs.length - 1];
      this.consumer = last.pos + ((last.data.length + BPF_RINGBUF_HDR_SZ + 7) & ~7);
    }
    return recs.filter((r) => !r.discarded).map((r) => r.data);
  }

  /** The map ops of a ringbuf are all -ENOTSUPP (ringbuf_map_lookup_elem and friends). */
  lookupAddr(_key: Uint8Array, _cpu: number): number {
    return 0;
  }
  update(_key: Uint8Array, _value: Uint8Array, _flags: number, _cpu?: number): MapErrno {
    return -Errno.ENOTSUPP;
  }
  delete(_key: Uint8Array): MapErrno {
    return -Errno.ENOTSUPP;
  }
  lookup(_key: Uint8Array): undefined {
    return undefined;
  }
  override lookupErrno(_key: Uint8Array): MapErrno {
    return -Errno.ENOTSUPP;
  }
  *keys(): IterableIterator<Uint8Array> {}
  getNextKey(_key: Uint8Array | undefined): MapErrno {
    return -Errno.ENOTSUPP;
  }
}
