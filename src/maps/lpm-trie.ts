/**
 * lpm-trie — BPF_MAP_TYPE_LPM_TRIE (kernel/bpf/lpm_trie.c). Keys are `struct bpf_lpm_trie_key`:
 * a host-endian u32 prefixlen followed by data_size = key_size - 4 bytes of data (network order
 * for addresses); max_prefixlen = 8 * data_size.
 *
 * Semantics kept from the kernel:
 * - lookup (programs and the syscall alike) is longest-prefix match: the entry with the largest
 *   prefixlen L ≤ key.prefixlen whose first L bits equal the key's (trie_lookup_elem); a key
 *   prefixlen above max_prefixlen finds nothing;
 * - update/delete address an entry by (prefixlen, first prefixlen bits); the stored key keeps the
 *   data bytes of the last update in full, bits past prefixlen included (the kernel memcpys
 *   them), which get_next_key returns;
 * - full: a new prefix gets -ENOSPC, replacing an existing one still works; BPF_NOEXIST/BPF_EXIST
 *   as for hashes (kernel 6.18, checked against it in test/maps/kernel-parity);
 * - get_next_key is the kernel's post-order walk: more specific prefixes before the prefixes that
 *   contain them, and at the first differing bit the 0 side first. That order follows from the
 *   prefixes alone, so we sort by it instead of keeping the trie's nodes.
 */
import { BPF_EXIST, BPF_NOEXIST, MapFlag, type MapErrno, type MapSpec } from './spec.js';
import { Errno } from './errno.js';
import {
  BPF_F_ACCESS_MASK,
  KMALLOC_MAX_SIZE,
  MapBase,
  checkAccessFlags,
  checkFlagMask,
  mapCreateError,
  roundUp8,
  u32At,
  type MapHost,
  type SlotArena,
} from './base.js';

const LPM_CREATE_FLAG_MASK = MapFlag.NO_PREALLOC | MapFlag.NUMA_NODE | BPF_F_ACCESS_MASK;
const LPM_DATA_SIZE_MAX = 256;

/** checkLpmSpec is trie_alloc's sanity check: every failure is -EINVAL, including a missing BPF_F_NO_PREALLOC. */
export function checkLpmSpec(spec: MapSpec): void {
  if (spec.maxEntries === 0) throw mapCreateError(spec, Errno.EINVAL, 'max_entries is 0');
  if ((spec.flags & MapFlag.NO_PREALLOC) === 0) {
    throw mapCreateError(spec, Errno.EINVAL, 'LPM tries must be created with BPF_F_NO_PREALLOC');
  }
  checkFlagMask(spec, LPM_CREATE_FLAG_MASK);
  checkAccessFlags(spec);
  if (spec.keySize < 5 || spec.keySize > 4 + LPM_DATA_SIZE_MAX) {
    throw mapCreateError(spec, Errno.EINVAL, `key_size ${spec.keySize}, LPM keys are 5..260 bytes`);
  }
  if (spec.valueSize < 1 || spec.valueSize > KMALLOC_MAX_SIZE - LPM_DATA_SIZE_MAX - 48) {
    throw mapCreateError(spec, Errno.EINVAL, `value_size ${spec.valueSize} out of range`);
  }
}

interface LpmEntry {
  prefixlen: number;
  /** The full key as last written (prefixlen + data). */
  key: Uint8Array;
  addr: number;
}

/** prefixString encodes the first `bits` bits of `data` (trailing bits of the last byte masked). */
function prefixString(data: Uint8Array, off: number, bits: number): string {
  const whole = bits >>> 3;
  let s = '';
  for (let i = 0; i < whole; i++) s += String.fromCharCode(data[off + i]);
  const rest = bits & 7;
  if (rest !== 0) s += String.fromCharCode(data[off + whole] & (0xff << (8 - rest)) & 0xff);
  return s;
}

/** bitAt returns bit `i` (0 = most significant of byte 0) of data starting at `off`. */
function bitAt(data: Uint8Array, off: number, i: number): number {
  return (data[off + (i >>> 3)] >> (7 - (i & 7))) & 1;
}

/** postorderCompare orders two entries as trie_get_next_key visits them. */
function postorderCompare(a: LpmEntry, b: LpmEntry): number {
  const n = Math.min(a.prefixlen, b.prefixlen);
  for (let i = 0; i < n; i++) {
    const x = bitAt(a.key, 4, i);
    const y = bitAt(b.key, 4, i);
    if (x !== y) return x - y;
  }
  return b.prefixlen - a.prefixlen;
}

/** LpmTrieMap is an LPM_TRIE. */
export class LpmTrieMap extends MapBase {
  readonly maxPrefixlen: number;
  private readonly byLen = new Map<number, Map<string, LpmEntry>>();
  /** Distinct prefix lengths present, longest first. */
  private lengths: number[] = [];
  private n = 0;
  private ordered: LpmEntry[] | undefined;
  private readonly arena: SlotArena;

