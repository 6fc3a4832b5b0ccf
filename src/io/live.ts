/**
 * live — capture and injection on a real interface through libpcap, by the optional native
 * package `cap` (loaded with a dynamic import, so a machine without libpcap or without a built
 * `cap` still installs xdpsim and replays files; asking for live mode there is a
 * NotSupportedError E_LIVE_UNAVAILABLE naming what is missing).
 *
 * One LiveInterface is one pcap handle on one device, used both to capture and to inject. That
 * matters: a packet socket never sees the frames it sent itself (dev_queue_xmit_nit skips the
 * sending socket, net/core/dev.c skb_loop_sk), so frames xdpsim injects on an interface are not
 * captured again by the same handle and cannot loop back into the simulated datapath.
 *
 * Direction: a capture on Linux sees a device's received and transmitted frames. LiveInterface
 * keeps only received ones with the filter `not ether src MAC` (MAC: the device's own address),
 * which drops what the host stack itself transmits. libpcap's `inbound` primitive would be more
 * exact but needs the kernel's SKF_AD_PKTTYPE; libpcap 1.10 checks frames already in the ring
 * when the filter is installed in user space, where that load cannot be evaluated, and on this
 * machine that lost the first received frame of every capture — so it is not the default (a
 * user filter may still say `inbound`).
 *
 * What `cap` fixes and this module must live with: snaplen 65535 (longer frames arrive cut,
 * `truncated`), promiscuous mode on, immediate mode, a non-blocking handle polled by libuv, no
 * per-frame timestamps (frames are stamped with the wall clock when they reach JavaScript). The
 * capture ring is `bufferSize` bytes of 65 KiB slots in immediate mode (TPACKET_V2): 1 MiB holds
 * only 15 frames and a burst beyond that is lost by the kernel, so the default is 32 MiB
 * (about 500 frames).
 */
import { readFileSync } from 'node:fs';
import { CaptureError, NotSupportedError, UsageError } from '../errors.js';
import { log } from '../log.js';

/** DEFAULT_LIVE_BUFFER is the default capture ring size in bytes (32 MiB, about 500 frames in flight). */
export const DEFAULT_LIVE_BUFFER = 32 << 20;
/** CAP_SNAPLEN is the snapshot length the `cap` binding sets (pcap_set_snaplen 65535). */
export const CAP_SNAPLEN = 65_535;

/** CapHandle is the part of a `cap` Cap object this module uses. */
interface CapHandle {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  send(buffer: Buffer, length?: number): void;
  close(): boolean;
  on(event: 'packet', fn: (nbytes: number, truncated: boolean) => void): unknown;
}

/** CapModule is the part of the `cap` package this module uses. */
interface CapModule {
  Cap: new () => CapHandle;
}

const liveLog = log.child({ layer: 'io/live' });
let loaded: { spec: string; mod: Promise<CapModule> } | undefined;

function isCapModule(m: unknown): m is CapModule {
  return typeof m === 'object' && m !== null && typeof (m as { Cap?: unknown }).Cap === 'function';
}

/**
 * loadCap imports the `cap` package once. Without it (not installed, not built, or libpcap not
 * loadable) it throws NotSupportedError E_LIVE_UNAVAILABLE saying what is missing and how to get it.
 */
export function loadCap(): Promise<CapModule> {
  // XDPSIM_CAP_MODULE names another module to load instead of "cap" (tests use it to see the error).
  const spec = process.env.XDPSIM_CAP_MODULE ?? 'cap';
  if (loaded !== undefined && loaded.spec === spec) return loaded.mod;
  const p = (async () => {
    let mod: unknown;
    try {
      mod = await import(spec);
    } catch (e) {
      const why = (e as Error).message;
      const missingPkg = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND';
      const hint = missingPkg
        ? 'the optional package "cap" is not installed (npm install cap; it builds with node-gyp against libpcap: Debian needs libpcap-dev, python3, make, g++)'
        : 'the optional package "cap" did not load: its native binding is not built or libpcap is missing (Debian: apt-get install libpcap0.8 libpcap-dev python3 make g++, then npm rebuild cap)';
      throw new NotSupportedError('E_LIVE_UNAVAILABLE', `live capture needs libpcap through the "cap" package: ${hint}: ${why}`, { module: spec }, { cause: e });
    }
    const m = (mod as { default?: unknown }).default ?? mod;
    if (!isCapModule(m)) throw new NotSupportedError('E_LIVE_UNAVAILABLE', `live capture: module "${spec}" has no Cap class (not the "cap" package?)`, { module: spec });
    return m;
  })();
  const entry = { spec, mod: p };
  loaded = entry;
  p.catch(() => {
    if (loaded === entry) loaded = undefined;
  });
  return p;
}

