/**
 * linktype — LINKTYPE_* constants and the conversion of non-Ethernet captures to Ethernet.
 *
 * XDP and TC programs see Ethernet frames, so every frame must start with an Ethernet header.
 * Linux "cooked" captures (SLL, SLL2 — what `tcpdump -i any` writes) and raw IP captures are
 * converted: the pseudo-header (or nothing, for raw IP) is replaced by a 14-byte Ethernet header
 * whose EtherType is the packet's protocol and whose addresses are synthetic unless the capture
 * carries them (SLL's link-layer source address when it is 6 bytes). Readers record a note when
 * they do this. Any other link type is refused.
 *
 * Synthetic addresses (locally administered): the receiving host is SYNTHETIC_HOST_MAC
 * 02:00:00:00:00:01, the sender SYNTHETIC_PEER_MAC 02:00:00:00:00:02. SLL packet types map to the
 * destination the kernel would have classified the same way in eth_type_trans(): PACKET_HOST → host
 * MAC, PACKET_BROADCAST → ff:ff:ff:ff:ff:ff, PACKET_MULTICAST → 01:00:5e:00:00:01 (33:33:00:00:00:01
 * for IPv6), PACKET_OTHERHOST → 02:00:00:00:00:03, PACKET_OUTGOING → the peer MAC.
 */

/** LINKTYPE holds the link types xdpsim knows by name (tcpdump.org link-layer header types). */
export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW_DLT12: 12,
  RAW: 101,
  IEEE802_11: 105,
  LOOP: 108,
  LINUX_SLL: 113,
  IEEE802_11_RADIOTAP: 127,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

const NAMES: Record<number, string> = {
  0: 'NULL',
  1: 'ETHERNET',
  12: 'RAW (DLT 12)',
  101: 'RAW',
  105: 'IEEE802_11',
  108: 'LOOP',
  113: 'LINUX_SLL',
  127: 'IEEE802_11_RADIOTAP',
  228: 'IPV4',
  229: 'IPV6',
  276: 'LINUX_SLL2',
  147: 'USER0',
  189: 'USB_LINUX',
  220: 'USB_LINUX_MMAPPED',
  249: 'NETLINK',
};

/** linkTypeName returns "NAME (n)" for a link type, or "n" when it has no name here. */
export function linkTypeName(linkType: number): string {
  const n = NAMES[linkType];
  return n === undefined ? `${linkType}` : `${n} (${linkType})`;
}

/** SYNTHETIC_HOST_MAC is the destination MAC given to converted frames addressed to the host. */
export const SYNTHETIC_HOST_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x01);
/** SYNTHETIC_PEER_MAC is the source MAC given to converted frames whose capture has none. */
export const SYNTHETIC_PEER_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x02);
const OTHERHOST_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x03);
const BROADCAST_MAC = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
const MCAST4_MAC = Uint8Array.of(0x01, 0, 0x5e, 0, 0, 0x01);
const MCAST6_MAC = Uint8Array.of(0x33, 0x33, 0, 0, 0, 0x01);

const ETH_HLEN = 14;
const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
/** ETH_P_802_2 marks an SLL frame carrying 802.2 LLC (written back as an 802.3 length frame). */
const ETH_P_802_2 = 0x0004;

/** isConvertible tells whether frames of a link type can be turned into Ethernet frames. */
export function isConvertible(linkType: number): boolean {
  switch (linkType) {
    case LINKTYPE.LINUX_SLL:
    case LINKTYPE.LINUX_SLL2:
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_DLT12:
    case LINKTYPE.IPV4:
    case LINKTYPE.IPV6:
      return true;
    default:
      return false;
  }
}

/** conversionNote describes, for a note, what converting a link type to Ethernet does. */
export function conversionNote(linkType: number): string {
  switch (linkType) {
    case LINKTYPE.LINUX_SLL:
    case LINKTYPE.LINUX_SLL2:
      return `${linkTypeName(linkType)} frames converted to Ethernet: the cooked header is replaced by an Ethernet header (EtherType from its protocol field, source MAC from its address when 6 bytes long, destination MAC synthetic by packet type)`;
    default:
      return `${linkTypeName(linkType)} frames converted to Ethernet: a synthetic Ethernet header (02:00:00:00:00:02 -> 02:00:00:00:00:01, EtherType from the IP version) is prepended`;
  }
}

/** Converted is a frame after conversion to Ethernet; `problem` is set when the input was odd. */
export interface Converted {
  data: Uint8Array;
  origLen: number;
  problem?: ConversionProblem;
}

/** ConversionProblem says what was odd about a converted frame: a note code and text. */
export interface ConversionProblem {
  code: 'LINKTYPE_SHORT_FRAME' | 'RAW_IP_VERSION' | 'SLL_PROTOCOL';
  message: string;
}

