/**
 * make-pcaps — generates every capture in pcaps/ and pcaps/README.md (`npm run pcaps`).
 *
 * Deterministic: fixed timestamps from 2024-01-01T00:00:00Z, and the only randomness (the sample
 * capture's ports, sizes and ordering jitter) comes from a PRNG with a fixed seed. Running it twice
 * gives identical bytes; a test checks the committed files against a fresh run.
 *
 * Address plan of the sample capture (pcaps/sample.pcap), as seen arriving at the host's NIC:
 *   host (where the XDP program runs)  10.0.0.1      2001:db8:1::1   02:00:00:00:00:01
 *   gateway (external traffic)         10.0.0.254    2001:db8:1::fe  02:00:00:00:00:fe
 *   LAN clients                        10.0.0.11-13  2001:db8:1::11  02:00:00:00:00:11-13
 *   allowed external hosts             198.51.100.0/24, 203.0.113.0/24 (via the gateway)
 *   BLOCKED source range               192.0.2.0/24 (TEST-NET-1; via the gateway)
 *   BLOCKED service                    TCP destination port 23 (telnet), from allowed sources
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PcapWriter } from '../src/io/pcap.js';
import { PcapngWriter, BLOCK } from '../src/io/pcapng.js';
import { LINKTYPE } from '../src/io/linktype.js';
import {
  arp, ascii, bytes, concat, eth, ETH_P, fragmentExt, gre, icmp, icmp6, icmpEcho, ip6, IPPROTO, ipv4, ipv6, padTlv,
  routingExt, TCP_FLAGS, tcp, udp,
} from '../test/support/packets.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** OUT is where the captures go: pcaps/, or the directory given as the first argument (tests use a temporary one). */
const OUT = process.argv[2] ?? join(ROOT, 'pcaps');

/** Pkt is one generated frame with the description README.md lists. */
interface Pkt {
  desc: string;
  data: Uint8Array;
  origLen?: number;
  tsSec: number;
  tsNsec: number;
}

const T0 = 1_704_067_200; // 2024-01-01T00:00:00Z

