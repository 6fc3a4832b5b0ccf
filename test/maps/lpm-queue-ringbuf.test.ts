import { describe, expect, it } from 'vitest';
import { BPF_ANY, BPF_EXIST, BPF_NOEXIST, MapFlag, MapType } from '../../src/maps/spec.js';
import { Errno } from '../../src/maps/errno.js';
import { LpmTrieMap } from '../../src/maps/lpm-trie.js';
import { QueueStackMap } from '../../src/maps/queue-stack.js';
import { BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT, RingbufMap, RingbufQuery } from '../../src/maps/ringbuf.js';
import { LoadError } from '../../src/errors.js';
import { bytes, newRegistry, readU32, spec, u32 } from './util.js';

/** ip4 builds an LPM key: u32 prefixlen (host order) + 4 address bytes. */
function ip4(addr: string, len: number): Uint8Array {
  return Uint8Array.from([...u32(len), ...addr.split('.').map(Number)]);
}
const show = (k: Uint8Array) => `${k.subarray(4).join('.')}/${readU32(k)}`;

function lpm(maxEntries = 16): LpmTrieMap {
  return newRegistry().create(spec({ type: MapType.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries, flags: MapFlag.NO_PREALLOC })) as LpmTrieMap;
}

describe('LPM_TRIE', () => {
  it('is refused without BPF_F_NO_PREALLOC and with bad key sizes (-EINVAL)', () => {
    const reg = newRegistry();
    for (const s of [
      spec({ type: MapType.LPM_TRIE, keySize: 8, valueSize: 4 }),
      spec({ type: MapType.LPM_TRIE, keySize: 4, valueSize: 4, flags: MapFlag.NO_PREALLOC }),
      spec({ type: MapType.LPM_TRIE, keySize: 261, valueSize: 4, flags: MapFlag.NO_PREALLOC }),
      spec({ type: MapType.LPM_TRIE, keySize: 8, valueSize: 0, flags: MapFlag.NO_PREALLOC }),
    ]) {
      expect(() => reg.create(s)).toThrow(LoadError);
    }
  });

  it('finds the longest matching prefix, bounded by the key prefixlen', () => {
    const m = lpm();
    m.update(ip4('10.0.0.0', 8), u32(8), BPF_ANY);
    m.update(ip4('10.1.0.0', 16), u32(16), BPF_ANY);
    m.update(ip4('10.1.2.0', 24), u32(24), BPF_ANY);
    m.update(ip4('0.0.0.0', 0), u32(0), BPF_ANY);
    const val = (a: string, l = 32) => {
      const v = m.lookup(ip4(a, l));
      return v === undefined ? undefined : readU32(v);
    };
    expect(val('10.1.2.3')).toBe(24);
    expect(val('10.1.3.3')).toBe(16);
    expect(val('10.2.3.3')).toBe(8);
    expect(val('11.0.0.1')).toBe(0);
    expect(val('10.1.2.3', 20)).toBe(16);
    expect(val('10.1.2.3', 33)).toBeUndefined();
    expect(m.lookupAddr(ip4('10.1.2.200', 32), 0)).toBe(m.lookupAddr(ip4('10.1.2.0', 24), 0));
  });

  it('addresses entries by prefix bits for update/delete and keeps the last written data', () => {
    const m = lpm(2);
    expect(m.update(ip4('10.0.0.0', 24), u32(1), BPF_ANY)).toBe(0);
    expect(m.update(ip4('10.1.2.3', 8), u32(2), BPF_ANY)).toBe(0);
    expect(m.update(ip4('10.9.9.9', 8), u32(3), BPF_EXIST)).toBe(0);
    expect(m.update(ip4('10.9.9.0', 16), u32(3), BPF_ANY)).toBe(-Errno.ENOSPC);
    expect(m.update(ip4('10.9.9.0', 16), u32(3), BPF_EXIST)).toBe(-Errno.ENOENT);
    expect(m.update(ip4('10.0.0.0', 8), u32(3), BPF_NOEXIST)).toBe(-Errno.EEXIST);
    expect(m.update(ip4('10.0.0.0', 33), u32(3), BPF_ANY)).toBe(-Errno.EINVAL);
    expect(m.update(ip4('10.0.0.0', 8), u32(3), 4)).toBe(-Errno.EINVAL);
    expect([...m.keys()].map(show)).toEqual(['10.0.0.0/24', '10.9.9.9/8']);
    expect(m.delete(ip4('11.0.0.0', 8))).toBe(-Errno.ENOENT);
    expect(m.delete(ip4('10.0.0.0', 8))).toBe(0);
    expect(m.delete(ip4('10.0.0.0', 8))).toBe(-Errno.ENOENT);
    expect(m.delete(ip4('10.0.0.0', 40))).toBe(-Errno.EINVAL);
  });

  it('walks get_next_key in the kernel post-order (the lpm_trie.c example)', () => {
    const m = lpm();
    for (const [a, l] of [
      ['192.168.0.0', 16],
      ['192.168.0.0', 24],
      ['192.168.128.0', 24],
      ['192.168.1.0', 24],
    ] as const) {
      m.update(ip4(a, l), u32(l), BPF_ANY);
    }
    const order: string[] = [];
    let k = m.getNextKey(undefined);
    while (typeof k !== 'number') {
      order.push(show(k));
      k = m.getNextKey(k);
    }
    expect(k).toBe(-Errno.ENOENT);
    expect(order).toEqual(['192.168.0.0/24', '192.168.1.0/24', '192.168.128.0/24', '192.168.0.0/16']);
    expect(show(m.getNextKey(ip4('1.2.3.4', 8)) as Uint8Array)).toBe('192.168.0.0/24');
    expect(lpm().getNextKey(undefined)).toBe(-Errno.ENOENT);
  });
});

