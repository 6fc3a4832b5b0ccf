/**
 * frames — the common types of the capture readers and writers, and exact 64-bit timestamp
 * arithmetic without BigInt.
 *
 * A capture yields Frames: captured bytes, the length on the wire, a timestamp as whole seconds
 * plus nanoseconds (two plain numbers, so the per-frame path never touches BigInt), the
 * interface it was captured on and its link type. pcapng timestamps are 64-bit counts of an
 * interface-defined unit (if_tsresol); `unitsToTimestamp` splits them into (sec, nsec) with
 * 16-bit-limb long division, exact for every unit down to 10^-11 s and 2^-36 s, and falls back
 * to BigInt only for rarer, finer resolutions.
 */

/** Frame is one captured packet as the readers yield it and the writers take it. */
export interface Frame {
  /**
   * data holds the captured bytes. Readers hand out a copy the caller owns (never reused or
   * changed by the reader), which may be a view into a buffer shared with neighbouring frames:
   * use data.byteOffset/byteLength, not data.buffer alone.
   */
  data: Uint8Array;
  /** origLen is the length of the packet on the wire (>= data.length unless the capture lies). */
  origLen: number;
  /** tsSec is the timestamp's whole seconds since the Unix epoch (if_tsoffset applied). */
  tsSec: number;
  /** tsNsec is the timestamp's fraction in nanoseconds, 0..999_999_999. */
  tsNsec: number;
  /** interfaceIndex numbers interfaces across the whole file (pcapng sections add up); 0 for pcap. */
  interfaceIndex: number;
  /** linkType is the frame's link type after conversion (LINKTYPE_ETHERNET once converted). */
  linkType: number;
  /** comment is the pcapng opt_comment text (several joined by newlines). */
  comment?: string;
  /** flags is the pcapng epb_flags word (direction, reception type, FCS length, errors). */
  flags?: number;
  /** verdicts are the pcapng epb_verdict options of the frame. */
  verdicts?: EpbVerdict[];
  /** index is the 0-based number of the frame in its file. */
  index: number;
  /** fileOffset is the byte offset of the frame's record or block in its file. */
  fileOffset: number;
}

/**
 * FrameCursor reads a capture synchronously, frame by frame: `next()` returns the next frame or
 * undefined at the end, and throws a CaptureError (file, byte offset) at a bad record, after
 * every good frame before it has been returned. The frame is a reused object whose `data` may be
 * a view into the reader's buffer: both are valid only until the next call.
 */
export interface FrameCursor {
  readonly file: string;
  /** interfaces lists the capture's interfaces seen so far. */
  readonly interfaces: readonly CaptureInterface[];
  /** notes lists what the reader did or noticed so far. */
  readonly notes: readonly CaptureNote[];
  /** offset is the file offset of the next unread byte. */
  readonly offset: number;
  next(): Frame | undefined;
  /** close releases the file (idempotent). */
  close(): void;
}

/** FrameInput is what the writers need of a frame; every other Frame field is optional. */
export type FrameInput = Pick<Frame, 'data' | 'tsSec' | 'tsNsec'> & Partial<Omit<Frame, 'data' | 'tsSec' | 'tsNsec'>>;

/**
 * EpbVerdict is one pcapng epb_verdict option (option code 7): what the hardware, a TC program or
 * an XDP program decided for the packet. xdpdump writes the XDP form: a type byte of 2 followed
 * by the program's return value as a 64-bit integer in the section's byte order.
 */
export type EpbVerdict =
  | { kind: 'xdp'; value: number }
  | { kind: 'tc'; value: number }
  | { kind: 'hardware'; bytes: Uint8Array };

/** EPB_VERDICT_TYPE holds the verdict type octets of the pcapng epb_verdict option. */
export const EPB_VERDICT_TYPE = { hardware: 0, tc: 1, xdp: 2 } as const;

/** TsResolution describes a pcapng if_tsresol: one unit is base^-exponent seconds. */
export interface TsResolution {
  base: 10 | 2;
  exponent: number;
}

/** CaptureInterface describes one capture interface (one pcap file, or one pcapng IDB). */
export interface CaptureInterface {
  /** index numbers the interface across the whole file; frames refer to it. */
  index: number;
  /** section is the 0-based pcapng section the interface belongs to (0 for pcap). */
  section: number;
  /** idInSection is the interface id EPBs of its section use. */
  idInSection: number;
  /** linkType is the link type the file declares (before any conversion). */
  linkType: number;
  /** snaplen is the declared snapshot length; 0 means no limit. */
  snaplen: number;
  /** name is the pcapng if_name option, when present. */
  name?: string;
  /** tsresol is the timestamp unit. */
  tsresol: TsResolution;
  /** tsOffsetSec is the pcapng if_tsoffset option in seconds (0 without it). */
  tsOffsetSec: number;
  /** fcsLen is the number of FCS bytes at the end of each frame, when the file says. */
  fcsLen?: number;
  /** convertedFrom is set when frames of this interface are converted to Ethernet. */
  convertedFrom?: number;
  /** fileOffset is the byte offset of the pcap header or the IDB. */
  fileOffset: number;
}

/** CaptureNote is something a reader did or noticed that the user should be told (not an error). */
export interface CaptureNote {
  /** code is stable: LINKTYPE_CONVERTED, LINKTYPE_SHORT_FRAME, RAW_IP_VERSION, SLL_PROTOCOL, BLOCK_SKIPPED, FCS_PRESENT. */
  code: string;
  message: string;
  file: string;
  offset: number;
  interfaceIndex?: number;
}