const HOST_MAC = '02:00:00:00:00:01';
const GW_MAC = '02:00:00:00:00:fe';
const BCAST = 'ff:ff:ff:ff:ff:ff';
const HOST = '10.0.0.1';
const HOST6 = '2001:db8:1::1';
const lanMac = (n: number): string => `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;

/** mulberry32 is a small seeded PRNG (deterministic output for a fixed seed). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** padEth pads an Ethernet frame to the 60-byte minimum, as a NIC delivers it. */
function padEth(f: Uint8Array): Uint8Array {
  return f.length >= 60 ? f : concat(f, new Uint8Array(60 - f.length));
}

function v4frame(src: string, dst: string, srcMac: string, proto: number, l4: Uint8Array, extra: Partial<Parameters<typeof ipv4>[0]> = {}): Uint8Array {
  return padEth(eth({ dst: HOST_MAC, src: srcMac, type: ETH_P.IP }, ipv4({ src, dst, proto, ...extra }, l4)));
}

// ---------------------------------------------------------------------------------------------
// sample.pcap: a realistic mixed ingress capture
// ---------------------------------------------------------------------------------------------

interface SampleEvent {
  t: number; // milliseconds since T0
  desc: string;
  data: Uint8Array;
  blockedSrc: boolean;
  telnet: boolean;
}

function sample(): Pkt[] {
  const rnd = mulberry32(0x5eed);
  const ev: SampleEvent[] = [];
  const add = (t: number, desc: string, data: Uint8Array, blockedSrc = false, telnet = false): void => {
    ev.push({ t, desc, data, blockedSrc, telnet });
  };
  const macFor = (ip: string): string => (ip.startsWith('10.0.0.') ? lanMac(Number(ip.split('.')[3])) : GW_MAC);

  // ARP: LAN clients resolving the host, the gateway answering the host, a gratuitous ARP.
  [11, 12, 13].forEach((n, i) => {
    add(5 + i * 900, `ARP who-has ${HOST} tell 10.0.0.${n}`, padEth(eth({ dst: BCAST, src: lanMac(n), type: ETH_P.ARP }, arp({ op: 1, sha: lanMac(n), spa: `10.0.0.${n}`, tha: '00:00:00:00:00:00', tpa: HOST }))));
  });
  add(40, 'ARP reply 10.0.0.254 is-at gw', padEth(eth({ dst: HOST_MAC, src: GW_MAC, type: ETH_P.ARP }, arp({ op: 2, sha: GW_MAC, spa: '10.0.0.254', tha: HOST_MAC, tpa: HOST }))));
  add(7000, 'ARP reply 10.0.0.254 is-at gw', padEth(eth({ dst: HOST_MAC, src: GW_MAC, type: ETH_P.ARP }, arp({ op: 2, sha: GW_MAC, spa: '10.0.0.254', tha: HOST_MAC, tpa: HOST }))));
  add(9000, 'ARP gratuitous 10.0.0.12', padEth(eth({ dst: BCAST, src: lanMac(12), type: ETH_P.ARP }, arp({ op: 1, sha: lanMac(12), spa: '10.0.0.12', tha: '00:00:00:00:00:00', tpa: '10.0.0.12' }))));

  // Inbound TCP sessions (client -> host): handshake, request, acks, close.
  const session = (start: number, src: string, dport: number, requests: Uint8Array[], blocked = false): void => {
    const sport = 32768 + Math.floor(rnd() * 28000);
    let seq = Math.floor(rnd() * 0xffffffff) >>> 0;
    const ack = Math.floor(rnd() * 0xffffffff) >>> 0;
    const mk = (flags: number, payload: Uint8Array, ackNo: number): Uint8Array =>
      v4frame(src, HOST, macFor(src), IPPROTO.TCP, tcp({ src, dst: HOST, sport, dport, seq, ack: ackNo, flags, window: 64240 }, payload), { id: Math.floor(rnd() * 65536), dontFragment: true });
    const name = `TCP ${src}:${sport} > ${HOST}:${dport}`;
    let t = start;
    add(t, `${name} SYN`, mk(TCP_FLAGS.SYN, new Uint8Array(0), 0), blocked, dport === 23);
    seq = (seq + 1) >>> 0;
    t += 1 + Math.floor(rnd() * 20);
    add(t, `${name} ACK`, mk(TCP_FLAGS.ACK, new Uint8Array(0), ack + 1), blocked, dport === 23);
    let a = ack + 1;
    for (const r of requests) {
      t += 1 + Math.floor(rnd() * 30);
      add(t, `${name} PSH/ACK ${r.length} bytes`, mk(TCP_FLAGS.PSH | TCP_FLAGS.ACK, r, a), blocked, dport === 23);
      seq = (seq + r.length) >>> 0;
      a += 1000 + Math.floor(rnd() * 400);
      t += 5 + Math.floor(rnd() * 40);
      add(t, `${name} ACK`, mk(TCP_FLAGS.ACK, new Uint8Array(0), a), blocked, dport === 23);
    }
    t += 10 + Math.floor(rnd() * 50);
    add(t, `${name} FIN/ACK`, mk(TCP_FLAGS.FIN | TCP_FLAGS.ACK, new Uint8Array(0), a), blocked, dport === 23);
    seq = (seq + 1) >>> 0;
    t += 1 + Math.floor(rnd() * 10);
    add(t, `${name} ACK`, mk(TCP_FLAGS.ACK, new Uint8Array(0), a + 1), blocked, dport === 23);
  };
  const http = (path: string): Uint8Array => ascii(`GET ${path} HTTP/1.1\r\nHost: www.example.test\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n`);
  session(100, '10.0.0.11', 80, [http('/')]);
  session(1300, '10.0.0.12', 80, [http('/index.html'), http('/style.css')]);
  session(2500, '198.51.100.7', 80, [http('/api/v1/status')]);
  session(4100, '203.0.113.9', 80, [http('/robots.txt')]);
  session(600, '10.0.0.13', 443, [bytes(517, 1), bytes(126, 2), bytes(310, 3)]);
  session(3300, '198.51.100.42', 443, [bytes(517, 4), bytes(64, 5)]);
  session(5200, '203.0.113.20', 443, [bytes(517, 6), bytes(900, 7)]);
  session(1800, '10.0.0.12', 22, [ascii('SSH-2.0-OpenSSH_9.6\r\n'), bytes(1080, 8), bytes(48, 9)]);
  // Telnet (blocked service) from allowed sources: a session and SYN retries.
  session(6100, '10.0.0.13', 23, [ascii('root\r\n')]);
  for (let i = 0; i < 3; i++) {
    add(2000 + i * 1000 * 2 ** i, `TCP 198.51.100.23:40123 > ${HOST}:23 SYN (retry ${i})`, v4frame('198.51.100.23', HOST, GW_MAC, IPPROTO.TCP, tcp({ src: '198.51.100.23', dst: HOST, sport: 40123, dport: 23, seq: 777, flags: TCP_FLAGS.SYN })), false, true);
  }
  for (let i = 0; i < 2; i++) {
    add(8200 + i * 300, `TCP 203.0.113.50:5555${i} > ${HOST}:23 SYN`, v4frame('203.0.113.50', HOST, GW_MAC, IPPROTO.TCP, tcp({ src: '203.0.113.50', dst: HOST, sport: 55550 + i, dport: 23, seq: 1000 + i, flags: TCP_FLAGS.SYN })), false, true);
  }

  // DNS: the host's queries answered by 198.51.100.53, and LAN clients querying the host.
  for (let i = 0; i < 12; i++) {
    const sport = 53;
    const dport = 40000 + Math.floor(rnd() * 20000);
    const answer = concat(Uint8Array.of((i >> 8) & 0xff, i & 0xff, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0), bytes(30 + Math.floor(rnd() * 60), 10 + i));
    add(50 + i * 730, `UDP 198.51.100.53:53 > ${HOST}:${dport} DNS response`, v4frame('198.51.100.53', HOST, GW_MAC, IPPROTO.UDP, udp({ src: '198.51.100.53', dst: HOST, sport, dport }, answer)));
  }
  for (let i = 0; i < 8; i++) {
    const n = 11 + (i % 3);
    const src = `10.0.0.${n}`;
    const sport = 50000 + Math.floor(rnd() * 10000);
    const q = concat(Uint8Array.of(0x12, i, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0), ascii('\x03www\x07example\x04test\x00'), Uint8Array.of(0, 1, 0, 1));
    add(300 + i * 1100, `UDP ${src}:${sport} > ${HOST}:53 DNS query`, v4frame(src, HOST, lanMac(n), IPPROTO.UDP, udp({ src, dst: HOST, sport, dport: 53 }, q)));
  }
  // NTP replies.
  for (let i = 0; i < 4; i++) {
    add(1000 + i * 2200, `UDP 203.0.113.123:123 > ${HOST}:123 NTP`, v4frame('203.0.113.123', HOST, GW_MAC, IPPROTO.UDP, udp({ src: '203.0.113.123', dst: HOST, sport: 123, dport: 123 }, bytes(48, 20 + i))));
  }
  // ICMP: echo requests to the host, replies to the host's pings, an unreachable.
  for (let i = 0; i < 10; i++) {
    const src = i % 2 === 0 ? `10.0.0.${11 + (i % 3)}` : '198.51.100.7';
    add(200 + i * 800, `ICMP echo request ${src} > ${HOST} seq ${i}`, v4frame(src, HOST, macFor(src), IPPROTO.ICMP, icmpEcho(8, 0x4d2, i, bytes(56, i))));
  }
  for (let i = 0; i < 6; i++) {
    add(450 + i * 1300, `ICMP echo reply 203.0.113.1 > ${HOST} seq ${i}`, v4frame('203.0.113.1', HOST, GW_MAC, IPPROTO.ICMP, icmpEcho(0, 0x77, i, bytes(56, 40 + i)), { ttl: 55 }));
  }
  {
    const inner = ipv4({ src: HOST, dst: '203.0.113.99', proto: IPPROTO.UDP, id: 99 }, udp({ src: HOST, dst: '203.0.113.99', sport: 33434, dport: 33435 }, new Uint8Array(0)));
    add(7700, `ICMP port unreachable 203.0.113.99 > ${HOST}`, v4frame('203.0.113.99', HOST, GW_MAC, IPPROTO.ICMP, icmp(3, 3, 0, inner)));
    add(7750, `ICMP time exceeded 198.51.100.1 > ${HOST}`, v4frame('198.51.100.1', HOST, GW_MAC, IPPROTO.ICMP, icmp(11, 0, 0, inner)));
  }
  // The blocked range 192.0.2.0/24: pings, a SYN scan, DNS and telnet attempts.
  for (let i = 0; i < 4; i++) {
    add(1500 + i * 1000, `ICMP echo request 192.0.2.${10 + i} > ${HOST} (blocked source)`, v4frame(`192.0.2.${10 + i}`, HOST, GW_MAC, IPPROTO.ICMP, icmpEcho(8, 0x999, i, bytes(32, 60 + i))), true);
  }
  [21, 22, 25, 80, 443, 8080].forEach((p, i) => {
    add(5000 + i * 7, `TCP 192.0.2.66:61000 > ${HOST}:${p} SYN (blocked source)`, v4frame('192.0.2.66', HOST, GW_MAC, IPPROTO.TCP, tcp({ src: '192.0.2.66', dst: HOST, sport: 61000, dport: p, seq: 0x1000 + i, flags: TCP_FLAGS.SYN })), true);
  });
  for (let i = 0; i < 3; i++) {
    add(6600 + i * 250, `UDP 192.0.2.200:5353 > ${HOST}:53 (blocked source)`, v4frame('192.0.2.200', HOST, GW_MAC, IPPROTO.UDP, udp({ src: '192.0.2.200', dst: HOST, sport: 5353, dport: 53 }, bytes(40, 70 + i))), true);
  }
  session(3900, '192.0.2.23', 23, [ascii('admin\r\n')], true);
  // IPv6: neighbour discovery, pings, a TCP 443 handshake.
  const v6 = (src: string, srcMac: string, next: number, l4: Uint8Array, dst = HOST6, dstMac = HOST_MAC): Uint8Array =>
    eth({ dst: dstMac, src: srcMac, type: ETH_P.IPV6 }, ipv6({ src, dst, next, hopLimit: next === IPPROTO.ICMPV6 ? 255 : 64 }, l4));
  {
    const c = '2001:db8:1::11';
    const ns = concat(ip6(HOST6), Uint8Array.of(1, 1, 2, 0, 0, 0, 0, 0x11));
    add(120, `ICMPv6 neighbor solicitation ${c} > ff02::1:ff00:1`, v6(c, lanMac(0x11), IPPROTO.ICMPV6, icmp6(c, 'ff02::1:ff00:1', 135, 0, 0, ns), 'ff02::1:ff00:1', '33:33:ff:00:00:01'));
    const na = concat(ip6('2001:db8:1::fe'), Uint8Array.of(2, 1, 2, 0, 0, 0, 0, 0xfe));
    add(130, `ICMPv6 neighbor advertisement 2001:db8:1::fe > ${HOST6}`, v6('2001:db8:1::fe', GW_MAC, IPPROTO.ICMPV6, icmp6('2001:db8:1::fe', HOST6, 136, 0, 0x60000000, na)));
    for (let i = 0; i < 4; i++) {
      add(2200 + i * 1000, `ICMPv6 echo request ${c} > ${HOST6} seq ${i}`, v6(c, lanMac(0x11), IPPROTO.ICMPV6, icmp6(c, HOST6, 128, 0, (0x321 << 16) | i, bytes(56, 80 + i))));
    }
    const s6 = '2001:db8:77::5';
    [TCP_FLAGS.SYN, TCP_FLAGS.ACK, TCP_FLAGS.PSH | TCP_FLAGS.ACK, TCP_FLAGS.ACK, TCP_FLAGS.FIN | TCP_FLAGS.ACK, TCP_FLAGS.ACK].forEach((f, i) => {
      const payload = f === (TCP_FLAGS.PSH | TCP_FLAGS.ACK) ? bytes(517, 90) : new Uint8Array(0);
      add(4700 + i * 15, `TCP [${s6}]:51515 > [${HOST6}]:443 flags 0x${f.toString(16)}`, v6(s6, GW_MAC, IPPROTO.TCP, tcp({ src: s6, dst: HOST6, sport: 51515, dport: 443, seq: 5000 + (i > 2 ? 518 : i > 0 ? 1 : 0), ack: i === 0 ? 0 : 9001, flags: f }, payload)));
    });
  }
  // A blocked IPv6 source (an exact address, for a per-address IPv6 blocklist).
  {
    const bad6 = '2001:db8:bad::66';
    for (let i = 0; i < 2; i++) {
      add(3100 + i * 900, `ICMPv6 echo request ${bad6} > ${HOST6} seq ${i} (blocked IPv6 source)`, v6(bad6, GW_MAC, IPPROTO.ICMPV6, icmp6(bad6, HOST6, 128, 0, (0x666 << 16) | i, bytes(32, 130 + i))), true);
      add(3120 + i * 900, `TCP [${bad6}]:6000${i} > [${HOST6}]:22 SYN (blocked IPv6 source)`, v6(bad6, GW_MAC, IPPROTO.TCP, tcp({ src: bad6, dst: HOST6, sport: 60000 + i, dport: 22, seq: 42, flags: TCP_FLAGS.SYN })), true);
    }
  }
  // Syslog and SNMP from the LAN; an RTP-like media stream from outside.
  for (let i = 0; i < 6; i++) {
    const src = `10.0.0.${11 + (i % 3)}`;
    add(900 + i * 1400, `UDP ${src}:514 > ${HOST}:514 syslog`, v4frame(src, HOST, macFor(src), IPPROTO.UDP, udp({ src, dst: HOST, sport: 514, dport: 514 }, ascii(`<134>Jan  1 00:00:0${i} host${i} app[42]: event ${i}`))));
  }
  for (let i = 0; i < 4; i++) {
    add(3000 + i * 1500, `UDP 10.0.0.11:3456 > ${HOST}:161 SNMP get`, v4frame('10.0.0.11', HOST, lanMac(11), IPPROTO.UDP, udp({ src: '10.0.0.11', dst: HOST, sport: 3456, dport: 161 }, bytes(43, 100 + i))));
  }
  for (let i = 0; i < 30; i++) {
    add(5600 + i * 20, `UDP 203.0.113.77:40000 > ${HOST}:5004 RTP seq ${i}`, v4frame('203.0.113.77', HOST, GW_MAC, IPPROTO.UDP, udp({ src: '203.0.113.77', dst: HOST, sport: 40000, dport: 5004 }, concat(Uint8Array.of(0x80, 0x00, 0, i, 0, 0, 0, i * 160 & 0xff, 0xde, 0xad, 0xbe, 0xef), bytes(160, 120 + i))), { tos: 0xb8 }));
  }

  ev.sort((a, b) => a.t - b.t);
  return ev.map((e, i) => {
    const ns = e.t * 1_000_000 + i * 1_337;
    const p: Pkt = { desc: e.desc, data: e.data, tsSec: T0 + Math.floor(ns / 1e9), tsNsec: ns % 1e9 };
    sampleFlags.push({ blockedSrc: e.blockedSrc, telnet: e.telnet });
    return p;
  });
}
const sampleFlags: { blockedSrc: boolean; telnet: boolean }[] = [];

// ---------------------------------------------------------------------------------------------
// parity captures, one file per category
// ---------------------------------------------------------------------------------------------

const A = '10.1.0.1';
const B = '10.1.0.2';
const A6 = 'fd00::1';
const B6 = 'fd00::2';
const SRC_MAC = '02:00:00:00:00:02';

function e4(l3: Uint8Array, vlans?: EthOptsVlans): Uint8Array {
  return eth({ dst: HOST_MAC, src: SRC_MAC, type: ETH_P.IP, ...(vlans !== undefined ? { vlans } : {}) }, l3);
}
function e6(l3: Uint8Array, vlans?: EthOptsVlans): Uint8Array {
  return eth({ dst: HOST_MAC, src: SRC_MAC, type: ETH_P.IPV6, ...(vlans !== undefined ? { vlans } : {}) }, l3);
}
type EthOptsVlans = { tpid?: number; vid: number; pcp?: number }[];

const tcpAB = (payload: Uint8Array = new Uint8Array(0), extra: Partial<Parameters<typeof tcp>[0]> = {}): Uint8Array =>
  tcp({ src: A, dst: B, sport: 40000, dport: 80, seq: 1, ack: 1, flags: TCP_FLAGS.PSH | TCP_FLAGS.ACK, ...extra }, payload);
const udpAB = (payload: Uint8Array = bytes(32), extra: Partial<Parameters<typeof udp>[0]> = {}): Uint8Array =>
  udp({ src: A, dst: B, sport: 5000, dport: 53, ...extra }, payload);

type Case = [string, Uint8Array] | [string, Uint8Array, number];

function arpCases(): Case[] {
  return [
    ['ARP request who-has 10.1.0.2 tell 10.1.0.1 (padded to 60)', padEth(eth({ dst: BCAST, src: SRC_MAC, type: ETH_P.ARP }, arp({ op: 1, sha: SRC_MAC, spa: A, tha: '00:00:00:00:00:00', tpa: B })))],
    ['ARP reply 10.1.0.2 is-at 02:00:00:00:00:02', eth({ dst: HOST_MAC, src: SRC_MAC, type: ETH_P.ARP }, arp({ op: 2, sha: SRC_MAC, spa: B, tha: HOST_MAC, tpa: A }))],
    ['ARP gratuitous 10.1.0.1', eth({ dst: BCAST, src: SRC_MAC, type: ETH_P.ARP }, arp({ op: 1, sha: SRC_MAC, spa: A, tha: '00:00:00:00:00:00', tpa: A }))],
    ['ARP request in 802.1Q VLAN 10', eth({ dst: BCAST, src: SRC_MAC, type: ETH_P.ARP, vlans: [{ vid: 10 }] }, arp({ op: 1, sha: SRC_MAC, spa: A, tha: '00:00:00:00:00:00', tpa: B }))],
    ['ARP truncated to 20 bytes of payload', eth({ dst: BCAST, src: SRC_MAC, type: ETH_P.ARP }, arp({ op: 1, sha: SRC_MAC, spa: A, tha: '00:00:00:00:00:00', tpa: B }).subarray(0, 20))],
  ];
}

function ipv4OptionCases(): Case[] {
  const rr = padTo4(Uint8Array.of(7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0)); // record route, 2 slots
  const ra = Uint8Array.of(0x94, 4, 0, 0); // router alert
  const ts = Uint8Array.of(68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0); // timestamp, 2 slots
  const lsrr = padTo4(Uint8Array.of(1, 131, 7, 4, 10, 1, 0, 9)); // NOP + loose source route
  const full = new Uint8Array(40);
  full.fill(1); // 40 bytes of NOP: IHL 15
  const eolEarly = Uint8Array.of(0, 0x94, 4, 0); // EOL first
  return [
    ['IPv4 UDP, options: router alert (IHL 6)', e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP, options: ra }, udpAB()))],
    ['IPv4 ICMP echo, options: record route (IHL 8)', e4(ipv4({ src: A, dst: B, proto: IPPROTO.ICMP, options: rr }, icmpEcho(8, 1, 1, bytes(16))))],
    ['IPv4 TCP, options: timestamp (IHL 8)', e4(ipv4({ src: A, dst: B, proto: IPPROTO.TCP, options: ts }, tcpAB(bytes(20))))],
    ['IPv4 UDP, options: NOP + loose source route (IHL 7)', e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP, options: lsrr }, udpAB()))],
    ['IPv4 TCP, options: 40 bytes of NOP (IHL 15)', e4(ipv4({ src: A, dst: B, proto: IPPROTO.TCP, options: full }, tcpAB(bytes(10))))],
    ['IPv4 UDP, options: EOL then router alert', e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP, options: eolEarly }, udpAB()))],
    ['IPv4 UDP, no options, Ethernet padding after the datagram', padEth(e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP }, udpAB(bytes(2)))))],
  ];
}

function padTo4(b: Uint8Array): Uint8Array {
  return b.length % 4 === 0 ? b : concat(b, new Uint8Array(4 - (b.length % 4)));
}

function ipv4FragmentCases(): Case[] {
  const dgram = udpAB(bytes(1200, 3), { dport: 9999 });
  const f = (off: number, more: boolean, part: Uint8Array, id = 0x1111): Uint8Array =>
    e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP, id, fragOffset: off, moreFragments: more }, part));
  const seg = tcpAB(bytes(64, 4), { dport: 22 });
  return [
    ['IPv4 UDP fragment 1/3 (offset 0, MF, has the UDP header)', f(0, true, dgram.subarray(0, 512))],
    ['IPv4 UDP fragment 2/3 (offset 512, MF)', f(512, true, dgram.subarray(512, 1024))],
    ['IPv4 UDP fragment 3/3 (offset 1024, last)', f(1024, false, dgram.subarray(1024))],
    ['IPv4 TCP tiny first fragment (8 bytes: ports only)', e4(ipv4({ src: A, dst: B, proto: IPPROTO.TCP, id: 0x2222, moreFragments: true }, seg.subarray(0, 8)))],
    ['IPv4 TCP second fragment (offset 8, rest of the header)', e4(ipv4({ src: A, dst: B, proto: IPPROTO.TCP, id: 0x2222, fragOffset: 8 }, seg.subarray(8)))],
    ['IPv4 UDP overlapping fragment (offset 504, MF)', f(504, true, dgram.subarray(504, 600))],
    ['IPv4 TCP with DF set', e4(ipv4({ src: A, dst: B, proto: IPPROTO.TCP, dontFragment: true }, tcpAB(bytes(100))))],
    ['IPv4 ICMP fragment with options (offset 64, MF)', e4(ipv4({ src: A, dst: B, proto: IPPROTO.ICMP, id: 0x3333, fragOffset: 64, moreFragments: true, options: Uint8Array.of(0x94, 4, 0, 0) }, bytes(64, 5)))],
  ];
}

function ipv6ExtCases(): Case[] {
  const hbhRA = { type: IPPROTO.HOPOPTS, body: padTlv(Uint8Array.of(5, 2, 0, 0)) }; // router alert (MLD)
  const dst = { type: IPPROTO.DSTOPTS, body: padTlv(Uint8Array.of(0x1e, 2, 0xab, 0xcd)) };
  const rt = routingExt(4, 1, [B6, 'fd00::3']);
  const rt2 = routingExt(2, 1, ['fd00::99']);
  const u6 = (payload: Uint8Array = bytes(24)): Uint8Array => udp({ src: A6, dst: B6, sport: 5000, dport: 53 }, payload);
  const t6 = (payload: Uint8Array = bytes(24)): Uint8Array => tcp({ src: A6, dst: B6, sport: 40000, dport: 443, seq: 1, ack: 1, flags: TCP_FLAGS.PSH | TCP_FLAGS.ACK }, payload);
  const big = udp({ src: A6, dst: B6, sport: 5000, dport: 9999 }, bytes(1400, 7));
  return [
    ['IPv6 hop-by-hop (router alert) + ICMPv6 MLD-ish echo', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.ICMPV6, ext: [hbhRA] }, icmp6(A6, B6, 128, 0, 0x10001, bytes(8))))],
    ['IPv6 routing header (SRH type 4, 2 segments) + TCP', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.TCP, ext: [rt] }, t6()))],
    ['IPv6 routing header type 2 + UDP', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.UDP, ext: [rt2] }, u6()))],
    ['IPv6 fragment header, first fragment (UDP header inside)', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.UDP, ext: [fragmentExt(0, true, 0xabcd)] }, big.subarray(0, 800)))],
    ['IPv6 fragment header, last fragment (offset 800)', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.UDP, ext: [fragmentExt(800, false, 0xabcd)] }, big.subarray(800)))],
    ['IPv6 destination options + UDP', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.UDP, ext: [dst] }, u6()))],
    ['IPv6 chain: hop-by-hop, dest opts, routing, fragment, dest opts, TCP', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.TCP, ext: [hbhRA, dst, rt, fragmentExt(0, false, 7), dst] }, t6()))],
    ['IPv6 hop-by-hop + no next header (59)', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.NONE, ext: [hbhRA] }, new Uint8Array(0)))],
    ['IPv6 plain TCP (no extension headers)', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.TCP }, t6()))],
  ];
}

function vlanCases(): Case[] {
  const q = (vid: number, pcp = 0): { vid: number; pcp: number } => ({ vid, pcp });
  return [
    ['802.1Q VLAN 100 + IPv4 TCP', e4(ipv4({ src: A, dst: B, proto: IPPROTO.TCP }, tcpAB(bytes(40))), [q(100)])],
    ['802.1Q VLAN 200 PCP 5 + IPv6 UDP', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.UDP }, udp({ src: A6, dst: B6, sport: 1, dport: 2 }, bytes(20))), [q(200, 5)])],
    ['802.1Q priority tag (VLAN 0, PCP 3) + IPv4 UDP', e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP }, udpAB()), [q(0, 3)])],
    ['QinQ: 802.1ad outer VLAN 10, 802.1Q inner VLAN 20 + IPv4 UDP', e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP }, udpAB()), [{ tpid: ETH_P.QINQ, vid: 10 }, { vid: 20 }])],
    ['double 802.1Q (0x8100, 0x8100) VLANs 30/40 + IPv4 ICMP echo', e4(ipv4({ src: A, dst: B, proto: IPPROTO.ICMP }, icmpEcho(8, 5, 1, bytes(24))), [q(30), q(40)])],
    ['triple tag 88a8/8100/8100 + IPv4 TCP', e4(ipv4({ src: A, dst: B, proto: IPPROTO.TCP }, tcpAB()), [{ tpid: ETH_P.QINQ, vid: 1 }, q(2), q(3)])],
    ['802.1Q VLAN 4095 + ARP', eth({ dst: BCAST, src: SRC_MAC, type: ETH_P.ARP, vlans: [q(4095)] }, arp({ op: 1, sha: SRC_MAC, spa: A, tha: '00:00:00:00:00:00', tpa: B }))],
  ];
}

function icmpCases(): Case[] {
  const inner = ipv4({ src: B, dst: A, proto: IPPROTO.UDP }, udp({ src: B, dst: A, sport: 33434, dport: 33435 }, bytes(8)));
  const inner6 = ipv6({ src: B6, dst: A6, next: IPPROTO.UDP }, udp({ src: B6, dst: A6, sport: 1, dport: 2 }, bytes(8)));
  return [
    ['ICMP echo request', e4(ipv4({ src: A, dst: B, proto: IPPROTO.ICMP }, icmpEcho(8, 0x1234, 1, bytes(56))))],
    ['ICMP echo reply', e4(ipv4({ src: B, dst: A, proto: IPPROTO.ICMP }, icmpEcho(0, 0x1234, 1, bytes(56))))],
    ['ICMP destination unreachable (port) quoting a UDP datagram', e4(ipv4({ src: A, dst: B, proto: IPPROTO.ICMP }, icmp(3, 3, 0, inner)))],
    ['ICMP fragmentation needed (MTU 1400)', e4(ipv4({ src: A, dst: B, proto: IPPROTO.ICMP }, icmp(3, 4, 1400, inner)))],
    ['ICMP time exceeded', e4(ipv4({ src: A, dst: B, proto: IPPROTO.ICMP }, icmp(11, 0, 0, inner)))],
    ['ICMPv6 echo request', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.ICMPV6 }, icmp6(A6, B6, 128, 0, (0x4321 << 16) | 1, bytes(56))))],
    ['ICMPv6 echo reply', e6(ipv6({ src: B6, dst: A6, next: IPPROTO.ICMPV6 }, icmp6(B6, A6, 129, 0, (0x4321 << 16) | 1, bytes(56))))],
    ['ICMPv6 packet too big (MTU 1280)', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.ICMPV6 }, icmp6(A6, B6, 2, 0, 1280, inner6)))],
    ['ICMPv6 neighbor solicitation', e6(ipv6({ src: A6, dst: 'ff02::1:ff00:2', next: IPPROTO.ICMPV6, hopLimit: 255 }, icmp6(A6, 'ff02::1:ff00:2', 135, 0, 0, concat(ip6(B6), Uint8Array.of(1, 1, 2, 0, 0, 0, 0, 2)))))],
  ];
}

function tunnelCases(): Case[] {
  const innerTcp = ipv4({ src: '192.168.1.1', dst: '192.168.1.2', proto: IPPROTO.TCP }, tcp({ src: '192.168.1.1', dst: '192.168.1.2', sport: 1234, dport: 80, flags: TCP_FLAGS.SYN }));
  const innerUdp = ipv4({ src: '192.168.1.1', dst: '192.168.1.2', proto: IPPROTO.UDP }, udp({ src: '192.168.1.1', dst: '192.168.1.2', sport: 1, dport: 53 }, bytes(20)));
  const inner6 = ipv6({ src: 'fd01::1', dst: 'fd01::2', next: IPPROTO.UDP }, udp({ src: 'fd01::1', dst: 'fd01::2', sport: 1, dport: 53 }, bytes(20)));
  const innerEth = eth({ dst: '02:aa:00:00:00:01', src: '02:aa:00:00:00:02', type: ETH_P.IP }, innerUdp);
  return [
    ['IPIP: IPv4 in IPv4 (proto 4), inner TCP SYN', e4(ipv4({ src: A, dst: B, proto: IPPROTO.IPIP }, innerTcp))],
    ['6in4: IPv6 in IPv4 (proto 41), inner UDP', e4(ipv4({ src: A, dst: B, proto: IPPROTO.IPV6 }, inner6))],
    ['IPv4 in IPv6 (next header 4), inner UDP', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.IPIP }, innerUdp))],
    ['GRE (proto 47) carrying IPv4 UDP', e4(ipv4({ src: A, dst: B, proto: IPPROTO.GRE }, gre(ETH_P.IP, innerUdp)))],
    ['GRE with key and sequence carrying IPv4 TCP', e4(ipv4({ src: A, dst: B, proto: IPPROTO.GRE }, gre(ETH_P.IP, innerTcp, { key: 0xdeadbeef, seq: 7 })))],
    ['GRE with checksum carrying IPv6', e4(ipv4({ src: A, dst: B, proto: IPPROTO.GRE }, gre(ETH_P.IPV6, inner6, { checksum: true })))],
    ['GRE carrying Ethernet (TEB 0x6558, gretap)', e4(ipv4({ src: A, dst: B, proto: IPPROTO.GRE }, gre(ETH_P.TEB, innerEth)))],
    ['GRE over IPv6 carrying IPv4', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.GRE }, gre(ETH_P.IP, innerUdp)))],
  ];
}

function jumboCases(): Case[] {
  const tcpJ = ipv4({ src: A, dst: B, proto: IPPROTO.TCP, dontFragment: true }, tcpAB(bytes(9000 - 40, 9)));
  const udpJ = ipv4({ src: A, dst: B, proto: IPPROTO.UDP }, udpAB(bytes(9000 - 28, 10)));
  const v6J = ipv6({ src: A6, dst: B6, next: IPPROTO.UDP }, udp({ src: A6, dst: B6, sport: 1, dport: 2 }, bytes(9000 - 48, 11)));
  const exact = ipv4({ src: A, dst: B, proto: IPPROTO.UDP }, udpAB(bytes(9000 - 14 - 28, 12)));
  return [
    ['IPv4 TCP, IP length 9000 (frame 9014)', e4(tcpJ)],
    ['IPv4 UDP, IP length 9000 (frame 9014)', e4(udpJ)],
    ['IPv6 UDP, IP length 9000 (frame 9014)', e6(v6J)],
    ['IPv4 UDP, frame of exactly 9000 bytes', e4(exact)],
    ['IPv4 TCP, standard maximum frame 1514', e4(ipv4({ src: A, dst: B, proto: IPPROTO.TCP }, tcpAB(bytes(1460, 13))))],
    ['802.1Q IPv4 TCP, frame 1518', e4(ipv4({ src: A, dst: B, proto: IPPROTO.TCP }, tcpAB(bytes(1460, 14))), [{ vid: 7 }])],
  ];
}

function runtCases(): Case[] {
  const full = padEth(e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP }, udpAB(bytes(4)))));
  const out: Case[] = [];
  for (let n = 0; n <= 13; n++) out.push([`runt: first ${n} bytes of an IPv4 UDP frame`, full.slice(0, n)]);
  out.push(['Ethernet header only (14 bytes, EtherType IPv4)', full.slice(0, 14)]);
  return out;
}

function malformedCases(): Case[] {
  const good = ipv4({ src: A, dst: B, proto: IPPROTO.TCP }, tcpAB(bytes(20)));
  const withIhl = (ihl: number): Uint8Array => e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP, ihl }, udpAB()));
  return [
    ['IPv4 IHL 0', withIhl(0)],
    ['IPv4 IHL 4 (below the minimum 5)', withIhl(4)],
    ['IPv4 IHL 15 but no options (header beyond the packet data)', e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP, ihl: 15 }, bytes(12)))],
    ['IPv4 total length 1500 > frame', e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP, totalLength: 1500 }, udpAB()))],
    ['IPv4 total length 12 < header length', e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP, totalLength: 12 }, udpAB()))],
    ['IPv4 version 6 under EtherType IPv4', e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP, version: 6 }, udpAB()))],
    ['IPv4 bad header checksum', e4(ipv4({ src: A, dst: B, proto: IPPROTO.TCP, badChecksum: true }, tcpAB(bytes(20))))],
    ['IPv4 header truncated (10 of 20 bytes)', e4(good.subarray(0, 10))],
    ['IPv4 TCP truncated (10 bytes of TCP header)', e4(ipv4({ src: A, dst: B, proto: IPPROTO.TCP }, tcpAB().subarray(0, 10)))],
    ['TCP data offset 3 (< 5)', e4(ipv4({ src: A, dst: B, proto: IPPROTO.TCP }, tcpAB(bytes(8), { dataOffset: 3 })))],
    ['TCP data offset 15 beyond the segment', e4(ipv4({ src: A, dst: B, proto: IPPROTO.TCP }, tcpAB(bytes(8), { dataOffset: 15 })))],
    ['TCP bad checksum', e4(ipv4({ src: A, dst: B, proto: IPPROTO.TCP }, tcpAB(bytes(20), { badChecksum: true })))],
    ['UDP length 4 (< 8)', e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP }, udpAB(bytes(16), { length: 4 })))],
    ['UDP length 400 > IP payload', e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP }, udpAB(bytes(16), { length: 400 })))],
    ['UDP header truncated (4 bytes)', e4(ipv4({ src: A, dst: B, proto: IPPROTO.UDP }, udpAB().subarray(0, 4)))],
    ['IPv6 payload length 2000 > frame', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.UDP, payloadLength: 2000 }, udp({ src: A6, dst: B6, sport: 1, dport: 2 }, bytes(8))))],
    ['IPv6 header truncated (20 of 40 bytes)', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.UDP }, new Uint8Array(0)).subarray(0, 20))],
    ['IPv6 hop-by-hop header claiming 64 bytes, truncated', e6(ipv6({ src: A6, dst: B6, next: IPPROTO.UDP, ext: [{ type: IPPROTO.HOPOPTS, body: padTlv(new Uint8Array(0)) }] }, new Uint8Array(0)).map((b, i) => (i === 14 + 41 ? 7 : b)))],
    ['802.1Q tag truncated (EtherType 0x8100 and 2 bytes)', concat(eth({ dst: HOST_MAC, src: SRC_MAC, type: ETH_P.VLAN }, Uint8Array.of(0x00, 0x64)))],
    ['unknown EtherType 0x88b5 (local experimental)', eth({ dst: HOST_MAC, src: SRC_MAC, type: 0x88b5 }, bytes(46))],
    ['802.3 length field (0x002e) with LLC payload', eth({ dst: HOST_MAC, src: SRC_MAC, type: 46 }, concat(Uint8Array.of(0x42, 0x42, 0x03), bytes(43)))],
  ];
}

const CATEGORIES: { file: string; title: string; cases: () => Case[] }[] = [
  { file: 'arp', title: 'ARP', cases: arpCases },
  { file: 'ipv4-options', title: 'IPv4 with options', cases: ipv4OptionCases },
  { file: 'ipv4-fragments', title: 'IPv4 fragments', cases: ipv4FragmentCases },
  { file: 'ipv6-ext', title: 'IPv6 extension headers', cases: ipv6ExtCases },
  { file: 'vlan', title: '802.1Q and QinQ', cases: vlanCases },
  { file: 'icmp', title: 'ICMP and ICMPv6', cases: icmpCases },
  { file: 'tunnels', title: 'IPIP, 6in4 and GRE', cases: tunnelCases },
  { file: 'jumbo', title: 'Jumbo frames', cases: jumboCases },
  { file: 'runts', title: 'Runts of 0-14 bytes', cases: runtCases },
  { file: 'malformed', title: 'Malformed headers', cases: malformedCases },
];

function stamp(cases: Case[], startMs: number): Pkt[] {
  return cases.map(([desc, data, origLen], i) => {
    const p: Pkt = { desc, data, tsSec: T0 + 3600 + Math.floor((startMs + i) / 1000), tsNsec: ((startMs + i) % 1000) * 1_000_000 + 123_457 + i };
    if (origLen !== undefined) p.origLen = origLen;
    return p;
  });
}

// ---------------------------------------------------------------------------------------------
// writing
// ---------------------------------------------------------------------------------------------

const readme: string[] = [];
const written: string[] = [];

async function writePcap(rel: string, pkts: Pkt[], opts: ConstructorParameters<typeof PcapWriter>[1] = {}): Promise<void> {
  const path = join(OUT, rel);
  mkdirSync(dirname(path), { recursive: true });
  const w = new PcapWriter(path, opts);
  for (const p of pkts) w.write(p);
  await w.close();
  written.push(rel);
}

/** toSll turns an Ethernet frame into a LINUX_SLL (v1) or LINUX_SLL2 frame, as the kernel's "any" device captures it. */
function toSll(f: Uint8Array, v2: boolean, pkttype: number): Uint8Array {
  const proto = (f[12] << 8) | f[13];
  const payload = f.subarray(14);
  if (!v2) {
    const h = new Uint8Array(16);
    h[1] = pkttype;
    h[3] = 1; // ARPHRD_ETHER
    h[5] = 6;
    h.set(f.subarray(6, 12), 6);
    h[14] = proto >> 8;
    h[15] = proto & 0xff;
    return concat(h, payload);
  }
  const h = new Uint8Array(20);
  h[0] = proto >> 8;
  h[1] = proto & 0xff;
  h[7] = 2; // ifindex
  h[9] = 1; // ARPHRD_ETHER
  h[10] = pkttype;
  h[11] = 6;
  h.set(f.subarray(6, 12), 12);
  return concat(h, payload);
}

function table(pkts: Pkt[]): string {
  return ['| # | len | frame |', '|---|-----|-------|', ...pkts.map((p, i) => `| ${i} | ${p.data.length} | ${p.desc} |`)].join('\n');
}

async function main(): Promise<void> {
  for (const d of ['parity', 'formats', 'bad']) mkdirSync(join(OUT, d), { recursive: true });
  readme.push(
    '# Captures',
    '',
    'Generated by `npm run pcaps` (scripts/make-pcaps.ts) — deterministic, do not edit by hand;',
    'test/io/pcaps.test.ts checks that these files match a fresh run and that `tcpdump -r` reads them.',
    'Timestamps start at 2024-01-01T00:00:00Z.',
    '',
  );

  // sample.pcap
  const s = sample();
  await writePcap('sample.pcap', s, { nanosecond: false });
  const blocked = sampleFlags.filter((f) => f.blockedSrc).length;
  const blocked6 = s.filter((p) => p.desc.includes('2001:db8:bad::66 >') || p.desc.includes('[2001:db8:bad::66]')).length;
  const telnet = sampleFlags.filter((f) => f.telnet && !f.blockedSrc).length;
  const telnetAll = sampleFlags.filter((f) => f.telnet).length;
  const count = (re: RegExp): number => s.filter((p) => re.test(p.desc)).length;
  readme.push(
    '## sample.pcap',
    '',
    `A realistic mixed capture of ${s.length} frames (Ethernet, microsecond pcap), the traffic arriving at a`,
    'host\'s NIC — what an XDP program on it sees. Addresses:',
    '',
    '| role | IPv4 | IPv6 | MAC |',
    '|------|------|------|-----|',
    '| host (runs the program) | 10.0.0.1 | 2001:db8:1::1 | 02:00:00:00:00:01 |',
    '| gateway (all external traffic) | 10.0.0.254 | 2001:db8:1::fe | 02:00:00:00:00:fe |',
    '| LAN clients | 10.0.0.11-13 | 2001:db8:1::11 | 02:00:00:00:00:11-13 |',
    '| allowed external | 198.51.100.0/24, 203.0.113.0/24 | 2001:db8:77::5 | via gateway |',
    '| **blocked sources** | **192.0.2.0/24** | **2001:db8:bad::66** | via gateway |',
    '',
    'For the firewall example (programs/xdp_fw.c): block IPv4 sources in **192.0.2.0/24**, the IPv6',
    'source **2001:db8:bad::66** and **TCP destination port 23**.',
    '',
    `- frames from 192.0.2.0/24: **${blocked - blocked6}** (ICMP echo, a SYN scan, DNS, and a telnet session)`,
    `- frames from 2001:db8:bad::66: **${blocked6}** (ICMPv6 echo, TCP SYN to port 22)`,
    `- frames to TCP port 23 from other sources: **${telnet}** (${telnetAll} to port 23 in all)`,
    `- so a firewall blocking all three drops ${blocked + telnet} and passes ${s.length - blocked - telnet} frames`,
    `- by kind: ARP ${count(/^ARP/)}, TCP/IPv4 ${count(/^TCP [0-9]/)}, UDP ${count(/^UDP/)}, ICMP ${count(/^ICMP /)}, ICMPv6 ${count(/^ICMPv6/)}, TCP/IPv6 ${count(/^TCP \[/)}`,
    '',
    '<details><summary>every frame</summary>',
    '',
    table(s),
    '',
    '</details>',
    '',
  );

  // parity captures
  readme.push(
    '## parity/',
    '',
    'One Ethernet pcap (nanosecond) per category, for kernel-parity runs (`BPF_PROG_TEST_RUN` vs',
    '`xdpsim replay --mode test-run`). parity/all.pcap holds every category in order;',
    'parity/all.pcapng holds the same frames in pcapng: section 1 with interfaces eth0 and eth1',
    '(nanosecond), frames alternating between them, then section 2 re-declaring eth0 (microsecond)',
    'and eth1 (nanosecond) for the second half; each EPB carries the frame\'s description as a',
    'comment. formats/mixed-endian.pcapng is the same with a big-endian second section.',
    '',
  );
  const all: Pkt[] = [];
  let ms = 0;
  for (const c of CATEGORIES) {
    const pk = stamp(c.cases(), ms);
    ms += 1000;
    await writePcap(`parity/${c.file}.pcap`, pk, { nanosecond: true });
    all.push(...pk);
    readme.push(`### parity/${c.file}.pcap — ${c.title} (${pk.length} frames)`, '', table(pk), '');
  }
  await writePcap('parity/all.pcap', all, { nanosecond: true });
  for (const [rel, bigEndian] of [['parity/all.pcapng', false], ['formats/mixed-endian.pcapng', true]] as const) {
    const w = new PcapngWriter(join(OUT, rel), { comment: 'xdpsim parity captures', interfaces: [{ name: 'eth0' }, { name: 'eth1' }] });
    const half = Math.ceil(all.length / 2);
    all.forEach((p, i) => {
      if (i === half) {
        w.newSection({ bigEndian, comment: 'second section', interfaces: [{ name: 'eth0', tsresol: { base: 10, exponent: 6 } }, { name: 'eth1' }] });
      }
      w.write(p, { interfaceId: i % 2, comment: p.desc });
    });
    await w.close();
    written.push(rel);
  }

  // format variants
  readme.push(
    '## formats/',
    '',
    'The parity frames (parity/all.pcap) in other encodings, to test the readers:',
    '',
    '| file | encoding |',
    '|------|----------|',
    '| formats/all-be.pcap | big-endian, microsecond |',
    '| formats/all-us.pcap | little-endian, microsecond |',
    '| formats/all-ns-be.pcap | big-endian, nanosecond |',
    '| formats/sll.pcap | LINUX_SLL (113): every IPv4/IPv6/ARP frame of 14+ bytes, cooked header instead of Ethernet, packet type HOST |',
    '| formats/sll2.pcap | LINUX_SLL2 (276): the same frames |',
    '| formats/raw-ip.pcap | RAW (101): the untagged IPv4 and IPv6 frames without their Ethernet header |',
    '| formats/blocks.pcapng | pcapng oddities: SPB, obsolete PB, NRB, ISB, custom block, if_tsresol 2^-20, 10^-3 and 2^-30, if_tsoffset, EPB verdict and flags options, a second section |',
    '| formats/mixed-endian.pcapng | parity/all.pcapng with its second section big-endian (libpcap, hence tcpdump, cannot read sections of different byte orders; Wireshark and xdpsim can) |',
    '',
    'xdpsim converts SLL, SLL2 and raw IP to Ethernet on reading (with a note): see src/io/linktype.ts.',
    '',
  );
  await writePcap('formats/all-be.pcap', all, { bigEndian: true });
  await writePcap('formats/all-us.pcap', all, {});
  await writePcap('formats/all-ns-be.pcap', all, { bigEndian: true, nanosecond: true });
  const l3Types = new Set<number>([ETH_P.IP, ETH_P.IPV6, ETH_P.ARP]);
  const l3 = all.filter((p) => p.data.length >= 14 && l3Types.has((p.data[12] << 8) | p.data[13]));
  await writePcap('formats/sll.pcap', l3.map((p) => ({ ...p, data: toSll(p.data, false, 0) })), { linkType: LINKTYPE.LINUX_SLL, nanosecond: true });
  await writePcap('formats/sll2.pcap', l3.map((p) => ({ ...p, data: toSll(p.data, true, 0) })), { linkType: LINKTYPE.LINUX_SLL2, nanosecond: true });
  const raw = l3.filter((p) => ((p.data[12] << 8) | p.data[13]) !== ETH_P.ARP).map((p) => ({ ...p, data: p.data.slice(14) }));
  await writePcap('formats/raw-ip.pcap', raw, { linkType: LINKTYPE.RAW, nanosecond: true });
  await writeBlocks(all.slice(0, 12));

  // bad captures
  await writeBad(s);

  writeFileSync(join(OUT, 'README.md'), readme.join('\n'));
  written.push('README.md');
  process.stdout.write(`wrote ${written.length} files under ${relative(process.cwd(), OUT) || '.'}\n`);
}