describe('QUEUE and STACK', () => {
  const q = (type: number, max = 3) =>
    newRegistry().create(spec({ type, keySize: 0, valueSize: 4, maxEntries: max })) as QueueStackMap;
  const vals = (m: QueueStackMap) => m.values().map((v) => readU32(v));

  it('pops FIFO from a queue and LIFO from a stack', () => {
    const queue = q(MapType.QUEUE);
    const stack = q(MapType.STACK);
    for (const v of [1, 2, 3]) {
      expect(queue.push(u32(v), BPF_ANY)).toBe(0);
      expect(stack.update(new Uint8Array(0), u32(v), BPF_ANY)).toBe(0);
    }
    expect(readU32(queue.peek() as Uint8Array)).toBe(1);
    expect(readU32(stack.lookup(new Uint8Array(0)) as Uint8Array)).toBe(3);
    expect([1, 2, 3].map(() => readU32(queue.pop() as Uint8Array))).toEqual([1, 2, 3]);
    expect([1, 2, 3].map(() => readU32(stack.pop() as Uint8Array))).toEqual([3, 2, 1]);
    expect(queue.pop()).toBe(-Errno.ENOENT);
    expect(stack.peek()).toBe(-Errno.ENOENT);
  });

  it('returns -E2BIG when full, and BPF_EXIST overwrites the oldest element', () => {
    for (const type of [MapType.QUEUE, MapType.STACK]) {
      const m = q(type, 2);
      m.push(u32(1), BPF_ANY);
      m.push(u32(2), BPF_ANY);
      expect(m.push(u32(3), BPF_ANY)).toBe(-Errno.E2BIG);
      expect(m.push(u32(3), BPF_NOEXIST)).toBe(-Errno.EINVAL);
      expect(m.push(u32(3), 4)).toBe(-Errno.EINVAL);
      expect(m.push(u32(3), BPF_EXIST)).toBe(0);
      expect(vals(m)).toEqual([2, 3]);
      expect(readU32(m.pop() as Uint8Array)).toBe(type === MapType.QUEUE ? 2 : 3);
    }
  });

  it('refuses keys, delete and get_next_key', () => {
    const m = q(MapType.QUEUE);
    expect(m.delete(new Uint8Array(0))).toBe(-Errno.EINVAL);
    expect(m.getNextKey(undefined)).toBe(-Errno.EINVAL);
    expect(() => newRegistry().create(spec({ type: MapType.QUEUE, keySize: 4 }))).toThrow(LoadError);
  });
});

