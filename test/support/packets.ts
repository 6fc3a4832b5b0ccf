/**
 * packets — small builders for test frames: Ethernet (with 802.1Q/802.1ad tags), ARP, IPv4 (options,
 * fragments), IPv6 (extension headers), TCP, UDP, ICMP, ICMPv6, GRE, with correct checksums unless
 * told otherwise. Each builder returns bytes; compose them by passing one's output as the next's
 * payload. Used by scripts/make-pcaps.ts and by tests that need packets.
 */

/** ETH_P holds the EtherTypes the builders use. */
export const ETH_P = { IP: 0x0800, ARP: 0x0806, VLAN: 0x8100, QINQ: 0x88a8, IPV6: 0x86dd, TEB: 0x6558 } as const;
/** IPPROTO holds the IP protocol numbers the builders use. */
export const IPPROTO = {
  HOPOPTS: 0, ICMP: 1, IPIP: 4, TCP: 6, UDP: 17, IPV6: 41, ROUTING: 43, FRAGMENT: 44, GRE: 47, ICMPV6: 58, NONE: 59, DSTOPTS: 60,
} as const;
/** TCP_FLAGS holds the TCP flag bits. */
export const TCP_FLAGS = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20 } as const;

/** concat joins byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** mac parses "aa:bb:cc:dd:ee:ff". */
export function mac(s: string): Uint8Array {
  const parts = s.split(':');
  if (parts.length !== 6) throw new Error(`bad MAC ${s}`);
  return Uint8Array.from(parts, (h) => parseInt(h, 16));
}

/** ip4 parses a dotted IPv4 address. */
export function ip4(s: string): Uint8Array {
  const parts = s.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !(n >= 0 && n <= 255))) throw new Error(`bad IPv4 ${s}`);
  return Uint8Array.from(parts);
}

/** ip6 parses an IPv6 address with optional "::". */
export function ip6(s: string): Uint8Array {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`bad IPv6 ${s}`);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  return out;
}

/** bytes makes n bytes of a repeating, position-derived pattern (deterministic filler). */
export function bytes(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 17 + 7) & 0xff;
  return out;
}

