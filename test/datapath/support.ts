/**
 * support — building datapaths over test/datapath/programs/dp_test.o and frames for them.
 */
import { join } from 'node:path';
import { buildDatapath, type Datapath, type HookFlags } from '../../src/datapath/setup.js';
import type { FrameResult } from '../../src/datapath/accounting.js';
import { DEFAULT_ENGINE, getEngine } from '../../src/vm/engines.js';
import { deterministicServices } from '../../src/helpers/services.js';
import type { BpfMap } from '../../src/maps/spec.js';

/** OBJ is the datapath test object. */
export const OBJ = join(import.meta.dirname, 'programs', 'dp_test.o');

/** le32 encodes a u32 little-endian. */
export function le32(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
}

/** Snapshot is a FrameResult copied out of the pipeline's reused one. */
export type Snapshot = Omit<FrameResult, 'out'> & { out: Array<{ iface: string; data: Uint8Array; xsk?: number }> };

/** TestDatapath wraps a built datapath with map access and a frame runner. */
export interface TestDatapath {
  readonly dp: Datapath;
  set(map: string, key: number, value: number | Uint8Array): void;
  get(map: string, key: number): number;
  ifindex(name: string): number;
  run(frame: Uint8Array, iface?: string): Snapshot;
}

/** build makes a datapath with the given interfaces and programs (references into dp_test.o by name). */
export function build(ifaces: string[], hooks: Partial<HookFlags>, opts: { cpus?: number; maxHops?: number; topologyFile?: string; engine?: string } = {}): TestDatapath {
  const dp = buildDatapath({
    ifaces,
    topologyFile: opts.topologyFile,
    hooks: { xdp: hooks.xdp ?? [], tcIngress: hooks.tcIngress ?? [], tcEgress: hooks.tcEgress ?? [] },
    engine: getEngine(opts.engine ?? DEFAULT_ENGINE),
    services: deterministicServices(),
    cpus: opts.cpus,
    maxHops: opts.maxHops,
  });
  const map = (name: string): BpfMap => {
    for (const o of dp.programs.loaded()) {
      const m = o.maps.get(name);
      if (m !== undefined) return m;
    }
    throw new Error(`no map ${name}`);
  };
  const ifindex = (name: string): number => {
    const d = dp.topology.interfaces.find((x) => x.name === name);
    if (d === undefined) throw new Error(`no interface ${name}`);
    return d.ifindex;
  };
  return {
    dp,
    set(name, key, value) {
      const err = map(name).update(le32(key), typeof value === 'number' ? le32(value) : value, 0);
      if (err !== 0) throw new Error(`update ${name}[${key}]: ${err}`);
    },
    get(name, key) {
      const v = map(name).lookup(le32(key));
      if (!(v instanceof Uint8Array)) throw new Error(`lookup ${name}[${key}]`);
      return new DataView(v.buffer, v.byteOffset, 4).getUint32(0, true);
    },
    ifindex,
    run(frame, iface = 'eth0') {
      const dev = dp.topology.interfaces.find((x) => x.name === iface);
      if (dev === undefined) throw new Error(`no interface ${iface}`);
      const r = dp.pipeline.process(frame, dev);
      return { ...r, hooks: r.hooks.map((h) => ({ ...h })), out: r.out.map((o) => ({ ...o, data: o.data.slice() })) };
    },
  };
}

/** MAC0 is eth0's default address. */
export const MAC0 = [0x02, 0, 0, 0, 0, 0x01];

/** udpFrame builds an Ethernet/IPv4/UDP frame to `dst` MAC, 10.0.0.9 → 10.0.0.2, with an optional 802.1Q tag. */
export function udpFrame(opts: { dst?: number[]; vlan?: number; payload?: number } = {}): Uint8Array {
  const n = opts.payload ?? 18;
  const ip = new Uint8Array(28 + n);
  ip.set([0x45, 0, (28 + n) >> 8, (28 + n) & 0xff, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 9, 10, 0, 0, 2]);
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (ip[i] << 8) | ip[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  ip[10] = (~s >> 8) & 0xff;
  ip[11] = ~s & 0xff;
  ip.set([0x30, 0x39, 0x00, 0x35, (8 + n) >> 8, (8 + n) & 0xff, 0, 0], 20);
  for (let i = 0; i < n; i++) ip[28 + i] = i;
  const tag = opts.vlan !== undefined ? [0x81, 0x00, (opts.vlan >> 8) & 0x0f, opts.vlan & 0xff] : [];
  const hdr = [...(opts.dst ?? MAC0), 0x02, 0, 0, 0, 0, 0x99, ...tag, 0x08, 0x00];
  const f = new Uint8Array(hdr.length + ip.length);
  f.set(hdr);
  f.set(ip, hdr.length);
  return f;
}
