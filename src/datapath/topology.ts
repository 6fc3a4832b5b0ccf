/**
 * topology — the network a replay runs in: interfaces (from `--iface` flags or a JSON topology
 * file), the routes and neighbours bpf_fib_lookup consults, and which programs attach where.
 *
 * Topology file (paths of objects are relative to the file):
 *
 *   {
 *     "interfaces": [
 *       { "name": "eth0", "mac": "02:00:00:00:00:01", "mtu": 1500, "queues": 4, "vlan_offload": true,
 *         "addresses": ["10.0.0.1", "2001:db8:1::1"],
 *         "xdp": "fw.o:xdp_fw", "tc_ingress": ["tc.o:classify"], "tc_egress": [] },
 *       { "name": "eth1", "peer": "veth1", "netns": "a" }, ...
 *     ],
 *     "routes": [ { "dst": "10.0.0.0/24", "dev": "eth0" },
 *                 { "dst": "0.0.0.0/0", "via": "10.0.0.254", "dev": "eth0" },
 *                 { "dst": "192.0.2.0/24", "type": "blackhole" } ],
 *     "neighbours": [ { "ip": "10.0.0.254", "mac": "02:00:00:00:00:fe", "dev": "eth0" } ]
 *   }
 *
 * Route lookup follows bpf_ipv4_fib_lookup / bpf_ipv6_fib_lookup (net/core/filter.c) over one
 * table: longest prefix wins; blackhole / unreachable / prohibit routes answer
 * BPF_FIB_LKUP_RET_BLACKHOLE / UNREACHABLE / PROHIBIT; a local address or no route answers
 * NOT_FWDED; a next hop without a neighbour entry answers NO_NEIGH unless
 * BPF_FIB_LOOKUP_SKIP_NEIGH; success gives the egress ifindex, its MTU, its MAC as smac and the
 * neighbour's as dmac.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { FibLookupQuery, FibLookupResult } from '../hooks/datapath.js';
import { FibRet } from '../helpers/xdp.js';
import { buildInterfaces, parseMac, type InterfaceSpec, type SimInterface } from './interfaces.js';

/** BPF_FIB_LOOKUP_SKIP_NEIGH (include/uapi/linux/bpf.h). */
export const BPF_FIB_LOOKUP_SKIP_NEIGH = 1 << 2;

/** RouteType is the kind of a route (rtm_type). */
export type RouteType = 'unicast' | 'blackhole' | 'unreachable' | 'prohibit';

/** Route is one entry of the routing table. */
export interface Route {
  /** Destination prefix: 4 or 16 bytes and a length. */
  readonly dst: Uint8Array;
  readonly prefixLen: number;
  readonly via?: Uint8Array;
  /** Egress ifindex (unicast routes). */
  readonly ifindex?: number;
  readonly type: RouteType;
}

/** Neighbour is one neighbour table entry (ARP / NDP). */
export interface Neighbour {
  readonly ip: Uint8Array;
  readonly mac: Uint8Array;
  readonly ifindex: number;
}

/** AttachSpec says which programs run on one interface, each as OBJ[:PROG]. */
export interface AttachSpec {
  xdp?: string;
  tcIngress: string[];
  tcEgress: string[];
}

/** Topology is the whole simulated network. */
export interface Topology {
  readonly interfaces: SimInterface[];
  readonly routes: Route[];
  readonly neighbours: Neighbour[];
  /** Local addresses (4 or 16 bytes) per ifindex. */
  readonly addresses: Map<number, Uint8Array[]>;
  /** Programs by interface name (from the topology file). */
  readonly attach: Map<string, AttachSpec>;
}

/** parseIp reads an IPv4 dotted quad or an IPv6 address (with ::); undefined when malformed. */
export function parseIp(s: string): Uint8Array | undefined {
  if (s.includes('.') && !s.includes(':')) {
    const p = s.split('.');
    if (p.length !== 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) return undefined;
    return Uint8Array.from(p, Number);
  }
  if (!s.includes(':')) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const words = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    for (const w of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return undefined;
      out.push(parseInt(w, 16));
    }
    return out;
  };
  const a = words(halves[0]);
  const b = halves.length === 2 ? words(halves[1]) : [];
  if (a === undefined || b === undefined) return undefined;
  const fill = 8 - a.length - b.length;
  if ((halves.length === 1 && fill !== 0) || fill < 0 || (halves.length === 2 && fill < 1)) return undefined;
  const all = [...a, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...b];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** parsePrefix reads ADDR/LEN (LEN defaults to the full length). */