/** ascii encodes a string as bytes. */
export function ascii(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** checksum is the Internet checksum (RFC 1071) of data, starting from a partial sum. */
export function checksum(data: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < data.length; i += 2) sum += (data[i] << 8) | data[i + 1];
  if (data.length % 2 === 1) sum += data[data.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function sum16(data: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < data.length; i += 2) sum += (data[i] << 8) | data[i + 1];
  if (data.length % 2 === 1) sum += data[data.length - 1] << 8;
  return sum;
}

/** pseudoHeaderSum is the partial sum of the IPv4 or IPv6 pseudo-header (by address length). */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, proto: number, len: number): number {
  return sum16(src) + sum16(dst) + proto + (len >>> 16) + (len & 0xffff);
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

function put32(b: Uint8Array, at: number, v: number): void {
  put16(b, at, (v >>> 16) & 0xffff);
  put16(b, at + 2, v & 0xffff);
}

/** EthOptions describes an Ethernet header; `vlans` are tags outermost first. */
export interface EthOptions {
  dst: string;
  src: string;
  type: number;
  vlans?: { tpid?: number; vid: number; pcp?: number }[];
}

/** eth builds an Ethernet frame around a payload. */
export function eth(o: EthOptions, payload: Uint8Array): Uint8Array {
  const tags = o.vlans ?? [];
  const hdr = new Uint8Array(14 + 4 * tags.length);
  hdr.set(mac(o.dst), 0);
  hdr.set(mac(o.src), 6);
  tags.forEach((t, i) => {
    put16(hdr, 12 + 4 * i, t.tpid ?? ETH_P.VLAN);
    put16(hdr, 14 + 4 * i, ((t.pcp ?? 0) << 13) | (t.vid & 0xfff));
  });
  put16(hdr, 12 + 4 * tags.length, o.type);
  return concat(hdr, payload);
}

/** ArpOptions describes an Ethernet/IPv4 ARP packet. */
export interface ArpOptions {
  op: 1 | 2;
  sha: string;
  spa: string;
  tha: string;
  tpa: string;
}

/** arp builds an ARP payload (28 bytes). */
export function arp(o: ArpOptions): Uint8Array {
  const b = new Uint8Array(28);
  put16(b, 0, 1);
  put16(b, 2, ETH_P.IP);
  b[4] = 6;
  b[5] = 4;
  put16(b, 6, o.op);
  b.set(mac(o.sha), 8);
  b.set(ip4(o.spa), 14);
  b.set(mac(o.tha), 18);
  b.set(ip4(o.tpa), 24);
  return b;
}

/** Ipv4Options describes an IPv4 header; overrides build malformed headers on purpose. */
export interface Ipv4Options {
  src: string;
  dst: string;
  proto: number;
  ttl?: number;
  tos?: number;
  id?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** fragOffset in bytes (must be a multiple of 8). */
  fragOffset?: number;
  /** options bytes (padded with EOL to 4 bytes). */
  options?: Uint8Array;
  /** ihl overrides the header length field (in 32-bit words). */
  ihl?: number;
  /** totalLength overrides the total length field. */
  totalLength?: number;
  /** version overrides the version nibble. */
  version?: number;
  /** badChecksum stores a wrong header checksum. */
  badChecksum?: boolean;
}

/** ipv4 builds an IPv4 packet around a payload. */
export function ipv4(o: Ipv4Options, payload: Uint8Array): Uint8Array {
  const opt = o.options ?? new Uint8Array(0);
  const optLen = (opt.length + 3) & ~3;
  const hlen = 20 + optLen;
  const h = new Uint8Array(hlen);
  h[0] = ((o.version ?? 4) << 4) | ((o.ihl ?? hlen / 4) & 0xf);
  h[1] = o.tos ?? 0;
  put16(h, 2, o.totalLength ?? hlen + payload.length);
  put16(h, 4, o.id ?? 0);
  const frag = ((o.dontFragment ?? false) ? 0x4000 : 0) | ((o.moreFragments ?? false) ? 0x2000 : 0) | ((o.fragOffset ?? 0) >> 3);
  put16(h, 6, frag);
  h[8] = o.ttl ?? 64;
  h[9] = o.proto;
  h.set(ip4(o.src), 12);
  h.set(ip4(o.dst), 16);
  h.set(opt, 20);
  const c = checksum(h);
  put16(h, 10, (o.badChecksum ?? false) ? c ^ 0x5a5a : c);
  return concat(h, payload);
}

/** Ipv6Ext is one IPv6 extension header: its type and body after the next-header/length bytes. */
export interface Ipv6Ext {
  type: number;
  /** body: for hop-by-hop/dest opts the options (padded with PadN to 8n+6), for routing the rest of the header, for fragment the 6 bytes. */
  body: Uint8Array;
}

/** Ipv6Options describes an IPv6 header and its extension chain. */
export interface Ipv6Options {
  src: string;
  dst: string;
  next: number;
  hopLimit?: number;
  flowLabel?: number;
  ext?: Ipv6Ext[];
  /** payloadLength overrides the payload length field. */
  payloadLength?: number;
}

/** padTlv pads an options body to the 8n+6 bytes a hop-by-hop or destination header needs. */
export function padTlv(opts: Uint8Array): Uint8Array {
  const need = (((opts.length + 2 + 7) & ~7) - 2) - opts.length;
  if (need === 0) return opts;
  if (need === 1) return concat(opts, Uint8Array.of(0));
  const pad = new Uint8Array(need);
  pad[0] = 1;
  pad[1] = need - 2;
  return concat(opts, pad);
}

/** fragmentExt builds the 6-byte body of an IPv6 fragment header. */
export function fragmentExt(offset: number, more: boolean, id: number): Ipv6Ext {
  const b = new Uint8Array(6);
  put16(b, 0, (offset & ~7) | (more ? 1 : 0));
  put32(b, 2, id);
  return { type: IPPROTO.FRAGMENT, body: b };
}

/** routingExt builds a type-0-style routing header body (type, segments left, reserved, addresses). */
export function routingExt(routingType: number, segmentsLeft: number, addrs: string[]): Ipv6Ext {
  const b = new Uint8Array(6 + 16 * addrs.length);
  b[0] = routingType;
  b[1] = segmentsLeft;
  addrs.forEach((a, i) => b.set(ip6(a), 6 + 16 * i));
  return { type: IPPROTO.ROUTING, body: b };
}

/** ipv6 builds an IPv6 packet with its extension headers around an upper-layer payload. */
export function ipv6(o: Ipv6Options, payload: Uint8Array): Uint8Array {
  const exts = o.ext ?? [];
  const parts: Uint8Array[] = [];
  exts.forEach((e, i) => {
    const next = i + 1 < exts.length ? exts[i + 1].type : o.next;
    const total = 2 + e.body.length;
    if (total % 8 !== 0) throw new Error(`extension header ${e.type} of ${total} bytes is not a multiple of 8`);
    const h = new Uint8Array(total);
    h[0] = next;
    h[1] = e.type === IPPROTO.FRAGMENT ? 0 : total / 8 - 1;
    h.set(e.body, 2);
    parts.push(h);
  });
  const rest = concat(...parts, payload);
  const h = new Uint8Array(40);
  put32(h, 0, (6 << 28) | ((o.flowLabel ?? 0) & 0xfffff));
  put16(h, 4, o.payloadLength ?? rest.length);
  h[6] = exts.length > 0 ? exts[0].type : o.next;
  h[7] = o.hopLimit ?? 64;
  h.set(ip6(o.src), 8);
  h.set(ip6(o.dst), 24);
  return concat(h, rest);
}

function addrBytes(a: string): Uint8Array {
  return a.includes(':') ? ip6(a) : ip4(a);
}

/** TcpOptions describes a TCP segment; src/dst are the IP addresses for the checksum. */
export interface TcpOptions {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  options?: Uint8Array;
  /** dataOffset overrides the header length field (in 32-bit words). */
  dataOffset?: number;
  badChecksum?: boolean;
}

/** tcp builds a TCP segment with its pseudo-header checksum. */
export function tcp(o: TcpOptions, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const opt = o.options ?? new Uint8Array(0);
  const hlen = 20 + ((opt.length + 3) & ~3);
  const h = new Uint8Array(hlen);
  put16(h, 0, o.sport);
  put16(h, 2, o.dport);
  put32(h, 4, o.seq ?? 0);
  put32(h, 8, o.ack ?? 0);
  h[12] = (o.dataOffset ?? hlen / 4) << 4;
  h[13] = o.flags ?? TCP_FLAGS.ACK;
  put16(h, 14, o.window ?? 65535);
  h.set(opt, 20);
  const seg = concat(h, payload);
  const c = checksum(seg, pseudoHeaderSum(addrBytes(o.src), addrBytes(o.dst), IPPROTO.TCP, seg.length));
  put16(seg, 16, (o.badChecksum ?? false) ? c ^ 0x1234 : c);
  return seg;
}

/** UdpOptions describes a UDP datagram; src/dst are the IP addresses for the checksum. */
export interface UdpOptions {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** length overrides the length field. */
  length?: number;
  /** noChecksum leaves the checksum 0 (allowed over IPv4). */
  noChecksum?: boolean;
}

/** udp builds a UDP datagram with its pseudo-header checksum. */
export function udp(o: UdpOptions, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const d = concat(new Uint8Array(8), payload);
  put16(d, 0, o.sport);
  put16(d, 2, o.dport);
  put16(d, 4, o.length ?? d.length);
  if (o.noChecksum !== true) {
    let c = checksum(d, pseudoHeaderSum(addrBytes(o.src), addrBytes(o.dst), IPPROTO.UDP, d.length));
    if (c === 0) c = 0xffff;
    put16(d, 6, c);
  }
  return d;
}

/** icmpEcho builds an ICMP echo request (type 8) or reply (type 0). */
export function icmpEcho(type: 0 | 8, id: number, seq: number, payload: Uint8Array): Uint8Array {
  const m = concat(new Uint8Array(8), payload);
  m[0] = type;
  put16(m, 4, id);
  put16(m, 6, seq);
  put16(m, 2, checksum(m));
  return m;
}

/** icmp builds any ICMP message from type, code, the 4-byte rest of header and a body. */
export function icmp(type: number, code: number, rest: number, body: Uint8Array): Uint8Array {
  const m = concat(new Uint8Array(8), body);
  m[0] = type;
  m[1] = code;
  put32(m, 4, rest);
  put16(m, 2, checksum(m));
  return m;
}

/** icmp6 builds an ICMPv6 message (checksum over the IPv6 pseudo-header). */
export function icmp6(src: string, dst: string, type: number, code: number, rest: number, body: Uint8Array): Uint8Array {
  const m = concat(new Uint8Array(8), body);
  m[0] = type;
  m[1] = code;
  put32(m, 4, rest);
  put16(m, 2, checksum(m, pseudoHeaderSum(ip6(src), ip6(dst), IPPROTO.ICMPV6, m.length)));
  return m;
}

/** gre builds a GRE header (RFC 2784, optionally with key/sequence of RFC 2890) around a payload. */
export function gre(protocol: number, payload: Uint8Array, o: { key?: number; seq?: number; checksum?: boolean } = {}): Uint8Array {
  const hasC = o.checksum === true;
  const len = 4 + (hasC ? 4 : 0) + (o.key !== undefined ? 4 : 0) + (o.seq !== undefined ? 4 : 0);
  const h = new Uint8Array(len);
  h[0] = (hasC ? 0x80 : 0) | (o.key !== undefined ? 0x20 : 0) | (o.seq !== undefined ? 0x10 : 0);
  put16(h, 2, protocol);
  let at = 4 + (hasC ? 4 : 0);
  if (o.key !== undefined) { put32(h, at, o.key); at += 4; }
  if (o.seq !== undefined) put32(h, at, o.seq);
  const out = concat(h, payload);
  if (hasC) put16(out, 4, checksum(out));
  return out;
}
