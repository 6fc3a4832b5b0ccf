/**
 * memory — the simulated address space of one VM instance (DESIGN.md, "Memory model").
 *
 * One flat 32-bit address space backed by a WebAssembly.Memory, so the interpreter, a JavaScript
 * compiled engine and a WebAssembly compiled engine all address the same bytes with the same
 * numbers. A guest pointer is a plain u32 offset into `u8`; that is why xdp_md.data and
 * __sk_buff.data (u32 fields) can hold real pointers and no context rewriting is needed.
 *
 * Layout: the first NULL_GUARD bytes are never mapped (NULL and small offsets from it fault).
 * Everything else is handed out by `map()` in whole pages, each page owned by exactly one Region.
 * A checked access resolves its region in O(1) through the page-owner table, then compares
 * against the region's live bounds [lo, hi) — live because the packet region moves with
 * bpf_xdp_adjust_head/meta/tail — and its permissions. Engines fault on any access that is not
 * entirely inside one region's bounds. A context region (xdp_md, __sk_buff, bpf_sock) is a
 * mirror of the kernel's fields with an access plan (ctx-plan.ts) saying, per (offset, size,
 * kind), what the kernel's converted access does: refused, a load (possibly of the field's start
 * or sign-extended), or a store through a hook.
 *
 * Shared mode (`xdpsim replay --workers N`, src/datapath/workers): several Memory objects, one per
 * thread, over one shared WebAssembly.Memory of MAX_MEMORY bytes allocated up front (it never
 * grows, so no thread's views go stale). Map storage (RegionKind.MapValue, GlobalData) is placed
 * in the shared heap [NULL_GUARD, SHARED_HEAP_END), everything else (contexts, stacks, packets,
 * scratch) in the thread's own slot of SHARED_SLOT_SIZE bytes above it. Every thread builds the
 * same maps in the same order, so a map's regions land at the same addresses in every thread;
 * each thread's page-owner table knows only its own private regions, so another worker's packet
 * is unmapped to it.
 *
 * Coarseness against the kernel: the kernel's verifier bounds a map-value pointer to one value;
 * here a map's whole value arena is one region, so an access that strays into a neighbouring
 * value of the same map is not caught. Every other region is exact.
 */

/** PAGE_SHIFT sets the granularity of region ownership: 4 KiB pages. */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** NULL_GUARD is the unmapped low range: address 0 up to 64 KiB. */
export const NULL_GUARD = 0x10000;
/** WASM_PAGE is the growth unit of WebAssembly.Memory. */
const WASM_PAGE = 0x10000;
/** MAX_MEMORY caps the address space at 1 GiB (plenty for maps; keeps the owner table small). */
export const MAX_MEMORY = 0x4000_0000;

/** SHARED_HEAP_END ends the shared map heap of a shared-mode memory (512 MiB). */
export const SHARED_HEAP_END = 0x2000_0000;
/** SHARED_SLOT_SIZE is the private address range of one thread of a shared-mode memory (32 MiB). */
export const SHARED_SLOT_SIZE = 0x200_0000;
/** SHARED_SLOTS is how many threads one shared-mode memory can serve (the coordinator and 15 workers). */
export const SHARED_SLOTS = (MAX_MEMORY - SHARED_HEAP_END) / SHARED_SLOT_SIZE;

/** RegionKind names what a region holds; faults report it. */
export const RegionKind = {
  Unmapped: 'unmapped',
  Context: 'ctx',
  Stack: 'stack',
  Packet: 'packet',
  MapValue: 'map_value',
  GlobalData: 'global_data',
  RingBuf: 'ringbuf',
  Scratch: 'scratch',
} as const;
export type RegionKind = (typeof RegionKind)[keyof typeof RegionKind];

import { CtxKind, planFromPolicy, type CtxAccessPolicy, type CtxPlan } from './ctx-plan.js';

export type { CtxAccessPolicy } from './ctx-plan.js';

/** Region is one mapped range. `start`/`end` are what is allocated; `lo`/`hi` what is accessible now. */
export interface Region {
  readonly id: number;
  readonly kind: RegionKind;
  readonly name: string;
  readonly start: number;
  readonly end: number;
  lo: number;
  hi: number;
  readable: boolean;
  writable: boolean;
  /**
   * For context regions: the hook's field-by-field access plan (offsets relative to lo; see
   * ctx-plan.ts). Engines cache resolved plans and compare this reference to notice a change.
   */
  ctxPlan?: CtxPlan;
}

/** AccessCheck is the result of checking an access: the region it hit, or why it failed. */
export type AccessCheck =
  | { ok: true; region: Region }
  | { ok: false; reason: string; region: Region | undefined };

