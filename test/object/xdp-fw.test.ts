/**
 * The firewall example end to end: programs/xdp_fw.o with the rules of programs/xdp_fw.rules.json
 * (192.0.2.0/24, 2001:db8:bad::66, TCP port 23 — the blocked sources pcaps/README.md describes)
 * over pcaps/sample.pcap, through the interpreter as BPF_PROG_TEST_RUN would run each frame. The
 * capture's README gives the expected counts: 34 frames dropped, 162 passed; the per-rule hit
 * counters and the per-CPU verdict counters must add up to the same numbers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeHelperTable } from '../../src/helpers/table.js';
import { deterministicServices } from '../../src/helpers/services.js';
import { packetHelperDefs } from '../../src/helpers/skb.js';
import { hookPacketBytes } from '../../src/hooks/state.js';
import { TestRunner } from '../../src/hooks/testrun.js';
import { readCapture } from '../../src/io/capture.js';
import { parseMapsJson, preloadMaps } from '../../src/maps/preload.js';
import { loadObject } from '../../src/object/instantiate.js';
import { createRunEnv } from '../../src/vm/run.js';
import { interpEngine } from '../../src/vm/interp.js';

const SAMPLE = 'pcaps/sample.pcap';
const XDP_DROP = 1;
const XDP_PASS = 2;

function u64(b: Uint8Array, off = 0): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
}

describe('xdp_fw on sample.pcap', () => {
  it.skipIf(!existsSync(SAMPLE))('drops the blocked sources and telnet, passes the rest (skipped without pcaps/sample.pcap)', async () => {
    const o = loadObject('programs/xdp_fw.o', { cpus: 2 });
    preloadMaps(o.registry, parseMapsJson(readFileSync('programs/xdp_fw.rules.json', 'utf8'), 'xdp_fw.rules.json'));
    const p = o.programs.get('xdp_fw')!;
    const helpers = makeHelperTable(o.registry, { ...deterministicServices(), packetBytes: hookPacketBytes }, { license: p.license, progType: p.progType, extra: packetHelperDefs() });
    const env = createRunEnv(o.mem, { helpers });
    const runner = new TestRunner({ exec: interpEngine.prepare(p), progType: p.progType, env });
    const verdicts = new Map<number, number>();
    let bytesPassed = 0n;
    for await (const fr of readCapture(SAMPLE)) {
      const r = runner.run({ data: fr.data.slice() });
      expect(r.fault, `frame ${fr.index}`).toBeUndefined();
      verdicts.set(r.retval, (verdicts.get(r.retval) ?? 0) + 1);
      if (r.retval === XDP_PASS) bytesPassed += BigInt(fr.data.length);
    }
    expect(Object.fromEntries(verdicts)).toEqual({ [XDP_DROP]: 34, [XDP_PASS]: 162 });

    // Rule hits: 19 from 192.0.2.0/24, 4 from 2001:db8:bad::66, 11 more to TCP port 23.
    const hits = (map: string, key: string): bigint => u64(o.maps.get(map)!.lookup(Buffer.from(key, 'hex')) as Uint8Array);
    expect(hits('blocknet_v4', '18000000c0000200')).toBe(19n);
    expect(hits('blocklist_v6', '20010db80bad00000000000000000066')).toBe(4n);
    expect(hits('blocked_ports', '06001700')).toBe(11n);

    // verdict_stats is per-CPU: the test ran on CPU 0, the other copy stays zero.
    const stats = (verdict: number): Uint8Array[] => o.maps.get('verdict_stats')!.lookup(new Uint8Array([verdict, 0, 0, 0])) as Uint8Array[];
    expect(stats(XDP_PASS).map((v) => u64(v))).toEqual([162n, 0n]);
    expect(stats(XDP_DROP).map((v) => u64(v))).toEqual([34n, 0n]);
    expect(u64(stats(XDP_PASS)[0], 8)).toBe(bytesPassed);
  });
});
