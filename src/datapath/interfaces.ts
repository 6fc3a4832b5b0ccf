/**
 * interfaces — the simulated network devices a replay runs over: name, ifindex, MAC, MTU, rx
 * queues, VLAN offload, and the veth-style peer and namespace that bpf_redirect_peer needs.
 *
 * From the command line, one `--iface SPEC` per device:
 *
 *   NAME[,mac=XX:XX:XX:XX:XX:XX][,mtu=N][,queues=N][,ifindex=N][,vlan-offload=on|off]
 *       [,peer=NAME][,netns=NAME]
 *
 * Defaults: ifindex 2, 3, ... in order (1 is lo), MAC 02:00:00:00:00:0N for the N-th device (the
 * first one is the host address of pcaps/sample.pcap), MTU 1500, one rx queue, VLAN offload off,
 * namespace "default". Every device implements the hooks' NetDevice.
 */
import { UsageError } from '../errors.js';
import { ETH_HLEN } from '../hooks/xdp.js';
import { LOOPBACK_IFINDEX, type NetDevice } from '../hooks/datapath.js';

/** ETH_MIN_MTU is the smallest MTU of an Ethernet device (include/linux/if_ether.h). */
export const ETH_MIN_MTU = 68;
/** ETH_MAX_MTU is the largest MTU of an Ethernet device. */
export const ETH_MAX_MTU = 0xffff;
/** MAX_RX_QUEUES bounds the queues of one simulated device. */
export const MAX_RX_QUEUES = 256;

const BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/** InterfaceSpec is a device as the user describes it (flags or topology file), before defaults. */
export interface InterfaceSpec {
  readonly name: string;
  readonly ifindex?: number;
  readonly mac?: Uint8Array;
  readonly mtu?: number;
  readonly queues?: number;
  readonly vlanOffload?: boolean;
  readonly peer?: string;
  readonly netns?: string;
}

/** SimInterface is one simulated device. */
export interface SimInterface extends NetDevice {
  /** Hardware VLAN tag stripping on receive (NETIF_F_HW_VLAN_CTAG_RX / STAG_RX). */
  readonly vlanOffload: boolean;
  /** The other end of a veth pair, by name. */
  readonly peer?: string;
  readonly netns: string;
}

/** formatMac renders a MAC address as aa:bb:cc:dd:ee:ff. */
export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** parseMac reads aa:bb:cc:dd:ee:ff (or with dashes); undefined when malformed. */
export function parseMac(s: string): Uint8Array | undefined {
  const parts = s.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) return undefined;
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

function bad(spec: string, why: string): UsageError {
  return new UsageError('E_IFACE_SPEC', `--iface ${spec}: ${why}`, { spec });
}

function intIn(spec: string, key: string, v: string, lo: number, hi: number): number {
  if (!/^\d+$/.test(v)) throw bad(spec, `${key}=${v} is not a number`);
  const n = Number(v);
  if (n < lo || n > hi) throw bad(spec, `${key}=${v} is outside [${lo}, ${hi}]`);
  return n;
}

/** parseInterfaceSpec reads one `--iface` SPEC (see the module comment). */
export function parseInterfaceSpec(spec: string): InterfaceSpec {
  const [name, ...opts] = spec.split(',');
  if (name === undefined || !/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw bad(spec, 'needs a device name of 1-15 letters, digits, _ . - first');
  const out: { -readonly [K in keyof InterfaceSpec]: InterfaceSpec[K] } = { name };
  for (const o of opts) {
    const eq = o.indexOf('=');
    if (eq < 0) throw bad(spec, `option "${o}" needs KEY=VALUE`);
    const key = o.slice(0, eq);
    const v = o.slice(eq + 1);
    switch (key) {
      case 'mac': {
        const m = parseMac(v);
        if (m === undefined) throw bad(spec, `mac=${v} is not a MAC address`);
        out.mac = m;
        break;
      }
      case 'mtu':
        out.mtu = intIn(spec, key, v, ETH_MIN_MTU, ETH_MAX_MTU);
        break;
      case 'queues':
        out.queues = intIn(spec, key, v, 1, MAX_RX_QUEUES);
        break;
      case 'ifindex':
        out.ifindex = intIn(spec, key, v, 2, 0x7fffffff);
        break;
      case 'vlan-offload':
        if (v !== 'on' && v !== 'off') throw bad(spec, `vlan-offload=${v}: say on or off`);
        out.vlanOffload = v === 'on';
        break;
      case 'peer':
        out.peer = v;
        break;
      case 'netns':
        out.netns = v;
        break;
      default:
        throw bad(spec, `unknown option "${key}" (mac, mtu, queues, ifindex, vlan-offload, peer, netns)`);
    }
  }
  return out;
}

/**
 * buildInterfaces applies the defaults and checks the set: unique names and ifindexes, peers
 * that exist and point back.
 */
export function buildInterfaces(specs: readonly InterfaceSpec[]): SimInterface[] {
  const list = specs.length > 0 ? specs : [{ name: 'eth0' }];
  const used = new Set<number>(list.flatMap((s) => (s.ifindex !== undefined ? [s.ifindex] : [])));
  const names = new Set<string>();
  let next = LOOPBACK_IFINDEX + 1;
  const out: SimInterface[] = [];
  list.forEach((s, i) => {
    if (names.has(s.name) || s.name === 'lo') throw new UsageError('E_IFACE_SPEC', `interface ${s.name} is declared twice (lo exists already)`, { spec: s.name });
    names.add(s.name);
    let ifindex = s.ifindex;
    if (ifindex === undefined) {
      while (used.has(next)) next++;
      ifindex = next++;
      used.add(ifindex);
    } else if (out.some((d) => d.ifindex === ifindex)) {
      throw new UsageError('E_IFACE_SPEC', `interface ${s.name}: ifindex ${ifindex} is taken`, { spec: s.name });
    }
    out.push({
      name: s.name,
      ifindex,
      mtu: s.mtu ?? 1500,
      hardHeaderLen: ETH_HLEN,
      mac: s.mac ?? Uint8Array.of(0x02, 0, 0, 0, 0, (i + 1) & 0xff),
      broadcast: BROADCAST,
      rxQueues: s.queues ?? 1,
      vlanOffload: s.vlanOffload ?? false,
      ...(s.peer !== undefined ? { peer: s.peer } : {}),
      netns: s.netns ?? 'default',
    });
  });
  for (const d of out) {
    if (d.peer === undefined) continue;
    const p = out.find((x) => x.name === d.peer);
    if (p === undefined) throw new UsageError('E_IFACE_SPEC', `interface ${d.name}: peer ${d.peer} is not declared`, { spec: d.name });
    if (p.peer !== undefined && p.peer !== d.name) throw new UsageError('E_IFACE_SPEC', `interface ${d.name}: peer ${p.name} is paired with ${p.peer}`, { spec: d.name });
  }
  return out;
}