/** MapOptions are the optional properties of a new region. */
export interface MapOptions {
  readable?: boolean;
  writable?: boolean;
  /** A context region's access plan. */
  ctxPlan?: CtxPlan;
  /** A context region's access rules as a boolean policy (every permitted access is plain). */
  ctxPolicy?: CtxAccessPolicy;
  /** Alignment of the start address, a multiple of PAGE_SIZE (default PAGE_SIZE). */
  align?: number;
}

/** SharedMemoryOptions put a Memory over a shared WebAssembly.Memory (see the module comment). */
export interface SharedMemoryOptions {
  /** memory is the shared backing store, from createSharedBacking(). */
  readonly memory: WebAssembly.Memory;
  /** slot numbers this thread's private range, 0 .. SHARED_SLOTS-1. */
  readonly slot: number;
}

/** createSharedBacking allocates the MAX_MEMORY-byte shared WebAssembly.Memory of shared mode (pages are committed by the OS only when touched). */
export function createSharedBacking(): WebAssembly.Memory {
  const pages = MAX_MEMORY / WASM_PAGE;
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/** isSharedKind tells whether regions of this kind live in the shared heap of a shared-mode memory. */
export function isSharedKind(kind: RegionKind): boolean {
  return kind === RegionKind.MapValue || kind === RegionKind.GlobalData;
}

/** regionLabel names a region for messages: "stack", "map_value counters", "packet". */
export function regionLabel(region: Region): string {
  return region.name === region.kind ? region.kind : `${region.kind} ${region.name}`;
}

/** Memory is one simulated address space. */
export class Memory {
  /** wasm is the backing store; a WebAssembly engine imports it as its linear memory. */
  readonly wasm: WebAssembly.Memory;
  /** u8 views the whole space; refreshed after growth (growth detaches the old buffer). */
  u8!: Uint8Array;
  /** dv views the whole space, little-endian accessors used by engines. */
  dv!: DataView;
  /** owner[page] is the id of the region owning that page; 0 is the unmapped region. */
  owner: Uint16Array;
  readonly regions: Region[] = [];
  /** shared is set in shared mode: the slot of this thread (see the module comment). */
  readonly shared: SharedMemoryOptions | undefined;
  private brk = NULL_GUARD;
  /** privateBrk and privateEnd bound this thread's private range in shared mode. */
  private privateBrk = 0;
  private privateEnd = 0;
  private growListeners: Array<() => void> = [];

  constructor(initialBytes = 1 << 20, shared?: SharedMemoryOptions) {
    if (shared !== undefined) {
      if (!Number.isInteger(shared.slot) || shared.slot < 0 || shared.slot >= SHARED_SLOTS) {
        throw new RangeError(`memory: shared slot ${shared.slot} outside [0, ${SHARED_SLOTS})`);
      }
      if (shared.memory.buffer.byteLength !== MAX_MEMORY) throw new RangeError('memory: a shared backing store must come from createSharedBacking()');
      this.wasm = shared.memory;
      this.shared = shared;
      this.privateBrk = SHARED_HEAP_END + shared.slot * SHARED_SLOT_SIZE;
      this.privateEnd = this.privateBrk + SHARED_SLOT_SIZE;
    } else {
      const pages = Math.max(2, Math.ceil(initialBytes / WASM_PAGE));
      this.wasm = new WebAssembly.Memory({ initial: pages, maximum: MAX_MEMORY / WASM_PAGE });
    }
    this.owner = new Uint16Array(MAX_MEMORY >>> PAGE_SHIFT);
    this.regions.push({
      id: 0,
      kind: RegionKind.Unmapped,
      name: 'unmapped',
      start: 0,
      end: 0,
      lo: 0,
      hi: 0,
      readable: false,
      writable: false,
    });
    this.refreshViews();
  }

  /** size is the current backing size in bytes. */
  get size(): number {
    return this.wasm.buffer.byteLength;
  }

  /** onGrow registers a callback run after the backing store grows (engines re-read views). */
  onGrow(listener: () => void): void {
    this.growListeners.push(listener);
  }

  /** map allocates `size` bytes (rounded up to whole pages) as a new region and zeroes it. */
  map(kind: RegionKind, name: string, size: number, opts: MapOptions = {}): Region {
    if (this.regions.length >= 0xffff) throw new Error('memory: too many regions');
    const align = Math.max(PAGE_SIZE, opts.align ?? PAGE_SIZE);
    const priv = this.shared !== undefined && !isSharedKind(kind);
    const start = Math.ceil((priv ? this.privateBrk : this.brk) / align) * align;
    const bytes = Math.max(PAGE_SIZE, Math.ceil(size / PAGE_SIZE) * PAGE_SIZE);
    const end = start + bytes;
    const limit = this.shared === undefined ? MAX_MEMORY : priv ? this.privateEnd : SHARED_HEAP_END;
    if (end > limit) {
      throw new RangeError(`memory: cannot map ${size} bytes for ${name}: ${this.shared === undefined ? 'address space is limited to' : priv ? 'a worker\'s private range is' : 'the shared map heap is'} ${this.shared === undefined ? MAX_MEMORY : priv ? SHARED_SLOT_SIZE : SHARED_HEAP_END - NULL_GUARD} bytes`);
    }
    this.ensure(end);
    const region: Region = {
      id: this.regions.length,
      kind,
      name,
      start,
      end,
      lo: start,
      hi: start + size,
      readable: opts.readable ?? true,
      writable: opts.writable ?? true,
      ctxPlan: opts.ctxPlan ?? (opts.ctxPolicy !== undefined ? planFromPolicy(name, opts.ctxPolicy) : undefined),
    };
    this.regions.push(region);
    this.owner.fill(region.id, start >>> PAGE_SHIFT, end >>> PAGE_SHIFT);
    if (priv) this.privateBrk = end;
    else this.brk = end;
    return region;
  }

  /** ensure grows the backing store to at least `bytes`. */
  private ensure(bytes: number): void {
    const have = this.wasm.buffer.byteLength;
    if (bytes <= have) return;
    // Grow geometrically to keep growth (and view refreshes) rare.
    const want = Math.min(MAX_MEMORY, Math.max(bytes, have * 2));
    this.wasm.grow(Math.ceil((want - have) / WASM_PAGE));
    this.refreshViews();
    for (const listener of this.growListeners) listener();
  }

  private refreshViews(): void {
    this.u8 = new Uint8Array(this.wasm.buffer);
    this.dv = new DataView(this.wasm.buffer);
  }

  /** regionAt returns the region owning `addr` (the unmapped region when none does). */
  regionAt(addr: number): Region {
    if (addr < 0 || addr >= MAX_MEMORY) return this.regions[0];
    return this.regions[this.owner[addr >>> PAGE_SHIFT]];
  }

  /**
   * check tells whether [addr, addr+size) is accessible for a read or write. `addr` must be a
   * non-negative number below 2^32 (engines fault earlier on pointers with high bits set). In a
   * context region the access plan for `kind` decides (default: a plain load or STX store).
   */
  check(addr: number, size: number, write: boolean, kind?: CtxKind): AccessCheck {
    const region = this.regionAt(addr);
    if (region.id === 0) return { ok: false, reason: 'address is not mapped', region: undefined };
    if (addr < region.lo || addr + size > region.hi) {
      return {
        ok: false,
        reason: `outside ${regionLabel(region)} [0x${region.lo.toString(16)}, 0x${region.hi.toString(16)})`,
        region,
      };
    }
    if (write ? !region.writable : !region.readable) {
      return { ok: false, reason: `${regionLabel(region)} is not ${write ? 'writable' : 'readable'}`, region };
    }
    const plan = region.ctxPlan;
    if (plan !== undefined && plan.resolve(addr - region.lo, size, kind ?? (write ? CtxKind.Store : CtxKind.Load)).op === 'refuse') {
      return {
        ok: false,
        reason: `${write ? 'write to' : 'read of'} ${region.name} at offset ${addr - region.lo} size ${size} is not permitted`,
        region,
      };
    }
    return { ok: true, region };
  }

  /** isAccessible is the boolean form of check (plain loads and STX stores), for hot paths. */
  isAccessible(addr: number, size: number, write: boolean): boolean {
    const region = this.regions[addr >= 0 && addr < MAX_MEMORY ? this.owner[addr >>> PAGE_SHIFT] : 0];
    return (
      region.id !== 0 &&
      addr >= region.lo &&
      addr + size <= region.hi &&
      (write ? region.writable : region.readable) &&
      (region.ctxPlan === undefined || region.ctxPlan.permits(addr - region.lo, size, write))
    );
  }

  /** view returns the live bytes [addr, addr+len) without checking; callers check first. */
  view(addr: number, len: number): Uint8Array {
    return this.u8.subarray(addr, addr + len);
  }

  /** copy returns a copy of [addr, addr+len). */
  copy(addr: number, len: number): Uint8Array {
    return this.u8.slice(addr, addr + len);
  }

  /** write copies `bytes` to `addr` without checking; callers check first. */
  write(addr: number, bytes: Uint8Array): void {
    this.u8.set(bytes, addr);
  }
}
