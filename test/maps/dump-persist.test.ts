import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BPF_ANY, MapFlag, MapType, PIN_BY_NAME } from '../../src/maps/spec.js';
import { bpftoolDump, dumpMap, dumpMaps, fromHex, toHex } from '../../src/maps/dump.js';
import { parseMapsJson, preloadMaps } from '../../src/maps/preload.js';
import { restoreMaps, saveMaps } from '../../src/maps/persist.js';
import { ProgArrayMap } from '../../src/maps/prog-array.js';
import { QueueStackMap } from '../../src/maps/queue-stack.js';
import { LoadError, UsageError } from '../../src/errors.js';
import { newRegistry, spec, u32, u64 } from './util.js';

describe('bpftool-shaped dump', () => {
  it('matches bpftool map dump -j for plain and per-CPU maps', () => {
    const reg = newRegistry(2);
    const h = reg.create(spec({ type: MapType.HASH, name: 'h', valueSize: 4 }));
    h.update(u32(1), u32(2), BPF_ANY);
    expect(bpftoolDump(h)).toEqual([{ key: ['0x01', '0x00', '0x00', '0x00'], value: ['0x02', '0x00', '0x00', '0x00'] }]);
    const p = reg.create(spec({ type: MapType.PERCPU_HASH, name: 'p', valueSize: 4 }));
    p.update(u32(1), u32(2), BPF_ANY);
    expect(JSON.stringify(bpftoolDump(p))).toBe(
      '[{"key":["0x01","0x00","0x00","0x00"],"values":[{"cpu":0,"value":["0x02","0x00","0x00","0x00"]},{"cpu":1,"value":["0x02","0x00","0x00","0x00"]}]}]',
    );
    expect(bpftoolDump(reg.create(spec({ type: MapType.QUEUE, name: 'q', keySize: 0 })))).toEqual([]);
  });
});

describe('--maps format: dump, preload, round trip', () => {
  function populated() {
    const reg = newRegistry(2);
    const h = reg.create(spec({ type: MapType.HASH, name: 'h' }));
    h.update(u32(7), u64(0x0102), BPF_ANY);
    const pa = reg.create(spec({ type: MapType.ARRAY, name: 'arr', maxEntries: 2, valueSize: 3 }));
    pa.update(u32(1), Uint8Array.of(0xaa, 0xbb, 0xcc), BPF_ANY);
    const pc = reg.create(spec({ type: MapType.PERCPU_ARRAY, name: 'pc', maxEntries: 1, valueSize: 4 }));
    pc.update(u32(0), Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0), BPF_ANY);
    const q = reg.create(spec({ type: MapType.QUEUE, name: 'q', keySize: 0, valueSize: 4 })) as QueueStackMap;
    q.push(u32(5), BPF_ANY);
    q.push(u32(6), BPF_ANY);
    const jmp = reg.create(spec({ type: MapType.PROG_ARRAY, name: 'jmp', valueSize: 4 })) as ProgArrayMap;
    jmp.setProgram(2, 'tail');
    const lpm = reg.create(spec({ type: MapType.LPM_TRIE, name: 'lpm', keySize: 8, valueSize: 4, flags: MapFlag.NO_PREALLOC }));
    lpm.update(Uint8Array.of(24, 0, 0, 0, 10, 1, 2, 0), u32(1), BPF_ANY);
    return reg;
  }

  it('writes lowercase hex, per-CPU values, queue order, program names', () => {
    const d = dumpMaps(populated());
    expect(d.map((m) => m.name)).toEqual(['h', 'arr', 'pc', 'q', 'jmp', 'lpm']);
    expect(d[0]).toEqual({ name: 'h', type: 'hash', key_size: 4, value_size: 8, max_entries: 4, flags: 0, entries: [{ key: '07000000', value: '0201000000000000' }] });
    expect(d[1].entries).toEqual([
      { key: '00000000', value: '000000' },
      { key: '01000000', value: 'aabbcc' },
    ]);
    expect(d[2].entries).toEqual([{ key: '00000000', values: ['01000000', '02000000'] }]);
    expect(d[3].entries).toEqual([{ value: '05000000' }, { value: '06000000' }]);
    expect(d[4].entries).toEqual([{ key: '02000000', value: '01000000', program: 'tail' }]);
    expect(toHex(fromHex('0xAB cd') as Uint8Array)).toBe('abcd');
  });

  it('preloads a fresh registry from a dump so that the dump repeats', () => {
    const d = dumpMaps(populated());
    const fresh = newRegistry(2);
    fresh.create(spec({ type: MapType.HASH, name: 'h' }));
    fresh.create(spec({ type: MapType.ARRAY, name: 'arr', maxEntries: 2, valueSize: 3 }));
    fresh.create(spec({ type: MapType.PERCPU_ARRAY, name: 'pc', maxEntries: 1, valueSize: 4 }));
    fresh.create(spec({ type: MapType.QUEUE, name: 'q', keySize: 0, valueSize: 4 }));
    fresh.create(spec({ type: MapType.PROG_ARRAY, name: 'jmp', valueSize: 4 }));
    fresh.create(spec({ type: MapType.LPM_TRIE, name: 'lpm', keySize: 8, valueSize: 4, flags: MapFlag.NO_PREALLOC }));
    preloadMaps(fresh, parseMapsJson(JSON.stringify(d)));
    expect(dumpMaps(fresh)).toEqual(d);
  });

  it('reports bad input with the map and entry', () => {
    const reg = newRegistry();
    reg.create(spec({ type: MapType.HASH, name: 'h', maxEntries: 1 }));
    const bad = (entries: unknown[], name = 'h') => () => preloadMaps(reg, parseMapsJson(JSON.stringify([{ name, entries }])));
    expect(bad([{ key: '0100', value: '0000000000000000' }])).toThrow(UsageError);
    expect(bad([{ key: '01000000', value: 'zz' }])).toThrow(UsageError);
    expect(bad([], 'nope')).toThrow(UsageError);
    expect(bad([{ key: '01000000', value: '0000000000000000' }, { key: '02000000', value: '0000000000000000' }])).toThrow(/E2BIG/);
    expect(() => parseMapsJson('{')).toThrow(UsageError);
  });
});

