/**
 * programs — the benchmark's program set: each C program of programs/bench/ (objects committed),
 * the function to run, its hook, and frames of 64 and 1500 bytes that exercise its real path.
 */
import { icmpEchoFrame, ipv4TcpFrame, ipv4UdpFrame } from './frames.js';

/** BenchFrame is one input frame. */
export interface BenchFrame {
  name: string;
  bytes: Uint8Array;
}

/** BenchProgram is one program of programs/bench/ and the frames it is measured on. */
export interface BenchProgram {
  /** programs/bench/<name>.c and .o */
  name: string;
  /** The function to run (libbpf program name). */
  func: string;
  section: string;
  hook: 'xdp' | 'tc';
  frames: BenchFrame[];
}

/** FRAME_LENS are the frame sizes every program is measured on. */
export const FRAME_LENS = [64, 1500];
const udp = FRAME_LENS.map((n) => ({ name: 'ipv4-udp', bytes: ipv4UdpFrame(n) }));

/** PROGRAMS is the benchmark's program set (issue 5). */
export const PROGRAMS: BenchProgram[] = [
  { name: 'drop', func: 'xdp_drop', section: 'xdp', hook: 'xdp', frames: udp },
  { name: 'parse', func: 'xdp_parse', section: 'xdp', hook: 'xdp', frames: udp },
  { name: 'parse_count', func: 'xdp_parse_count', section: 'xdp', hook: 'xdp', frames: udp },
  {
    name: 'icmp_echo',
    func: 'xdp_icmp_echo',
    section: 'xdp',
    hook: 'xdp',
    frames: FRAME_LENS.map((n) => ({ name: 'ipv4-icmp-echo', bytes: icmpEchoFrame(n) })),
  },
  {
    name: 'tc_dnat',
    func: 'tc_dnat',
    section: 'tc',
    hook: 'tc',
    frames: FRAME_LENS.map((n) => ({ name: 'ipv4-tcp-80', bytes: ipv4TcpFrame(n, 80) })),
  },
  { name: 'tailcall', func: 'xdp_dispatch', section: 'xdp', hook: 'xdp', frames: udp },
];

