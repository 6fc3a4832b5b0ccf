/**
 * frames — the benchmark's input frames, built field by field (no captures needed).
 */

/** ipv4UdpFrame builds an Ethernet + IPv4 + UDP frame of exactly `len` bytes (len ≥ 42). */
export function ipv4UdpFrame(len: number, srcPort = 40000, dstPort = 53): Uint8Array {
  if (len < 42) throw new RangeError(`ipv4UdpFrame: ${len} bytes cannot hold Ethernet+IPv4+UDP headers (42)`);
  const f = new Uint8Array(len);
  const dv = new DataView(f.buffer);
  f.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01], 0); // dst, src MAC
  dv.setUint16(12, 0x0800); // ETH_P_IP
  f[14] = 0x45; // version 4, ihl 5
  dv.setUint16(16, len - 14); // total length
  f[22] = 64; // ttl
  f[23] = 17; // UDP
  f.set([10, 0, 0, 1, 10, 0, 0, 2], 26); // saddr, daddr
  dv.setUint16(34, srcPort);
  dv.setUint16(36, dstPort);
  dv.setUint16(38, len - 34); // UDP length
  for (let i = 42; i < len; i++) f[i] = i & 0xff;
  return f;
}