/** ReadOptions configures a capture reader. */
export interface ReadOptions {
  /** fileName names a Readable source in errors and notes (a path source names itself). */
  fileName?: string;
  /** chunkSize is the read size in bytes (default 1 MiB). */
  chunkSize?: number;
  /** convertLinkTypes converts SLL/SLL2/raw IP to Ethernet and refuses other types (default true). */
  convertLinkTypes?: boolean;
  /** onNote is called for every note as it is made (each is also kept in `notes`). */
  onNote?: (note: CaptureNote) => void;
}

/** MAX_CAPLEN bounds the captured length of one frame: 256 KiB, libpcap's largest snapshot. */
export const MAX_CAPLEN = 262_144;

const TWO16 = 65_536;
const TWO32 = 4_294_967_296;

/**
 * divModU64 divides the unsigned 64-bit value hi:lo by d (1 <= d < 2^37) and returns the
 * quotient (a number; exact up to 2^53) and the remainder (exact), by long division in 16-bit limbs
 * so every intermediate stays below 2^53.
 */
export function divModU64(hi: number, lo: number, d: number): [number, number] {
  const limbs = [hi >>> 16, hi & 0xffff, lo >>> 16, lo & 0xffff];
  let q = 0;
  let r = 0;
  for (const limb of limbs) {
    const cur = r * TWO16 + limb;
    const qi = Math.floor(cur / d);
    r = cur - qi * d;
    q = q * TWO16 + qi;
  }
  return [q, r];
}

/**
 * mulAddU64 returns a * m + b as unsigned 64-bit [hi, lo] for integers 0 <= a < 2^53,
 * 0 <= m < 2^31, 0 <= b < 2^32, with 16-bit limbs; undefined when the result exceeds 64 bits.
 */
export function mulAddU64(a: number, m: number, b: number): [number, number] | undefined {
  const out = [0, 0, 0, 0];
  let carry = b;
  let rest = a;
  for (let i = 0; i < 4; i++) {
    const limb = rest % TWO16;
    rest = Math.floor(rest / TWO16);
    const t = limb * m + carry;
    out[i] = t % TWO16;
    carry = Math.floor(t / TWO16);
  }
  if (carry !== 0 || rest !== 0) return undefined;
  return [out[3] * TWO16 + out[2], out[1] * TWO16 + out[0]];
}

/** Timestamp is a point in time as whole seconds and nanoseconds. */
export interface Timestamp {
  sec: number;
  nsec: number;
}

/**
 * unitsToTimestamp converts a pcapng timestamp (hi:lo counts of the interface's unit) to
 * (sec, nsec), truncating below a nanosecond. Units of 10^-n (n <= 11) and 2^-k (k <= 20) stay on
 * plain numbers; other resolutions use BigInt (they are rare and not a hot path).
 */
export function unitsToTimestamp(hi: number, lo: number, res: TsResolution): Timestamp {
  if (res.base === 10 && res.exponent <= 11) {
    const d = 10 ** res.exponent;
    if (hi < 0x200000) {
      const units = hi * TWO32 + lo;
      let sec = Math.floor(units / d);
      let frac = units - sec * d;
      if (frac < 0) { sec -= 1; frac += d; } else if (frac >= d) { sec += 1; frac -= d; }
      return { sec, nsec: fracToNsec10(frac, res.exponent) };
    }
    const [sec, frac] = divModU64(hi, lo, d);
    return { sec, nsec: fracToNsec10(frac, res.exponent) };
  }
  if (res.base === 2 && res.exponent <= 20) {
    const d = 2 ** res.exponent;
    const [sec, frac] = divModU64(hi, lo, d);
    return { sec, nsec: Math.floor((frac * 1e9) / d) };
  }
  const units = (BigInt(hi) << 32n) | BigInt(lo);
  const d = BigInt(res.base) ** BigInt(res.exponent);
  const sec = units / d;
  const nsec = ((units % d) * 1_000_000_000n) / d;
  return { sec: Number(sec), nsec: Number(nsec) };
}

function fracToNsec10(frac: number, exponent: number): number {
  return exponent <= 9 ? frac * 10 ** (9 - exponent) : Math.floor(frac / 10 ** (exponent - 9));
}

/**
 * timestampToUnits converts (sec, nsec) to a pcapng timestamp of the given unit, as [hi, lo]
 * (truncating to the unit), or undefined when it does not fit in 64 bits or is negative.
 */
export function timestampToUnits(sec: number, nsec: number, res: TsResolution): [number, number] | undefined {
  if (sec < 0 || !Number.isInteger(sec) || !Number.isInteger(nsec) || nsec < 0 || nsec >= 1e9) return undefined;
  if (res.base === 10 && res.exponent <= 9) {
    return mulAddU64(sec, 10 ** res.exponent, Math.floor(nsec / 10 ** (9 - res.exponent)));
  }
  if (res.base === 2 && res.exponent <= 20) {
    const d = 2 ** res.exponent;
    return mulAddU64(sec, d, Math.floor((nsec * d) / 1e9));
  }
  const d = BigInt(res.base) ** BigInt(res.exponent);
  const units = BigInt(sec) * d + (BigInt(nsec) * d) / 1_000_000_000n;
  if (units >= 1n << 64n) return undefined;
  return [Number(units >> 32n), Number(units & 0xffffffffn)];
}

/** frameTimeNs returns a frame's timestamp as nanoseconds since the epoch (BigInt; not for hot paths). */
export function frameTimeNs(frame: Pick<Frame, 'tsSec' | 'tsNsec'>): bigint {
  return BigInt(frame.tsSec) * 1_000_000_000n + BigInt(frame.tsNsec);
}