describe('RINGBUF', () => {
  const rb = (size = 4096) => newRegistry().create(spec({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: size })) as RingbufMap;

  it('is refused unless max_entries is a page-aligned power of two and key/value are 0', () => {
    const reg = newRegistry();
    expect(() => reg.create(spec({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 6000 }))).toThrow(LoadError);
    expect(() => reg.create(spec({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 2048 }))).toThrow(LoadError);
    expect(() => reg.create(spec({ type: MapType.RINGBUF, keySize: 4, valueSize: 0, maxEntries: 4096 }))).toThrow(LoadError);
  });

  it('writes the kernel record header: length with busy bit, page offset; commit clears busy or sets discard', () => {
    const r = rb();
    const s1 = r.reserve(5);
    const hdr = s1 - 8;
    expect(hdr).toBe(r.region.start);
    expect(r.mem.dv.getUint32(hdr, true)).toBe((5 | BPF_RINGBUF_BUSY_BIT) >>> 0);
    expect(r.mem.dv.getUint32(hdr + 4, true)).toBe(3);
    expect(r.producerPos).toBe(16);
    const s2 = r.reserve(8);
    expect(s2).toBe(s1 + 16);
    r.mem.write(s2, bytes(1, 2, 3, 4, 5, 6, 7, 8));
    expect(r.commit(s2, false)).toBe(true);
    expect(r.records()).toEqual([]);
    expect(r.commit(s1, true)).toBe(true);
    expect(r.commit(s1, true)).toBe(false);
    expect(r.mem.dv.getUint32(hdr, true)).toBe((5 | BPF_RINGBUF_DISCARD_BIT) >>> 0);
    expect(r.query(RingbufQuery.AVAIL_DATA)).toBe(32);
    expect(r.consume()).toEqual([bytes(1, 2, 3, 4, 5, 6, 7, 8)]);
    expect(r.query(RingbufQuery.CONS_POS)).toBe(32);
    expect(r.query(RingbufQuery.RING_SIZE)).toBe(4096);
  });

  it('refuses a reservation that would catch up with the consumer, and wraps records around the end', () => {
    const r = rb(4096);
    expect(r.reserve(4096)).toBe(0);
    expect(r.output(new Uint8Array(3000).fill(1))).toBe(0);
    expect(r.output(new Uint8Array(1200).fill(2))).toBe(-Errno.EAGAIN);
    expect(r.consume().length).toBe(1);
    const data = Uint8Array.from({ length: 1200 }, (_, i) => i & 0xff);
    expect(r.output(data)).toBe(0);
    expect(r.producerPos).toBe(3008 + 1208);
    const [rec] = r.consume();
    expect(rec).toEqual(data);
    const wrapped = r.mem.view(r.region.start, 1208 - (4096 - 3008));
    expect(wrapped).toEqual(data.subarray(4096 - 3016));
    expect(r.update(u32(0), u32(0), 0)).toBe(-Errno.ENOTSUPP);
  });

  it('a busy record blocks the consumer, so its space and everything after it frees only after commit', () => {
    const r = rb(4096);
    const a = r.reserve(1000);
    expect(a).not.toBe(0);
    expect(r.output(new Uint8Array(2000))).toBe(0);
    expect(r.consume()).toEqual([]);
    expect(r.reserve(1200)).toBe(0);
    r.commit(a, false);
    expect(r.consume().length).toBe(2);
    expect(r.reserve(1200)).not.toBe(0);
  });
});
