/**
 * Interfaces from --iface specs, topology files, the route and neighbour lookup behind
 * bpf_fib_lookup, and the rx queue spread.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { buildInterfaces, formatMac, parseInterfaceSpec } from '../../src/datapath/interfaces.js';
import { BPF_FIB_LOOKUP_SKIP_NEIGH, fibLookup, loadTopology, parseIp, parsePrefix, parseTopology } from '../../src/datapath/topology.js';
import { flowQueue } from '../../src/datapath/pipeline.js';
import { FibRet } from '../../src/helpers/xdp.js';
import { UsageError } from '../../src/errors.js';
import { udpFrame } from './support.js';

const ROOT = join(import.meta.dirname, '..', '..');

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof UsageError ? e.code : String(e);
  }
  return undefined;
}

describe('interfaces', () => {
  it('reads --iface specs and fills the defaults', () => {
    const [a, b] = buildInterfaces([parseInterfaceSpec('eth0'), parseInterfaceSpec('eth1,mac=0a:0b:0c:0d:0e:0f,mtu=9000,queues=4,vlan-offload=on')]);
    expect([a.name, a.ifindex, formatMac(a.mac), a.mtu, a.rxQueues, a.vlanOffload]).toEqual(['eth0', 2, '02:00:00:00:00:01', 1500, 1, false]);
    expect([b.name, b.ifindex, formatMac(b.mac), b.mtu, b.rxQueues, b.vlanOffload]).toEqual(['eth1', 3, '0a:0b:0c:0d:0e:0f', 9000, 4, true]);
    expect(buildInterfaces([]).map((d) => d.name)).toEqual(['eth0']);
    expect(buildInterfaces([parseInterfaceSpec('a,ifindex=3'), parseInterfaceSpec('b')]).map((d) => d.ifindex)).toEqual([3, 2]);
  });

  it.each(['', 'eth0,mac=zz', 'eth0,mtu=10', 'eth0,queues=0', 'eth0,color=red', 'eth0,vlan-offload=maybe', 'eth0,mtu'])('refuses %j', (spec) => {
    expect(code(() => parseInterfaceSpec(spec))).toBe('E_IFACE_SPEC');
  });

  it('refuses duplicate names and ifindexes, and peers that do not exist', () => {
    expect(code(() => buildInterfaces([{ name: 'a' }, { name: 'a' }]))).toBe('E_IFACE_SPEC');
    expect(code(() => buildInterfaces([{ name: 'a', ifindex: 5 }, { name: 'b', ifindex: 5 }]))).toBe('E_IFACE_SPEC');
    expect(code(() => buildInterfaces([{ name: 'a', peer: 'z' }]))).toBe('E_IFACE_SPEC');
  });
});

describe('addresses', () => {
  it('parses IPv4, IPv6 and prefixes', () => {
    expect([...(parseIp('192.0.2.1') ?? [])]).toEqual([192, 0, 2, 1]);
    expect(Buffer.from(parseIp('2001:db8::66') ?? []).toString('hex')).toBe('20010db8000000000000000000000066');
    expect(Buffer.from(parseIp('::1') ?? []).toString('hex')).toBe('00000000000000000000000000000001');
    expect(parseIp('1.2.3')).toBeUndefined();
    expect(parseIp('1:2:3')).toBeUndefined();
    expect(parseIp('1::2::3')).toBeUndefined();
    expect(parsePrefix('10.0.0.0/33')).toBeUndefined();
    expect(parsePrefix('10.0.0.0/8')?.len).toBe(8);
  });
});

describe('topology and fib lookup', () => {
  const topo = loadTopology(join(ROOT, 'examples', 'topology-router.json'));
  const q = (dst: string, flags = 0) => ({ family: dst.includes(':') ? 10 : 2, l4Protocol: 17, ifindex: 2, tosOrFlowinfo: 0, src: parseIp(dst.includes(':') ? '::1' : '10.0.0.11') as Uint8Array, dst: parseIp(dst) as Uint8Array, flags });

  it('loads the example topology with its programs relative to the file', () => {
    expect(topo.interfaces.map((d) => [d.name, d.ifindex, d.mtu, d.rxQueues])).toEqual([
      ['eth0', 2, 1500, 2],
      ['eth1', 3, 9000, 1],
    ]);
    expect(topo.attach.get('eth0')?.xdp).toBe(`${join(ROOT, 'programs', 'xdp_fw.o')}:xdp_fw`);
  });

  it('answers like bpf_ipv4_fib_lookup / bpf_ipv6_fib_lookup', () => {
    const direct = fibLookup(topo, q('192.168.1.20'));
    expect([direct.ret, direct.ifindex, formatMac(direct.dmac ?? new Uint8Array(6)), formatMac(direct.smac ?? new Uint8Array(6)), direct.mtu]).toEqual([FibRet.SUCCESS, 3, '02:00:00:00:01:20', '02:00:00:00:01:01', 9000]);
    const viaGw = fibLookup(topo, q('198.51.100.7'));
    expect([viaGw.ret, viaGw.ifindex, formatMac(viaGw.dmac ?? new Uint8Array(6))]).toEqual([FibRet.SUCCESS, 2, '02:00:00:00:00:fe']);
    expect(fibLookup(topo, q('192.168.1.99')).ret).toBe(FibRet.NO_NEIGH);
    expect(fibLookup(topo, q('192.168.1.99', BPF_FIB_LOOKUP_SKIP_NEIGH)).ret).toBe(FibRet.SUCCESS);
    expect(fibLookup(topo, q('192.0.2.5')).ret).toBe(FibRet.BLACKHOLE);
    expect(fibLookup(topo, q('10.0.0.1')).ret).toBe(FibRet.NOT_FWDED);
    expect(fibLookup(topo, q('2001:db8:1::11')).ret).toBe(FibRet.NO_NEIGH);
    expect(fibLookup(topo, q('2001:db8:99::1')).ret).toBe(FibRet.NOT_FWDED);
  });

  it.each([
    [{}, 'interfaces'],
    [{ interfaces: [{ name: 'a' }], routes: [{ dst: 'x' }] }, 'routes'],
    [{ interfaces: [{ name: 'a' }], routes: [{ dst: '10.0.0.0/8' }] }, 'unicast'],
    [{ interfaces: [{ name: 'a' }], routes: [{ dst: '10.0.0.0/8', dev: 'b' }] }, 'dev b'],
    [{ interfaces: [{ name: 'a' }], neighbours: [{ ip: '10.0.0.1', dev: 'a' }] }, 'neighbours'],
    [{ interfaces: [{ name: 'a', mac: 'nope' }] }, 'mac'],
  ])('refuses a bad topology %#', (doc, where) => {
    let err: unknown;
    try {
      parseTopology(doc, 'topo.json');
    } catch (e) {
      err = e;
    }
    expect((err as UsageError).code).toBe('E_TOPOLOGY');
    expect((err as UsageError).message).toContain(where);
  });
});

describe('rx queues', () => {
  it('keeps a flow on one queue and spreads flows over the queues', () => {
    const f = udpFrame();
    expect(flowQueue(f, 8)).toBe(flowQueue(f.slice(), 8));
    expect(flowQueue(f, 1)).toBe(0);
    const seen = new Set<number>();
    for (let port = 0; port < 64; port++) {
      const g = f.slice();
      g[34] = port;
      seen.add(flowQueue(g, 4));
    }
    expect(seen.size).toBe(4);
  });
});
