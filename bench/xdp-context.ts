/**
 * xdp-context — the XDP environment the benchmark runs a program in: the real hook's xdp_buff
 * (src/hooks/xdp.ts: a page, XDP_PACKET_HEADROOM before the frame, the kernel's xdp_md access
 * rules) loaded once with the frame, the way bpf_prog_test_run_xdp sets up its buffer once before
 * its repeat loop, and the hook state XDP helpers read (lo as the device).
 */
import type { Memory } from '../src/vm/memory.js';
import type { RunEnv } from '../src/vm/program.js';
import { XDP_PACKET_HEADROOM, XdpBuff } from '../src/hooks/xdp.js';
import { XDP_TEST_MAX_LINEAR } from '../src/hooks/testrun.js';
import { loopbackDatapath, newRedirectInfo } from '../src/hooks/datapath.js';
import type { XdpHookState } from '../src/hooks/state.js';

/** BenchXdp is one loaded xdp_buff; `ctxAddr` is the program's r1. */
export interface BenchXdp {
  readonly xdp: XdpBuff;
  readonly ctxAddr: number;
}

/** createBenchXdp loads `frame` into a new xdp_buff in `mem` and installs its hook state in `env`. */
export function createBenchXdp(mem: Memory, env: RunEnv, frame: Uint8Array): BenchXdp {
  if (frame.length > XDP_TEST_MAX_LINEAR) {
    throw new RangeError(`bench: a ${frame.length}-byte frame exceeds the ${XDP_TEST_MAX_LINEAR}-byte linear XDP buffer`);
  }
  const xdp = new XdpBuff(mem);
  xdp.load(frame, XDP_PACKET_HEADROOM, XDP_TEST_MAX_LINEAR);
  const state: XdpHookState = { kind: 'xdp', xdp, datapath: loopbackDatapath(), redirect: newRedirectInfo() };
  env.hook = state;
  return { xdp, ctxAddr: xdp.ctxAddr };
}
