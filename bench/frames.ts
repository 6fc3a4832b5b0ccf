/**
 * frames — the benchmark's input frames, built field by field (no captures needed): Ethernet +
 * IPv4 (valid header checksum) + UDP, TCP or ICMP echo, padded with a byte pattern to the exact
 * frame length asked for.
 */

const ETH_HLEN = 14;
const IP_HLEN = 20;

/** inetChecksum is the Internet checksum (RFC 1071) of bytes [from, to). */
export function inetChecksum(b: Uint8Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i + 1 < to; i += 2) sum += (b[i] << 8) | b[i + 1];
  if ((to - from) % 2 === 1) sum += b[to - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipv4Frame(len: number, proto: number, l4Min: number, daddr: readonly number[]): [Uint8Array, DataView] {
  if (len < ETH_HLEN + IP_HLEN + l4Min) {
    throw new RangeError(`frames: ${len} bytes cannot hold Ethernet+IPv4+${l4Min}-byte L4 headers`);
  }
  const f = new Uint8Array(len);
  const dv = new DataView(f.buffer);
  f.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01], 0); // dst, src MAC
  dv.setUint16(12, 0x0800); // ETH_P_IP
  f[14] = 0x45; // version 4, ihl 5
  dv.setUint16(16, len - ETH_HLEN); // total length
  dv.setUint16(20, 0x4000); // DF
  f[22] = 64; // ttl
  f[23] = proto;
  f.set([10, 0, 0, 1, ...daddr], 26); // saddr, daddr
  for (let i = ETH_HLEN + IP_HLEN + l4Min; i < len; i++) f[i] = i & 0xff;
  dv.setUint16(24, inetChecksum(f, ETH_HLEN, ETH_HLEN + IP_HLEN));
  return [f, dv];
}

/** ipv4UdpFrame builds Ethernet + IPv4 + UDP (40000 -> 53 by default) of exactly `len` bytes. */
export function ipv4UdpFrame(len: number, srcPort = 40000, dstPort = 53): Uint8Array {
  const [f, dv] = ipv4Frame(len, 17, 8, [10, 0, 0, 2]);
  dv.setUint16(34, srcPort);
  dv.setUint16(36, dstPort);
  dv.setUint16(38, len - ETH_HLEN - IP_HLEN); // UDP length (checksum 0: none, legal for IPv4)
  return f;
}

/** ipv4TcpFrame builds Ethernet + IPv4 + TCP (40000 -> dstPort, to 10.0.0.2) of `len` bytes. */
export function ipv4TcpFrame(len: number, dstPort = 80): Uint8Array {
  const [f, dv] = ipv4Frame(len, 6, 20, [10, 0, 0, 2]);
  dv.setUint16(34, 40000);
  dv.setUint16(36, dstPort);
  dv.setUint32(38, 1); // seq
  f[46] = 5 << 4; // data offset
  f[47] = 0x18; // PSH|ACK
  dv.setUint16(48, 0xffff); // window
  // TCP checksum over the pseudo header and the segment.
  const seg = len - ETH_HLEN - IP_HLEN;
  const pseudo = new Uint8Array(12 + seg);
  pseudo.set(f.subarray(26, 34), 0);
  pseudo[9] = 6;
  new DataView(pseudo.buffer).setUint16(10, seg);
  pseudo.set(f.subarray(ETH_HLEN + IP_HLEN), 12);
  dv.setUint16(50, inetChecksum(pseudo, 0, pseudo.length));
  return f;
}

/** icmpEchoFrame builds Ethernet + IPv4 + ICMP echo request of `len` bytes. */
export function icmpEchoFrame(len: number): Uint8Array {
  const [f, dv] = ipv4Frame(len, 1, 8, [10, 0, 0, 2]);
  f[34] = 8; // echo request
  dv.setUint16(38, 0x1234); // id
  dv.setUint16(40, 1); // sequence
  dv.setUint16(36, inetChecksum(f, ETH_HLEN + IP_HLEN, len));
  return f;
}