/** writeBlocks writes formats/blocks.pcapng: every pcapng block kind the reader handles. */
async function writeBlocks(pk: Pkt[]): Promise<void> {
  const w = new PcapngWriter(join(OUT, 'formats/blocks.pcapng'), {
    interfaces: [
      { name: 'eth0', tsresol: { base: 2, exponent: 20 } },
      { name: 'eth1', tsresol: { base: 10, exponent: 3 }, tsOffsetSec: 1_700_000_000 },
    ],
  });
  const le = true;
  const u32 = (n: number): Uint8Array => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, le);
    return b;
  };
  // NRB: one IPv4 record, end of records.
  w.writeBlock(BLOCK.NRB, concat(Uint8Array.of(1, 0, 17, 0), Uint8Array.of(10, 1, 0, 2), ascii('host-b.test\0'), new Uint8Array(1), new Uint8Array(4)));
  w.write(pk[0], { interfaceId: 0, verdicts: [{ kind: 'xdp', value: 2 }], comment: 'XDP_PASS' });
  w.write(pk[1], { interfaceId: 1, verdicts: [{ kind: 'tc', value: -1 }], comment: 'TC_ACT_UNSPEC', flags: 1 });
  // SPB on interface 0.
  w.writeBlock(BLOCK.SPB, concat(u32(pk[2].data.length), pk[2].data));
  // Obsolete PB: interface 1, drops 0, timestamp (ms since the offset), caplen, len, data.
  const pb = new Uint8Array(20 + ((pk[3].data.length + 3) & ~3));
  const dv = new DataView(pb.buffer);
  dv.setUint16(0, 1, le);
  dv.setUint32(4, 0, le);
  dv.setUint32(8, 4_067_200_123, le);
  dv.setUint32(12, pk[3].data.length, le);
  dv.setUint32(16, pk[3].data.length, le);
  pb.set(pk[3].data, 20);
  w.writeBlock(BLOCK.PB, pb);
  // ISB for interface 0 (no options), and a custom block (PEN 32473, the documentation PEN).
  w.writeBlock(BLOCK.ISB, concat(u32(0), u32(0), u32(0)));
  w.writeBlock(BLOCK.CB_COPY, concat(u32(32473), ascii('xdpsim custom block')));
  for (let i = 4; i < 8; i++) w.write(pk[i], { interfaceId: i % 2, verdicts: [{ kind: 'xdp', value: i % 5 }] });
  w.newSection({ interfaces: [{ name: 'eth2', tsresol: { base: 2, exponent: 30 } }] });
  for (let i = 8; i < pk.length; i++) w.write(pk[i], { interfaceId: 0, verdicts: [{ kind: 'xdp', value: 1 }] });
  await w.close();
  written.push('formats/blocks.pcapng');
}