describe('pinned maps persist between runs', () => {
  it('saves maps with pinning to DIR/<name>.json and restores them into the next run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xdpsim-pin-'));
    const mk = () => {
      const reg = newRegistry();
      const pinned = reg.create(spec({ type: MapType.HASH, name: 'counters', pinning: PIN_BY_NAME }));
      const scratch = reg.create(spec({ type: MapType.HASH, name: 'scratch' }));
      return { reg, pinned, scratch };
    };
    const run1 = mk();
    run1.pinned.update(u32(1), u64(10), BPF_ANY);
    run1.scratch.update(u32(1), u64(10), BPF_ANY);
    expect(saveMaps(run1.reg, dir)).toEqual([join(dir, 'counters.json')]);
    expect(existsSync(join(dir, 'scratch.json'))).toBe(false);
    const run2 = mk();
    expect(restoreMaps(run2.reg, dir)).toEqual(['counters']);
    expect(run2.pinned.lookup(u32(1))).toEqual(u64(10));
    expect(run2.scratch.count).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'counters.json'), 'utf8')).entries).toHaveLength(1);

    const reg3 = newRegistry();
    reg3.create(spec({ type: MapType.HASH, name: 'counters', pinning: PIN_BY_NAME, maxEntries: 8 }));
    expect(() => restoreMaps(reg3, dir)).toThrow(LoadError);
    writeFileSync(join(dir, 'counters.json'), '{"name":"counters"');
    expect(() => restoreMaps(mk().reg, dir)).toThrow(UsageError);
  });
});

describe('dumpMap for special maps', () => {
  it('lists ringbuf records and perf samples', () => {
    const reg = newRegistry(1);
    const rb = reg.create(spec({ type: MapType.RINGBUF, name: 'rb', keySize: 0, valueSize: 0, maxEntries: 4096 }));
    (rb as unknown as { output(d: Uint8Array): number }).output(Uint8Array.of(1, 2));
    expect(dumpMap(rb).records).toEqual(['0102']);
  });
});