/**
 * toEthernet converts one captured frame of a convertible link type to an Ethernet frame. The
 * input is not modified. A frame shorter than its pseudo-header yields an empty frame and a
 * problem; raw IP with neither version 4 nor 6 gets EtherType IPv4 (IPv6 for LINKTYPE_IPV6) and a
 * problem.
 */
export function toEthernet(linkType: number, data: Uint8Array, origLen: number): Converted {
  switch (linkType) {
    case LINKTYPE.LINUX_SLL:
      return fromSll(data, origLen, 16, 14, 4, 6, 0);
    case LINKTYPE.LINUX_SLL2:
      return fromSll(data, origLen, 20, 0, 11, 12, 10);
    case LINKTYPE.IPV4:
      return fromRaw(data, origLen, ETH_P_IP, undefined);
    case LINKTYPE.IPV6:
      return fromRaw(data, origLen, ETH_P_IPV6, undefined);
    default: {
      const v = data.length > 0 ? data[0] >> 4 : -1;
      const type = v === 6 ? ETH_P_IPV6 : ETH_P_IP;
      const problem: ConversionProblem | undefined = v === 4 || v === 6
        ? undefined
        : { code: 'RAW_IP_VERSION', message: v < 0 ? 'empty raw IP frame, given EtherType IPv4' : `raw IP frame with IP version ${v}, given EtherType IPv4` };
      return fromRaw(data, origLen, type, problem);
    }
  }
}

function fromRaw(data: Uint8Array, origLen: number, type: number, problem: ConversionProblem | undefined): Converted {
  const out = new Uint8Array(ETH_HLEN + data.length);
  out.set(SYNTHETIC_HOST_MAC, 0);
  out.set(SYNTHETIC_PEER_MAC, 6);
  out[12] = type >> 8;
  out[13] = type & 0xff;
  out.set(data, ETH_HLEN);
  const c: Converted = { data: out, origLen: origLen + ETH_HLEN };
  if (problem !== undefined) c.problem = problem;
  return c;
}

/**
 * fromSll converts SLL (16-byte header: pkttype, hatype, halen, addr[8], protocol) or SLL2
 * (20-byte header: protocol, reserved, ifindex, hatype, pkttype, halen, addr[8]) by field offsets.
 */
function fromSll(
  data: Uint8Array,
  origLen: number,
  hlen: number,
  protoAt: number,
  halenAt: number,
  addrAt: number,
  pkttypeAt: number,
): Converted {
  if (data.length < hlen) {
    return {
      data: new Uint8Array(0),
      origLen: Math.max(0, origLen - hlen),
      problem: { code: 'LINKTYPE_SHORT_FRAME', message: `frame of ${data.length} bytes is shorter than the ${hlen}-byte cooked header; yielded empty` },
    };
  }
  const proto = (data[protoAt] << 8) | data[protoAt + 1];
  const pkttype = hlen === 16 ? (data[pkttypeAt] << 8) | data[pkttypeAt + 1] : data[pkttypeAt];
  const halen = hlen === 16 ? (data[halenAt] << 8) | data[halenAt + 1] : data[halenAt];
  const payload = data.subarray(hlen);
  const out = new Uint8Array(ETH_HLEN + payload.length);
  out.set(destinationFor(pkttype, proto), 0);
  out.set(halen === 6 ? data.subarray(addrAt, addrAt + 6) : SYNTHETIC_PEER_MAC, 6);
  const wireLen = Math.max(0, origLen - hlen);
  let problem: ConversionProblem | undefined;
  if (proto === ETH_P_802_2) {
    // 802.3 frame: the type/length field holds the LLC payload length.
    const len = Math.min(wireLen, 0x5dc);
    out[12] = len >> 8;
    out[13] = len & 0xff;
  } else {
    out[12] = proto >> 8;
    out[13] = proto & 0xff;
    if (proto < 0x0600) problem = { code: 'SLL_PROTOCOL', message: `cooked frame with protocol 0x${proto.toString(16).padStart(4, '0')}, which is not an EtherType; copied as is` };
  }
  out.set(payload, ETH_HLEN);
  const c: Converted = { data: out, origLen: wireLen + ETH_HLEN };
  if (problem !== undefined) c.problem = problem;
  return c;
}

function destinationFor(pkttype: number, proto: number): Uint8Array {
  switch (pkttype) {
    case 0:
      return SYNTHETIC_HOST_MAC;
    case 1:
      return BROADCAST_MAC;
    case 2:
      return proto === ETH_P_IPV6 ? MCAST6_MAC : MCAST4_MAC;
    case 3:
      return OTHERHOST_MAC;
    default:
      return SYNTHETIC_PEER_MAC;
  }
}