/** writeBad writes pcaps/bad/: broken captures with the error each must give. */
async function writeBad(s: Pkt[]): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const good = readFileSync(join(OUT, 'sample.pcap'));
  mkdirSync(join(OUT, 'bad'), { recursive: true });
  const rows: string[] = [];
  const put = (rel: string, b: Uint8Array, expect: string): void => {
    writeFileSync(join(OUT, rel), b);
    written.push(rel);
    rows.push(`| ${rel} | ${expect} |`);
  };
  // Offsets of the first records of sample.pcap.
  const rec: number[] = [];
  let off = 24;
  for (const p of s) {
    rec.push(off);
    off += 16 + p.data.length;
  }
  put('bad/truncated.pcap', good.subarray(0, rec[10] + 16 + 5), `CAPTURE_TRUNCATED at byte ${rec[10]} after 10 frames`);
  const badCap = Uint8Array.from(good.subarray(0, rec[6]));
  const big = concat(badCap, Uint8Array.from(good.subarray(rec[6], rec[7])));
  new DataView(big.buffer).setUint32(rec[6] + 8, 300_000, true);
  put('bad/caplen-too-big.pcap', big, `CAPTURE_BAD_LENGTH at byte ${rec[6]} after 6 frames`);
  const lt = Uint8Array.from(good.subarray(0, rec[3]));
  new DataView(lt.buffer).setUint32(20, 105, true);
  put('bad/linktype-wifi.pcap', lt, 'CAPTURE_LINKTYPE at byte 0 (IEEE802_11, 105) before any frame');
  // pcapng: sample frames with a garbage block after 5 frames.
  const path = join(OUT, 'bad/garbage-block.pcapng');
  const w = new PcapngWriter(path, {});
  for (let i = 0; i < 5; i++) w.write(s[i]);
  w.flush();
  await w.close();
  const ng = readFileSync(path);
  const garbage = new Uint8Array(32);
  for (let i = 0; i < 32; i++) garbage[i] = (i * 73 + 41) & 0xff;
  new DataView(garbage.buffer).setUint32(4, 32, true); // plausible length, wrong trailer
  const withGarbage = concat(ng, garbage);
  writeFileSync(path, withGarbage);
  rows.push(`| bad/garbage-block.pcapng | CAPTURE_BAD_LENGTH (trailing length) at byte ${ng.length} after 5 frames |`);
  put('bad/truncated.pcapng', ng.subarray(0, ng.length - 7), `CAPTURE_TRUNCATED at the 5th EPB, after 4 frames`);
  readme.push(
    '## bad/',
    '',
    'Broken captures: each must give the CaptureError below (code, byte offset) after yielding every',
    'frame before it.',
    '',
    '| file | expected |',
    '|------|----------|',
    ...rows,
    '',
  );
}

await main();