  constructor(host: MapHost, spec: MapSpec, id: number) {
    checkLpmSpec(spec);
    super(host, spec, id);
    this.maxPrefixlen = (spec.keySize - 4) * 8;
    this.arena = this.newArena(roundUp8(spec.valueSize), spec.maxEntries);
  }

  get count(): number {
    return this.n;
  }

  /** exact finds the entry with this key's prefixlen and prefix bits. */
  private exact(key: Uint8Array): LpmEntry | undefined {
    const len = u32At(key);
    if (len > this.maxPrefixlen) return undefined;
    return this.byLen.get(len)?.get(prefixString(key, 4, len));
  }

  /** longest is trie_lookup_elem: the longest stored prefix matching the key, limited to key.prefixlen. */
  private longest(key: Uint8Array): LpmEntry | undefined {
    const limit = u32At(key);
    if (limit > this.maxPrefixlen) return undefined;
    for (const len of this.lengths) {
      if (len > limit) continue;
      const e = this.byLen.get(len)?.get(prefixString(key, 4, len));
      if (e !== undefined) return e;
    }
    return undefined;
  }

  lookupAddr(key: Uint8Array, _cpu: number): number {
    return this.longest(key)?.addr ?? 0;
  }

  /** trie_update_elem: flags > BPF_EXIST or prefixlen > max -EINVAL; a new prefix in a full trie -ENOSPC. */
  update(key: Uint8Array, value: Uint8Array, flags: number, _cpu?: number): MapErrno {
    this.checkKeySize(key);
    if (flags > BPF_EXIST) return -Errno.EINVAL;
    const len = u32At(key);
    if (len > this.maxPrefixlen) return -Errno.EINVAL;
    this.checkValueSize(value);
    const old = this.exact(key);
    if (old !== undefined && flags === BPF_NOEXIST) return -Errno.EEXIST;
    if (old === undefined && flags === BPF_EXIST) return -Errno.ENOENT;
    const k = key.slice(0, this.spec.keySize);
    if (old !== undefined) {
      old.key = k;
      this.writeValue(old.addr, value);
      return 0;
    }
    if (this.n >= this.spec.maxEntries) return -Errno.ENOSPC;
    const v = value.slice();
    const addr = this.arena.alloc();
    if (addr === 0) return -Errno.ENOSPC;
    this.writeValue(addr, v);
    let bucket = this.byLen.get(len);
    if (bucket === undefined) {
      bucket = new Map();
      this.byLen.set(len, bucket);
      this.lengths = [...this.byLen.keys()].sort((a, b) => b - a);
    }
    bucket.set(prefixString(k, 4, len), { prefixlen: len, key: k, addr });
    this.n++;
    this.ordered = undefined;
    return 0;
  }

  /** trie_delete_elem: exact (prefixlen, prefix) match or -ENOENT; prefixlen > max -EINVAL. */
  delete(key: Uint8Array): MapErrno {
    this.checkKeySize(key);
    const len = u32At(key);
    if (len > this.maxPrefixlen) return -Errno.EINVAL;
    const bucket = this.byLen.get(len);
    const ps = prefixString(key, 4, len);
    const e = bucket?.get(ps);
    if (bucket === undefined || e === undefined) return -Errno.ENOENT;
    bucket.delete(ps);
    if (bucket.size === 0) {
      this.byLen.delete(len);
      this.lengths = this.lengths.filter((l) => l !== len);
    }
    this.arena.release(e.addr);
    this.n--;
    this.ordered = undefined;
    return 0;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    this.checkKeySize(key);
    const e = this.longest(key);
    return e === undefined ? undefined : this.mem.copy(e.addr, this.spec.valueSize);
  }

  /** lookupExact returns the value stored for exactly this prefix (no longest-prefix match). */
  lookupExact(key: Uint8Array): Uint8Array | undefined {
    const e = this.exact(key);
    return e === undefined ? undefined : this.mem.copy(e.addr, this.spec.valueSize);
  }

  private order(): LpmEntry[] {
    if (this.ordered === undefined) {
      const all: LpmEntry[] = [];
      for (const bucket of this.byLen.values()) for (const e of bucket.values()) all.push(e);
      this.ordered = all.sort(postorderCompare);
    }
    return this.ordered;
  }

  *keys(): IterableIterator<Uint8Array> {
    for (const e of this.order()) yield e.key.slice();
  }

  /** trie_get_next_key: post-order successor; an absent or invalid key restarts at the first; -ENOENT at the end. */
  getNextKey(key: Uint8Array | undefined): Uint8Array | MapErrno {
    const all = this.order();
    if (all.length === 0) return -Errno.ENOENT;
    const cur = key === undefined ? undefined : this.exact(key);
    if (cur === undefined) return all[0].key.slice();
    const next = all[all.indexOf(cur) + 1];
    return next === undefined ? -Errno.ENOENT : next.key.slice();
  }
}
