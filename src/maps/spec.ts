/**
 * spec — the parsed description of a map (MapSpec) and the interface every live map implements
 * (BpfMap). The object loader produces MapSpecs (pure, no memory touched); `createMap` in
 * registry.ts turns a MapSpec into a BpfMap whose values live in VM memory.
 *
 * How programs see a map: `lddw rX, map` (BPF_PSEUDO_MAP_FD / _IDX) loads the map's `handle`,
 * a VM address of an inaccessible region reserved for the map (dereferencing it faults, as the
 * verifier forbids it); helpers resolve handles back to maps through the MapRegistry.
 * `lddw rX, map + off` (BPF_PSEUDO_MAP_VALUE / _IDX_VALUE, global data) loads
 * `valueAddress(0) + off`, a real pointer into the array map's value storage.
 */

/** BPF_MAP_TYPE_* from include/uapi/linux/bpf.h (enum bpf_map_type). */
export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  STACK_TRACE: 7,
  CGROUP_ARRAY: 8,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  SOCKMAP: 15,
  CPUMAP: 16,
  XSKMAP: 17,
  SOCKHASH: 18,
  CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20,
  PERCPU_CGROUP_STORAGE: 21,
  QUEUE: 22,
  STACK: 23,
  SK_STORAGE: 24,
  DEVMAP_HASH: 25,
  STRUCT_OPS: 26,
  RINGBUF: 27,
  INODE_STORAGE: 28,
  TASK_STORAGE: 29,
  BLOOM_FILTER: 30,
  USER_RINGBUF: 31,
  CGRP_STORAGE: 32,
  ARENA: 33,
} as const;
export type MapType = (typeof MapType)[keyof typeof MapType];

/** mapTypeName returns the kernel's lower-case name (as bpftool prints it) of a map type. */
export function mapTypeName(type: number): string {
  for (const [name, value] of Object.entries(MapType)) {
    if (value === type) return name.toLowerCase();
  }
  return `unknown(${type})`;
}

/** Map flags (BPF_F_* for map_create), include/uapi/linux/bpf.h. */
export const MapFlag = {
  NO_PREALLOC: 1 << 0,
  NO_COMMON_LRU: 1 << 1,
  NUMA_NODE: 1 << 2,
  RDONLY: 1 << 3,
  WRONLY: 1 << 4,
  STACK_BUILD_ID: 1 << 5,
  ZERO_SEED: 1 << 6,
  RDONLY_PROG: 1 << 7,
  WRONLY_PROG: 1 << 8,
  CLONE: 1 << 9,
  MMAPABLE: 1 << 10,
  PRESERVE_ELEMS: 1 << 11,
  INNER_MAP: 1 << 12,
} as const;

/** Update flags of bpf_map_update_elem. */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_F_LOCK = 4;

/** Pinning (libbpf LIBBPF_PIN_BY_NAME = 1; iproute2 PIN_OBJECT_NS = 1, PIN_GLOBAL_NS = 2). */
export const PIN_NONE = 0;
export const PIN_BY_NAME = 1;
export const PIN_GLOBAL_NS = 2;

/** MapSpec describes a map as an object declares it. Pure data. */
export interface MapSpec {
  /** Name as libbpf/bpftool show it (global data: "<obj>.bss", "<obj>.rodata", ...). */
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** Pinning attribute (PIN_*), from BTF `pinning` or bpf_elf_map.pinning. */
  pinning: number;
  /** Inner map template for ARRAY_OF_MAPS / HASH_OF_MAPS. */
  inner?: MapSpec;
  /** Initial contents of value 0 for global-data array maps (.data/.rodata; .bss is zero). */
  initialValue?: Uint8Array;
  /** True for .rodata / .kconfig: the program may not write (BPF_F_RDONLY_PROG). */
  readonlyForProgram?: boolean;
  /** Declarative initialisation (libbpf `.values`): slot index → name of the program or map to store. */
  initialSlots?: Array<{ index: number; ref: string }>;
  /** iproute2 bpf_elf_map id / inner_id / inner_idx, kept for map-in-map wiring. */
  elf?: { id: number; innerId: number; innerIdx: number };
  /** BTF type ids of key/value, when the map is BTF-defined (0 when unknown). */
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  /** Byte offset of a `struct bpf_spin_lock` in the value (from BTF), when the value has one. */
  spinLockOffset?: number;
  /** map_extra (bloom filter hashes, arena address), numa node. */
  mapExtra?: bigint;
}

/** MapErrno: helpers and the user API return 0 or a negative errno, exactly as the kernel. */
export type MapErrno = number;

/** BpfMap is a live map. Keys and values are bytes; value storage lives in VM memory. */
export interface BpfMap {
  readonly spec: MapSpec;
  /** handle is the VM address programs hold for this map (see module comment). */
  readonly handle: number;
  /** lookupAddr returns the VM address of the value for `key` (for per-CPU maps, of `cpu`'s copy), or 0. */
  lookupAddr(key: Uint8Array, cpu: number): number;
  /** update inserts or replaces, honouring BPF_ANY/BPF_NOEXIST/BPF_EXIST; returns 0 or -errno. */
  update(key: Uint8Array, value: Uint8Array, flags: number, cpu?: number): MapErrno;
  /** delete removes `key`; returns 0 or -errno (-ENOENT when absent, -EINVAL for arrays). */
  delete(key: Uint8Array): MapErrno;
  /** lookup returns a copy of the value(s): one per possible CPU for per-CPU maps. */
  lookup(key: Uint8Array): Uint8Array | Uint8Array[] | undefined;
  /** keys iterates over present keys in the kernel's iteration order where it is defined. */
  keys(): IterableIterator<Uint8Array>;
}