export function parsePrefix(s: string): { addr: Uint8Array; len: number } | undefined {
  const [a, l] = s.split('/');
  const addr = parseIp(a);
  if (addr === undefined) return undefined;
  const max = addr.length * 8;
  if (l === undefined) return { addr, len: max };
  if (!/^\d+$/.test(l) || Number(l) > max) return undefined;
  return { addr, len: Number(l) };
}

function prefixMatch(addr: Uint8Array, net: Uint8Array, len: number): boolean {
  if (addr.length !== net.length) return false;
  for (let i = 0; i < len >> 3; i++) if (addr[i] !== net[i]) return false;
  const rem = len & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (addr[len >> 3] & mask) === (net[len >> 3] & mask);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** fibLookup answers a bpf_fib_lookup query against a topology (see the module comment). */
export function fibLookup(topo: Topology, q: FibLookupQuery): FibLookupResult {
  for (const addrs of topo.addresses.values()) if (addrs.some((a) => sameBytes(a, q.dst))) return { ret: FibRet.NOT_FWDED };
  let best: Route | undefined;
  for (const r of topo.routes) {
    if (!prefixMatch(q.dst, r.dst, r.prefixLen)) continue;
    if (best === undefined || r.prefixLen > best.prefixLen) best = r;
  }
  if (best === undefined) return { ret: FibRet.NOT_FWDED };
  if (best.type === 'blackhole') return { ret: FibRet.BLACKHOLE };
  if (best.type === 'unreachable') return { ret: FibRet.UNREACHABLE };
  if (best.type === 'prohibit') return { ret: FibRet.PROHIBIT };
  const dev = topo.interfaces.find((d) => d.ifindex === best.ifindex);
  if (dev === undefined) return { ret: FibRet.NOT_FWDED };
  if ((q.flags & BPF_FIB_LOOKUP_SKIP_NEIGH) !== 0) return { ret: FibRet.SUCCESS, ifindex: dev.ifindex, mtu: dev.mtu };
  const nh = best.via ?? q.dst;
  const n = topo.neighbours.find((x) => x.ifindex === dev.ifindex && sameBytes(x.ip, nh));
  if (n === undefined) return { ret: FibRet.NO_NEIGH, ifindex: dev.ifindex };
  return { ret: FibRet.SUCCESS, ifindex: dev.ifindex, mtu: dev.mtu, smac: dev.mac, dmac: n.mac };
}

/** neighbourOf finds the neighbour entry for `ip` on `ifindex`. */
export function neighbourOf(topo: Topology, ip: Uint8Array, ifindex: number): Neighbour | undefined {
  return topo.neighbours.find((x) => x.ifindex === ifindex && sameBytes(x.ip, ip));
}

/** nextHop returns the unicast next hop of `dst` (the gateway or dst itself), if a route exists. */
export function nextHop(topo: Topology, dst: Uint8Array): Uint8Array {
  let best: Route | undefined;
  for (const r of topo.routes) if (prefixMatch(dst, r.dst, r.prefixLen) && (best === undefined || r.prefixLen > best.prefixLen)) best = r;
  return best?.via ?? dst;
}

/** simpleTopology builds a topology from `--iface` specs: no routes, no neighbours, no attachments. */
export function simpleTopology(specs: readonly InterfaceSpec[]): Topology {
  return { interfaces: buildInterfaces(specs), routes: [], neighbours: [], addresses: new Map(), attach: new Map() };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** loadTopology reads a topology file (see the module comment). */
export function loadTopology(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError('E_TOPOLOGY', `${file}: cannot read topology: ${(e as Error).message}`, { file });
  }
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (e) {
    throw new UsageError('E_TOPOLOGY', `${file}: not JSON: ${(e as Error).message}`, { file });
  }
  return parseTopology(doc, file);
}

function obj(v: Json | undefined): { [k: string]: Json } | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
}