/** liveAvailable tells whether live capture can work here: undefined when it can, else the reason. */
export async function liveAvailable(): Promise<string | undefined> {
  try {
    await loadCap();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** DeviceInfo is what the kernel says about a network device (from /sys/class/net). */
export interface DeviceInfo {
  readonly name: string;
  readonly ifindex: number;
  readonly mac: Uint8Array;
  readonly mtu: number;
  /** operstate: up, down, unknown, ... */
  readonly operstate: string;
}

/** deviceInfo reads a device's ifindex, MAC, MTU and state from /sys/class/net/NAME; UsageError E_LIVE_NO_DEVICE when absent. */
export function deviceInfo(name: string): DeviceInfo {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new UsageError('E_LIVE_NO_DEVICE', `${name}: not a network device name`, { iface: name });
  const read = (f: string): string => readFileSync(`/sys/class/net/${name}/${f}`, 'utf8').trim();
  let ifindex: number;
  let macText: string;
  let mtu: number;
  let operstate: string;
  try {
    ifindex = Number(read('ifindex'));
    macText = read('address');
    mtu = Number(read('mtu'));
    operstate = read('operstate');
  } catch (e) {
    throw new UsageError('E_LIVE_NO_DEVICE', `${name}: no such network device in this namespace (${(e as Error).message})`, { iface: name }, { cause: e });
  }
  const mac = Uint8Array.from(macText.split(':'), (h) => parseInt(h, 16));
  if (mac.length !== 6 || mac.some((b) => Number.isNaN(b))) {
    throw new NotSupportedError('E_LIVE_LINKTYPE', `${name}: hardware address ${macText} is not Ethernet (only Ethernet devices can run XDP programs here)`, { iface: name });
  }
  return { name, ifindex, mac, mtu, operstate };
}

/** LiveFrame is one captured frame, valid only during the callback (its bytes are the handle's buffer). */
export interface LiveFrame {
  readonly data: Uint8Array;
  /** truncated: longer than the snapshot length or the buffer; `data` holds the start only. */
  readonly truncated: boolean;
  readonly tsSec: number;
  readonly tsNsec: number;
}

/** LiveOptions configure a LiveInterface. */
export interface LiveOptions {
  /** A libpcap filter expression ANDed with the direction filter. */
  readonly filter?: string;
  /** Capture ring size in bytes (default DEFAULT_LIVE_BUFFER). */
  readonly bufferSize?: number;
  /** Capture what the host transmits too (no direction filter). Default false. */
  readonly bothDirections?: boolean;
  /** Open for injection only: the capture filter matches nothing. */
  readonly injectOnly?: boolean;
}

/** NOTHING_FILTER is a libpcap filter no frame passes (a frame of at most 1 byte). */
export const NOTHING_FILTER = 'less 1';

/** LiveCounters count one interface's traffic. */
export interface LiveCounters {
  received: number;
  truncated: number;
  sent: number;
  sendErrors: number;
}

/** directionFilter returns the filter that keeps frames not sent by the device itself, ANDed with `user`. */
export function directionFilter(mac: Uint8Array, user: string | undefined, bothDirections = false): string {
  const own = bothDirections ? '' : `not ether src ${Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':')}`;
  const u = user?.trim() ?? '';
  if (u === '') return own;
  return own === '' ? u : `(${u}) and ${own}`;
}

/**
 * LiveInterface is one device opened for capture and injection. Frames reach `onFrame` one at a
 * time, synchronously, from libpcap's dispatch loop: the callback must finish with the bytes
 * (process, inject, record) before it returns.
 */
export class LiveInterface {
  readonly counters: LiveCounters = { received: 0, truncated: 0, sent: 0, sendErrors: 0 };
  /** linkType is what libpcap reports (ETHERNET for the devices xdpsim can use). */
  readonly linkType: string;
  /** filter is the filter installed. */
  readonly filter: string;
  private readonly handle: CapHandle;
  private readonly buf: Buffer;
  private readonly out: Buffer;
  private closed = false;
  private onFrame: ((f: LiveFrame) => void) | undefined;

  private constructor(
    readonly device: DeviceInfo,
    cap: CapModule,
    opts: LiveOptions,
  ) {
    this.handle = new cap.Cap();
    this.buf = Buffer.alloc(CAP_SNAPLEN + 1);
    this.out = Buffer.alloc(CAP_SNAPLEN + 1);
    this.filter = opts.injectOnly === true ? NOTHING_FILTER : directionFilter(device.mac, opts.filter, opts.bothDirections);
    const size = opts.bufferSize ?? DEFAULT_LIVE_BUFFER;
    try {
      this.linkType = this.handle.open(device.name, this.filter, size, this.buf);
    } catch (e) {
      const msg = (e as Error).message;
      const perm = /permission|operation not permitted/i.test(msg) ? ' (capturing needs CAP_NET_RAW: run as root or grant it)' : '';
      throw new CaptureError('LIVE_OPEN', `${device.name}: libpcap cannot open the device with filter "${this.filter}": ${msg}${perm}`, { iface: device.name }, { cause: e });
    }
    if (this.linkType !== 'ETHERNET') {
      this.handle.close();
      throw new NotSupportedError('E_LIVE_LINKTYPE', `${device.name}: link type ${this.linkType}; live mode needs an Ethernet device`, { iface: device.name });
    }
    this.handle.on('packet', (n, truncated) => this.packet(n, truncated));
    liveLog.debug({ iface: device.name, filter: this.filter, bufferSize: size }, 'capture open');
  }

  /** open opens `name` for capture and injection (loads `cap` first). */
  static async open(name: string, opts: LiveOptions = {}): Promise<LiveInterface> {
    const cap = await loadCap();
    return new LiveInterface(deviceInfo(name), cap, opts);
  }

  /** listen sets the frame callback (frames arriving before it are counted and dropped). */
  listen(fn: (f: LiveFrame) => void): void {
    this.onFrame = fn;
  }

  private packet(n: number, truncated: boolean): void {
    this.counters.received++;
    // cap reports the captured length only: a frame of exactly the snapshot length was probably cut.
    const cut = truncated || n >= CAP_SNAPLEN;
    if (cut) this.counters.truncated++;
    const fn = this.onFrame;
    if (fn === undefined || this.closed) return;
    const ms = Date.now();
    const tsSec = Math.floor(ms / 1000);
    fn({ data: new Uint8Array(this.buf.buffer, this.buf.byteOffset, n), truncated: cut, tsSec, tsNsec: (ms - tsSec * 1000) * 1_000_000 });
  }

  /**
   * send injects one frame on the device (pcap_sendpacket: the device transmits it; on a veth
   * the peer receives it). Returns undefined when sent, else the error text (the frame is lost,
   * as a full transmit queue would lose it); counted either way.
   */
  send(data: Uint8Array): string | undefined {
    if (this.closed) return 'interface closed';
    if (data.length > this.out.length) {
      this.counters.sendErrors++;
      return `${data.length}-byte frame exceeds the ${this.out.length - 1}-byte injection limit`;
    }
    this.out.set(data);
    try {
      this.handle.send(this.out, data.length);
      this.counters.sent++;
      return undefined;
    } catch (e) {
      this.counters.sendErrors++;
      const msg = (e as Error).message;
      liveLog.debug({ iface: this.device.name, len: data.length, err: msg }, 'send failed');
      return msg;
    }
  }

  /** close stops the capture (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
    liveLog.debug({ iface: this.device.name, ...this.counters }, 'capture closed');
  }
}