/** parseTopology checks a parsed topology document; `file` names it in errors and anchors relative paths. */
export function parseTopology(doc: unknown, file: string): Topology {
  const bad = (where: string, why: string): UsageError => new UsageError('E_TOPOLOGY', `${file}: ${where}: ${why}`, { file });
  const root = obj(doc as Json);
  if (root === undefined) throw bad('top level', 'must be an object');
  const base = dirname(resolve(file));
  const ifs = root.interfaces;
  if (!Array.isArray(ifs) || ifs.length === 0) throw bad('interfaces', 'must be a non-empty array');
  const specs: InterfaceSpec[] = [];
  const attach = new Map<string, AttachSpec>();
  const addrText = new Map<string, string[]>();
  ifs.forEach((raw, i) => {
    const o = obj(raw);
    const where = `interfaces[${i}]`;
    if (o === undefined || typeof o.name !== 'string') throw bad(where, 'needs a "name"');
    const name = o.name;
    const num = (k: string): number | undefined => {
      const v = o[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(`${where}.${k}`, 'must be a non-negative integer');
      return v;
    };
    let mac: Uint8Array | undefined;
    if (o.mac !== undefined) {
      mac = typeof o.mac === 'string' ? parseMac(o.mac) : undefined;
      if (mac === undefined) throw bad(`${where}.mac`, 'is not a MAC address');
    }
    const str = (k: string): string | undefined => {
      const v = o[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'string') throw bad(`${where}.${k}`, 'must be a string');
      return v;
    };
    const list = (k: string): string[] => {
      const v = o[k];
      if (v === undefined) return [];
      const arr = typeof v === 'string' ? [v] : v;
      if (!Array.isArray(arr) || arr.some((x) => typeof x !== 'string')) throw bad(`${where}.${k}`, 'must be a string or an array of strings');
      return arr as string[];
    };
    const rel = (s: string): string => {
      const colon = s.lastIndexOf(':');
      const path = colon > 0 && !s.slice(colon).includes('/') ? s.slice(0, colon) : s;
      return resolve(base, path) + s.slice(path.length);
    };
    specs.push({
      name,
      ifindex: num('ifindex'),
      mac,
      mtu: num('mtu'),
      queues: num('queues'),
      vlanOffload: o.vlan_offload === undefined ? undefined : o.vlan_offload === true,
      peer: str('peer'),
      netns: str('netns'),
    });
    const xdp = str('xdp');
    attach.set(name, { xdp: xdp === undefined ? undefined : rel(xdp), tcIngress: list('tc_ingress').map(rel), tcEgress: list('tc_egress').map(rel) });
    addrText.set(name, list('addresses'));
  });
  const clean = specs.map((s) => Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as unknown as InterfaceSpec);
  const interfaces = buildInterfaces(clean);
  const devByName = (where: string, n: Json | undefined): number => {
    const d = interfaces.find((x) => x.name === n);
    if (d === undefined) throw bad(where, `dev ${String(n)} is not an interface of the topology`);
    return d.ifindex;
  };
  const addresses = new Map<number, Uint8Array[]>();
  for (const [name, list] of addrText) {
    const ifindex = devByName(`interfaces ${name}`, name);
    addresses.set(
      ifindex,
      list.map((a) => {
        const ip = parseIp(a.split('/')[0]);
        if (ip === undefined) throw bad(`interfaces ${name}.addresses`, `${a} is not an IP address`);
        return ip;
      }),
    );
  }
  const routes: Route[] = [];
  const rs = root.routes ?? [];
  if (!Array.isArray(rs)) throw bad('routes', 'must be an array');
  rs.forEach((raw, i) => {
    const o = obj(raw);
    const where = `routes[${i}]`;
    if (o === undefined || typeof o.dst !== 'string') throw bad(where, 'needs "dst"');
    const p = parsePrefix(o.dst === 'default' ? '0.0.0.0/0' : o.dst);
    if (p === undefined) throw bad(where, `dst ${o.dst} is not a prefix`);
    const type = (o.type ?? 'unicast') as RouteType;
    if (!['unicast', 'blackhole', 'unreachable', 'prohibit'].includes(type)) throw bad(where, `type ${String(o.type)} (unicast, blackhole, unreachable, prohibit)`);
    let via: Uint8Array | undefined;
    if (o.via !== undefined) {
      via = typeof o.via === 'string' ? parseIp(o.via) : undefined;
      if (via === undefined || via.length !== p.addr.length) throw bad(where, `via ${String(o.via)} is not an address of the prefix's family`);
    }
    if (type === 'unicast' && o.dev === undefined) throw bad(where, 'a unicast route needs "dev"');
    routes.push({ dst: p.addr, prefixLen: p.len, type, ...(via !== undefined ? { via } : {}), ...(o.dev !== undefined ? { ifindex: devByName(where, o.dev) } : {}) });
  });
  const neighbours: Neighbour[] = [];
  const ns = root.neighbours ?? [];
  if (!Array.isArray(ns)) throw bad('neighbours', 'must be an array');
  ns.forEach((raw, i) => {
    const o = obj(raw);
    const where = `neighbours[${i}]`;
    const ip = o !== undefined && typeof o.ip === 'string' ? parseIp(o.ip) : undefined;
    const mac = o !== undefined && typeof o.mac === 'string' ? parseMac(o.mac) : undefined;
    if (o === undefined || ip === undefined || mac === undefined) throw bad(where, 'needs "ip", "mac" and "dev"');
    neighbours.push({ ip, mac, ifindex: devByName(where, o.dev) });
  });
  return { interfaces, routes, neighbours, addresses, attach };
}
